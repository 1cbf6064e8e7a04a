// casync blob index (.caibx) + chunk store. The index lists chunk end offsets
// and ids; a read fetches (file or http), decompresses (zstd, xz or gzip by
// magic) and verifies only the chunks it covers — the id is SHA-512/256 of the
// chunk (SHA-256 when the index's feature flags say so). Fetched chunks are
// kept in $cache/casync/<id>.cacnk and re-verified on every use.
#include "common/file_io.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "pipeline/sources.hpp"

#include <algorithm>
#include <cstring>
#include <functional>
#include <list>
#include <lzma.h>
#include <openssl/evp.h>
#include <zlib.h>
#include <zstd.h>

namespace fastboop::pipeline {

namespace {

constexpr std::uint64_t kFormatIndex = 0x96824d9c7b129ff9ULL;
constexpr std::uint64_t kFormatTable = 0xe75b9e112f17417dULL;
constexpr std::uint64_t kTableTailMarker = 0x4b4f050e5549ecd1ULL;
constexpr std::uint64_t kFlagSha512_256 = 0x2000000000000000ULL;
constexpr std::uint64_t kMaxIndexBytes = 256u << 20;
constexpr std::uint64_t kMaxChunkBytes = 64u << 20;

struct ChunkRef {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  std::array<std::uint8_t, 32> id{};
};

bool is_url(std::string_view s) { return s.starts_with("http://") || s.starts_with("https://"); }
std::string strip_file_scheme(std::string s) { return s.starts_with("file://") ? s.substr(7) : s; }

Result<BlockSourcePtr> open_location(const std::string& location, const HttpOptions& http) {
  if (is_url(location)) {
    HttpOptions o = http;
    o.content_digest.reset();
    o.content_size.reset();
    auto s = TRY(open_http(location, o));
    return BlockSourcePtr(std::move(s));
  }
  return open_file_source(strip_file_scheme(location));
}

Result<Bytes> read_whole(BlockSource& s, std::uint64_t limit, std::string_view what) {
  if (s.size() > limit)
    return Error("casync: " + std::string(what) + " " + s.describe() + " is " + std::to_string(s.size()) +
                 " bytes, more than the limit of " + std::to_string(limit));
  Bytes b(static_cast<std::size_t>(s.size()));
  TRY(s.read_at(0, b));
  return b;
}

Result<Bytes> decompress(const Bytes& in, std::uint64_t expected, const std::string& what) {
  Bytes out(static_cast<std::size_t>(expected));
  if (in.size() >= 4 && load_le<std::uint32_t>(in.data()) == 0xFD2FB528) {
    std::size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(n))
      return Error("casync: chunk " + what + ": zstd: " + ZSTD_getErrorName(n));
    if (n != expected)
      return Error("casync: chunk " + what + ": decompressed to " + std::to_string(n) + " bytes, index says " + std::to_string(expected));
    return out;
  }
  if (in.size() >= 6 && in[0] == 0xFD && in[1] == '7' && in[2] == 'z') {
    std::uint64_t memlimit = 256u << 20;
    std::size_t ip = 0, op = 0;
    lzma_ret r = lzma_stream_buffer_decode(&memlimit, 0, nullptr, in.data(), &ip, in.size(), out.data(), &op, out.size());
    if (r != LZMA_OK || op != expected)
      return Error("casync: chunk " + what + ": xz decode failed or size mismatch");
    return out;
  }
  if (in.size() >= 2 && in[0] == 0x1F && in[1] == 0x8B) {
    z_stream z{};
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
      return Error("casync: zlib init failed");
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    int r = inflate(&z, Z_FINISH);
    std::uint64_t n = z.total_out;
    inflateEnd(&z);
    if (r != Z_STREAM_END || n != expected)
      return Error("casync: chunk " + what + ": gzip decode failed or size mismatch");
    return out;
  }
  return Error("casync: chunk " + what + ": unknown compression (not zstd, xz or gzip)");
}

class CasyncSource final : public BlockSource {
public:
  CasyncSource(std::string index, std::string store, std::vector<ChunkRef> chunks, bool sha512_256,
               CasyncOptions options)
      : m_index(std::move(index)), m_store(std::move(store)), m_chunks(std::move(chunks)),
        m_sha512_256(sha512_256), m_options(std::move(options)) {
    m_size = m_chunks.empty() ? 0 : m_chunks.back().end;
    std::filesystem::path root = m_options.http.cache_dir.empty() ? default_cache_dir() : m_options.http.cache_dir;
    m_cache = root / "casync";
  }
  std::uint64_t size() const override { return m_size; }
  std::string describe() const override { return "casync(" + m_index + ", store " + m_store + ")"; }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > m_size || out.size() > m_size - offset)
      return layer_error("casync", offset, "read past the end (size " + std::to_string(m_size) + ")");
    std::size_t done = 0;
    while (done < out.size()) {
      std::uint64_t pos = offset + done;
      auto it = std::upper_bound(m_chunks.begin(), m_chunks.end(), pos, [](std::uint64_t p, const ChunkRef& c) { return p < c.end; });
      if (it == m_chunks.end())
        return layer_error("casync", pos, "no chunk covers this offset");
      const Bytes& data = TRY_CTX(chunk(static_cast<std::size_t>(it - m_chunks.begin())),
                                  "casync: offset " + std::to_string(pos));
      std::uint64_t within = pos - it->start;
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, data.size() - within));
      std::memcpy(out.data() + done, data.data() + within, n);
      done += n;
    }
    return ok();
  }

