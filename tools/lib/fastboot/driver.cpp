#include "fastboot/driver.hpp"
#include "common/text.hpp"

#include "common/log.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>

namespace fastboop::fastboot {

namespace {

// Bootloaders pad responses with NULs as well as spaces.
constexpr std::string_view kWhitespaceAndNul(" \t\n\v\f\r\0", 7);

// Commands stay within 64 bytes: older bootloaders use 64-byte buffers.
constexpr std::size_t max_command_bytes = 64;
constexpr std::string_view getvar_prefix = "getvar:";
constexpr std::string_view download_prefix = "download:";

bool printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

// Response text shown to users: printable ASCII kept, the rest escaped.
std::string quote(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c >= 0x20 && c <= 0x7e) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return "'" + out + "'";
}

std::string format_size(std::uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%llu bytes (%.1f MiB)", static_cast<unsigned long long>(bytes),
                static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

} // namespace

bool command_is_allowed(std::string_view command) {
  if (command.size() > max_command_bytes)
    return false;
  if (command == "boot")
    return true;
  if (command.starts_with(getvar_prefix)) {
    auto name = command.substr(getvar_prefix.size());
    return !name.empty() && printable(name);
  }
  if (command.starts_with(download_prefix)) {
    auto hex = command.substr(download_prefix.size());
    return hex.size() == 8 && std::all_of(hex.begin(), hex.end(), [](char c) {
             return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
  }
  return false;
}

bool getvar_is_missing(const GetvarAnswer& answer) {
  if (!answer)
    return true;
  auto value = trim(*answer, kWhitespaceAndNul);
  if (value.empty())
    return true;
  std::string lower(value);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower == "unknown";
}

std::optional<std::uint64_t> parse_size_value(std::string_view text) {
  text = trim(text, kWhitespaceAndNul);
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty())
    return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  return value;
}

Result<Driver::Command> Driver::Command::getvar(std::string_view name) {
  if (name.empty())
    return Error("getvar: empty variable name", ErrorKind::Usage);
  if (!printable(name))
    return Error("getvar: variable name " + quote(name) + " contains control or non-ASCII characters",
                 ErrorKind::Usage);
  if (getvar_prefix.size() + name.size() > max_command_bytes)
    return Error("getvar: variable name " + quote(name) + " is longer than " +
                     std::to_string(max_command_bytes - getvar_prefix.size()) + " characters",
                 ErrorKind::Usage);
  return Command(std::string(getvar_prefix) + std::string(name));
}

Result<Driver::Command> Driver::Command::download(std::uint64_t size) {
  if (size == 0)
    return Error("download: refusing an empty image", ErrorKind::Invalid);
  if (size > 0xffffffffULL)
    return Error("download: " + format_size(size) + " does not fit the protocol's 32-bit size field",
                 ErrorKind::Invalid);
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08llx", static_cast<unsigned long long>(size));
  return Command(std::string(download_prefix) + hex);
}

Driver::Command Driver::Command::boot() { return Command("boot"); }

Driver::Driver(Transport& transport, DriverOptions options) : m_transport(transport), m_options(options) {}

Result<void> Driver::send(const Command& command) {
  // Defence in depth: the factories already guarantee this.
  if (!command_is_allowed(command.text()))
    return Error("refusing to send " + quote(command.text()) + ": not on the getvar/download/boot allow-list",
                 ErrorKind::Invalid);
  log::trace("fastboot > " + command.text());
  m_sent.push_back(command.text());
  TRY_CTX(m_transport.write(as_bytes(command.text())),
          m_transport.describe() + ": sending '" + command.text() + "'");
  return ok();
}

Result<Driver::Response> Driver::await_final(const Command& command, std::chrono::milliseconds timeout) {
  const std::string where = m_transport.describe() + ": '" + command.text() + "'";
  for (;;) {
    auto raw = m_transport.read(timeout);
    if (!raw)
      return Error(where + ": " + raw.error().message(), raw.error().kind());
    std::string_view text = as_chars(*raw);
    if (text.size() < 4)
      return Error(where + ": malformed response " + quote(text) + " (shorter than the 4-byte status)",
                   ErrorKind::Device);
    std::string_view status = text.substr(0, 4);
    std::string_view payload = text.substr(4);
    // AOSP keeps responses as C strings; so do we.
    if (auto nul = payload.find('\0'); nul != std::string_view::npos)
      payload = payload.substr(0, nul);
    if (status == "INFO" || status == "TEXT") {
      log::trace("fastboot < " + std::string(status) + std::string(payload));
      if (m_on_message)
        m_on_message(status == "INFO" ? MessageKind::Info : MessageKind::Text, payload);
      continue;
    }
    log::trace("fastboot < " + std::string(text.substr(0, std::min<std::size_t>(text.size(), 256))));
    if (status == "OKAY")
      return Response{Final::Okay, std::string(payload)};
    if (status == "FAIL")
      return Response{Final::Fail, std::string(payload)};
    if (status == "DATA")
      return Response{Final::Data, std::string(payload)};
    return Error(where + ": unknown response status " + quote(status) + " (full response " + quote(text) + ")",
                 ErrorKind::Device);
  }
}

Result<const Driver::CacheEntry*> Driver::lookup(std::string_view name) {
  if (auto it = m_cache.find(name); it != m_cache.end())
    return &it->second;
  auto command = TRY(Command::getvar(name));
  TRY(send(command));
  auto response = TRY(await_final(command, m_options.response_timeout));
  if (response.status == Final::Data)
    return Error(m_transport.describe() + ": '" + command.text() + "': device answered DATA to a getvar",
                 ErrorKind::Device);
  CacheEntry entry{response.status == Final::Okay, std::move(response.payload)};
  return &m_cache.emplace(std::string(name), std::move(entry)).first->second;
}

Result<std::string> Driver::getvar(std::string_view name) {
  const CacheEntry* entry = TRY(lookup(name));
  if (!entry->okay)
    return Error(m_transport.describe() + ": getvar:" + std::string(name) + " FAILED (remote: " +
                     quote(entry->payload) + ")",
                 ErrorKind::Device);
  return entry->payload;
}

Result<GetvarAnswer> Driver::getvar_cached(std::string_view name) {
  const CacheEntry* entry = TRY(lookup(name));
  if (!entry->okay)
    return GetvarAnswer{};
  return GetvarAnswer{entry->payload};
}

Result<std::optional<std::uint64_t>> Driver::max_download_size() {
  auto answer = TRY(getvar_cached("max-download-size"));
  if (getvar_is_missing(answer))
    return std::optional<std::uint64_t>{};
  auto value = parse_size_value(*answer);
  if (!value)
    log::warn(m_transport.describe() + ": ignoring unparsable max-download-size " + quote(*answer));
  return value;
}

Result<void> Driver::download(ByteSpan image, const ProgressFn& progress) {
  const auto limit = TRY(max_download_size());
  if (limit && image.size() > *limit)
    return Error(m_transport.describe() + ": the image is " + format_size(image.size()) +
                     " but the device accepts at most " + format_size(*limit) + " (max-download-size)",
                 ErrorKind::Invalid);
  if (!limit)
    log::warn(m_transport.describe() + ": the device does not report max-download-size; sending anyway");
  auto command = TRY(Command::download(image.size()));
  TRY(send(command));
  auto response = TRY(await_final(command, m_options.response_timeout));
  const std::string where = m_transport.describe() + ": '" + command.text() + "'";
  if (response.status == Final::Fail)
    return Error(where + " FAILED (remote: " + quote(response.payload) + ")", ErrorKind::Device);
  if (response.status == Final::Okay)
    return Error(where + ": device answered OKAY instead of DATA", ErrorKind::Device);
  auto announced = parse_size_value("0x" + response.payload);
  if (response.payload.size() != 8 || !announced)
    return Error(where + ": malformed DATA size " + quote(response.payload), ErrorKind::Device);
  if (*announced != image.size())
    return Error(where + ": device asked for " + std::to_string(*announced) + " bytes, not the " +
                     std::to_string(image.size()) + " requested",
                 ErrorKind::Device);
  TRY_CTX(m_transport.write(image, progress), where + ": data phase");
  auto done = TRY(await_final(command, m_options.slow_response_timeout));
  if (done.status == Final::Fail)
    return Error(where + ": data phase FAILED (remote: " + quote(done.payload) + ")", ErrorKind::Device);
  if (done.status != Final::Okay)
    return Error(where + ": device answered DATA again after the data phase", ErrorKind::Device);
  return ok();
}

Result<void> Driver::boot() {
  const auto command = Command::boot();
  TRY(send(command));
  auto response = TRY(await_final(command, m_options.slow_response_timeout));
  const std::string where = m_transport.describe() + ": 'boot'";
  if (response.status == Final::Fail)
    return Error(where + " FAILED (remote: " + quote(response.payload) + ")", ErrorKind::Device);
  if (response.status != Final::Okay)
    return Error(where + ": device answered DATA to boot", ErrorKind::Device);
  return ok();
}

} // namespace fastboop::fastboot
