// Postcard 1.x wire format (spec §0.2), hand-written: there is no packaged C++
// implementation, and the format is small. Only the parts the profile formats
// use: varints with the final-byte range check, bool, option tags, strings,
// byte vectors, sequence lengths and enum variant indexes.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace fastboop::profiles::postcard {

class Writer {
public:
  void varint(std::uint64_t value);
  void u8(std::uint8_t value) { m_out.push_back(value); }
  void boolean(bool value) { m_out.push_back(value ? 1 : 0); }
  void string(std::string_view text);
  void bytes(ByteSpan data); // Vec<u8>: length + raw bytes
  void raw(ByteSpan data) { append(m_out, data); }
  void option_tag(bool present) { boolean(present); }
  template <typename T> void optional_varint(const std::optional<T>& value) {
    option_tag(value.has_value());
    if (value)
      varint(*value);
  }
  void optional_string(const std::optional<std::string>& value) {
    option_tag(value.has_value());
    if (value)
      string(*value);
  }
  Bytes take() { return std::move(m_out); }
  const Bytes& data() const { return m_out; }

private:
  Bytes m_out;
};

// Reads from a span; every error names the byte offset (relative to
// `base_offset`, so envelope decoders can report file offsets) and the field.
class Reader {
public:
  explicit Reader(ByteSpan data, std::size_t base_offset = 0) : m_data(data), m_base(base_offset) {}

  Result<std::uint64_t> varint(std::string_view field, unsigned max_bits);
  template <typename T> Result<T> uint(std::string_view field) {
    auto v = varint(field, std::numeric_limits<T>::digits);
    if (!v)
      return std::move(v).error();
    return static_cast<T>(*v);
  }
  Result<std::uint8_t> u8(std::string_view field);
  Result<bool> boolean(std::string_view field);
  Result<bool> option_tag(std::string_view field);
  Result<std::string> string(std::string_view field);
  Result<Bytes> bytes(std::string_view field);
  Result<Bytes> raw(std::string_view field, std::size_t size);
  // A sequence length, bounded by the bytes left (each element takes at least
  // `min_element_size` bytes), so hostile counts cannot force huge allocations.
  Result<std::size_t> length(std::string_view field, std::size_t min_element_size = 1);
  Result<std::uint32_t> variant(std::string_view field, std::uint32_t count);
  template <typename T> Result<std::optional<T>> optional_uint(std::string_view field) {
    auto present = option_tag(field);
    if (!present)
      return std::move(present).error();
    if (!*present)
      return std::optional<T>{};
    auto v = uint<T>(field);
    if (!v)
      return std::move(v).error();
    return std::optional<T>{*v};
  }
  Result<std::optional<std::string>> optional_string(std::string_view field);

  std::size_t offset() const { return m_pos; }
  std::size_t remaining() const { return m_data.size() - m_pos; }

  Error error(std::string_view field, std::string_view message) const;

private:
  ByteSpan m_data;
  std::size_t m_base = 0;
  std::size_t m_pos = 0;
};

bool is_valid_utf8(std::string_view text);

} // namespace fastboop::profiles::postcard
