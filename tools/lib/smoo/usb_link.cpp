#include "smoo/usb_link.hpp"
#include "common/text.hpp"

#include "common/log.hpp"
#include "fastboot/usb_transport.hpp"
#include "smoo/protocol.hpp"

#include <algorithm>
#include <cstdio>
#include <libusb.h>

namespace fastboop::smoo {

namespace {

using Millis = std::chrono::milliseconds;

// Interrupt max packet size (spec §2): a Request arrives in one packet, so a
// buffer this large shows a wrong-length message instead of an overflow.
constexpr int interrupt_buffer = 1024;
// A 1 MiB payload over a slow or busy bus must not hit the poll timeout.
constexpr Millis min_bulk_timeout{10000};

using fastboot::usb_error;

bool is_smoo_interface(const libusb_interface_descriptor& alt) {
  if (alt.bInterfaceClass != interface_class)
    return false;
  return (alt.bInterfaceSubClass == fastboot_subclass &&
          alt.bInterfaceProtocol == fastboot_protocol) ||
         (alt.bInterfaceSubClass == smoo_subclass && alt.bInterfaceProtocol == smoo_protocol);
}

bool find_smoo_interface(libusb_device* dev, GadgetInfo& info) {
  libusb_device_descriptor dd{};
  if (libusb_get_device_descriptor(dev, &dd) != 0)
    return false;
  libusb_config_descriptor* config = nullptr;
  if (libusb_get_active_config_descriptor(dev, &config) != 0 &&
      libusb_get_config_descriptor(dev, 0, &config) != 0)
    return false;
  bool found = false;
  for (int i = 0; i < config->bNumInterfaces && !found; ++i) {
    const libusb_interface& iface = config->interface[i];
    for (int a = 0; a < iface.num_altsetting && !found; ++a) {
      const auto& alt = iface.altsetting[a];
      if (!is_smoo_interface(alt))
        continue;
      GadgetInfo g;
      for (int e = 0; e < alt.bNumEndpoints; ++e) {
        const auto& ep = alt.endpoint[e];
        const bool in = (ep.bEndpointAddress & LIBUSB_ENDPOINT_IN) != 0;
        switch (ep.bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) {
        case LIBUSB_TRANSFER_TYPE_INTERRUPT:
          (in ? g.interrupt_in : g.interrupt_out) = ep.bEndpointAddress;
          break;
        case LIBUSB_TRANSFER_TYPE_BULK:
          (in ? g.bulk_in : g.bulk_out) = ep.bEndpointAddress;
          break;
        default:
          break;
        }
      }
      // A fastboot bootloader has the same class triple but no interrupt
      // endpoints: not a gadget.
      if (!g.interrupt_in || !g.interrupt_out || !g.bulk_in || !g.bulk_out)
        continue;
      info.interrupt_in = g.interrupt_in;
      info.interrupt_out = g.interrupt_out;
      info.bulk_in = g.bulk_in;
      info.bulk_out = g.bulk_out;
      info.interface_number = alt.bInterfaceNumber;
      info.subclass = alt.bInterfaceSubClass;
      info.protocol = alt.bInterfaceProtocol;
      info.vid = dd.idVendor;
      info.pid = dd.idProduct;
      found = true;
    }
  }
  libusb_free_config_descriptor(config);
  return found;
}

class UsbGadgetLink final : public GadgetLink {
public:
  UsbGadgetLink(std::shared_ptr<fastboot::UsbContext> context, libusb_device_handle* handle,
                GadgetInfo info)
      : m_context(std::move(context)), m_handle(handle), m_info(std::move(info)) {
    m_name = m_info.location() + " (" + format_hex(m_info.vid, 4, HexPrefix::None) + ":" + format_hex(m_info.pid, 4, HexPrefix::None) +
             (m_info.serial.empty() ? std::string() : " serial " + m_info.serial) + ")";
  }
  ~UsbGadgetLink() override {
    libusb_release_interface(m_handle, m_info.interface_number);
    libusb_close(m_handle);
  }

  Result<Bytes> control_in(std::uint8_t request_type, std::uint8_t request, std::uint16_t length,
                           Millis timeout) override {
    Bytes buffer(length);
    const int rc =
        libusb_control_transfer(m_handle, request_type, request, 0, m_info.interface_number,
                                buffer.data(), length, static_cast<unsigned>(timeout.count()));
    if (rc < 0)
      return fail("control request " + std::to_string(request), rc);
    buffer.resize(static_cast<std::size_t>(rc));
    return buffer;
  }