private:
  std::string id_hex(const ChunkRef& c) const { return to_hex(c.id); }

  std::string chunk_location(const std::string& hex) const {
    std::string base = m_store;
    if (!base.empty() && base.back() != '/')
      base += '/';
    return base + hex.substr(0, 4) + "/" + hex + ".cacnk";
  }

  Result<Bytes> verified(const Bytes& compressed, const ChunkRef& c, const std::string& hex) {
    Bytes data = TRY(decompress(compressed, c.end - c.start, hex));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, m_sha512_256 ? EVP_sha512_256() : EVP_sha256(), nullptr);
    if (len != 32 || std::memcmp(md, c.id.data(), 32) != 0)
      return Error("casync: chunk " + hex + " does not hash to its id (got " + to_hex(ByteSpan(md, len)) + ")");
    return data;
  }

  Result<Bytes> load(const ChunkRef& c) {
    const std::string hex = id_hex(c);
    std::filesystem::path cached = m_cache / hex.substr(0, 4) / (hex + ".cacnk");
    std::error_code ec;
    if (std::filesystem::exists(cached, ec)) {
      auto bytes = read_file(cached, kMaxChunkBytes);
      if (bytes) {
        auto data = verified(*bytes, c, hex);
        if (data)
          return data;
        log::warn(data.error().message() + " (cached copy " + cached.string() + "); fetching again");
      }
    }
    std::string loc = chunk_location(hex);
    BlockSourcePtr src = TRY(open_location(loc, m_options.http));
    Bytes compressed = TRY(read_whole(*src, kMaxChunkBytes, "chunk"));
    Result<Bytes> data = verified(compressed, c, hex);
    if (!data)
      return Error(loc + ": " + data.error().message());
    if (is_url(m_store)) {
      std::filesystem::create_directories(cached.parent_path(), ec);
      if (auto w = write_file_atomic(cached, compressed); !w)
        log::debug("casync: not caching chunk: " + w.error().message());
    }
    return data;
  }

  Result<std::reference_wrapper<const Bytes>> chunk(std::size_t i) {
    for (auto it = m_lru.begin(); it != m_lru.end(); ++it)
      if (it->first == i) {
        m_lru.splice(m_lru.begin(), m_lru, it);
        return std::cref(m_lru.front().second);
      }
    Bytes data = TRY(load(m_chunks[i]));
    m_lru_bytes += data.size();
    m_lru.emplace_front(i, std::move(data));
    while (m_lru.size() > 1 && m_lru_bytes > m_options.chunk_cache_bytes) {
      m_lru_bytes -= m_lru.back().second.size();
      m_lru.pop_back();
    }
    return std::cref(m_lru.front().second);
  }

  std::string m_index;
  std::string m_store;
  std::vector<ChunkRef> m_chunks;
  bool m_sha512_256;
  CasyncOptions m_options;
  std::uint64_t m_size = 0;
  std::filesystem::path m_cache;
  std::list<std::pair<std::size_t, Bytes>> m_lru;
  std::size_t m_lru_bytes = 0;
};

} // namespace

