#include "smoo/protocol.hpp"

#include <string>

namespace fastboop::smoo {

namespace {

Error bad(std::string_view message, std::string_view what) {
  return Error("smoo " + std::string(message) + ": " + std::string(what));
}

Result<void> expect_length(ByteSpan data, std::size_t size, std::string_view message) {
  if (data.size() != size)
    return bad(message,
               "expected " + std::to_string(size) + " bytes, got " + std::to_string(data.size()));
  return ok();
}

Result<void> expect_zero(ByteSpan data, std::size_t offset, std::size_t length,
                         std::string_view message, std::string_view field) {
  for (std::size_t i = offset; i < offset + length; ++i)
    if (data[i] != 0)
      return bad(message, std::string(field) + " at byte " + std::to_string(i) + " is not zero");
  return ok();
}

Result<Op> decode_op(std::uint8_t byte, std::string_view message) {
  if (byte > static_cast<std::uint8_t>(Op::Discard))
    return bad(message, "unknown op " + std::to_string(byte));
  return static_cast<Op>(byte);
}

// Request and Response share one layout; only byte 1 differs (reserved in a
// Request, the status in a Response).
void encode_message(std::uint8_t* p, Op op, std::uint8_t byte1, std::uint32_t request_id,
                    std::uint32_t export_id, std::uint64_t lba, std::uint32_t num_blocks) {
  p[0] = static_cast<std::uint8_t>(op);
  p[1] = byte1;
  store_le<std::uint32_t>(p + 4, request_id);
  store_le<std::uint32_t>(p + 8, export_id);
  store_le<std::uint64_t>(p + 12, lba);
  store_le<std::uint32_t>(p + 20, num_blocks);
  // flags (p + 24) stay zero.
}

bool valid_block_size(std::uint32_t v) {
  return v >= 512 && v <= 65536 && (v & (v - 1)) == 0;
}

Result<void> check_entry(const ExportEntry& e, std::size_t index) {
  const std::string where = "CONFIG_EXPORTS";
  const std::string entry = "entry " + std::to_string(index) + ": ";
  if (e.export_id == 0)
    return bad(where, entry + "export_id is 0");
  if (!valid_block_size(e.block_size))
    return bad(where, entry + "block_size " + std::to_string(e.block_size) +
                          " is not a power of two between 512 and 65536");
  if (e.size_bytes % e.block_size != 0)
    return bad(where, entry + "size_bytes " + std::to_string(e.size_bytes) +
                          " is not a multiple of block_size " + std::to_string(e.block_size));
  return ok();
}

} // namespace

Bytes encode_ident(const Ident& ident) {
  Bytes out = {'S', 'M', 'O', 'O'};
  append_le<std::uint16_t>(out, ident.major);
  append_le<std::uint16_t>(out, ident.minor);
  return out;
}

Result<Ident> decode_ident(ByteSpan data) {
  TRY(expect_length(data, ident_size, "IDENT"));
  if (as_chars(data.first(4)) != "SMOO")
    return bad("IDENT", "magic is not \"SMOO\": not a smoo gadget");
  return Ident{load_le<std::uint16_t>(data.data() + 4), load_le<std::uint16_t>(data.data() + 6)};
}

Result<Bytes> encode_config_exports(const std::vector<ExportEntry>& exports) {
  if (exports.size() > max_exports)
    return bad("CONFIG_EXPORTS",
               std::to_string(exports.size()) + " exports, at most " + std::to_string(max_exports));
  Bytes out;
  append_le<std::uint16_t>(out, 0); // version
  append_le<std::uint16_t>(out, static_cast<std::uint16_t>(exports.size()));
  append_le<std::uint32_t>(out, 0); // flags
  for (std::size_t i = 0; i < exports.size(); ++i) {
    const auto& e = exports[i];
    TRY(check_entry(e, i));
    for (std::size_t j = 0; j < i; ++j)
      if (exports[j].export_id == e.export_id)
        return bad("CONFIG_EXPORTS", "export_id " + std::to_string(e.export_id) + " appears twice");
    append_le<std::uint32_t>(out, e.export_id);
    append_le<std::uint32_t>(out, e.block_size);
    append_le<std::uint64_t>(out, e.size_bytes);
    append_le<std::uint64_t>(out, 0); // reserved
  }
  return out;
}

Result<std::vector<ExportEntry>> decode_config_exports(ByteSpan data) {
  if (data.size() < config_header_size)
    return bad("CONFIG_EXPORTS", "truncated header (" + std::to_string(data.size()) + " bytes)");
  const auto version = load_le<std::uint16_t>(data.data());
  const auto count = load_le<std::uint16_t>(data.data() + 2);
  const auto flags = load_le<std::uint32_t>(data.data() + 4);
  if (version != 0)
    return bad("CONFIG_EXPORTS", "version " + std::to_string(version) + ", expected 0");
  if (flags != 0)
    return bad("CONFIG_EXPORTS", "flags " + std::to_string(flags) + ", expected 0");
  if (count > max_exports)
    return bad("CONFIG_EXPORTS",
               std::to_string(count) + " exports, at most " + std::to_string(max_exports));
  TRY(expect_length(data, config_header_size + config_entry_size * count, "CONFIG_EXPORTS"));
  std::vector<ExportEntry> out;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t at = config_header_size + config_entry_size * i;
    ExportEntry e{load_le<std::uint32_t>(data.data() + at),
                  load_le<std::uint32_t>(data.data() + at + 4),
                  load_le<std::uint64_t>(data.data() + at + 8)};
    TRY(expect_zero(data, at + 16, 8, "CONFIG_EXPORTS",
                    "entry " + std::to_string(i) + " reserved"));
    TRY(check_entry(e, i));
    for (const auto& seen : out)
      if (seen.export_id == e.export_id)
        return bad("CONFIG_EXPORTS", "export_id " + std::to_string(e.export_id) + " appears twice");
    out.push_back(e);
  }
  return out;
}