  Result<void> control_out(std::uint8_t request_type, std::uint8_t request, ByteSpan data,
                           Millis timeout) override {
    const int rc = libusb_control_transfer(
        m_handle, request_type, request, 0, m_info.interface_number,
        const_cast<std::uint8_t*>(data.data()), static_cast<std::uint16_t>(data.size()),
        static_cast<unsigned>(timeout.count()));
    if (rc < 0)
      return fail("control request " + std::to_string(request), rc);
    if (static_cast<std::size_t>(rc) != data.size())
      return Error(m_name + ": control request " + std::to_string(request) + ": sent " +
                       std::to_string(rc) + " of " + std::to_string(data.size()) + " bytes",
                   ErrorKind::Device);
    return ok();
  }

  Result<std::optional<Bytes>> interrupt_in(Millis timeout) override {
    Bytes buffer(interrupt_buffer);
    int got = 0;
    const int rc =
        libusb_interrupt_transfer(m_handle, m_info.interrupt_in, buffer.data(), interrupt_buffer,
                                  &got, static_cast<unsigned>(timeout.count()));
    // A transfer that completed as the timeout cancelled it still carries its
    // message.
    if (rc == LIBUSB_ERROR_TIMEOUT && got == 0)
      return std::optional<Bytes>{};
    if (rc != 0 && rc != LIBUSB_ERROR_TIMEOUT)
      return fail("interrupt IN", rc);
    buffer.resize(static_cast<std::size_t>(got));
    return std::optional<Bytes>{std::move(buffer)};
  }

  Result<void> interrupt_out(ByteSpan message, Millis timeout) override {
    int sent = 0;
    const int rc = libusb_interrupt_transfer(
        m_handle, m_info.interrupt_out, const_cast<std::uint8_t*>(message.data()),
        static_cast<int>(message.size()), &sent, static_cast<unsigned>(timeout.count()));
    if (rc != 0)
      return fail("interrupt OUT", rc);
    if (static_cast<std::size_t>(sent) != message.size())
      return Error(m_name + ": interrupt OUT: sent " + std::to_string(sent) + " of " +
                       std::to_string(message.size()),
                   ErrorKind::Device);
    return ok();
  }

  Result<void> bulk_in(std::span<std::uint8_t> out, Millis timeout) override {
    std::size_t done = 0;
    while (done < out.size()) {
      int got = 0;
      const int rc = libusb_bulk_transfer(
          m_handle, m_info.bulk_in, out.data() + done, static_cast<int>(out.size() - done), &got,
          static_cast<unsigned>(std::max(timeout, min_bulk_timeout).count()));
      if (rc != 0)
        return fail("bulk IN after " + std::to_string(done + static_cast<std::size_t>(got)) +
                        " of " + std::to_string(out.size()) + " bytes",
                    rc);
      done += static_cast<std::size_t>(got);
    }
    return ok();
  }

  Result<void> bulk_out(ByteSpan data, Millis timeout) override {
    int sent = 0;
    const int rc =
        libusb_bulk_transfer(m_handle, m_info.bulk_out, const_cast<std::uint8_t*>(data.data()),
                             static_cast<int>(data.size()), &sent,
                             static_cast<unsigned>(std::max(timeout, min_bulk_timeout).count()));
    if (rc != 0)
      return fail("bulk OUT after " + std::to_string(sent) + " of " + std::to_string(data.size()) +
                      " bytes",
                  rc);
    if (static_cast<std::size_t>(sent) != data.size())
      return Error(m_name + ": bulk OUT: sent " + std::to_string(sent) + " of " +
                       std::to_string(data.size()),
                   ErrorKind::Device);
    return ok();
  }

  std::string describe() const override { return m_name; }
  std::string port_path() const override { return m_info.port_path; }

private:
  Error fail(const std::string& what, int rc) const {
    return Error(m_name + ": " + what + ": " + usb_error(rc), ErrorKind::Device);
  }

  std::shared_ptr<fastboot::UsbContext> m_context;
  libusb_device_handle* m_handle;
  GadgetInfo m_info;
  std::string m_name;
};

bool selector_matches(const GadgetInfo& g, const std::string& device) {
  if (device.starts_with("usb:"))
    return g.port_path == device.substr(4);
  return !g.serial.empty() && g.serial == device;
}

} // namespace

Result<std::vector<GadgetInfo>> list_gadgets(fastboot::UsbContext& context) {
  libusb_device** list = nullptr;
  const ssize_t n = libusb_get_device_list(context.get(), &list);
  if (n < 0)
    return Error("cannot list USB devices: " + usb_error(static_cast<int>(n)), ErrorKind::Io);
  std::vector<GadgetInfo> found;
  for (ssize_t i = 0; i < n; ++i) {
    GadgetInfo info;
    if (!find_smoo_interface(list[i], info))
      continue;
    info.bus = libusb_get_bus_number(list[i]);
    info.address = libusb_get_device_address(list[i]);
    info.port_path = fastboot::usb_port_path(list[i]);
    libusb_device_handle* handle = nullptr;
    if (const int rc = libusb_open(list[i], &handle); rc != 0) {
      info.open_error = rc == LIBUSB_ERROR_ACCESS
                            ? "no permission to open " + info.location() +
                                  "; install fastboop's udev rules (70-fastboop.rules) or add: " +
                                  fastboot::udev_rule_for(info.vid, info.pid)
                            : "cannot open " + info.location() + ": " + usb_error(rc);
    } else {
      libusb_device_descriptor dd{};
      libusb_get_device_descriptor(list[i], &dd);
      unsigned char serial[256];
      if (dd.iSerialNumber != 0) {
        const int len =
            libusb_get_string_descriptor_ascii(handle, dd.iSerialNumber, serial, sizeof serial);
        if (len > 0)
          info.serial.assign(reinterpret_cast<char*>(serial), static_cast<std::size_t>(len));
      }
      libusb_close(handle);
    }
    found.push_back(std::move(info));
  }
  libusb_free_device_list(list, 1);
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.port_path < b.port_path; });
  return found;
}

