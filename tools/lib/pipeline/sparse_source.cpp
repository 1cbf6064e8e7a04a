// Android sparse image expansion. The chunk index is built once (or taken
// from a pipeline hint); reads then map output offsets to chunks by binary
// search, so any offset is reachable without expanding the image.
#include "pipeline/sources.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cstring>

namespace fastboop::pipeline {

namespace {

constexpr std::uint32_t kSparseMagic = 0xED26FF3A;
constexpr std::string_view kLayer = "android_sparseimg";

class SparseSource final : public BlockSource {
public:
  SparseSource(BlockSourcePtr inner, SparseIndex index)
      : m_inner(std::move(inner)), m_index(std::move(index)) {
    for (std::size_t i = 0; i < m_index.chunks.size(); ++i)
      if (m_index.chunks[i].output_start)
        m_spans.push_back(i);
    m_size = std::uint64_t{m_index.total_blks} * m_index.blk_sz;
  }
  std::uint64_t size() const override { return m_size; }
  std::string describe() const override {
    return std::string(kLayer) + " <- " + m_inner->describe();
  }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > m_size || out.size() > m_size - offset)
      return layer_error(kLayer, offset, "read past the end (size " + std::to_string(m_size) + ")");
    std::uint64_t pos = offset;
    std::size_t done = 0;
    // First chunk whose output_end > pos.
    auto it = std::upper_bound(m_spans.begin(), m_spans.end(), pos, [&](std::uint64_t p, std::size_t i) {
      return p < *m_index.chunks[i].output_end;
    });
    while (done < out.size()) {
      if (it == m_spans.end())
        return layer_error(kLayer, pos, "no chunk covers this offset");
      const SparseChunk& c = m_index.chunks[*it];
      std::uint64_t within = pos - *c.output_start;
      std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(out.size() - done, *c.output_end - pos));
      std::span<std::uint8_t> dst = out.subspan(done, n);
      switch (static_cast<SparseChunkType>(c.chunk_type)) {
      case SparseChunkType::Raw:
        TRY_CTX(m_inner->read_at(c.payload_offset + within, dst),
                std::string(kLayer) + ": chunk " + std::to_string(c.chunk_index));
        break;
      case SparseChunkType::Fill:
        for (std::size_t i = 0; i < n; ++i)
          dst[i] = (*c.fill_pattern)[(within + i) & 3];
        break;
      default:
        std::memset(dst.data(), 0, n);
        break;
      }
      done += n;
      pos += n;
      ++it;
    }
    return ok();
  }

private:
  BlockSourcePtr m_inner;
  SparseIndex m_index;
  std::vector<std::size_t> m_spans; // chunks with output, in output order
  std::uint64_t m_size = 0;
};

Result<void> check_header(const SparseIndex& idx) {
  if (idx.file_hdr_sz < 28)
    return layer_error(kLayer, 8, "file header size " + std::to_string(idx.file_hdr_sz) + " < 28");
  if (idx.chunk_hdr_sz < 12)
    return layer_error(kLayer, 10, "chunk header size " + std::to_string(idx.chunk_hdr_sz) + " < 12");
  if (idx.blk_sz == 0 || idx.blk_sz % 4 != 0)
    return layer_error(kLayer, 12, "block size " + std::to_string(idx.blk_sz) + " is not a positive multiple of 4");
  return ok();
}

// The file header, checked against the source it came from; no chunks yet.
Result<SparseIndex> read_sparse_header(BlockSource& inner) {
  std::uint8_t h[28];
  if (inner.size() < sizeof h)
    return layer_error(kLayer, 0, "source of " + std::to_string(inner.size()) + " bytes is too small for a sparse header");
  TRY_CTX(inner.read_at(0, h), std::string(kLayer) + ": header");
  if (load_le<std::uint32_t>(h) != kSparseMagic)
    return layer_error(kLayer, 0, "bad magic " + format_hex(load_le<std::uint32_t>(h), 1) + " (want 0xed26ff3a)");
  if (load_le<std::uint16_t>(h + 4) != 1)
    return layer_error(kLayer, 4, "unsupported major version " + std::to_string(load_le<std::uint16_t>(h + 4)));
  SparseIndex idx;
  idx.file_hdr_sz = load_le<std::uint16_t>(h + 8);
  idx.chunk_hdr_sz = load_le<std::uint16_t>(h + 10);
  idx.blk_sz = load_le<std::uint32_t>(h + 12);
  idx.total_blks = load_le<std::uint32_t>(h + 16);
  idx.total_chunks = load_le<std::uint32_t>(h + 20);
  idx.image_checksum = load_le<std::uint32_t>(h + 24);
  TRY(check_header(idx));
  if (idx.file_hdr_sz > inner.size())
    return layer_error(kLayer, 8, "file header size " + std::to_string(idx.file_hdr_sz) + " exceeds the file");
  // Every chunk needs at least its header in the file: bounds the loop and the index size.
  if (idx.total_chunks > (inner.size() - idx.file_hdr_sz) / idx.chunk_hdr_sz)
    return layer_error(kLayer, 20, "chunk count " + std::to_string(idx.total_chunks) +
                                       " cannot fit in a file of " + std::to_string(inner.size()) + " bytes");
  return idx;
}

