#include "fastboot/device.hpp"

namespace fastboop::fastboot {

std::string DeviceSpec::text() const {
  switch (kind) {
  case Kind::Serial:
    return value;
  case Kind::UsbPath:
    return "usb:" + value;
  case Kind::Tcp:
    return "tcp:" + host + ":" + std::to_string(port);
  case Kind::Udp:
    return "udp:" + host + ":" + std::to_string(port);
  }
  return value;
}

Result<DeviceSpec> parse_device_spec(std::string_view text) {
  DeviceSpec spec;
  if (text.empty())
    return Error("empty device selector", ErrorKind::Usage);
  const std::string s(text);
  if (s.starts_with("tcp:") || s.starts_with("udp:")) {
    spec.kind = s.starts_with("tcp:") ? DeviceSpec::Kind::Tcp : DeviceSpec::Kind::Udp;
    auto [host, port] = TRY_CTX(net::split_host_port(s.substr(4), default_network_port), "device '" + s + "'");
    spec.host = host;
    spec.port = port;
    return spec;
  }
  if (s.starts_with("usb:")) {
    spec.kind = DeviceSpec::Kind::UsbPath;
    spec.value = s.substr(4);
    if (spec.value.empty() || spec.value.find_first_not_of("0123456789-.") != std::string::npos)
      return Error("device '" + s + "': expected usb:BUS-PORT[.PORT...], e.g. usb:1-2.3", ErrorKind::Usage);
    return spec;
  }
  spec.kind = DeviceSpec::Kind::Serial;
  spec.value = s;
  return spec;
}

Result<std::vector<Candidate>> usb_candidates(UsbContext& context) {
  auto devices = TRY(list_usb_fastboot_devices(context));
  std::vector<Candidate> out;
  for (auto& d : devices) {
    Candidate c;
    c.location = d.location();
    c.serial = d.serial;
    c.usb = d;
    out.push_back(std::move(c));
  }
  return out;
}

Candidate network_candidate(const DeviceSpec& spec) {
  Candidate c;
  c.location = spec.text();
  c.network = spec;
  return c;
}

bool candidate_matches(const Candidate& candidate, const DeviceSpec& spec) {
  switch (spec.kind) {
  case DeviceSpec::Kind::Serial:
    return !candidate.serial.empty() && candidate.serial == spec.value;
  case DeviceSpec::Kind::UsbPath:
    return candidate.usb && candidate.usb->port_path == spec.value;
  case DeviceSpec::Kind::Tcp:
  case DeviceSpec::Kind::Udp:
    return candidate.network && candidate.network->text() == spec.text();
  }
  return false;
}

Result<std::unique_ptr<Transport>> open_candidate(const Candidate& candidate, std::shared_ptr<UsbContext> usb_context,
                                                  const ConnectOptions& options) {
  if (candidate.network) {
    const auto& spec = *candidate.network;
    if (spec.kind == DeviceSpec::Kind::Tcp) {
      auto t = TRY(TcpTransport::connect(spec.host, spec.port, options.tcp));
      return std::unique_ptr<Transport>(std::move(t));
    }
    auto t = TRY(UdpTransport::connect(spec.host, spec.port, options.udp));
    return std::unique_ptr<Transport>(std::move(t));
  }
  if (!candidate.usb || !usb_context)
    return Error(candidate.location + ": not a USB or network device", ErrorKind::Device);
  if (!candidate.usb->open_error.empty())
    return Error(candidate.location + ": " + candidate.usb->open_error, ErrorKind::Io);
  auto t = TRY(UsbTransport::open(std::move(usb_context), *candidate.usb, options.usb));
  return std::unique_ptr<Transport>(std::move(t));
}

} // namespace fastboop::fastboot
