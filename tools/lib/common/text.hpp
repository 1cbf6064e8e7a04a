// The one home for small text rules: the whitespace set, trimming, joining
// non-empty parts, hex formatting. Header-only and dependency-free, so the
// static PID1 (tools/stage0-init, through stage0_settings) uses the same rules.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <span>
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

// A code point as UTF-8 (the caller keeps it below 0x110000).
inline void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// UTF-16 units (up to the first NUL) as UTF-8, the one rule for on-disk
// names (FAT long names, GPT labels): an unpaired surrogate becomes U+FFFD, so
// the result is always valid UTF-8.
inline std::string utf16_to_utf8(std::span<const std::uint16_t> units) {
  std::string out;
  for (std::size_t i = 0; i < units.size(); ++i) {
    std::uint32_t u = units[i];
    if (u == 0)
      break;
    if (u >= 0xD800 && u < 0xDC00 && i + 1 < units.size() && units[i + 1] >= 0xDC00 && units[i + 1] < 0xE000) {
      u = 0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00);
      ++i;
    } else if (u >= 0xD800 && u < 0xE000) {
      u = 0xFFFD;
    }
    append_utf8(out, u);
  }
  return out;
}

} // namespace fastboop
