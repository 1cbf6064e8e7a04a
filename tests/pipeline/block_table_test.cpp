// Block-hash tables (issue 17): computing one, the FBBLKTB0 record both ways,
// and hostile records refused before anything is allocated.
#include "common/hash.hpp"
#include "pipeline/block_table.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/sources.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

namespace fastboop::test {
namespace {

using namespace pipeline;

BlockTable table_of(const Bytes& data, std::uint32_t block_size = 4096) {
  auto src = make_memory_source(data);
  auto t = compute_block_table(*src, block_size, "memory");
  EXPECT_TRUE(t.ok()) << t.error().message();
  return t.ok() ? *t : BlockTable{};
}

TEST(BlockTable, HashesEveryBlockAndBindsTheWholeDigestAndSize) {
  const Bytes data = random_bytes(3 * 4096 + 10, 5);
  const BlockTable t = table_of(data);
  EXPECT_EQ(t.digest, "sha512:" + sha512_hex(data));
  EXPECT_EQ(t.size, data.size());
  ASSERT_EQ(t.block_count(), 4u);
  ASSERT_EQ(t.blocks.size(), 4u);
  EXPECT_EQ(t.block_last(3), data.size() - 1);
  EXPECT_EQ(to_hex(ByteSpan(t.blocks[3].data(), 32)), sha256_hex(ByteSpan(data.data() + 3 * 4096, 10)));
  EXPECT_TRUE(t.matches(1, ByteSpan(data.data() + 4096, 4096)));
  Bytes flipped(data.begin() + 4096, data.begin() + 8192);
  flipped[100] ^= 1;
  EXPECT_FALSE(t.matches(1, flipped));
  EXPECT_FALSE(t.matches(1, ByteSpan(data.data() + 4096, 4095))) << "a short block never matches";
  EXPECT_FALSE(t.matches(4, ByteSpan(data.data(), 10))) << "no block past the end";
}

TEST(BlockTable, ComputingAgainstAnotherDigestFails) {
  const Bytes data = random_bytes(5000, 1);
  auto src = make_memory_source(data);
  auto t = compute_block_table(*src, 4096, "http(x)", "sha512:" + sha512_hex(random_bytes(5, 2)));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("content digest mismatch"), std::string::npos) << t.error().message();
  EXPECT_FALSE(compute_block_table(*src, 5000, "x").ok()) << "block size must be a power of two";
  EXPECT_FALSE(compute_block_table(*src, 2048, "x").ok()) << "block size below 4 KiB";
}

TEST(BlockTable, RecordRoundTripsSortedAndSkipsTrailingBytes) {
  const BlockTable a = table_of(random_bytes(9000, 1));
  const BlockTable b = table_of(random_bytes(0, 1)); // an empty artifact has no blocks
  const BlockTable c = table_of(random_bytes(70000, 3), 65536);
  auto rec = encode_block_table_record({a, b, c, a});
  ASSERT_TRUE(rec.ok()) << rec.error().message();
  Bytes with_tail = *rec;
  append(with_tail, std::string_view("TAIL"));
  std::size_t used = 0;
  auto back = decode_block_table_record(with_tail, &used);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(used, rec->size());
  ASSERT_EQ(back->size(), 3u);
  std::vector<BlockTable> want{a, b, c};
  std::sort(want.begin(), want.end(), [](const auto& x, const auto& y) { return x.digest < y.digest; });
  EXPECT_EQ(*back, want);
  // Deterministic: the same tables in another order give the same bytes.
  EXPECT_EQ(*encode_block_table_record({c, b, a}), *rec);
}

TEST(BlockTable, TwoDifferentTablesForOneArtifactAreRefused) {
  BlockTable a = table_of(random_bytes(9000, 1));
  BlockTable other = a;
  other.blocks[0][0] ^= 1;
  EXPECT_FALSE(encode_block_table_record({a, other}).ok());
}

TEST(BlockTable, HostileRecordsFailCleanly) {
  auto rec = encode_block_table_record({table_of(random_bytes(9000, 1))});
  ASSERT_TRUE(rec.ok());
  auto fails = [](Bytes b, std::string_view why) {
    std::size_t used = 0;
    auto r = decode_block_table_record(b, &used);
    EXPECT_FALSE(r.ok()) << why;
    if (!r.ok()) {
      EXPECT_NE(r.error().message().find("block-hash table record"), std::string::npos) << r.error().message();
    }
  };
  fails(Bytes(rec->begin(), rec->end() - 1), "truncated");
  Bytes v = *rec;
  v[8] = 1;
  fails(v, "unknown version");
  Bytes bs = *rec;
  store_le<std::uint32_t>(bs.data() + 14 + 4 + 72, 5000);
  fails(bs, "block size not a power of two");
  // A huge size claimed over a tiny payload: refused before allocating.
  Bytes huge = *rec;
  store_le<std::uint64_t>(huge.data() + 14 + 4 + 64, std::uint64_t{1} << 49);
  fails(huge, "more hashes than bytes");
  Bytes stray = *rec;
  stray.push_back(0);
  store_le<std::uint32_t>(stray.data() + 10, load_le<std::uint32_t>(stray.data() + 10) + 1);
  fails(stray, "stray bytes in the payload");
  Bytes count = *rec;
  store_le<std::uint32_t>(count.data() + 14, 2);
  fails(count, "more tables than present");
}

TEST(BlockTable, TablesAreFoundByDigestAndSize) {
  const BlockTable a = table_of(random_bytes(9000, 1));
  BlockTables tables;
  tables.add(a);
  EXPECT_NE(tables.find(a.digest, a.size), nullptr);
  EXPECT_EQ(tables.find(a.digest, a.size + 1), nullptr);
  EXPECT_EQ(tables.find("sha512:00", a.size), nullptr);
}

// A file stage with a table (a profile optimized from local files) reads
// through make_block_checking_source: a changed block is an error naming the
// stage and the range; the others still read.
TEST(BlockTable, FileStageWithATableChecksEveryBlockItReads) {
  TempDir dir;
  const Bytes data = random_bytes(5 * 4096 + 7, 11);
  write_file(dir / "a.img", data);
  profiles::PipelineSource s;
  s.kind = profiles::StageKind::File;
  s.location = (dir / "a.img").string();
  s.content = profiles::ContentDigest{"sha512:" + sha512_hex(data), data.size()};
  auto tables = std::make_shared<BlockTables>();
  tables->add(table_of(data));
  OpenOptions o;
  o.block_tables = tables;
  Bytes bad = data;
  bad[2 * 4096 + 1] ^= 1;
  write_file(dir / "a.img", bad);
  auto src = open_pipeline(s, o);
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes buf(4096 + 7);
  ASSERT_TRUE((*src)->read_at(4 * 4096, buf).ok()) << "the last block, short, is intact";
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), data.begin() + 4 * 4096));
  Bytes one(10);
  auto r = (*src)->read_at(2 * 4096 + 100, one);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("bytes 8192-12287 (block 2) do not match the profile's block-hash table"),
            std::string::npos)
      << r.error().message();
  // Without the table the same read succeeds (with the changed byte): the
  // check is what refused it.
  auto plain = open_pipeline(s, OpenOptions{});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE((*plain)->read_at(2 * 4096 + 100, one).ok());
}

} // namespace
} // namespace fastboop::test
