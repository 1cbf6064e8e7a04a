// The seam between a smoo session and the USB gadget (spec smoo.md §2-§4):
// control transfers on ep0 addressed to the smoo interface, and the four data
// endpoints. UsbGadgetLink (usb_link.hpp) is the libusb implementation; tests
// use a scripted fake. Every call is blocking with its own timeout, and the
// data endpoints may be used from different threads at once (one thread per
// endpoint at a time: interrupt IN by the request reader, interrupt OUT +
// bulk OUT by whoever holds the session's send lock, bulk IN by the reader).
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>

namespace fastboop::smoo {

// Any error from a link call means the link is broken (device gone, transfer
// failed, timed out mid-message): the session drops it and rediscovers.
// Only interrupt_in has a benign timeout (no Request pending).
class GadgetLink {
public:
  using Millis = std::chrono::milliseconds;
  virtual ~GadgetLink() = default;

  // Vendor/class request to the smoo interface (wIndex = its number), data IN.
  // Returns what the device sent (at most `length` bytes).
  virtual Result<Bytes> control_in(std::uint8_t request_type, std::uint8_t request,
                                   std::uint16_t length, Millis timeout) = 0;
  virtual Result<void> control_out(std::uint8_t request_type, std::uint8_t request, ByteSpan data,
                                   Millis timeout) = 0;
  // One interrupt IN message (a Request); nullopt when none came in time.
  virtual Result<std::optional<Bytes>> interrupt_in(Millis timeout) = 0;
  virtual Result<void> interrupt_out(ByteSpan message, Millis timeout) = 0;
  // Exactly out.size() bytes from bulk IN (a write payload).
  virtual Result<void> bulk_in(std::span<std::uint8_t> out, Millis timeout) = 0;
  // All of `data` on bulk OUT (a read payload).
  virtual Result<void> bulk_out(ByteSpan data, Millis timeout) = 0;
  // "usb:1-2 (18d1:4ee0 serial 0001)"
  virtual std::string describe() const = 0;
  // The USB port path ("1-2"), empty when not on USB.
  virtual std::string port_path() const { return {}; }
};

// Finds and opens a gadget. nullptr: none attached right now (the caller
// retries every rediscover_interval); an error: setup cannot work at all
// (no USB on this host, a malformed -s).
class GadgetConnector {
public:
  virtual ~GadgetConnector() = default;
  virtual Result<std::unique_ptr<GadgetLink>> connect() = 0;
  // Why the last connect() found nothing, for the waiting message; may be empty.
  virtual std::string last_miss() const { return {}; }
};

} // namespace fastboop::smoo
