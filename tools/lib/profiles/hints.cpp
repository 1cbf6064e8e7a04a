#include "profiles/hints.hpp"

#include "profiles/postcard.hpp"

#include <algorithm>

namespace fastboop::profiles {

namespace {

constexpr std::string_view record_magic = "FBPHINT0";
constexpr std::string_view hints_magic = "GBXHINT0";
constexpr std::size_t record_header = 18;

void encode_hints_payload(postcard::Writer& w, const std::vector<PipelineHintEntry>& entries) {
  w.raw(as_bytes(hints_magic));
  w.raw(std::array<std::uint8_t, 2>{0, 0});
  w.varint(entries.size());
  for (const auto& e : entries) {
    w.string(e.pipeline_identity);
    w.varint(e.hints.size());
    for (const auto& h : e.hints) {
      w.varint(static_cast<std::uint32_t>(h.kind));
      switch (h.kind) {
      case PipelineHint::Kind::AndroidSparseIndex: {
        const auto& s = h.sparse;
        w.varint(s.file_hdr_sz);
        w.varint(s.chunk_hdr_sz);
        w.varint(s.blk_sz);
        w.varint(s.total_blks);
        w.varint(s.total_chunks);
        w.varint(s.image_checksum);
        w.varint(s.chunks.size());
        for (const auto& c : s.chunks) {
          w.varint(c.chunk_index);
          w.varint(c.chunk_type);
          w.varint(c.chunk_sz);
          w.varint(c.total_sz);
          w.varint(c.chunk_offset);
          w.varint(c.payload_offset);
          w.varint(c.payload_size);
          w.optional_varint(c.output_start);
          w.optional_varint(c.output_end);
          w.option_tag(c.fill_pattern.has_value());
          if (c.fill_pattern)
            w.raw(*c.fill_pattern);
          w.optional_varint(c.crc32);
        }
        break;
      }
      case PipelineHint::Kind::TarEntryIndex:
        w.string(h.tar.entry_name);
        w.varint(h.tar.header_offset);
        w.varint(h.tar.data_offset);
        w.varint(h.tar.size_bytes);
        w.u8(h.tar.entry_type);
        break;
      case PipelineHint::Kind::ContentDigest:
        w.string(h.digest.digest);
        w.varint(h.digest.size_bytes);
        break;
      }
    }
  }
}

Result<PipelineHint> decode_hint(postcard::Reader& r) {
  PipelineHint h;
  h.kind = static_cast<PipelineHint::Kind>(TRY(r.variant("hint", 3)));
  switch (h.kind) {
  case PipelineHint::Kind::AndroidSparseIndex: {
    auto& s = h.sparse;
    s.file_hdr_sz = TRY(r.uint<std::uint16_t>("sparse.file_hdr_sz"));
    s.chunk_hdr_sz = TRY(r.uint<std::uint16_t>("sparse.chunk_hdr_sz"));
    s.blk_sz = TRY(r.uint<std::uint32_t>("sparse.blk_sz"));
    s.total_blks = TRY(r.uint<std::uint32_t>("sparse.total_blks"));
    s.total_chunks = TRY(r.uint<std::uint32_t>("sparse.total_chunks"));
    s.image_checksum = TRY(r.uint<std::uint32_t>("sparse.image_checksum"));
    const auto n = TRY(r.length("sparse.chunks", 11));
    for (std::size_t i = 0; i < n; ++i) {
      SparseChunkHint c;
      c.chunk_index = TRY(r.uint<std::uint32_t>("chunk.chunk_index"));
      c.chunk_type = TRY(r.uint<std::uint16_t>("chunk.chunk_type"));
      c.chunk_sz = TRY(r.uint<std::uint32_t>("chunk.chunk_sz"));
      c.total_sz = TRY(r.uint<std::uint32_t>("chunk.total_sz"));
      c.chunk_offset = TRY(r.uint<std::uint64_t>("chunk.chunk_offset"));
      c.payload_offset = TRY(r.uint<std::uint64_t>("chunk.payload_offset"));
      c.payload_size = TRY(r.uint<std::uint64_t>("chunk.payload_size"));
      c.output_start = TRY(r.optional_uint<std::uint64_t>("chunk.output_start"));
      c.output_end = TRY(r.optional_uint<std::uint64_t>("chunk.output_end"));
      if (TRY(r.option_tag("chunk.fill_pattern"))) {
        auto raw = TRY(r.raw("chunk.fill_pattern", 4));
        c.fill_pattern = std::array<std::uint8_t, 4>{raw[0], raw[1], raw[2], raw[3]};
      }
      c.crc32 = TRY(r.optional_uint<std::uint32_t>("chunk.crc32"));
      s.chunks.push_back(c);
    }
    break;
  }
  case PipelineHint::Kind::TarEntryIndex:
    h.tar.entry_name = TRY(r.string("tar.entry_name"));
    h.tar.header_offset = TRY(r.uint<std::uint64_t>("tar.header_offset"));
    h.tar.data_offset = TRY(r.uint<std::uint64_t>("tar.data_offset"));
    h.tar.size_bytes = TRY(r.uint<std::uint64_t>("tar.size_bytes"));
    h.tar.entry_type = TRY(r.u8("tar.entry_type"));
    break;
  case PipelineHint::Kind::ContentDigest:
    h.digest.digest = TRY(r.string("digest.digest"));
    h.digest.size_bytes = TRY(r.uint<std::uint64_t>("digest.size_bytes"));
    break;
  }
  return h;
}

Result<void> check_sorted_unique(const std::vector<std::string>& ids, std::string_view what) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i].find_first_not_of(" \t\r\n") == std::string::npos)
      return Error(std::string(what) + ": blank pipeline identity");
    if (i > 0 && !(ids[i - 1] < ids[i]))
      return Error(std::string(what) + ": identities are not strictly ascending ('" + ids[i] + "' after '" +
                   ids[i - 1] + "')");
  }
  return ok();
}

} // namespace