// Chunk `i`'s header at `pos`, with its payload inside the source.
Result<SparseChunk> read_chunk_header(BlockSource& inner, const SparseIndex& idx, std::uint32_t i,
                                      std::uint64_t pos) {
  std::uint8_t ch[12];
  if (pos + idx.chunk_hdr_sz > inner.size())
    return layer_error(
        kLayer, pos, "chunk " + std::to_string(i) + " header lies past the end (truncated image?)");
  TRY_CTX(inner.read_at(pos, ch), std::string(kLayer) + ": chunk " + std::to_string(i) + " header");
  SparseChunk c;
  c.chunk_index = i;
  c.chunk_type = load_le<std::uint16_t>(ch);
  c.chunk_sz = load_le<std::uint32_t>(ch + 4);
  c.total_sz = load_le<std::uint32_t>(ch + 8);
  c.chunk_offset = pos;
  c.payload_offset = pos + idx.chunk_hdr_sz;
  if (c.total_sz < idx.chunk_hdr_sz)
    return layer_error(kLayer, pos,
                       "chunk " + std::to_string(i) + " total size " + std::to_string(c.total_sz) +
                           " is smaller than its header");
  c.payload_size = c.total_sz - idx.chunk_hdr_sz;
  if (c.payload_offset + c.payload_size > inner.size())
    return layer_error(kLayer, pos,
                       "chunk " + std::to_string(i) +
                           " payload lies past the end (truncated image?)");
  return c;
}

// Checks the payload against the chunk type and reads the small ones (fill
// pattern, CRC) into `c`. A CRC32 chunk covers no blocks.
Result<void> read_chunk_payload(BlockSource& inner, const SparseIndex& idx, SparseChunk& c) {
  const std::uint64_t pos = c.chunk_offset;
  const std::string index = std::to_string(c.chunk_index);
  const std::uint64_t blocks_bytes = std::uint64_t{c.chunk_sz} * idx.blk_sz;
  switch (static_cast<SparseChunkType>(c.chunk_type)) {
  case SparseChunkType::Raw:
    if (c.payload_size != blocks_bytes)
      return layer_error(kLayer, pos,
                         "RAW chunk " + index + " payload " + std::to_string(c.payload_size) +
                             " != " + std::to_string(blocks_bytes));
    return ok();
  case SparseChunkType::Fill: {
    if (c.payload_size != 4)
      return layer_error(kLayer, pos, "FILL chunk " + index + " payload must be 4 bytes");
    std::array<std::uint8_t, 4> p{};
    TRY(inner.read_at(c.payload_offset, p));
    c.fill_pattern = p;
    return ok();
  }
  case SparseChunkType::DontCare:
    if (c.payload_size != 0)
      return layer_error(kLayer, pos, "DONT_CARE chunk " + index + " has a payload");
    return ok();
  case SparseChunkType::Crc32: {
    if (c.payload_size != 4)
      return layer_error(kLayer, pos, "CRC32 chunk " + index + " payload must be 4 bytes");
    std::uint8_t v[4];
    TRY(inner.read_at(c.payload_offset, v));
    c.crc32 = load_le<std::uint32_t>(v);
    c.chunk_sz = 0;
    return ok();
  }
  default:
    return layer_error(kLayer, pos,
                       "chunk " + index + " has unknown type " + format_hex(c.chunk_type, 1));
  }
}

} // namespace

