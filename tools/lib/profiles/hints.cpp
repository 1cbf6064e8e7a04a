#include "profiles/hints.hpp"

#include "profiles/postcard.hpp"

#include <algorithm>

namespace fastboop::profiles {

namespace {

using pipeline::ContentDigestHint;
using pipeline::PipelineHint;
using pipeline::PipelineHintEntry;
using pipeline::PipelineHints;
using pipeline::SparseIndex;
using pipeline::TarIndex;

constexpr std::string_view record_magic = "FBPHINT0";
constexpr std::string_view blob_magic = "GBXHINT0";
constexpr std::size_t record_header = 18;
constexpr std::size_t blob_header = 10;

void encode_hint(postcard::Writer& w, const PipelineHint& hint) {
  w.varint(static_cast<std::uint32_t>(hint.index()));
  if (const auto* s = std::get_if<SparseIndex>(&hint)) {
    w.varint(s->file_hdr_sz);
    w.varint(s->chunk_hdr_sz);
    w.varint(s->blk_sz);
    w.varint(s->total_blks);
    w.varint(s->total_chunks);
    w.varint(s->image_checksum);
    w.varint(s->chunks.size());
    for (const auto& c : s->chunks) {
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
  } else if (const auto* t = std::get_if<TarIndex>(&hint)) {
    w.string(t->entry_name);
    w.varint(t->header_offset);
    w.varint(t->data_offset);
    w.varint(t->size_bytes);
    w.u8(t->entry_type);
  } else if (const auto* d = std::get_if<ContentDigestHint>(&hint)) {
    w.string(d->digest);
    w.varint(d->size_bytes);
  }
}

Result<PipelineHint> decode_hint(postcard::Reader& r) {
  switch (TRY(r.variant("hint", 3))) {
  case 0: {
    SparseIndex s;
    s.file_hdr_sz = TRY(r.uint<std::uint16_t>("sparse.file_hdr_sz"));
    s.chunk_hdr_sz = TRY(r.uint<std::uint16_t>("sparse.chunk_hdr_sz"));
    s.blk_sz = TRY(r.uint<std::uint32_t>("sparse.blk_sz"));
    s.total_blks = TRY(r.uint<std::uint32_t>("sparse.total_blks"));
    s.total_chunks = TRY(r.uint<std::uint32_t>("sparse.total_chunks"));
    s.image_checksum = TRY(r.uint<std::uint32_t>("sparse.image_checksum"));
    const auto n = TRY(r.length("sparse.chunks", 11));
    for (std::size_t i = 0; i < n; ++i) {
      pipeline::SparseChunk c;
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
    return PipelineHint{std::move(s)};
  }
  case 1: {
    TarIndex t;
    t.entry_name = TRY(r.string("tar.entry_name"));
    t.header_offset = TRY(r.uint<std::uint64_t>("tar.header_offset"));
    t.data_offset = TRY(r.uint<std::uint64_t>("tar.data_offset"));
    t.size_bytes = TRY(r.uint<std::uint64_t>("tar.size_bytes"));
    t.entry_type = TRY(r.u8("tar.entry_type"));
    return PipelineHint{std::move(t)};
  }
  default: {
    ContentDigestHint d;
    d.digest = TRY(r.string("digest.digest"));
    d.size_bytes = TRY(r.uint<std::uint64_t>("digest.size_bytes"));
    return PipelineHint{std::move(d)};
  }
  }
}

Result<PipelineHints> sorted_valid(const PipelineHints& hints) {
  PipelineHints sorted = hints;
  std::sort(sorted.entries.begin(), sorted.entries.end(),
            [](const PipelineHintEntry& a, const PipelineHintEntry& b) { return a.pipeline_identity < b.pipeline_identity; });
  TRY(pipeline::validate_pipeline_hints(sorted));
  return sorted;
}

Bytes blob_bytes(const PipelineHints& hints) {
  postcard::Writer w;
  w.raw(as_bytes(blob_magic));
  w.raw(std::array<std::uint8_t, 2>{0, 0});
  w.varint(hints.entries.size());
  for (const auto& e : hints.entries) {
    w.string(e.pipeline_identity);
    w.varint(e.hints.size());
    for (const auto& h : e.hints)
      encode_hint(w, h);
  }
  return w.take();
}

} // namespace

Result<Bytes> encode_pipeline_hints_blob(const PipelineHints& hints) {
  return blob_bytes(TRY(sorted_valid(hints)));
}

Result<Bytes> encode_pipeline_hints_record(const PipelineHints& hints) {
  const auto sorted = TRY(sorted_valid(hints));
  postcard::Writer meta;
  meta.varint(sorted.entries.size());
  for (const auto& e : sorted.entries)
    meta.string(e.pipeline_identity);
  const Bytes payload = blob_bytes(sorted);
  Bytes out(record_header + meta.data().size() + payload.size());
  std::copy(record_magic.begin(), record_magic.end(), out.begin());
  store_le<std::uint16_t>(out.data() + 8, 0);
  store_le<std::uint32_t>(out.data() + 10, static_cast<std::uint32_t>(meta.data().size()));
  store_le<std::uint32_t>(out.data() + 14, static_cast<std::uint32_t>(payload.size()));
  std::copy(meta.data().begin(), meta.data().end(), out.begin() + record_header);
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(record_header + meta.data().size()));
  return out;
}

Result<PipelineHints> decode_pipeline_hints_blob(ByteSpan bytes, std::size_t* consumed) {
  return [&]() -> Result<PipelineHints> {
    if (bytes.size() < blob_header || as_chars(bytes.first(8)) != blob_magic)
      return Error("missing GBXHINT0 magic");
    const auto version = load_le<std::uint16_t>(bytes.data() + 8);
    if (version != 0)
      return Error("unsupported GBXHINT0 format version " + std::to_string(version));
    postcard::Reader r(bytes.subspan(blob_header), blob_header);
    PipelineHints hints;
    const auto n = TRY(r.length("entries", 2));
    for (std::size_t i = 0; i < n; ++i) {
      PipelineHintEntry e;
      e.pipeline_identity = TRY(r.string("entry.pipeline_identity"));
      const auto nh = TRY(r.length("entry.hints", 2));
      for (std::size_t k = 0; k < nh; ++k)
        e.hints.push_back(TRY(decode_hint(r)));
      hints.entries.push_back(std::move(e));
    }
    TRY(pipeline::validate_pipeline_hints(hints));
    if (consumed)
      *consumed = blob_header + r.offset();
    return hints;
  }()
             .with_context("pipeline hints (GBXHINT0)");
}

Result<std::vector<std::string>> decode_pipeline_hints_metadata(ByteSpan metadata) {
  std::vector<std::string> identities;
  postcard::Reader r(metadata, record_header);
  const auto n = TRY(r.length("metadata.pipeline_identities"));
  for (std::size_t i = 0; i < n; ++i) {
    auto id = TRY(r.string("metadata.pipeline_identities"));
    if (!identities.empty() && !(identities.back() < id))
      return r.error("metadata.pipeline_identities", "not sorted and unique");
    identities.push_back(std::move(id));
  }
  if (r.remaining() != 0)
    return r.error("metadata", std::to_string(r.remaining()) + " byte(s) after the identity list");
  return identities;
}

Result<PipelineHints> decode_pipeline_hints_record(ByteSpan bytes, std::size_t* consumed) {
  const std::string what = "pipeline hints record (FBPHINT0)";
  if (bytes.size() < record_header || as_chars(bytes.first(8)) != record_magic)
    return Error("not a " + what + ": missing FBPHINT0 magic");
  const auto version = load_le<std::uint16_t>(bytes.data() + 8);
  if (version != 0)
    return Error(what + ": unsupported format version " + std::to_string(version));
  const std::uint64_t meta_len = load_le<std::uint32_t>(bytes.data() + 10);
  const std::uint64_t payload_len = load_le<std::uint32_t>(bytes.data() + 14);
  if (record_header + meta_len + payload_len > bytes.size())
    return Error(what + ": truncated: the header announces " + std::to_string(meta_len + payload_len) + " bytes, " +
                 std::to_string(bytes.size() - record_header) + " follow");
  const std::vector<std::string> identities =
      TRY_CTX(decode_pipeline_hints_metadata(bytes.subspan(record_header, meta_len)), what);
  const ByteSpan payload = bytes.subspan(record_header + meta_len, payload_len);
  auto hints = TRY_CTX(decode_pipeline_hints_blob(payload, nullptr), what);
  std::vector<std::string> payload_ids;
  for (const auto& e : hints.entries)
    payload_ids.push_back(e.pipeline_identity);
  if (payload_ids != identities)
    return Error(what + ": metadata identities differ from the payload's entries");
  if (consumed)
    *consumed = record_header + static_cast<std::size_t>(meta_len + payload_len);
  return hints;
}

yaml::Json pipeline_hints_to_tree(const PipelineHints& hints) {
  using yaml::Json;
  Json entries = Json::array();
  for (const auto& e : hints.entries) {
    Json list = Json::array();
    for (const auto& h : e.hints) {
      if (const auto* s = std::get_if<SparseIndex>(&h)) {
        Json chunks = Json::array();
        for (const auto& c : s->chunks) {
          Json cj = {{"chunk_index", c.chunk_index},   {"chunk_type", c.chunk_type},
                     {"chunk_sz", c.chunk_sz},         {"total_sz", c.total_sz},
                     {"chunk_offset", c.chunk_offset}, {"payload_offset", c.payload_offset},
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
        list.push_back(Json{{"AndroidSparseIndex", Json{{"file_hdr_sz", s->file_hdr_sz},
                                                        {"chunk_hdr_sz", s->chunk_hdr_sz},
                                                        {"blk_sz", s->blk_sz},
                                                        {"total_blks", s->total_blks},
                                                        {"total_chunks", s->total_chunks},
                                                        {"image_checksum", s->image_checksum},
                                                        {"chunks", chunks}}}});
      } else if (const auto* t = std::get_if<TarIndex>(&h)) {
        list.push_back(Json{{"TarEntryIndex", Json{{"entry_name", t->entry_name},
                                                   {"header_offset", t->header_offset},
                                                   {"data_offset", t->data_offset},
                                                   {"size_bytes", t->size_bytes},
                                                   {"entry_type", t->entry_type}}}});
      } else if (const auto* d = std::get_if<ContentDigestHint>(&h)) {
        list.push_back(Json{{"ContentDigest", Json{{"digest", d->digest}, {"size_bytes", d->size_bytes}}}});
      }
    }
    entries.push_back(Json{{"pipeline_identity", e.pipeline_identity}, {"hints", list}});
  }
  return Json{{"entries", entries}};
}

} // namespace fastboop::profiles
