// xz decompression with liblzma. Multi-block streams are read by random access
// through the stream index: a read decodes only the blocks covering it (each
// checked by its integrity check) and keeps recent blocks in an LRU. A
// single-block stream cannot be sought into, so it is decoded sequentially,
// once, into an unlinked cache file, only as far as reads require.
#include "pipeline/sources.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <list>
#include <lzma.h>
#include <optional>
#include <thread>
#include <unistd.h>

namespace fastboop::pipeline {

namespace {

constexpr std::string_view kLayer = "xz";
constexpr std::uint64_t kIndexMemlimit = 256u << 20;
constexpr std::uint64_t kDecoderMemlimit = 1u << 30;
// Blocks larger than this are streamed through the cache file instead of
// being held in memory (bounds memory for hostile or unusual indexes).
constexpr std::uint64_t kMaxMemoryBlock = 64u << 20;

std::string lzma_text(lzma_ret r) {
  switch (r) {
  case LZMA_MEM_ERROR: return "out of memory";
  case LZMA_MEMLIMIT_ERROR: return "memory limit exceeded";
  case LZMA_FORMAT_ERROR: return "not in xz format";
  case LZMA_OPTIONS_ERROR: return "unsupported options";
  case LZMA_DATA_ERROR: return "corrupt data";
  case LZMA_BUF_ERROR: return "truncated data";
  case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
  default: return "liblzma error " + std::to_string(static_cast<int>(r));
  }
}

struct IndexDeleter {
  void operator()(lzma_index* i) const { lzma_index_end(i, nullptr); }
};
using IndexPtr = std::unique_ptr<lzma_index, IndexDeleter>;

// Parse all concatenated streams from the end of the file (like `xz -l`).
Result<IndexPtr> read_index(BlockSource& in) {
  std::uint64_t pos = in.size();
  IndexPtr combined;
  if (pos < 2 * LZMA_STREAM_HEADER_SIZE)
    return layer_error(kLayer, 0, "file of " + std::to_string(pos) + " bytes is too small for an xz stream");
  while (pos > 0) {
    // Stream padding: zero bytes in multiples of four.
    std::uint8_t footer[LZMA_STREAM_HEADER_SIZE];
    std::uint64_t padding = 0;
    for (;;) {
      if (pos < LZMA_STREAM_HEADER_SIZE)
        return layer_error(kLayer, pos, "truncated: no stream footer");
      TRY(in.read_at(pos - LZMA_STREAM_HEADER_SIZE, footer));
      if (load_le<std::uint32_t>(footer + 8) != 0)
        break;
      // A footer never ends in four zero bytes: this is padding.
      pos -= 4;
      padding += 4;
      if (padding > (64u << 20))
        return layer_error(kLayer, pos, "absurd amount of stream padding");
    }
    lzma_stream_flags ff;
    lzma_ret r = lzma_stream_footer_decode(&ff, footer);
    if (r != LZMA_OK)
      return layer_error(kLayer, pos - LZMA_STREAM_HEADER_SIZE, "bad stream footer: " + lzma_text(r));
    std::uint64_t index_size = ff.backward_size;
    if (index_size > pos - 2 * LZMA_STREAM_HEADER_SIZE)
      return layer_error(kLayer, pos - LZMA_STREAM_HEADER_SIZE, "index size " + std::to_string(index_size) + " exceeds the file");
    if (index_size > kIndexMemlimit)
      return layer_error(kLayer, pos - LZMA_STREAM_HEADER_SIZE, "absurd index size " + std::to_string(index_size));
    std::uint64_t index_pos = pos - LZMA_STREAM_HEADER_SIZE - index_size;
    Bytes ibuf(static_cast<std::size_t>(index_size));
    TRY(in.read_at(index_pos, ibuf));
    lzma_index* idx = nullptr;
    std::uint64_t memlimit = kIndexMemlimit;
    std::size_t in_pos = 0;
    r = lzma_index_buffer_decode(&idx, &memlimit, nullptr, ibuf.data(), &in_pos, ibuf.size());
    if (r != LZMA_OK)
      return layer_error(kLayer, index_pos, "bad stream index: " + lzma_text(r));
    IndexPtr this_index(idx);
    if (in_pos != ibuf.size() || lzma_index_size(idx) != index_size)
      return layer_error(kLayer, index_pos, "stream index size disagrees with the footer");
    std::uint64_t blocks = lzma_index_stream_size(idx);
    if (blocks > pos)
      return layer_error(kLayer, index_pos, "stream of " + std::to_string(blocks) + " bytes is larger than the file");
    std::uint64_t stream_start = pos - blocks;
    std::uint8_t header[LZMA_STREAM_HEADER_SIZE];
    TRY(in.read_at(stream_start, header));
    lzma_stream_flags hf;
    r = lzma_stream_header_decode(&hf, header);
    if (r != LZMA_OK)
      return layer_error(kLayer, stream_start, "bad stream header: " + lzma_text(r));
    if (lzma_stream_flags_compare(&hf, &ff) != LZMA_OK)
      return layer_error(kLayer, stream_start, "stream header and footer disagree");
    if (lzma_index_stream_flags(idx, &ff) != LZMA_OK || lzma_index_stream_padding(idx, padding) != LZMA_OK)
      return layer_error(kLayer, stream_start, "stream flags or padding rejected by liblzma");
    if (combined) {
      r = lzma_index_cat(idx, combined.get(), nullptr);
      if (r != LZMA_OK)
        return layer_error(kLayer, stream_start, "cannot combine stream indexes: " + lzma_text(r));
      combined.release(); // owned by idx now
    }
    combined.reset(this_index.release());
    pos = stream_start;
  }
  return combined;
}

Result<std::vector<XzBlockInfo>> block_table(lzma_index* idx) {
  std::vector<XzBlockInfo> out;
  lzma_index_iter it;
  lzma_index_iter_init(&it, idx);
  while (!lzma_index_iter_next(&it, LZMA_INDEX_ITER_NONEMPTY_BLOCK)) {
    XzBlockInfo b;
    b.compressed_offset = it.block.compressed_file_offset;
    b.total_size = it.block.total_size;
    b.uncompressed_offset = it.block.uncompressed_file_offset;
    b.uncompressed_size = it.block.uncompressed_size;
    out.push_back(b);
  }
  return out;
}

class XzSource final : public BlockSource {
public:
  XzSource(BlockSourcePtr inner, IndexPtr index, XzOptions options)
      : m_inner(std::move(inner)), m_index(std::move(index)), m_options(std::move(options)) {
    m_size = lzma_index_uncompressed_size(m_index.get());
    lzma_index_iter it;
    lzma_index_iter_init(&it, m_index.get());
    std::uint64_t blocks = lzma_index_block_count(m_index.get());
    std::uint64_t largest = 0;
    while (!lzma_index_iter_next(&it, LZMA_INDEX_ITER_NONEMPTY_BLOCK))
      largest = std::max(largest, it.block.uncompressed_size);
    m_sequential = blocks <= 1 || largest > kMaxMemoryBlock;
  }
  ~XzSource() override {
    if (m_stream_open)
      lzma_end(&m_stream);
    if (m_cache_fd >= 0)
      ::close(m_cache_fd);
  }
  std::uint64_t size() const override { return m_size; }
  std::string describe() const override { return std::string(kLayer) + " <- " + m_inner->describe(); }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > m_size || out.size() > m_size - offset)
      return layer_error(kLayer, offset, "read past the end (size " + std::to_string(m_size) + ")");
    if (out.empty())
      return ok();
    return m_sequential ? read_sequential(offset, out) : read_blocks(offset, out);
  }

private:
  struct CachedBlock {
    std::uint64_t uncompressed_offset;
    Bytes data;
  };

