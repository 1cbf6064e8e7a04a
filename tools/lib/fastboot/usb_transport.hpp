// Fastboot over USB through libusb-1.0: interfaces ff/42/03 with a bulk IN and
// a bulk OUT endpoint, found from the descriptors (the endpoint numbers are
// whatever the device's UDC assigned). Large writes go out as several queued
// transfers; no zero-length packets are sent (the device counts bytes).
#pragma once

#include "fastboot/transport.hpp"

#include <memory>
#include <optional>
#include <vector>

struct libusb_context;
struct libusb_device;
struct libusb_device_handle;

namespace fastboop::fastboot {

class UsbContext {
public:
  static Result<std::shared_ptr<UsbContext>> create();
  ~UsbContext();
  UsbContext(const UsbContext&) = delete;
  libusb_context* get() const { return m_ctx; }

private:
  explicit UsbContext(libusb_context* ctx) : m_ctx(ctx) {}
  libusb_context* m_ctx;
};

// The one spelling of a device's place and of libusb's errors, shared with the
// smoo link: "BUS-PORT[.PORT…]", as sysfs and AOSP's usb:<path> name it.
std::string usb_port_path(libusb_device* dev);
std::string usb_error(int libusb_rc);

struct UsbDeviceInfo {
  std::uint8_t bus = 0;
  std::uint8_t address = 0;
  std::string port_path; // "1-2.3", as sysfs and AOSP's usb:<path> name it
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  std::string serial;    // empty when unreadable
  std::string open_error; // non-empty when the device could not be opened
  std::uint8_t interface_number = 0;
  std::uint8_t endpoint_in = 0;
  std::uint8_t endpoint_out = 0;
  std::string location() const { return "usb:" + port_path; }
};

// Every attached device with a fastboot interface. Devices that cannot be
// opened are listed with open_error set (a permission problem names the udev
// rule to install).
Result<std::vector<UsbDeviceInfo>> list_usb_fastboot_devices(UsbContext& context);

// Blocks until a USB device arrives or `timeout` passes: libusb hotplug where
// the platform has it, a plain sleep (the caller re-enumerates) otherwise.
class UsbArrivalWaiter {
public:
  explicit UsbArrivalWaiter(std::shared_ptr<UsbContext> context);
  ~UsbArrivalWaiter();
  UsbArrivalWaiter(const UsbArrivalWaiter&) = delete;
  void wait(std::chrono::milliseconds timeout);
  bool uses_hotplug() const { return m_registered; }
  void mark_arrived() { m_arrived = true; } // called from the libusb callback

private:
  std::shared_ptr<UsbContext> m_context;
  bool m_registered = false;
  int m_handle = 0;
  bool m_arrived = false;
};

struct UsbOptions {
  std::chrono::milliseconds transfer_timeout{30000};
  std::size_t chunk_bytes = 1 << 20;
  unsigned transfers_in_flight = 4;
};

class UsbTransport final : public Transport {
public:
  static Result<std::unique_ptr<UsbTransport>> open(std::shared_ptr<UsbContext> context, const UsbDeviceInfo& device,
                                                    const UsbOptions& options = {});
  ~UsbTransport() override;

  Result<void> write(ByteSpan data, const ProgressFn& progress = {}) override;
  Result<Bytes> read(std::chrono::milliseconds timeout) override;
  std::string describe() const override { return m_name; }

private:
  UsbTransport(std::shared_ptr<UsbContext> context, libusb_device_handle* handle, const UsbDeviceInfo& device,
               const UsbOptions& options);
  std::shared_ptr<UsbContext> m_context;
  libusb_device_handle* m_handle;
  UsbDeviceInfo m_device;
  UsbOptions m_options;
  std::string m_name;
};

// The udev rule that grants the logged-in user access to a device.
std::string udev_rule_for(std::uint16_t vid, std::uint16_t pid);

} // namespace fastboop::fastboot
