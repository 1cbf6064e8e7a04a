// GadgetLink over libusb-1.0 (spec smoo.md §2): any USB device with an
// interface of class 0xFF, subclass/protocol 0x42/0x03 (mimicking fastboot)
// or 0x53/0x4D, that has an interrupt IN, interrupt OUT, bulk IN and bulk
// OUT endpoint (a real fastboot interface has only the two bulk ones).
#pragma once

#include "smoo/link.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::fastboot {
class UsbContext;
}

namespace fastboop::smoo {

struct GadgetInfo {
  std::uint8_t bus = 0, address = 0;
  std::string port_path; // "1-2.3"
  std::uint16_t vid = 0, pid = 0;
  std::string serial; // empty when unreadable
  std::string open_error;
  std::uint8_t interface_number = 0;
  std::uint8_t subclass = 0, protocol = 0;
  std::uint8_t interrupt_in = 0, interrupt_out = 0, bulk_in = 0, bulk_out = 0;
  std::string location() const { return "usb:" + port_path; }
};

// Every attached smoo gadget, sorted by port path.
Result<std::vector<GadgetInfo>> list_gadgets(fastboot::UsbContext& context);

// Which of `gadgets` to use: the one -s names (usb:PATH or serial), else the
// one on `preferred_port`, else the first. nullopt: none qualifies.
std::optional<GadgetInfo> choose_gadget(const std::vector<GadgetInfo>& gadgets,
                                        const std::optional<std::string>& device,
                                        const std::optional<std::string>& preferred_port);

class UsbGadgetConnector final : public GadgetConnector {
public:
  // `device`: -s text (usb:BUS-PORT or a serial); checked here.
  static Result<std::unique_ptr<UsbGadgetConnector>>
  create(std::optional<std::string> device, std::optional<std::string> preferred_port);
  Result<std::unique_ptr<GadgetLink>> connect() override;
  std::string last_miss() const override { return m_last_miss; }

private:
  UsbGadgetConnector(std::optional<std::string> device, std::optional<std::string> preferred_port)
      : m_device(std::move(device)), m_preferred_port(std::move(preferred_port)) {}
  std::optional<std::string> m_device;
  std::optional<std::string> m_preferred_port;
  std::string m_last_miss;
};

} // namespace fastboop::smoo
