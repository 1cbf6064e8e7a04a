// Block-hash tables (issue 17): an artifact's bytes as published (the
// compressed file, before any stage) cut into fixed-size blocks, a SHA-256 of
// each, bound to the artifact's sha512 content digest and size. Computed once
// when a profile is published (`fastboop-profile optimize`); a ranged read
// then checks every block it fetches, so 2 % of an image can be read and
// still every byte used is verified.
//
// On the wire, one record appended to a compiled Boot Profile after its
// FBPHINT0 records (so it is exactly as trusted as the profile's own
// digests; an upstream reader stops at the unknown magic with a warning and
// reads the profile as before):
//   "FBBLKTB0" | u16 LE 0 | u32 LE payload_len | payload
//   payload = u32 LE table_count, then per table, ascending by (digest, size):
//     sha512[64] | u64 LE size | u32 LE block_size | sha256[32] x ceil(size / block_size)
// block_size is a power of two from 4 KiB to 16 MiB; the payload is consumed
// exactly.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "pipeline/block_source.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fastboop::pipeline {

// Chosen by measurement (ARCHITECTURE.md, "Block-hash tables"): the http
// source already fetches in 64 KiB pages, so checking blocks of that size
// fetches no byte more than an unchecked read, and the table costs 32 bytes
// per 64 KiB (0.05 % of the artifact).
inline constexpr std::uint32_t kDefaultHashBlockSize = 64u << 10;
inline constexpr std::uint32_t kMinHashBlockSize = 4u << 10;
inline constexpr std::uint32_t kMaxHashBlockSize = 16u << 20;
inline constexpr std::string_view kBlockTableMagic = "FBBLKTB0";

using Sha256 = std::array<std::uint8_t, 32>;

struct BlockTable {
  std::string digest; // "sha512:<128 lowercase hex>" of the whole artifact
  std::uint64_t size = 0;
  std::uint32_t block_size = kDefaultHashBlockSize;
  std::vector<Sha256> blocks;
  friend bool operator==(const BlockTable&, const BlockTable&) = default;

  std::uint64_t block_count() const { return (size + block_size - 1) / block_size; }
  // [first, last] byte range of block `index`.
  std::uint64_t block_first(std::uint64_t index) const { return index * block_size; }
  std::uint64_t block_last(std::uint64_t index) const;
  // Whether `bytes` (all of block `index`) hash to its entry.
  bool matches(std::uint64_t index, ByteSpan bytes) const;
  // Bytes of the encoded table (digest, size, block size, hashes).
  std::uint64_t encoded_size() const { return 64 + 8 + 4 + 32 * blocks.size(); }
};

// Reads `source` once, start to end: the table and the sha512 of the whole.
// With `expect_digest`, a different digest is an error naming `what`.
Result<BlockTable> compute_block_table(BlockSource& source, std::uint32_t block_size,
                                       std::string_view what, std::string_view expect_digest = {});

// The FBBLKTB0 record. Tables are sorted; two for one (digest, size) that
// differ are an error.
Result<Bytes> encode_block_table_record(std::vector<BlockTable> tables);
// Strict decode; `consumed` gets the record's length (trailing bytes are the
// next record's).
Result<std::vector<BlockTable>> decode_block_table_record(ByteSpan bytes, std::size_t* consumed);

// The tables a profile carries, found by the artifact they describe.
class BlockTables {
public:
  void add(BlockTable table);
  std::shared_ptr<const BlockTable> find(std::string_view digest, std::uint64_t size) const;
  bool empty() const { return m_tables.empty(); }
  std::size_t count() const { return m_tables.size(); }

private:
  std::vector<std::shared_ptr<const BlockTable>> m_tables;
};

} // namespace fastboop::pipeline