Result<SparseIndex> scan_sparse_index(BlockSource& inner) {
  SparseIndex idx = TRY(read_sparse_header(inner));
  idx.chunks.reserve(std::min<std::uint32_t>(idx.total_chunks, 1u << 16));
  std::uint64_t pos = idx.file_hdr_sz;
  std::uint64_t out = 0;
  const std::uint64_t out_total = std::uint64_t{idx.total_blks} * idx.blk_sz;
  for (std::uint32_t i = 0; i < idx.total_chunks; ++i) {
    SparseChunk c = TRY(read_chunk_header(inner, idx, i, pos));
    TRY(read_chunk_payload(inner, idx, c));
    if (c.chunk_type != static_cast<std::uint16_t>(SparseChunkType::Crc32)) {
      const std::uint64_t blocks_bytes = std::uint64_t{c.chunk_sz} * idx.blk_sz;
      if (blocks_bytes > out_total - out)
        return layer_error(kLayer, pos, "chunk " + std::to_string(i) + " expands past total_blks " + std::to_string(idx.total_blks));
      c.output_start = out;
      c.output_end = out + blocks_bytes;
      out += blocks_bytes;
    }
    pos = c.payload_offset + c.payload_size;
    idx.chunks.push_back(c);
  }
  if (out != out_total)
    return layer_error(kLayer, 16, "chunks expand to " + std::to_string(out) + " bytes, header says " + std::to_string(out_total));
  return idx;
}

Result<void> validate_sparse_index(const SparseIndex& idx, std::uint64_t source_size) {
  TRY_CTX(check_header(idx), "sparse index hint");
  if (idx.chunks.size() != idx.total_chunks)
    return Error("android_sparseimg: sparse index hint lists " + std::to_string(idx.chunks.size()) + " chunks, header says " + std::to_string(idx.total_chunks));
  std::uint64_t pos = idx.file_hdr_sz;
  std::uint64_t out = 0;
  for (std::size_t i = 0; i < idx.chunks.size(); ++i) {
    const SparseChunk& c = idx.chunks[i];
    auto bad = [&](std::string_view why) {
      return layer_error(kLayer, c.chunk_offset, "sparse index hint chunk " + std::to_string(i) + ": " + std::string(why));
    };
    if (c.chunk_index != i)
      return bad("chunk_index is not sequential");
    if (c.chunk_offset != pos)
      return bad("chunk_offset is not contiguous");
    if (c.payload_offset != c.chunk_offset + idx.chunk_hdr_sz || c.total_sz < idx.chunk_hdr_sz ||
        c.payload_size != c.total_sz - idx.chunk_hdr_sz)
      return bad("payload offset/size disagree with the header sizes");
    std::uint64_t blocks_bytes = std::uint64_t{c.chunk_sz} * idx.blk_sz;
    switch (static_cast<SparseChunkType>(c.chunk_type)) {
    case SparseChunkType::Raw:
      if (c.payload_size != blocks_bytes)
        return bad("RAW payload size mismatch");
      break;
    case SparseChunkType::Fill:
      if (c.payload_size != 4 || !c.fill_pattern)
        return bad("FILL needs a 4-byte payload and a fill_pattern");
      break;
    case SparseChunkType::DontCare:
      if (c.payload_size != 0)
        return bad("DONT_CARE has a payload");
      break;
    case SparseChunkType::Crc32:
      if (c.chunk_sz != 0 || c.payload_size != 4 || !c.crc32 || c.output_start || c.output_end)
        return bad("CRC32 must have chunk_sz 0, a 4-byte payload, a crc32 and no output span");
      break;
    default:
      return bad("unknown chunk type");
    }
    if (c.chunk_type != static_cast<std::uint16_t>(SparseChunkType::Crc32)) {
      if (!c.output_start || !c.output_end || *c.output_start != out || *c.output_end < out ||
          *c.output_end - out != blocks_bytes)
        return bad("output span is not contiguous or does not match chunk_sz");
      out = *c.output_end;
    }
    pos = c.payload_offset + c.payload_size;
    if (pos > source_size)
      return bad("chunk lies past the end of the source");
  }
  if (out != std::uint64_t{idx.total_blks} * idx.blk_sz)
    return Error("android_sparseimg: sparse index hint output spans do not sum to total_blks*blk_sz");
  return ok();
}

Result<BlockSourcePtr> open_android_sparse(BlockSourcePtr inner, const SparseIndex* hint) {
  SparseIndex index;
  if (hint) {
    TRY(validate_sparse_index(*hint, inner->size()));
    index = *hint;
  } else {
    index = TRY(scan_sparse_index(*inner));
  }
  return BlockSourcePtr(std::make_unique<SparseSource>(std::move(inner), std::move(index)));
}

} // namespace fastboop::pipeline