  Result<const CachedBlock*> block_for(std::uint64_t offset) {
    for (auto it = m_lru.begin(); it != m_lru.end(); ++it)
      if (offset >= it->uncompressed_offset && offset - it->uncompressed_offset < it->data.size()) {
        m_lru.splice(m_lru.begin(), m_lru, it);
        return &m_lru.front();
      }
    lzma_index_iter it;
    lzma_index_iter_init(&it, m_index.get());
    if (lzma_index_iter_locate(&it, offset))
      return layer_error(kLayer, offset, "no block covers this offset");
    insert_block(it.block.uncompressed_file_offset, TRY(decode_block(it)));
    return &m_lru.front();
  }

  void insert_block(std::uint64_t uncompressed_offset, Bytes data) {
    m_cached_bytes += data.size();
    m_lru.push_front(CachedBlock{uncompressed_offset, std::move(data)});
    while (m_lru.size() > 1 && m_cached_bytes > m_options.block_cache_bytes) {
      m_cached_bytes -= m_lru.back().data.size();
      m_lru.pop_back();
    }
  }

  // Thread-safe while the block's compressed bytes are in the prefetch.
  Result<Bytes> decode_block(const lzma_index_iter& it) const {
    const std::uint64_t at = it.block.compressed_file_offset;
    const std::string where = "block " + std::to_string(it.block.number_in_file);
    if (it.block.total_size > kMaxMemoryBlock + (1u << 20) || it.block.total_size > m_inner->size() ||
        at > m_inner->size() - it.block.total_size)
      return layer_error(kLayer, at, where + ": compressed size " + std::to_string(it.block.total_size) + " is out of range");
    Bytes in(static_cast<std::size_t>(it.block.total_size));
    if (at >= m_prefetch_offset && at + in.size() <= m_prefetch_offset + m_prefetch.size())
      std::memcpy(in.data(), m_prefetch.data() + (at - m_prefetch_offset), in.size());
    else
      TRY_CTX(m_inner->read_at(at, in), std::string(kLayer) + ": " + where);
    lzma_filter filters[LZMA_FILTERS_MAX + 1];
    lzma_block block{};
    block.version = 1;
    block.check = it.stream.flags->check;
    block.filters = filters;
    block.header_size = lzma_block_header_size_decode(in[0]);
    if (in[0] == 0 || block.header_size > in.size())
      return layer_error(kLayer, at, where + ": bad block header size");
    lzma_ret r = lzma_block_header_decode(&block, nullptr, in.data());
    if (r != LZMA_OK)
      return layer_error(kLayer, at, where + ": bad block header: " + lzma_text(r));
    struct FilterFree {
      lzma_filter* f;
      ~FilterFree() {
        for (int i = 0; f[i].id != LZMA_VLI_UNKNOWN; ++i)
          free(f[i].options);
      }
    } filter_free{filters};
    r = lzma_block_compressed_size(&block, it.block.unpadded_size);
    if (r != LZMA_OK)
      return layer_error(kLayer, at, where + ": block header disagrees with the index: " + lzma_text(r));
    if (block.uncompressed_size != LZMA_VLI_UNKNOWN && block.uncompressed_size != it.block.uncompressed_size)
      return layer_error(kLayer, at, where + ": block header disagrees with the index on the uncompressed size");
    block.uncompressed_size = it.block.uncompressed_size;
    Bytes out(static_cast<std::size_t>(it.block.uncompressed_size));
    std::size_t in_pos = block.header_size;
    std::size_t out_pos = 0;
    r = lzma_block_buffer_decode(&block, nullptr, in.data(), &in_pos, in.size(), out.data(), &out_pos, out.size());
    if (r != LZMA_OK)
      return layer_error(kLayer, at, where + ": " + lzma_text(r) + (r == LZMA_DATA_ERROR ? " (integrity check failed?)" : ""));
    if (out_pos != out.size())
      return layer_error(kLayer, at, where + ": decoded " + std::to_string(out_pos) + " bytes, index says " + std::to_string(out.size()));
    return out;
  }