std::string default_casync_chunk_store(const std::string& index_location) {
  if (is_url(index_location)) {
    std::string u = index_location.substr(0, index_location.find_first_of("?#"));
    auto scheme_end = u.find("://") + 3;
    auto path_start = u.find('/', scheme_end);
    if (path_start == std::string::npos)
      return u + "/";
    // Last "indexes" path segment.
    std::size_t pos = std::string::npos;
    for (std::size_t p = path_start; p < u.size();) {
      std::size_t e = u.find('/', p + 1);
      std::size_t seg_end = e == std::string::npos ? u.size() : e;
      if (u.compare(p + 1, seg_end - p - 1, "indexes") == 0)
        pos = p + 1;
      p = seg_end;
      if (e == std::string::npos)
        break;
    }
    if (pos != std::string::npos)
      return u.substr(0, pos) + "chunks/";
    return u.substr(0, u.rfind('/') + 1);
  }
  std::filesystem::path p(strip_file_scheme(index_location));
  std::filesystem::path parent = p.parent_path();
  if (parent.filename() == "indexes")
    return (parent.parent_path() / "chunks").string();
  return parent.empty() ? std::string(".") : parent.string();
}

Result<BlockSourcePtr> open_casync(const std::string& index_location, const std::optional<std::string>& chunk_store,
                                   const CasyncOptions& options) {
  std::string lower = index_location.substr(0, index_location.find_first_of("?#"));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower.ends_with(".caidx"))
    return Error("casync: " + index_location + ": expected casync blob index (.caibx), not a directory archive index");
  BlockSourcePtr src = TRY(open_location(index_location, options.http));
  Bytes idx = TRY(read_whole(*src, kMaxIndexBytes, "index"));
  auto bad = [&](std::uint64_t off, std::string_view why) { return layer_error("casync index " + index_location, off, why); };
  if (idx.size() < 48 + 16 + 40)
    return bad(0, "too small for a blob index");
  if (load_le<std::uint64_t>(&idx[0]) != 48 || load_le<std::uint64_t>(&idx[8]) != kFormatIndex)
    return bad(0, "not a casync index (bad header size or type)");
  std::uint64_t flags = load_le<std::uint64_t>(&idx[16]);
  std::uint64_t chunk_max = load_le<std::uint64_t>(&idx[40]);
  if (chunk_max == 0 || chunk_max > kMaxChunkBytes)
    return bad(40, "absurd maximum chunk size " + std::to_string(chunk_max));
  if (load_le<std::uint64_t>(&idx[48]) != UINT64_MAX || load_le<std::uint64_t>(&idx[56]) != kFormatTable)
    return bad(48, "missing chunk table header");
  std::size_t tail = idx.size() - 40;
  if ((tail - 64) % 40 != 0)
    return bad(tail, "table length is not a whole number of items");
  if (load_le<std::uint64_t>(&idx[tail + 32]) != kTableTailMarker)
    return bad(tail + 32, "missing table tail marker");
  std::vector<ChunkRef> chunks;
  std::uint64_t prev = 0;
  for (std::size_t off = 64; off < tail; off += 40) {
    ChunkRef c;
    c.start = prev;
    c.end = load_le<std::uint64_t>(&idx[off]);
    if (c.end <= prev || c.end - prev > chunk_max)
      return bad(off, "chunk end offset " + std::to_string(c.end) + " is not ascending within the maximum chunk size");
    std::memcpy(c.id.data(), &idx[off + 8], 32);
    chunks.push_back(c);
    prev = c.end;
  }
  std::string store = chunk_store ? *chunk_store : default_casync_chunk_store(index_location);
  return BlockSourcePtr(std::make_unique<CasyncSource>(index_location, store, std::move(chunks),
                                                       (flags & kFlagSha512_256) != 0, options));
}

} // namespace fastboop::pipeline
