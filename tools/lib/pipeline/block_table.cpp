// Block-hash tables: see block_table.hpp.
#include "pipeline/block_table.hpp"

#include "common/hash.hpp"

#include <algorithm>
#include <cstring>
#include <tuple>

namespace fastboop::pipeline {

namespace {

constexpr std::uint64_t kMaxArtifactSize = std::uint64_t{1} << 50; // as the http source

bool valid_block_size(std::uint64_t b) {
  return b >= kMinHashBlockSize && b <= kMaxHashBlockSize && (b & (b - 1)) == 0;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

// "sha512:<128 lowercase hex>" -> 64 bytes.
Result<std::array<std::uint8_t, 64>> digest_bytes(std::string_view digest) {
  std::array<std::uint8_t, 64> out{};
  if (!digest.starts_with("sha512:") || digest.size() != 7 + 128)
    return Error("block-hash table: '" + std::string(digest) + "' is not a sha512 content digest");
  for (std::size_t i = 0; i < 64; ++i) {
    const int hi = hex_value(digest[7 + 2 * i]), lo = hex_value(digest[8 + 2 * i]);
    if (hi < 0 || lo < 0)
      return Error("block-hash table: '" + std::string(digest) + "' is not a sha512 content digest");
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return out;
}

auto order_key(const BlockTable& t) { return std::tie(t.digest, t.size); }

} // namespace

std::uint64_t BlockTable::block_last(std::uint64_t index) const {
  return std::min(size, (index + 1) * block_size) - 1;
}

bool BlockTable::matches(std::uint64_t index, ByteSpan bytes) const {
  if (index >= blocks.size() || bytes.size() != block_last(index) - block_first(index) + 1)
    return false;
  const Bytes h = hash_bytes(HashAlgorithm::Sha256, bytes);
  return std::equal(h.begin(), h.end(), blocks[index].begin());
}

Result<BlockTable> compute_block_table(BlockSource& source, std::uint32_t block_size, std::string_view what,
                                       std::string_view expect_digest) {
  if (!valid_block_size(block_size))
    return Error("block-hash table: block size " + std::to_string(block_size) +
                 " is not a power of two from 4 KiB to 16 MiB");
  BlockTable t;
  t.size = source.size();
  t.block_size = block_size;
  t.blocks.reserve(static_cast<std::size_t>(t.block_count()));
  Hasher whole(HashAlgorithm::Sha512);
  // Several blocks per read: one request per block would be slow over http.
  const std::uint64_t chunk = std::max<std::uint64_t>(block_size, 4u << 20) / block_size * block_size;
  Bytes buf;
  for (std::uint64_t pos = 0; pos < t.size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk, t.size - pos));
    buf.resize(n);
    TRY_CTX(source.read_at(pos, buf), "block-hash table of " + std::string(what));
    whole.update(buf);
    for (std::size_t b = 0; b < n; b += block_size) {
      const Bytes h = hash_bytes(HashAlgorithm::Sha256,
                                 ByteSpan(buf.data() + b, std::min<std::size_t>(block_size, n - b)));
      Sha256 entry{};
      std::copy(h.begin(), h.end(), entry.begin());
      t.blocks.push_back(entry);
    }
    pos += n;
  }
  t.digest = "sha512:" + to_hex(whole.finish());
  if (!expect_digest.empty() && t.digest != expect_digest)
    return Error("block-hash table of " + std::string(what) + ": content digest mismatch: expected " +
                 std::string(expect_digest) + ", actual " + t.digest);
  return t;
}

Result<Bytes> encode_block_table_record(std::vector<BlockTable> tables) {
  std::sort(tables.begin(), tables.end(), [](const BlockTable& a, const BlockTable& b) {
    return order_key(a) < order_key(b);
  });
  Bytes payload;
  append_le<std::uint32_t>(payload, 0);
  std::uint32_t count = 0;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const BlockTable& t = tables[i];
    if (i > 0 && order_key(tables[i - 1]) == order_key(t)) {
      if (tables[i - 1] == t)
        continue;
      return Error("block-hash table: two different tables for " + t.digest.substr(0, 23) + "…");
    }
    if (!valid_block_size(t.block_size) || t.size > kMaxArtifactSize || t.blocks.size() != t.block_count())
      return Error("block-hash table for " + t.digest.substr(0, 23) + "… is malformed");
    const auto raw = TRY(digest_bytes(t.digest));
    append(payload, ByteSpan(raw.data(), raw.size()));
    append_le<std::uint64_t>(payload, t.size);
    append_le<std::uint32_t>(payload, t.block_size);
    for (const Sha256& h : t.blocks)
      append(payload, ByteSpan(h.data(), h.size()));
    ++count;
  }
  store_le<std::uint32_t>(payload.data(), count);
  if (payload.size() > UINT32_MAX)
    return Error("block-hash table record exceeds 4 GiB");
  Bytes out;
  append(out, kBlockTableMagic);
  append_le<std::uint16_t>(out, 0);
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(payload.size()));
  append(out, payload);
  return out;
}