  bool cached(std::uint64_t offset) const {
    for (const auto& b : m_lru)
      if (offset >= b.uncompressed_offset && offset - b.uncompressed_offset < b.data.size())
        return true;
    return false;
  }

  // One read of the compressed bytes of all uncached blocks a read spans: the
  // source below (http) then fetches them as one range, split into parallel
  // requests, instead of one round trip per block.
  Result<void> prefetch(std::uint64_t offset, std::uint64_t end) {
    m_prefetch.clear();
    std::optional<std::uint64_t> first, last;
    lzma_index_iter it;
    for (std::uint64_t pos = offset; pos < end;) {
      lzma_index_iter_init(&it, m_index.get());
      if (lzma_index_iter_locate(&it, pos))
        break;
      if (!cached(pos)) {
        if (!first)
          first = it.block.compressed_file_offset;
        last = it.block.compressed_file_offset + it.block.total_size;
      }
      pos = it.block.uncompressed_file_offset + it.block.uncompressed_size;
    }
    if (!first || *last - *first > m_options.block_cache_bytes || *last > m_inner->size())
      return ok();
    m_prefetch.resize(static_cast<std::size_t>(*last - *first));
    m_prefetch_offset = *first;
    auto r = m_inner->read_at(*first, m_prefetch);
    if (!r) {
      m_prefetch.clear();
      return std::move(r).with_context(std::string(kLayer) + ": reading blocks");
    }
    return ok();
  }

