// The byte pipe under the fastboot protocol driver. A transport moves whole
// fastboot messages: one write() is one command or one data phase, one read()
// returns one response. USB, TCP and UDP implement it; the driver above never
// knows which one it talks to.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace fastboop::fastboot {

// Called while a data phase is written: bytes sent so far, total bytes.
using ProgressFn = std::function<void(std::uint64_t sent, std::uint64_t total)>;

// A response larger than this is a protocol error (the spec allows 256 bytes;
// we accept up to a USB read buffer so that chatty bootloaders still work).
constexpr std::size_t max_response_bytes = 4096;

class Transport {
public:
  virtual ~Transport() = default;

  // Send one command or one whole data phase. The transport chunks it as its
  // medium requires and reports progress after each chunk.
  virtual Result<void> write(ByteSpan data, const ProgressFn& progress = {}) = 0;

  // Receive one response (at most max_response_bytes), waiting at most
  // `timeout`.
  virtual Result<Bytes> read(std::chrono::milliseconds timeout) = 0;

  // "tcp:127.0.0.1:5554", "udp:…", "usb:1-2.3"; used in messages.
  virtual std::string describe() const = 0;
};

} // namespace fastboop::fastboot