std::optional<GadgetInfo> choose_gadget(const std::vector<GadgetInfo>& gadgets,
                                        const std::optional<std::string>& device,
                                        const std::optional<std::string>& preferred_port) {
  if (device) {
    for (const auto& g : gadgets)
      if (selector_matches(g, *device))
        return g;
    return std::nullopt;
  }
  if (preferred_port)
    for (const auto& g : gadgets)
      if (g.port_path == *preferred_port)
        return g;
  if (gadgets.empty())
    return std::nullopt;
  return gadgets.front();
}

Result<std::unique_ptr<UsbGadgetConnector>>
UsbGadgetConnector::create(std::optional<std::string> device,
                           std::optional<std::string> preferred_port) {
  if (device && (device->empty() || device->starts_with("tcp:") || device->starts_with("udp:")))
    return Error("-s '" + *device +
                     "': a smoo gadget is on USB; give usb:BUS-PORT or its USB serial",
                 ErrorKind::Usage);
  // Fails early on a host without USB rather than waiting forever.
  TRY(fastboot::UsbContext::create());
  return std::unique_ptr<UsbGadgetConnector>(
      new UsbGadgetConnector(std::move(device), std::move(preferred_port)));
}

Result<std::unique_ptr<GadgetLink>> UsbGadgetConnector::connect() {
  // A fresh context each time: libusb's device list only follows hotplug
  // events, and without udevd (containers, the dummy_hcd QEMU tests) a device
  // that arrives later never shows up in an old context.
  auto context = TRY(fastboot::UsbContext::create());
  const auto gadgets = TRY(list_gadgets(*context));
  auto chosen = choose_gadget(gadgets, m_device, m_preferred_port);
  if (!chosen) {
    m_last_miss = gadgets.empty() ? std::string("no smoo gadget on USB yet")
                                  : std::to_string(gadgets.size()) +
                                        " gadget(s) attached, none matches -s " + *m_device;
    return std::unique_ptr<GadgetLink>{};
  }
  if (gadgets.size() > 1 && !m_device &&
      !(m_preferred_port && chosen->port_path == *m_preferred_port))
    log::warn(std::to_string(gadgets.size()) + " smoo gadgets attached; using " +
              chosen->location() + " (choose with -s)");
  if (!chosen->open_error.empty()) {
    m_last_miss = chosen->open_error;
    return std::unique_ptr<GadgetLink>{};
  }
  libusb_device** list = nullptr;
  const ssize_t n = libusb_get_device_list(context->get(), &list);
  if (n < 0)
    return Error("cannot list USB devices: " + usb_error(static_cast<int>(n)), ErrorKind::Io);
  libusb_device* match = nullptr;
  for (ssize_t i = 0; i < n; ++i)
    if (libusb_get_bus_number(list[i]) == chosen->bus &&
        libusb_get_device_address(list[i]) == chosen->address)
      match = list[i];
  libusb_device_handle* handle = nullptr;
  const int rc = match ? libusb_open(match, &handle) : LIBUSB_ERROR_NO_DEVICE;
  libusb_free_device_list(list, 1);
  if (rc != 0) {
    // Gone between listing and opening (it re-enumerates while booting).
    m_last_miss = chosen->location() + ": " + usb_error(rc);
    return std::unique_ptr<GadgetLink>{};
  }
  libusb_set_auto_detach_kernel_driver(handle, 1);
  if (const int claim = libusb_claim_interface(handle, chosen->interface_number); claim != 0) {
    libusb_close(handle);
    m_last_miss = chosen->location() + ": cannot claim interface " +
                  std::to_string(chosen->interface_number) + ": " + usb_error(claim);
    return std::unique_ptr<GadgetLink>{};
  }
  return std::unique_ptr<GadgetLink>(new UsbGadgetLink(std::move(context), handle, *chosen));
}

} // namespace fastboop::smoo