Result<std::vector<BlockTable>> decode_block_table_record(ByteSpan bytes, std::size_t* consumed) {
  auto bad = [](std::string what) { return Error("FBBLKTB0 block-hash table record: " + what); };
  if (bytes.size() < 14 || as_chars(bytes.first(8)) != kBlockTableMagic)
    return bad("no FBBLKTB0 header");
  if (const auto version = load_le<std::uint16_t>(bytes.data() + 8); version != 0)
    return bad("unsupported version " + std::to_string(version));
  const std::uint32_t len = load_le<std::uint32_t>(bytes.data() + 10);
  if (len > bytes.size() - 14)
    return bad("payload of " + std::to_string(len) + " bytes runs past the end (" +
               std::to_string(bytes.size() - 14) + " available)");
  const ByteSpan p = bytes.subspan(14, len);
  if (p.size() < 4)
    return bad("payload too short for its table count");
  const std::uint32_t count = load_le<std::uint32_t>(p.data());
  std::size_t pos = 4;
  std::vector<BlockTable> out;
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::string where = "table " + std::to_string(i) + ": ";
    if (p.size() - pos < 76)
      return bad(where + "truncated header");
    BlockTable t;
    t.digest = "sha512:" + to_hex(p.subspan(pos, 64));
    t.size = load_le<std::uint64_t>(p.data() + pos + 64);
    t.block_size = load_le<std::uint32_t>(p.data() + pos + 72);
    pos += 76;
    if (!valid_block_size(t.block_size))
      return bad(where + "block size " + std::to_string(t.block_size) +
                 " is not a power of two from 4 KiB to 16 MiB");
    if (t.size > kMaxArtifactSize)
      return bad(where + "artifact size " + std::to_string(t.size) + " is beyond 1 PiB");
    // Checked against the bytes present before anything is allocated.
    const std::uint64_t n = t.block_count();
    if (n > (p.size() - pos) / 32)
      return bad(where + std::to_string(n) + " block hashes do not fit in the payload");
    t.blocks.resize(static_cast<std::size_t>(n));
    for (auto& h : t.blocks) {
      std::memcpy(h.data(), p.data() + pos, 32);
      pos += 32;
    }
    if (!out.empty() && !(order_key(out.back()) < order_key(t)))
      return bad(where + "tables are not in ascending (digest, size) order");
    out.push_back(std::move(t));
  }
  if (pos != p.size())
    return bad(std::to_string(p.size() - pos) + " stray byte(s) after the last table");
  if (consumed)
    *consumed = 14 + static_cast<std::size_t>(len);
  return out;
}

void BlockTables::add(BlockTable table) {
  m_tables.push_back(std::make_shared<const BlockTable>(std::move(table)));
}

std::shared_ptr<const BlockTable> BlockTables::find(std::string_view digest, std::uint64_t size) const {
  for (const auto& t : m_tables)
    if (t->digest == digest && t->size == size)
      return t;
  return nullptr;
}

} // namespace fastboop::pipeline
