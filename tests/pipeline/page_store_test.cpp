// The http source's page stores, without a server (issue 22 item 4): pages
// written and read back, the persistent page map across runs, and the rule
// that a copy is filed under its digest only once it matched it.
#include "common/hash.hpp"
#include "pipeline/page_store.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using namespace pipeline;

constexpr std::size_t kPage = 4096;
const std::string kUrl = "http://127.0.0.1:1/blob.bin";

// 5 pages, the last one short.
Bytes object() { return random_bytes(4 * kPage + 100, 7); }

PersistentStoreKey key_for(const TempDir& cache, const Bytes& data, std::string digest = {}) {
  return PersistentStoreKey{cache.path(), kUrl, digest.empty() ? "sha512:" + sha512_hex(data) : digest,
                            data.size(), kPage};
}

Result<void> write_page(PageStore& store, const Bytes& data, std::uint64_t page) {
  const std::uint64_t off = page * kPage;
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(kPage, data.size() - off));
  return store.write(off, ByteSpan(data.data() + off, n));
}

TEST(PageStore, TemporaryStoreReadsBackWhatWasWritten) {
  TempDir dir;
  const Bytes data = object();
  auto store = open_temporary_page_store(dir.path(), "http(x)", data.size(), kPage);
  ASSERT_TRUE(store.ok()) << store.error().message();
  EXPECT_EQ((*store)->page_count(), 5u);
  ASSERT_TRUE(write_page(**store, data, 1).ok());
  ASSERT_TRUE(write_page(**store, data, 4).ok());
  EXPECT_TRUE((*store)->has_page(1));
  EXPECT_FALSE((*store)->has_page(2));
  EXPECT_EQ((*store)->pages_present(), 2u);
  Bytes got(kPage + 100);
  ASSERT_TRUE((*store)->read(4 * kPage, std::span(got.data(), 100)).ok());
  EXPECT_TRUE(std::equal(got.begin(), got.begin() + 100, data.begin() + 4 * kPage));
  EXPECT_FALSE((*store)->persistent());
  EXPECT_FALSE((*store)->verified());
  // Nothing named is left behind: the file is unlinked.
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(PageStore, PersistentPagesOfAPartialReadSurviveAsUnverified) {
  TempDir cache;
  const Bytes data = object();
  const auto key = key_for(cache, data);
  {
    auto store = open_persistent_page_store(key);
    ASSERT_TRUE(store.ok()) << store.error().message();
    ASSERT_TRUE(write_page(**store, data, 2).ok());
    EXPECT_FALSE((*store)->verified());
  }
  auto again = open_persistent_page_store(key);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_TRUE((*again)->has_page(2));
  EXPECT_EQ((*again)->pages_present(), 1u);
  EXPECT_FALSE(fs::exists(cache / ("http/" + key.digest.substr(7) + "-" + std::to_string(data.size()))));
  const auto copies = cached_copies(cache.path(), kUrl, key.digest);
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_FALSE(copies[0].verified);
  EXPECT_EQ(copies[0].size, data.size());
  // Another URL under the same claim does not see them.
  EXPECT_TRUE(cached_copies(cache.path(), "http://127.0.0.1:1/other", key.digest).empty());
}

TEST(PageStore, CompleteCopyMovesUnderItsDigestOnlyWhenItMatches) {
  TempDir cache;
  const Bytes data = object();
  const std::string wrong = "sha512:" + sha512_hex(random_bytes(3, 3));
  {
    auto store = open_persistent_page_store(key_for(cache, data, wrong));
    ASSERT_TRUE(store.ok()) << store.error().message();
    for (std::uint64_t p = 0; p < 5; ++p)
      ASSERT_TRUE(write_page(**store, data, p).ok());
    auto r = (*store)->complete();
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("content digest mismatch"), std::string::npos) << r.error().message();
    EXPECT_FALSE((*store)->verified());
  }
  EXPECT_FALSE(fs::exists(cache / ("http/" + wrong.substr(7) + "-" + std::to_string(data.size()))));
  const auto key = key_for(cache, data);
  {
    auto store = open_persistent_page_store(key);
    ASSERT_TRUE(store.ok()) << store.error().message();
    for (std::uint64_t p = 0; p < 5; ++p)
      ASSERT_TRUE(write_page(**store, data, p).ok());
    ASSERT_TRUE((*store)->complete().ok());
    EXPECT_TRUE((*store)->verified());
  }
  const fs::path verified = cache / ("http/" + key.digest.substr(7) + "-" + std::to_string(data.size()));
  EXPECT_TRUE(fs::exists(verified / "verified"));
  EXPECT_EQ(read_file(verified / "data"), data);
  // Reopened: verified from its marker, every page present, no hashing needed.
  auto again = open_persistent_page_store(key);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_TRUE((*again)->verified());
  EXPECT_EQ((*again)->pages_present(), 5u);
  const auto copies = cached_copies(cache.path(), "http://127.0.0.1:1/any", key.digest);
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_TRUE(copies[0].verified);
}

TEST(PageStore, CorruptedCompleteCopyIsDiscardedAtOpen) {
  TempDir cache;
  const Bytes data = object();
  const auto key = key_for(cache, data);
  {
    auto store = open_persistent_page_store(key);
    ASSERT_TRUE(store.ok());
    for (std::uint64_t p = 0; p < 5; ++p)
      ASSERT_TRUE(write_page(**store, data, p).ok());
    ASSERT_TRUE((*store)->complete().ok());
  }
  const fs::path dir = cache / ("http/" + key.digest.substr(7) + "-" + std::to_string(data.size()));
  Bytes bad = data;
  bad[5000] ^= 1;
  const auto mtime = fs::last_write_time(dir / "data");
  write_file(dir / "data", bad);
  fs::last_write_time(dir / "data", mtime + std::chrono::seconds(3));
  auto again = open_persistent_page_store(key);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_FALSE((*again)->verified());
  EXPECT_EQ((*again)->pages_present(), 0u);
}

} // namespace
} // namespace fastboop::test