  // Decodes the uncached blocks of [offset, end) whose compressed bytes the
  // prefetch holds on several threads at once (LZMA decoding is the cost of
  // a large read, ~75 MB/s per core) and puts them in the LRU. Bounded to
  // half the cache so none is evicted before read_blocks copies it out.
  Result<void> decode_ahead(std::uint64_t offset, std::uint64_t end) {
    std::vector<lzma_index_iter> to_decode;
    std::uint64_t planned = 0;
    lzma_index_iter it;
    for (std::uint64_t pos = offset; pos < end;) {
      lzma_index_iter_init(&it, m_index.get());
      if (lzma_index_iter_locate(&it, pos))
        break;
      const std::uint64_t at = it.block.compressed_file_offset;
      const bool in_prefetch = at >= m_prefetch_offset && it.block.total_size <= m_prefetch.size() &&
                               at - m_prefetch_offset <= m_prefetch.size() - it.block.total_size;
      if (!cached(pos) && in_prefetch) {
        planned += it.block.uncompressed_size;
        if (planned > m_options.block_cache_bytes / 2)
          break;
        to_decode.push_back(it);
      }
      pos = it.block.uncompressed_file_offset + it.block.uncompressed_size;
    }
    const unsigned workers = std::min<unsigned>(static_cast<unsigned>(to_decode.size()),
                                                std::max(1u, std::thread::hardware_concurrency()));
    if (workers < 2)
      return ok();
    std::vector<Bytes> decoded(to_decode.size());
    std::vector<std::optional<Error>> failed(to_decode.size());
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t i; (i = next.fetch_add(1)) < to_decode.size();) {
        auto r = decode_block(to_decode[i]);
        if (r)
          decoded[i] = std::move(r).value();
        else
          failed[i] = r.error();
      }
    };
    std::vector<std::thread> threads;
    for (unsigned w = 1; w < workers; ++w)
      threads.emplace_back(work);
    work();
    for (auto& t : threads)
      t.join();
    for (std::size_t i = 0; i < to_decode.size(); ++i) {
      if (failed[i])
        return *failed[i]; // the first failing block in file order, as a serial read reports it
      insert_block(to_decode[i].block.uncompressed_file_offset, std::move(decoded[i]));
    }
    return ok();
  }

  Result<void> read_blocks(std::uint64_t offset, std::span<std::uint8_t> out) {
    if (m_options.block_cache_bytes > 0 && out.size() > 1) {
      TRY(prefetch(offset, offset + out.size()));
      TRY(decode_ahead(offset, offset + out.size()));
    }
    std::size_t done = 0;
    while (done < out.size()) {
      std::uint64_t pos = offset + done;
      const CachedBlock* b = TRY(block_for(pos));
      std::uint64_t within = pos - b->uncompressed_offset;
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, b->data.size() - within));
      std::memcpy(out.data() + done, b->data.data() + within, n);
      done += n;
    }
    m_prefetch.clear();
    m_prefetch.shrink_to_fit();
    return ok();
  }

  Result<void> open_cache() {
    std::filesystem::path dir = m_options.cache_dir.empty() ? default_cache_dir() : m_options.cache_dir;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    m_cache_fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (m_cache_fd < 0) {
      std::string tmpl = (dir / "xz-cache.XXXXXX").string();
      m_cache_fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
      if (m_cache_fd >= 0)
        ::unlink(tmpl.c_str());
    }
    if (m_cache_fd < 0)
      return Error("xz: cannot create a cache file in " + dir.string() + ": " + std::strerror(errno), ErrorKind::Io);
    lzma_ret r = lzma_stream_decoder(&m_stream, kDecoderMemlimit, LZMA_CONCATENATED);
    if (r != LZMA_OK)
      return Error("xz: cannot start the decoder: " + lzma_text(r));
    m_stream_open = true;
    return ok();
  }

  Result<void> decode_until(std::uint64_t end) {
    if (m_cache_fd < 0)
      TRY(open_cache());
    Bytes outbuf(4u << 20);
    while (m_decoded < end) {
      if (m_stream.avail_in == 0 && m_in_pos < m_inner->size()) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(m_inbuf.size(), m_inner->size() - m_in_pos));
        TRY_CTX(m_inner->read_at(m_in_pos, std::span(m_inbuf.data(), n)), "xz: compressed input");
        m_in_pos += n;
        m_stream.next_in = m_inbuf.data();
        m_stream.avail_in = n;
      }
      m_stream.next_out = outbuf.data();
      m_stream.avail_out = outbuf.size();
      lzma_ret r = lzma_code(&m_stream, m_in_pos >= m_inner->size() ? LZMA_FINISH : LZMA_RUN);
      std::size_t produced = outbuf.size() - m_stream.avail_out;
      if (produced > m_size - m_decoded)
        return layer_error(kLayer, m_decoded, "stream decodes to more bytes than its index says");
      for (std::size_t w = 0; w < produced;) {
        ssize_t k = ::pwrite(m_cache_fd, outbuf.data() + w, produced - w, static_cast<off_t>(m_decoded + w));
        if (k < 0 && errno == EINTR)
          continue;
        if (k <= 0)
          return Error("xz: writing the cache file: " + std::string(std::strerror(errno)), ErrorKind::Io);
        w += static_cast<std::size_t>(k);
      }
      m_decoded += produced;
      if (r == LZMA_STREAM_END)
        break;
      if (r != LZMA_OK)
        return layer_error(kLayer, m_in_pos - m_stream.avail_in, "decoding: " + lzma_text(r));
      if (produced == 0 && m_stream.avail_in == 0 && m_in_pos >= m_inner->size())
        return layer_error(kLayer, m_in_pos, "truncated stream");
    }
    if (m_decoded < end)
      return layer_error(kLayer, m_decoded, "stream ended before its index size");
    return ok();
  }

  Result<void> read_sequential(std::uint64_t offset, std::span<std::uint8_t> out) {
    if (m_decoded < offset + out.size())
      TRY(decode_until(offset + out.size()));
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t k = ::pread(m_cache_fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return Error("xz: reading the cache file: " + std::string(std::strerror(errno)), ErrorKind::Io);
      done += static_cast<std::size_t>(k);
    }
    return ok();
  }

  BlockSourcePtr m_inner;
  IndexPtr m_index;
  XzOptions m_options;
  std::uint64_t m_size = 0;
  bool m_sequential = false;
  std::list<CachedBlock> m_lru;
  std::size_t m_cached_bytes = 0;
  Bytes m_prefetch;
  std::uint64_t m_prefetch_offset = 0;
  // Sequential mode.
  lzma_stream m_stream = LZMA_STREAM_INIT;
  bool m_stream_open = false;
  int m_cache_fd = -1;
  std::uint64_t m_decoded = 0;
  std::uint64_t m_in_pos = 0;
  Bytes m_inbuf = Bytes(1u << 20);
};

} // namespace

Result<std::vector<XzBlockInfo>> read_xz_block_table(BlockSource& inner) {
  IndexPtr idx = TRY(read_index(inner));
  return block_table(idx.get());
}

Result<BlockSourcePtr> open_xz(BlockSourcePtr inner, const XzOptions& options) {
  std::uint8_t magic[6];
  if (inner->size() < sizeof magic)
    return layer_error(kLayer, 0, "source too small for an xz header");
  TRY_CTX(inner->read_at(0, magic), "xz: header");
  static const std::uint8_t want[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
  if (std::memcmp(magic, want, 6) != 0)
    return layer_error(kLayer, 0, "not an xz file (bad magic)");
  IndexPtr idx = TRY_CTX(read_index(*inner), "while opening " + inner->describe());
  return BlockSourcePtr(std::make_unique<XzSource>(std::move(inner), std::move(idx), options));
}

} // namespace fastboop::pipeline
