#include "fastboot/tcp_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace fastboop::fastboot {

namespace {
constexpr std::size_t send_chunk = 1 << 20;
}

Result<std::unique_ptr<TcpTransport>> TcpTransport::connect(const std::string& host, std::uint16_t port,
                                                            const TcpOptions& options) {
  std::string name = "tcp:" + host + ":" + std::to_string(port);
  auto sock = TRY_CTX(net::connect_to(host, port, net::Protocol::Tcp, options.connect_timeout), name);
  // Commands are tiny request/response exchanges: Nagle's algorithm would
  // hold each frame's payload back behind its header until an ACK arrives.
  int one = 1;
  ::setsockopt(sock.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::unique_ptr<TcpTransport> transport(new TcpTransport(std::move(sock), name, options));
  TRY_CTX(transport->send_all(as_bytes("FB01")), name + ": handshake");
  std::uint8_t reply[4];
  TRY_CTX(transport->recv_exact(reply, 4, std::chrono::steady_clock::now() + options.handshake_timeout),
          name + ": handshake");
  if (reply[0] != 'F' || reply[1] != 'B' || reply[2] < '0' || reply[2] > '9' || reply[3] < '0' || reply[3] > '9')
    return Error(name + ": handshake: device answered '" + to_hex({reply, 4}) + "' (hex), not 'FBnn'",
                 ErrorKind::Device);
  const int version = (reply[2] - '0') * 10 + (reply[3] - '0');
  if (version < 1)
    return Error(name + ": handshake: unsupported device protocol version " + std::to_string(version),
                 ErrorKind::Device);
  return transport;
}

Result<void> TcpTransport::send_all(ByteSpan data) {
  std::size_t done = 0;
  while (done < data.size()) {
    auto ready = TRY(net::wait_writable(m_socket.fd(), m_options.io_timeout));
    if (ready == net::Readiness::TimedOut)
      return Error("send timed out after " + std::to_string(m_options.io_timeout.count()) + " ms",
                   ErrorKind::Device);
    ssize_t n = ::send(m_socket.fd(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return Error(std::string("send: ") + std::strerror(errno), ErrorKind::Device);
    }
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

Result<void> TcpTransport::recv_exact(std::uint8_t* out, std::size_t n,
                                      std::chrono::steady_clock::time_point deadline) {
  std::size_t done = 0;
  while (done < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto ready = TRY(net::wait_readable(m_socket.fd(), std::max(left, std::chrono::milliseconds(0))));
    if (ready == net::Readiness::TimedOut)
      return Error("no answer from the device (timed out)", ErrorKind::Device);
    ssize_t got = ::recv(m_socket.fd(), out + done, n - done, 0);
    if (got == 0)
      return Error("the device closed the connection", ErrorKind::Device);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      return Error(std::string("recv: ") + std::strerror(errno), ErrorKind::Device);
    }
    done += static_cast<std::size_t>(got);
  }
  return ok();
}

Result<void> TcpTransport::write(ByteSpan data, const ProgressFn& progress) {
  // One frame per write, like the AOSP client: a data phase is a single frame
  // streamed in chunks, so devices that do not reassemble frames still work.
  std::uint8_t header[8];
  const std::uint64_t size = data.size();
  for (int i = 0; i < 8; ++i)
    header[i] = static_cast<std::uint8_t>(size >> (8 * (7 - i)));
  TRY(send_all({header, 8}));
  std::size_t done = 0;
  while (done < data.size()) {
    const std::size_t n = std::min(send_chunk, data.size() - done);
    TRY_CTX(send_all(data.subspan(done, n)), "after " + std::to_string(done) + " bytes");
    done += n;
    if (progress)
      progress(done, data.size());
  }
  return ok();
}

Result<Bytes> TcpTransport::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::uint8_t header[8];
  TRY(recv_exact(header, 8, deadline));
  const std::uint64_t size = load_be<std::uint64_t>(header);
  if (size > max_response_bytes)
    return Error("response frame of " + std::to_string(size) + " bytes exceeds the " +
                     std::to_string(max_response_bytes) + "-byte limit",
                 ErrorKind::Device);
  Bytes payload(size);
  TRY(recv_exact(payload.data(), payload.size(), deadline));
  return payload;
}

} // namespace fastboop::fastboot