Bytes encode_pipeline_hints_record(const PipelineHintsRecord& record) {
  postcard::Writer meta;
  meta.varint(record.identities.size());
  for (const auto& id : record.identities)
    meta.string(id);
  postcard::Writer payload;
  encode_hints_payload(payload, record.entries);
  Bytes out(record_header + meta.data().size() + payload.data().size());
  std::copy(record_magic.begin(), record_magic.end(), out.begin());
  store_le<std::uint16_t>(out.data() + 8, 0);
  store_le<std::uint32_t>(out.data() + 10, static_cast<std::uint32_t>(meta.data().size()));
  store_le<std::uint32_t>(out.data() + 14, static_cast<std::uint32_t>(payload.data().size()));
  std::copy(meta.data().begin(), meta.data().end(), out.begin() + record_header);
  std::copy(payload.data().begin(), payload.data().end(),
            out.begin() + static_cast<std::ptrdiff_t>(record_header + meta.data().size()));
  return out;
}

Result<PipelineHintsRecord> decode_pipeline_hints_record(ByteSpan bytes, std::size_t* consumed) {
  if (bytes.size() < record_header || as_chars(bytes.first(8)) != record_magic)
    return Error("not a pipeline hints record: missing FBPHINT0 magic");
  const auto version = load_le<std::uint16_t>(bytes.data() + 8);
  if (version != 0)
    return Error("pipeline hints record (FBPHINT0): unsupported format version " + std::to_string(version));
  const std::uint64_t meta_len = load_le<std::uint32_t>(bytes.data() + 10);
  const std::uint64_t payload_len = load_le<std::uint32_t>(bytes.data() + 14);
  if (record_header + meta_len + payload_len > bytes.size())
    return Error("pipeline hints record (FBPHINT0): truncated: header announces " +
                 std::to_string(meta_len + payload_len) + " bytes, " +
                 std::to_string(bytes.size() - record_header) + " present");
  PipelineHintsRecord rec;
  {
    postcard::Reader r(bytes.subspan(record_header, meta_len), record_header);
    auto decode_meta = [&]() -> Result<void> {
      const auto n = TRY(r.length("metadata.pipeline_identities"));
      for (std::size_t i = 0; i < n; ++i)
        rec.identities.push_back(TRY(r.string("metadata.pipeline_identities")));
      return ok();
    };
    TRY_CTX(decode_meta(), "pipeline hints record (FBPHINT0)");
    TRY_CTX(check_sorted_unique(rec.identities, "metadata"), "pipeline hints record (FBPHINT0)");
  }
  const std::size_t payload_at = record_header + static_cast<std::size_t>(meta_len);
  const ByteSpan payload = bytes.subspan(payload_at, payload_len);
  if (payload.size() < 10 || as_chars(payload.first(8)) != hints_magic)
    return Error("pipeline hints record (FBPHINT0): payload is not a GBXHINT0 blob");
  if (load_le<std::uint16_t>(payload.data() + 8) != 0)
    return Error("pipeline hints record (FBPHINT0): unsupported GBXHINT0 version");
  postcard::Reader r(payload.subspan(10), payload_at + 10);
  auto decode_entries = [&]() -> Result<void> {
    const auto n = TRY(r.length("entries", 2));
    for (std::size_t i = 0; i < n; ++i) {
      PipelineHintEntry e;
      e.pipeline_identity = TRY(r.string("entry.pipeline_identity"));
      const auto nh = TRY(r.length("entry.hints", 2));
      if (nh == 0)
        return r.error("entry.hints", "entry '" + e.pipeline_identity + "' has no hints");
      bool seen[3] = {false, false, false};
      for (std::size_t k = 0; k < nh; ++k) {
        auto h = TRY(decode_hint(r));
        auto& flag = seen[static_cast<std::size_t>(h.kind)];
        if (flag)
          return r.error("entry.hints", "entry '" + e.pipeline_identity + "' has two hints of one kind");
        flag = true;
        e.hints.push_back(std::move(h));
      }
      rec.entries.push_back(std::move(e));
    }
    return ok();
  };
  TRY_CTX(decode_entries(), "pipeline hints record (FBPHINT0)");
  std::vector<std::string> ids;
  for (const auto& e : rec.entries)
    ids.push_back(e.pipeline_identity);
  TRY_CTX(check_sorted_unique(ids, "entries"), "pipeline hints record (FBPHINT0)");
  if (ids != rec.identities)
    return Error("pipeline hints record (FBPHINT0): metadata identities differ from the payload's entries");
  if (consumed)
    *consumed = record_header + static_cast<std::size_t>(meta_len + payload_len);
  return rec;
}

