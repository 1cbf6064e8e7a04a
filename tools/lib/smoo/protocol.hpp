// The smoo wire format (spec smoo.md §3-§5): the control messages on ep0
// (IDENT, CONFIG_EXPORTS, STATUS), the 28-byte Request and Response of the
// data plane, and export_id. All integers little-endian. Decoders are strict:
// a wrong length, version, flags value or a non-zero reserved field is an
// error naming the message and the field.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <string_view>
#include <vector>

namespace fastboop::smoo {

// --- interface (spec §2) ---------------------------------------------------
inline constexpr std::uint8_t interface_class = 0xFF;
inline constexpr std::uint8_t fastboot_subclass = 0x42,
                              fastboot_protocol = 0x03;                   // --mimic-fastboot
inline constexpr std::uint8_t smoo_subclass = 0x53, smoo_protocol = 0x4D; // 'S','M'

// --- control requests (spec §3) -------------------------------------------
inline constexpr std::uint8_t ident_request_type = 0xC1; // vendor, interface, IN
inline constexpr std::uint8_t ident_request = 0x01;
inline constexpr std::uint8_t config_exports_request_type = 0x41; // vendor, interface, OUT
inline constexpr std::uint8_t config_exports_request = 0x02;
inline constexpr std::uint8_t status_request_type = 0xA1; // class, interface, IN
inline constexpr std::uint8_t status_request = 0x03;

inline constexpr std::size_t ident_size = 8;
inline constexpr std::size_t status_size = 16;
inline constexpr std::size_t config_header_size = 8;
inline constexpr std::size_t config_entry_size = 24;
inline constexpr std::size_t max_exports = 32;
inline constexpr std::size_t message_size = 28; // Request and Response

struct Ident {
  std::uint16_t major = 0;
  std::uint16_t minor = 1;
  friend bool operator==(const Ident&, const Ident&) = default;
};
Bytes encode_ident(const Ident& ident);
// "SMOO" magic; anything else is not a smoo gadget.
Result<Ident> decode_ident(ByteSpan data);

struct ExportEntry {
  std::uint32_t export_id = 0;  // non-zero, unique
  std::uint32_t block_size = 0; // power of two, 512…65536
  std::uint64_t size_bytes = 0; // a multiple of block_size
  friend bool operator==(const ExportEntry&, const ExportEntry&) = default;
};
// Version 0: header (version 0, count, flags 0) then the entries.
Result<Bytes> encode_config_exports(const std::vector<ExportEntry>& exports);
Result<std::vector<ExportEntry>> decode_config_exports(ByteSpan data);

struct Status {
  std::uint16_t flags = 0; // bit 0: an export is active
  std::uint32_t export_count = 0;
  std::uint64_t session_id = 0;
  bool export_active() const { return (flags & 1u) != 0; }
  friend bool operator==(const Status&, const Status&) = default;
};
inline constexpr std::uint16_t status_flag_export_active = 1;
Bytes encode_status(const Status& status);
Result<Status> decode_status(ByteSpan data);

// --- data plane (spec §4) --------------------------------------------------
enum class Op : std::uint8_t { Read = 0, Write = 1, Flush = 2, Discard = 3 };
std::string_view op_name(Op op);

struct Request {
  Op op = Op::Read;
  std::uint32_t request_id = 0;
  std::uint32_t export_id = 0;
  std::uint64_t lba = 0;
  std::uint32_t num_blocks = 0;
  friend bool operator==(const Request&, const Request&) = default;
};
Bytes encode_request(const Request& request);
Result<Request> decode_request(ByteSpan data);

// Linux errnos the host answers with (spec §4), fixed numbers on the wire
// whatever this host's <cerrno> says.
inline constexpr std::uint8_t status_ok = 0;
inline constexpr std::uint8_t status_eio = 5;
inline constexpr std::uint8_t status_einval = 22;
inline constexpr std::uint8_t status_eopnotsupp = 95;

struct Response {
  Op op = Op::Read;
  std::uint8_t status = status_ok;
  std::uint32_t request_id = 0;
  std::uint32_t export_id = 0;
  std::uint64_t lba = 0;
  std::uint32_t num_blocks = 0;
  friend bool operator==(const Response&, const Response&) = default;
};
// The Response echoing `request` with `status`.
Response response_for(const Request& request, std::uint8_t status);
Bytes encode_response(const Response& response);
Result<Response> decode_response(ByteSpan data);

// --- export_id (spec §5) ---------------------------------------------------
// 32-bit FNV-1a (offset basis 0x811c9dc5, prime 0x01000193), continuing from `hash`.
std::uint32_t fnv1a32(ByteSpan data, std::uint32_t hash = 0x811c9dc5u);
// FNV-1a-32 over block_size (u32 LE), block count (u64 LE), then `identity`;
// 0 becomes 1.
std::uint32_t export_id_for(std::uint32_t block_size, std::uint64_t block_count, ByteSpan identity);

} // namespace fastboop::smoo
