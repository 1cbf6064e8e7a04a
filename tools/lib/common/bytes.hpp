// Byte buffers and little-endian field access, used by every binary format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

template <typename T> T load_le(const std::uint8_t* p) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v |= static_cast<T>(static_cast<T>(p[i]) << (8 * i));
  return v;
}
template <typename T> T load_be(const std::uint8_t* p) {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    v = static_cast<T>((v << 8) | p[i]);
  return v;
}
template <typename T> void store_le(std::uint8_t* p, T v) {
  for (std::size_t i = 0; i < sizeof(T); ++i)
    p[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i));
}
template <typename T> void append_le(Bytes& out, T v) {
  std::uint8_t b[sizeof(T)];
  store_le(b, v);
  out.insert(out.end(), b, b + sizeof(T));
}
inline void append(Bytes& out, ByteSpan data) { out.insert(out.end(), data.begin(), data.end()); }
inline void append(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// Lowercase hex of a byte span.
std::string to_hex(ByteSpan data);
// Round up to a multiple of `align` (a power of two or any positive value).
constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t align) {
  return align == 0 ? v : (v + align - 1) / align * align;
}

} // namespace fastboop
