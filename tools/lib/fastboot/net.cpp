#include "fastboot/net.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace fastboop::fastboot::net {

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0)
      ::close(m_fd);
    m_fd = other.release();
  }
  return *this;
}

Socket::~Socket() {
  if (m_fd >= 0)
    ::close(m_fd);
}

namespace {

Result<Readiness> wait_for(int fd, short events, std::chrono::milliseconds timeout) {
  pollfd pfd{fd, events, 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() < 0)
      left = std::chrono::milliseconds(0);
    int rc = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc > 0)
      return Readiness::Ready;
    if (rc == 0)
      return Readiness::TimedOut;
    if (errno != EINTR)
      return Error(std::string("poll: ") + std::strerror(errno), ErrorKind::Io);
  }
}

} // namespace

Result<Readiness> wait_readable(int fd, std::chrono::milliseconds timeout) {
  return wait_for(fd, POLLIN, timeout);
}
Result<Readiness> wait_writable(int fd, std::chrono::milliseconds timeout) {
  return wait_for(fd, POLLOUT, timeout);
}

Result<Socket> connect_to(const std::string& host, std::uint16_t port, Protocol protocol,
                          std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = protocol == Protocol::Tcp ? SOCK_STREAM : SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return Error("cannot resolve host '" + host + "': " + ::gai_strerror(rc), ErrorKind::Device);
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai; ai = ai->ai_next) {
    Socket sock(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (sock.fd() < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (protocol == Protocol::Udp) {
      if (::connect(sock.fd(), ai->ai_addr, ai->ai_addrlen) == 0) {
        ::freeaddrinfo(found);
        return sock;
      }
      last_error = std::strerror(errno);
      continue;
    }
    // Non-blocking connect so that an unreachable host is bounded in time.
    int flags = ::fcntl(sock.fd(), F_GETFL);
    ::fcntl(sock.fd(), F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(sock.fd(), ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      auto ready = wait_writable(sock.fd(), timeout);
      if (!ready) {
        ::freeaddrinfo(found);
        return std::move(ready).error();
      }
      if (*ready == Readiness::TimedOut) {
        last_error = "connection timed out";
        continue;
      }
      int soerr = 0;
      socklen_t len = sizeof soerr;
      ::getsockopt(sock.fd(), SOL_SOCKET, SO_ERROR, &soerr, &len);
      rc = soerr == 0 ? 0 : -1;
      errno = soerr;
    }
    if (rc != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    ::fcntl(sock.fd(), F_SETFL, flags);
    ::freeaddrinfo(found);
    return sock;
  }
  ::freeaddrinfo(found);
  return Error("cannot connect to " + host + ":" + service + ": " + last_error, ErrorKind::Device);
}

Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& spec,
                                                              std::uint16_t default_port) {
  std::string host = spec;
  std::string port_text;
  if (!spec.empty() && spec.front() == '[') {
    auto close = spec.find(']');
    if (close == std::string::npos)
      return Error("unterminated '[' in address '" + spec + "'", ErrorKind::Usage);
    host = spec.substr(1, close - 1);
    if (close + 1 < spec.size()) {
      if (spec[close + 1] != ':')
        return Error("junk after ']' in address '" + spec + "'", ErrorKind::Usage);
      port_text = spec.substr(close + 2);
    }
  } else if (auto colon = spec.rfind(':'); colon != std::string::npos && spec.find(':') == colon) {
    host = spec.substr(0, colon);
    port_text = spec.substr(colon + 1);
  }
  if (host.empty())
    return Error("missing host in address '" + spec + "'", ErrorKind::Usage);
  std::uint16_t port = default_port;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535)
      return Error("invalid port '" + port_text + "' in address '" + spec + "'", ErrorKind::Usage);
    port = static_cast<std::uint16_t>(value);
  }
  return std::pair{host, port};
}

} // namespace fastboop::fastboot::net