Bytes encode_status(const Status& status) {
  Bytes out;
  append_le<std::uint16_t>(out, 0); // version
  append_le<std::uint16_t>(out, status.flags);
  append_le<std::uint32_t>(out, status.export_count);
  append_le<std::uint64_t>(out, status.session_id);
  return out;
}

Result<Status> decode_status(ByteSpan data) {
  TRY(expect_length(data, status_size, "STATUS"));
  const auto version = load_le<std::uint16_t>(data.data());
  if (version != 0)
    return bad("STATUS", "version " + std::to_string(version) + ", expected 0");
  Status s;
  s.flags = load_le<std::uint16_t>(data.data() + 2);
  if ((s.flags & ~status_flag_export_active) != 0)
    return bad("STATUS", "unknown flags " + std::to_string(s.flags));
  s.export_count = load_le<std::uint32_t>(data.data() + 4);
  s.session_id = load_le<std::uint64_t>(data.data() + 8);
  return s;
}

std::string_view op_name(Op op) {
  switch (op) {
  case Op::Read:
    return "read";
  case Op::Write:
    return "write";
  case Op::Flush:
    return "flush";
  case Op::Discard:
    return "discard";
  }
  return "?";
}

Bytes encode_request(const Request& r) {
  Bytes out(message_size, 0);
  encode_message(out.data(), r.op, 0, r.request_id, r.export_id, r.lba, r.num_blocks);
  return out;
}

Result<Request> decode_request(ByteSpan data) {
  TRY(expect_length(data, message_size, "Request"));
  Request r;
  r.op = TRY(decode_op(data[0], "Request"));
  TRY(expect_zero(data, 1, 3, "Request", "reserved"));
  TRY(expect_zero(data, 24, 4, "Request", "flags"));
  r.request_id = load_le<std::uint32_t>(data.data() + 4);
  r.export_id = load_le<std::uint32_t>(data.data() + 8);
  r.lba = load_le<std::uint64_t>(data.data() + 12);
  r.num_blocks = load_le<std::uint32_t>(data.data() + 20);
  return r;
}

Response response_for(const Request& request, std::uint8_t status) {
  return Response{request.op,        status,      request.request_id,
                  request.export_id, request.lba, request.num_blocks};
}

Bytes encode_response(const Response& r) {
  Bytes out(message_size, 0);
  encode_message(out.data(), r.op, r.status, r.request_id, r.export_id, r.lba, r.num_blocks);
  return out;
}

Result<Response> decode_response(ByteSpan data) {
  TRY(expect_length(data, message_size, "Response"));
  Response r;
  r.op = TRY(decode_op(data[0], "Response"));
  r.status = data[1];
  TRY(expect_zero(data, 2, 2, "Response", "reserved"));
  TRY(expect_zero(data, 24, 4, "Response", "flags"));
  r.request_id = load_le<std::uint32_t>(data.data() + 4);
  r.export_id = load_le<std::uint32_t>(data.data() + 8);
  r.lba = load_le<std::uint64_t>(data.data() + 12);
  r.num_blocks = load_le<std::uint32_t>(data.data() + 20);
  return r;
}

std::uint32_t fnv1a32(ByteSpan data, std::uint32_t hash) {
  for (std::uint8_t b : data) {
    hash ^= b;
    hash *= 0x01000193u;
  }
  return hash;
}

std::uint32_t export_id_for(std::uint32_t block_size, std::uint64_t block_count,
                            ByteSpan identity) {
  std::uint8_t head[12];
  store_le<std::uint32_t>(head, block_size);
  store_le<std::uint64_t>(head + 4, block_count);
  const std::uint32_t h = fnv1a32(identity, fnv1a32(head));
  return h == 0 ? 1 : h;
}

} // namespace fastboop::smoo
