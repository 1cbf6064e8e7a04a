#include "profiles/postcard.hpp"

namespace fastboop::profiles::postcard {

void Writer::varint(std::uint64_t value) {
  while (value >= 0x80) {
    m_out.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  m_out.push_back(static_cast<std::uint8_t>(value));
}

void Writer::string(std::string_view text) {
  varint(text.size());
  append(m_out, text);
}

void Writer::bytes(ByteSpan data) {
  varint(data.size());
  append(m_out, data);
}

Error Reader::error(std::string_view field, std::string_view message) const {
  return Error("at byte offset " + std::to_string(m_base + m_pos) + ": " + std::string(field) + ": " +
               std::string(message));
}

Result<std::uint64_t> Reader::varint(std::string_view field, unsigned max_bits) {
  // ceil(bits / 7) bytes at most; the last byte may only carry the bits left.
  const unsigned max_bytes = (max_bits + 6) / 7;
  std::uint64_t value = 0;
  const std::size_t start = m_pos;
  for (unsigned i = 0; i < max_bytes; ++i) {
    if (m_pos >= m_data.size()) {
      m_pos = start;
      return error(field, "truncated varint");
    }
    const std::uint8_t byte = m_data[m_pos++];
    const unsigned shift = 7 * i;
    if (i == max_bytes - 1) {
      const unsigned bits_left = max_bits - shift;
      if ((byte & 0x80) != 0 || (bits_left < 8 && (byte >> bits_left) != 0)) {
        m_pos = start;
        return error(field, "varint out of range for a " + std::to_string(max_bits) + "-bit integer");
      }
    }
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0)
      return value;
  }
  m_pos = start;
  return error(field, "varint out of range");
}

Result<std::uint8_t> Reader::u8(std::string_view field) {
  if (m_pos >= m_data.size())
    return error(field, "truncated");
  return m_data[m_pos++];
}

Result<bool> Reader::boolean(std::string_view field) {
  if (m_pos >= m_data.size())
    return error(field, "truncated bool");
  const std::uint8_t b = m_data[m_pos];
  if (b > 1)
    return error(field, "invalid bool byte " + std::to_string(b));
  ++m_pos;
  return b == 1;
}

Result<bool> Reader::option_tag(std::string_view field) {
  if (m_pos >= m_data.size())
    return error(field, "truncated option tag");
  const std::uint8_t b = m_data[m_pos];
  if (b > 1)
    return error(field, "invalid option tag " + std::to_string(b));
  ++m_pos;
  return b == 1;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n)
      return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += len;
  }
  return true;
}

Result<std::string> Reader::string(std::string_view field) {
  const std::size_t start = m_pos;
  auto len = TRY(varint(field, 64));
  if (len > remaining()) {
    m_pos = start;
    return error(field, "string length " + std::to_string(len) + " exceeds the " +
                            std::to_string(remaining()) + " bytes left");
  }
  std::string text(reinterpret_cast<const char*>(m_data.data() + m_pos), static_cast<std::size_t>(len));
  if (!is_valid_utf8(text)) {
    m_pos = start;
    return error(field, "string is not valid UTF-8");
  }
  m_pos += static_cast<std::size_t>(len);
  return text;
}

Result<Bytes> Reader::bytes(std::string_view field) {
  const std::size_t start = m_pos;
  auto len = TRY(varint(field, 64));
  if (len > remaining()) {
    m_pos = start;
    return error(field, "byte string length " + std::to_string(len) + " exceeds the " +
                            std::to_string(remaining()) + " bytes left");
  }
  Bytes out(m_data.begin() + static_cast<std::ptrdiff_t>(m_pos),
            m_data.begin() + static_cast<std::ptrdiff_t>(m_pos + len));
  m_pos += static_cast<std::size_t>(len);
  return out;
}

Result<Bytes> Reader::raw(std::string_view field, std::size_t size) {
  if (size > remaining())
    return error(field, "truncated: need " + std::to_string(size) + " bytes");
  Bytes out(m_data.begin() + static_cast<std::ptrdiff_t>(m_pos),
            m_data.begin() + static_cast<std::ptrdiff_t>(m_pos + size));
  m_pos += size;
  return out;
}

Result<std::size_t> Reader::length(std::string_view field, std::size_t min_element_size) {
  const std::size_t start = m_pos;
  auto len = TRY(varint(field, 64));
  if (min_element_size > 0 && len > remaining() / min_element_size) {
    m_pos = start;
    return error(field, "element count " + std::to_string(len) + " exceeds what the " +
                            std::to_string(remaining()) + " bytes left can hold");
  }
  return static_cast<std::size_t>(len);
}

Result<std::uint32_t> Reader::variant(std::string_view field, std::uint32_t count) {
  const std::size_t start = m_pos;
  auto index = TRY(uint<std::uint32_t>(field));
  if (index >= count) {
    m_pos = start;
    return error(field, "unknown variant index " + std::to_string(index));
  }
  return index;
}

Result<std::optional<std::string>> Reader::optional_string(std::string_view field) {
  if (!TRY(option_tag(field)))
    return std::optional<std::string>{};
  return std::optional<std::string>{TRY(string(field))};
}

} // namespace fastboop::profiles::postcard
