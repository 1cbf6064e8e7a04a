// The fastboot protocol driver. Its public surface can express exactly three
// commands — getvar:<name>, download:<8 hex> plus data, and boot — so nothing
// built on it can change a device's storage or state (the non-mutating rule).
// Every command is checked again against that allow-list right before it is
// written, and the commands sent are recorded for tests and logs.
#pragma once

#include "fastboot/transport.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::fastboot {

enum class MessageKind { Info, Text };
// INFO/TEXT lines as they arrive, before the final status.
using MessageFn = std::function<void(MessageKind kind, std::string_view text)>;

struct DriverOptions {
  // Per-read timeout; every INFO/TEXT line restarts it.
  std::chrono::milliseconds response_timeout{30000};
  // Longest wait for the final status after the data phase or boot, counted
  // from the last line received (large images can take a while to verify).
  std::chrono::milliseconds slow_response_timeout{60000};
};

// A getvar answer: nullopt when the device answered FAIL.
using GetvarAnswer = std::optional<std::string>;

// The spec's "missing" rule: FAIL, an empty (after trimming) value or
// "unknown" in any case.
bool getvar_is_missing(const GetvarAnswer& answer);

// AOSP get_uint_var rules: trim, "0x" means hex, else decimal, no junk.
std::optional<std::uint64_t> parse_size_value(std::string_view text);

class Driver {
public:
  explicit Driver(Transport& transport, DriverOptions options = {});

  void set_message_handler(MessageFn handler) { m_on_message = std::move(handler); }

  // getvar:<name>. A FAIL is an error quoting the device's text.
  Result<std::string> getvar(std::string_view name);
  // Cached getvar for probing: FAIL is an answer (nullopt), cached like any
  // other; transport errors are errors and are not cached.
  Result<GetvarAnswer> getvar_cached(std::string_view name);

  // max-download-size via the cache; nullopt when the device does not report
  // a parsable one.
  Result<std::optional<std::uint64_t>> max_download_size();

  // Reads max-download-size first; an image that does not fit fails before
  // any byte is sent. Then download:<size>, the data phase, and the final OKAY.
  Result<void> download(ByteSpan image, const ProgressFn& progress = {});
  Result<void> boot();

  // Every command written to the wire, in order (for traces and tests).
  const std::vector<std::string>& sent_commands() const { return m_sent; }
  Transport& transport() { return m_transport; }

private:
  // Only this class can build one, and only through its three factories.
  class Command {
  public:
    static Result<Command> getvar(std::string_view name);
    static Result<Command> download(std::uint64_t size);
    static Command boot();
    const std::string& text() const { return m_text; }

  private:
    explicit Command(std::string text) : m_text(std::move(text)) {}
    std::string m_text;
  };

  enum class Final { Okay, Fail, Data };
  struct Response {
    Final status;
    std::string payload;
  };

  Result<void> send(const Command& command);
  // Read until OKAY, FAIL or DATA, handing INFO/TEXT to the callback.
  Result<Response> await_final(const Command& command, std::chrono::milliseconds timeout);

  Transport& m_transport;
  DriverOptions m_options;
  MessageFn m_on_message;
  struct CacheEntry {
    bool okay = false;
    std::string payload; // the value, or the FAIL text
  };
  Result<const CacheEntry*> lookup(std::string_view name);

  std::map<std::string, CacheEntry, std::less<>> m_cache;
  std::vector<std::string> m_sent;
};

// The allow-list itself, exposed for tests: true only for getvar:<printable,
// 1..57 chars>, download:<8 lower-case hex> and boot.
bool command_is_allowed(std::string_view command);

} // namespace fastboop::fastboot
