// Small POSIX socket helpers shared by the TCP and UDP transports.
#pragma once

#include "common/result.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace fastboop::fastboot::net {

// Owns a socket descriptor.
class Socket {
public:
  Socket() = default;
  explicit Socket(int fd) : m_fd(fd) {}
  Socket(Socket&& other) noexcept : m_fd(other.release()) {}
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket();
  int fd() const { return m_fd; }
  int release() {
    int fd = m_fd;
    m_fd = -1;
    return fd;
  }

private:
  int m_fd = -1;
};

enum class Protocol { Tcp, Udp };

// Resolve `host` and connect a socket of the given kind to host:port. For
// TCP the connect itself is bounded by `timeout`.
Result<Socket> connect_to(const std::string& host, std::uint16_t port, Protocol protocol,
                          std::chrono::milliseconds timeout);

enum class Readiness { Ready, TimedOut };
// Wait until fd is readable (or writable); errors only on poll failure.
Result<Readiness> wait_readable(int fd, std::chrono::milliseconds timeout);
Result<Readiness> wait_writable(int fd, std::chrono::milliseconds timeout);

// Split "HOST[:PORT]" (IPv6 in brackets) with a default port.
Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& spec,
                                                              std::uint16_t default_port);

} // namespace fastboop::fastboot::net
