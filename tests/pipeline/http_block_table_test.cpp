// Verified ranged reads (issue 17) against lighttpd on 127.0.0.1: every block
// an http read fetches is checked against the artifact's block-hash table
// before it is used or cached.
#include "common/hash.hpp"
#include "http_harness.hpp"
#include "pipeline/sources.hpp"
#include "pipeline_test_util.hpp"

#include <gtest/gtest.h>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using namespace pipeline;

constexpr std::uint32_t kBlock = 64u << 10;

struct Served {
  TempDir root;
  TempDir cache;
  Bytes blob = random_bytes((2u << 20) + 1000, 17); // 33 blocks, the last one short
  std::shared_ptr<const BlockTable> table;
  std::unique_ptr<Lighttpd> server;
  Served() {
    write_file(root / "blob.bin", blob);
    auto src = make_memory_source(blob);
    auto t = compute_block_table(*src, kBlock, "blob.bin");
    EXPECT_TRUE(t.ok());
    table = std::make_shared<const BlockTable>(std::move(*t));
    server = std::make_unique<Lighttpd>(root.path());
  }
  HttpOptions options() const {
    HttpOptions o;
    o.cache_dir = cache.path();
    o.first_backoff_ms = 10;
    o.content_digest = table->digest;
    o.content_size = table->size;
    o.block_table = table;
    return o;
  }
  fs::path store() const { return cache / ("http/" + table->digest.substr(7) + "-" + std::to_string(blob.size())); }
  // Serve a copy with one byte inverted at `offset` (the table stays the original's).
  void tamper(std::uint64_t offset) {
    Bytes bad = blob;
    bad[offset] ^= 0xFF;
    write_file(root / "blob.bin", bad);
  }
};

#define NEED_SERVER(s)                                                                             \
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");                                                            \
  Served s;                                                                                        \
  ASSERT_TRUE(s.server->ok()) << s.server->error()

Bytes page_map(const Served& s) { return read_file(s.store() / ("pages-" + std::to_string(kBlock))); }

TEST(HttpBlockTable, ReadsAreCheckedAndCachedBlocksSaySo) {
  NEED_SERVER(s);
  auto src = open_http(s.server->url("blob.bin"), s.options());
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes buf(1000);
  expect_ok((*src)->read_at(5 * kBlock + 10, buf));
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.blob.begin() + 5 * kBlock + 10));
  EXPECT_EQ((*src)->stats().blocks_verified, 1u);
  EXPECT_EQ((*src)->stats().bytes_fetched, kBlock) << "verification fetches no byte beyond the page";
  // Cached under the digest at once (the table vouches for it), marked 2:
  // checked against the table.
  const Bytes map = page_map(s);
  ASSERT_GT(map.size(), 5u);
  EXPECT_EQ(map[5], 2);
  EXPECT_EQ(std::count(map.begin(), map.end(), 0), static_cast<long>(map.size()) - 1);
  EXPECT_FALSE(fs::exists(s.cache / "http/unverified"));
}

TEST(HttpBlockTable, FlippedByteInANeededBlockFailsNamingArtifactUrlAndRangeAndCachesNothing) {
  NEED_SERVER(s);
  s.tamper(7 * kBlock + 123);
  auto src = open_http(s.server->url("blob.bin"), s.options());
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes buf(3 * kBlock);
  auto r = (*src)->read_at(6 * kBlock, buf);
  ASSERT_FALSE(r.ok());
  const std::string m = r.error().message();
  EXPECT_NE(m.find(s.server->url("blob.bin")), std::string::npos) << m;
  EXPECT_NE(m.find("artifact blob.bin"), std::string::npos) << m;
  EXPECT_NE(m.find("bytes " + std::to_string(7 * kBlock) + "-" + std::to_string(8 * kBlock - 1)),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("block-hash table"), std::string::npos) << m;
  EXPECT_EQ((*src)->stats().refetches, 1u) << "fetched once more before giving up";
  // Nothing of that fetch is cached: not the bad block, not its neighbours
  // fetched in the same request.
  const Bytes map = page_map(s);
  EXPECT_EQ(std::count(map.begin(), map.end(), 0), static_cast<long>(map.size()));
}

