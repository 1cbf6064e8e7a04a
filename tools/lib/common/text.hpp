// The one home for small text rules: the whitespace set, trimming, joining
// non-empty parts, hex formatting. Header-only and dependency-free, so the
// static PID1 (tools/stage0-init, through stage0_settings) uses the same rules.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>

namespace fastboop {

// The whitespace set everywhere: C's isspace() in the "C" locale.
inline constexpr std::string_view kWhitespace = " \t\n\v\f\r";

constexpr bool is_space(char c) { return kWhitespace.find(c) != std::string_view::npos; }

// `text` without leading and trailing characters from `set` (whitespace by
// default). The result views `text`: keep its storage alive.
constexpr std::string_view trim(std::string_view text, std::string_view set = kWhitespace) {
  const auto first = text.find_first_not_of(set);
  if (first == std::string_view::npos)
    return {};
  return text.substr(first, text.find_last_not_of(set) - first + 1);
}

// Each part trimmed, empty ones dropped, the rest joined by `separator`
// (the kernel command line is built this way).
inline std::string join_nonempty(std::initializer_list<std::string_view> parts, std::string_view separator = " ") {
  std::string out;
  for (auto part : parts) {
    const auto t = trim(part);
    if (t.empty())
      continue;
    if (!out.empty())
      out += separator;
    out += t;
  }
  return out;
}

enum class HexPrefix { None, With0x };

// `value` in lowercase hex, zero-padded to at least `digits` digits:
// format_hex(0x1f, 4) = "0x001f"; a wider value is printed whole.
inline std::string format_hex(std::uint64_t value, int digits, HexPrefix prefix = HexPrefix::With0x) {
  char buf[24];
  std::snprintf(buf, sizeof buf, prefix == HexPrefix::With0x ? "0x%0*llx" : "%0*llx", digits,
                static_cast<unsigned long long>(value));
  return buf;
}

} // namespace fastboop
