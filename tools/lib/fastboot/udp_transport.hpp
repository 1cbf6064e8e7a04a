// Fastboot over UDP, protocol v1 (what U-Boot speaks): a 4-byte header
// [id][flags][u16 BE seq], Query for the device's next sequence number, Init to
// agree on the version and packet size, then one device reply per host packet
// with retransmission on silence.
#pragma once

#include "fastboot/net.hpp"
#include "fastboot/transport.hpp"

#include <memory>

namespace fastboop::fastboot {

struct UdpOptions {
  std::chrono::milliseconds retransmit_interval{500};
  unsigned query_attempts = 4;   // AOSP kMaxConnectAttempts
  unsigned max_attempts = 120;   // per packet, ≈1 min at 500 ms
  std::uint16_t host_max_packet = 8192;
};

class UdpTransport final : public Transport {
public:
  static Result<std::unique_ptr<UdpTransport>> connect(const std::string& host, std::uint16_t port,
                                                       const UdpOptions& options = {});

  Result<void> write(ByteSpan data, const ProgressFn& progress = {}) override;
  // UDP reads are host-driven: the timeout bounds the retransmission loop in
  // addition to the attempt count.
  Result<Bytes> read(std::chrono::milliseconds timeout) override;
  std::string describe() const override { return m_name; }

  std::uint16_t packet_size() const { return m_packet_size; }

private:
  enum class Id : std::uint8_t { Error = 0, Query = 1, Init = 2, Fastboot = 3 };
  struct Reply {
    std::uint8_t flags = 0;
    Bytes data;
  };

  UdpTransport(net::Socket socket, std::string name, UdpOptions options)
      : m_socket(std::move(socket)), m_name(std::move(name)), m_options(options) {}
  // Send one packet and wait for the matching reply, retransmitting.
  Result<Reply> exchange(Id id, std::uint8_t flags, ByteSpan data, unsigned attempts,
                         std::chrono::steady_clock::time_point deadline);

  net::Socket m_socket;
  std::string m_name;
  UdpOptions m_options;
  std::uint16_t m_seq = 0;
  std::uint16_t m_packet_size = 512;
  Bytes m_buffer; // receive buffer, reused for every packet
};

} // namespace fastboop::fastboot