TEST(HttpBlockTable, FlippedByteInABlockNeverReadDoesNotMatter) {
  NEED_SERVER(s);
  std::uint64_t clean_fetched = 0;
  {
    auto src = open_http(s.server->url("blob.bin"), s.options());
    ASSERT_TRUE(src.ok());
    Bytes buf(100000);
    expect_ok((*src)->read_at(kBlock + 5, buf));
    clean_fetched = (*src)->stats().bytes_fetched;
  }
  fs::remove_all(s.cache / "http");
  s.tamper(20 * kBlock + 1);
  auto src = open_http(s.server->url("blob.bin"), s.options());
  ASSERT_TRUE(src.ok());
  Bytes buf(100000);
  expect_ok((*src)->read_at(kBlock + 5, buf));
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.blob.begin() + kBlock + 5));
  EXPECT_EQ((*src)->stats().bytes_fetched, clean_fetched) << "the fetched share is unchanged";
  EXPECT_EQ((*src)->stats().refetches, 0u);
}

TEST(HttpBlockTable, TamperedTableIsRefused) {
  NEED_SERVER(s);
  // Entries changed: the genuine bytes no longer match, so nothing is used.
  BlockTable bad = *s.table;
  bad.blocks[3][0] ^= 1;
  HttpOptions o = s.options();
  o.block_table = std::make_shared<const BlockTable>(bad);
  auto src = open_http(s.server->url("blob.bin"), o);
  ASSERT_TRUE(src.ok());
  Bytes buf(10);
  auto r = (*src)->read_at(3 * kBlock, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("block-hash table"), std::string::npos) << r.error().message();
  // A table bound to another digest or size is refused at open.
  BlockTable other = *s.table;
  other.size += 1;
  o.block_table = std::make_shared<const BlockTable>(other);
  auto refused = open_http(s.server->url("blob.bin"), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("for another artifact"), std::string::npos)
      << refused.error().message();
  o.content_digest = "sha512:" + sha512_hex(random_bytes(3, 3));
  o.block_table = s.table;
  EXPECT_FALSE(open_http(s.server->url("blob.bin"), o).ok());
}

TEST(HttpBlockTable, WrongBytesOnceAreFetchedAgainAndSucceed) {
  NEED_SERVER(s);
  FaultProxy proxy(s.server->port());
  auto src = open_http(proxy.url("blob.bin"), s.options());
  ASSERT_TRUE(src.ok()) << src.error().message();
  proxy.set_fault(Fault::FlipByte, 1);
  Bytes buf(5000);
  expect_ok((*src)->read_at(9 * kBlock + 100, buf));
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.blob.begin() + 9 * kBlock + 100));
  EXPECT_EQ((*src)->stats().refetches, 1u);
  // Always wrong: an error after the one refetch, never wrong bytes.
  proxy.set_fault(Fault::FlipByte, -1);
  auto r = (*src)->read_at(12 * kBlock, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ((*src)->stats().refetches, 2u);
}

TEST(HttpBlockTable, ACachedBlockChangedOnDiskIsDroppedAndFetchedAgain) {
  NEED_SERVER(s);
  Bytes buf(1000);
  {
    auto src = open_http(s.server->url("blob.bin"), s.options());
    ASSERT_TRUE(src.ok());
    expect_ok((*src)->read_at(4 * kBlock, buf));
  }
  Bytes data = read_file(s.store() / "data");
  data[4 * kBlock + 7] ^= 0xFF;
  write_file(s.store() / "data", data);
  auto src = open_http(s.server->url("blob.bin"), s.options());
  ASSERT_TRUE(src.ok());
  expect_ok((*src)->read_at(4 * kBlock, buf));
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.blob.begin() + 4 * kBlock));
  EXPECT_EQ((*src)->stats().bytes_fetched, kBlock);
}

TEST(HttpBlockTable, ServerWithoutRangeSupportIsCheckedBlockByBlock) {
  NEED_SERVER(s);
  FaultProxy proxy(s.server->port());
  s.tamper(30 * kBlock);
  auto src = open_http(proxy.url("blob.bin"), s.options());
  ASSERT_TRUE(src.ok()) << src.error().message();
  proxy.set_fault(Fault::IgnoreRange, -1);
  Bytes buf(100);
  auto r = (*src)->read_at(0, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("bytes " + std::to_string(30 * kBlock)), std::string::npos)
      << r.error().message();
}

} // namespace
} // namespace fastboop::test
