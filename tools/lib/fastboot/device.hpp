// Finding fastboot devices: parsing -s selectors, listing USB devices and
// network targets as candidates, and opening a candidate's transport.
#pragma once

#include "fastboot/tcp_transport.hpp"
#include "fastboot/udp_transport.hpp"
#include "fastboot/usb_transport.hpp"
#include "profiles/device_profile.hpp"

#include <optional>
#include <string>
#include <vector>

namespace fastboop::fastboot {

// -s DEVICE: a USB serial, usb:BUS-PORT[.PORT…], tcp:HOST[:PORT], udp:HOST[:PORT].
struct DeviceSpec {
  enum class Kind { Serial, UsbPath, Tcp, Udp };
  Kind kind = Kind::Serial;
  std::string value; // serial or port path
  std::string host;
  std::uint16_t port = default_network_port;
  bool is_network() const { return kind == Kind::Tcp || kind == Kind::Udp; }
  std::string text() const;
};

Result<DeviceSpec> parse_device_spec(std::string_view text);

// One device we could talk to.
struct Candidate {
  std::string location; // usb:1-2.3, tcp:host:port, udp:host:port
  std::string serial;   // USB serial; empty for network devices until probed
  std::optional<UsbDeviceInfo> usb;
  std::optional<DeviceSpec> network;
  bool is_network() const { return network.has_value(); }
};

struct ConnectOptions {
  TcpOptions tcp;
  UdpOptions udp;
  UsbOptions usb;
};

// USB candidates (possibly empty), plus the given network targets.
Result<std::vector<Candidate>> usb_candidates(UsbContext& context);
Candidate network_candidate(const DeviceSpec& spec);

// Does a USB candidate answer to this selector (serial or usb:path)?
bool candidate_matches(const Candidate& candidate, const DeviceSpec& spec);

Result<std::unique_ptr<Transport>> open_candidate(const Candidate& candidate, std::shared_ptr<UsbContext> usb_context,
                                                  const ConnectOptions& options);

} // namespace fastboop::fastboot