yaml::Json pipeline_hints_to_tree(const PipelineHintsRecord& record) {
  using yaml::Json;
  Json entries = Json::array();
  for (const auto& e : record.entries) {
    Json hints = Json::array();
    for (const auto& h : e.hints) {
      switch (h.kind) {
      case PipelineHint::Kind::AndroidSparseIndex: {
        const auto& s = h.sparse;
        Json chunks = Json::array();
        for (const auto& c : s.chunks) {
          Json cj = {{"chunk_index", c.chunk_index},     {"chunk_type", c.chunk_type},
                     {"chunk_sz", c.chunk_sz},           {"total_sz", c.total_sz},
                     {"chunk_offset", c.chunk_offset},   {"payload_offset", c.payload_offset},
                     {"payload_size", c.payload_size}};
          if (c.output_start)
            cj["output_start"] = *c.output_start;
          if (c.output_end)
            cj["output_end"] = *c.output_end;
          if (c.fill_pattern)
            cj["fill_pattern"] = to_hex(*c.fill_pattern);
          if (c.crc32)
            cj["crc32"] = *c.crc32;
          chunks.push_back(cj);
        }
        hints.push_back(Json{{"AndroidSparseIndex",
                              Json{{"file_hdr_sz", s.file_hdr_sz},
                                   {"chunk_hdr_sz", s.chunk_hdr_sz},
                                   {"blk_sz", s.blk_sz},
                                   {"total_blks", s.total_blks},
                                   {"total_chunks", s.total_chunks},
                                   {"image_checksum", s.image_checksum},
                                   {"chunks", chunks}}}});
        break;
      }
      case PipelineHint::Kind::TarEntryIndex:
        hints.push_back(Json{{"TarEntryIndex", Json{{"entry_name", h.tar.entry_name},
                                                    {"header_offset", h.tar.header_offset},
                                                    {"data_offset", h.tar.data_offset},
                                                    {"size_bytes", h.tar.size_bytes},
                                                    {"entry_type", h.tar.entry_type}}}});
        break;
      case PipelineHint::Kind::ContentDigest:
        hints.push_back(
            Json{{"ContentDigest", Json{{"digest", h.digest.digest}, {"size_bytes", h.digest.size_bytes}}}});
        break;
      }
    }
    entries.push_back(Json{{"pipeline_identity", e.pipeline_identity}, {"hints", hints}});
  }
  return Json{{"entries", entries}};
}

} // namespace fastboop::profiles
