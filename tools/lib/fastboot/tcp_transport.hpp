// Fastboot over TCP, protocol v1: "FB01" handshake, then every message in both
// directions framed as [u64 big-endian length][payload].
#pragma once

#include "fastboot/net.hpp"
#include "fastboot/transport.hpp"

#include <memory>

namespace fastboop::fastboot {

constexpr std::uint16_t default_network_port = 5554;

struct TcpOptions {
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds handshake_timeout{2000};
  std::chrono::milliseconds io_timeout{30000}; // per send of a data chunk
};

class TcpTransport final : public Transport {
public:
  static Result<std::unique_ptr<TcpTransport>> connect(const std::string& host, std::uint16_t port,
                                                       const TcpOptions& options = {});

  Result<void> write(ByteSpan data, const ProgressFn& progress = {}) override;
  Result<Bytes> read(std::chrono::milliseconds timeout) override;
  std::string describe() const override { return m_name; }

private:
  TcpTransport(net::Socket socket, std::string name, TcpOptions options)
      : m_socket(std::move(socket)), m_name(std::move(name)), m_options(options) {}
  Result<void> send_all(ByteSpan data);
  Result<void> recv_exact(std::uint8_t* out, std::size_t n, std::chrono::steady_clock::time_point deadline);

  net::Socket m_socket;
  std::string m_name;
  TcpOptions m_options;
};

} // namespace fastboop::fastboot
