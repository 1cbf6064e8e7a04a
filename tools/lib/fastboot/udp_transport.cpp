#include "fastboot/udp_transport.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>

namespace fastboop::fastboot {

namespace {
constexpr std::uint8_t flag_continuation = 0x01;
constexpr std::size_t header_bytes = 4;
constexpr std::uint16_t min_packet = 512;
} // namespace

Result<std::unique_ptr<UdpTransport>> UdpTransport::connect(const std::string& host, std::uint16_t port,
                                                            const UdpOptions& options) {
  std::string name = "udp:" + host + ":" + std::to_string(port);
  auto sock = TRY_CTX(net::connect_to(host, port, net::Protocol::Udp, std::chrono::milliseconds(0)), name);
  std::unique_ptr<UdpTransport> transport(new UdpTransport(std::move(sock), name, options));
  const auto far = std::chrono::steady_clock::time_point::max();

  // Query: the device answers with the sequence number it expects next.
  transport->m_seq = 0;
  auto query = TRY_CTX(transport->exchange(Id::Query, 0, {}, options.query_attempts, far), name + ": query");
  if (query.data.size() < 2)
    return Error(name + ": query: answer has " + std::to_string(query.data.size()) + " bytes, expected 2",
                 ErrorKind::Device);
  transport->m_seq = load_be<std::uint16_t>(query.data.data());

  // Init: version 1 and our maximum packet size (header included).
  std::uint8_t init[4] = {0, 1, static_cast<std::uint8_t>(options.host_max_packet >> 8),
                          static_cast<std::uint8_t>(options.host_max_packet & 0xff)};
  auto reply = TRY_CTX(transport->exchange(Id::Init, 0, {init, 4}, options.max_attempts, far), name + ": init");
  if (reply.data.size() < 4)
    return Error(name + ": init: answer has " + std::to_string(reply.data.size()) + " bytes, expected 4",
                 ErrorKind::Device);
  const auto version = load_be<std::uint16_t>(reply.data.data());
  const auto device_max = load_be<std::uint16_t>(reply.data.data() + 2);
  if (version < 1)
    return Error(name + ": init: unsupported device protocol version " + std::to_string(version),
                 ErrorKind::Device);
  if (device_max < min_packet)
    return Error(name + ": init: device packet size " + std::to_string(device_max) + " is below the minimum " +
                     std::to_string(min_packet),
                 ErrorKind::Device);
  transport->m_packet_size = std::min(options.host_max_packet, device_max);
  return transport;
}

Result<UdpTransport::Reply> UdpTransport::exchange(Id id, std::uint8_t flags, ByteSpan data, unsigned attempts,
                                                   std::chrono::steady_clock::time_point deadline) {
  // Header and payload go out through one sendmsg: no per-packet copy.
  std::uint8_t header[header_bytes] = {static_cast<std::uint8_t>(id), flags, static_cast<std::uint8_t>(m_seq >> 8),
                                       static_cast<std::uint8_t>(m_seq & 0xff)};
  iovec iov[2] = {{header, header_bytes}, {const_cast<std::uint8_t*>(data.data()), data.size()}};
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = data.empty() ? 1 : 2;
  if (m_buffer.empty())
    m_buffer.resize(65536); // any datagram fits; a bigger one is truncated
  Bytes& buffer = m_buffer;
  for (unsigned attempt = 0; attempt < attempts; ++attempt) {
    if (std::chrono::steady_clock::now() >= deadline)
      break;
    if (::sendmsg(m_socket.fd(), &message, 0) < 0 && errno != ECONNREFUSED)
      return Error(std::string("send: ") + std::strerror(errno), ErrorKind::Device);
    const auto resend_at = std::chrono::steady_clock::now() + m_options.retransmit_interval;
    for (;;) {
      auto now = std::chrono::steady_clock::now();
      if (now >= resend_at || now >= deadline)
        break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(std::min(resend_at, deadline) - now);
      auto ready = TRY(net::wait_readable(m_socket.fd(), left + std::chrono::milliseconds(1)));
      if (ready == net::Readiness::TimedOut)
        break;
      ssize_t got = ::recv(m_socket.fd(), buffer.data(), buffer.size(), 0);
      if (got < 0) {
        // A refused port shows up as ECONNREFUSED on a connected UDP socket;
        // it is the same as silence for the retransmission logic.
        if (errno == EINTR || errno == EAGAIN || errno == ECONNREFUSED)
          continue;
        return Error(std::string("recv: ") + std::strerror(errno), ErrorKind::Device);
      }
      if (static_cast<std::size_t>(got) < header_bytes)
        continue; // too short to be a reply to anything: ignore
      const auto reply_id = static_cast<Id>(buffer[0]);
      const auto reply_seq = load_be<std::uint16_t>(buffer.data() + 2);
      if (reply_seq != m_seq || (reply_id != id && reply_id != Id::Error))
        continue; // a late duplicate of an earlier reply
      ++m_seq;
      if (reply_id == Id::Error)
        return Error("device reported an error: '" +
                         std::string(as_chars({buffer.data() + header_bytes, static_cast<std::size_t>(got) - header_bytes})) +
                         "'",
                     ErrorKind::Device);
      Reply reply;
      reply.flags = buffer[1];
      reply.data.assign(buffer.begin() + header_bytes, buffer.begin() + got);
      return reply;
    }
  }
  return Error("no answer from the device after " + std::to_string(attempts) + " attempts (seq " +
                   std::to_string(m_seq) + ")",
               ErrorKind::Device);
}

Result<void> UdpTransport::write(ByteSpan data, const ProgressFn& progress) {
  if (data.empty())
    return ok(); // an empty packet would mean "read" on this transport
  const std::size_t chunk = m_packet_size - header_bytes;
  const auto far = std::chrono::steady_clock::time_point::max();
  std::size_t done = 0;
  do {
    const std::size_t n = std::min(chunk, data.size() - done);
    const bool last = done + n == data.size();
    auto reply = TRY_CTX(exchange(Id::Fastboot, last ? 0 : flag_continuation, data.subspan(done, n),
                                  m_options.max_attempts, far),
                         "after " + std::to_string(done) + " bytes");
    if (!reply.data.empty())
      return Error("device sent fastboot data out of turn (" + std::to_string(reply.data.size()) +
                       " bytes in reply to a write)",
                   ErrorKind::Device);
    done += n;
    if (progress && n != 0)
      progress(done, data.size());
  } while (done < data.size());
  return ok();
}

Result<Bytes> UdpTransport::read(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Bytes response;
  for (;;) {
    auto reply = TRY(exchange(Id::Fastboot, 0, {}, m_options.max_attempts, deadline));
    append(response, reply.data);
    if (response.size() > max_response_bytes)
      return Error("response of more than " + std::to_string(max_response_bytes) + " bytes",
                   ErrorKind::Device);
    if (!(reply.flags & flag_continuation))
      return response;
  }
}

} // namespace fastboop::fastboot
