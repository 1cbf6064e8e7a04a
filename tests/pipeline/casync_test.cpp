// casync blob index + chunk store, fixtures made by Debian's casync.
#include "common/hash.hpp"
#include "http_harness.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline_test_util.hpp"

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using namespace pipeline;

struct CasyncFixture {
  TempDir dir;
  Bytes blob = nibble_bytes(3u << 20, 77);
  std::string error;
  bool ready = false;
  CasyncFixture() {
    fs::create_directories(dir / "site/casync/indexes");
    write_file(dir / "blob.img", blob);
    auto out = sh("cd '" + dir.path().string() + "' && casync make --store=site/casync/chunks site/casync/indexes/blob.caibx blob.img >/dev/null");
    error = out.err;
    ready = out.exit_code == 0;
  }
};

#define NEED_CASYNC(f)                                                                             \
  FASTBOOP_REQUIRE_PROGRAM("casync");                                                              \
  CasyncFixture f;                                                                                 \
  ASSERT_TRUE(f.ready) << f.error

CasyncOptions options(const TempDir& cache) {
  CasyncOptions o;
  o.http.cache_dir = cache.path();
  o.http.first_backoff_ms = 10;
  o.chunk_cache_bytes = 256u << 10;
  return o;
}

TEST(Casync, DefaultChunkStoreFollowsTheSpec) {
  EXPECT_EQ(default_casync_chunk_store("https://h/a/casync/indexes/x.caibx"), "https://h/a/casync/chunks/");
  EXPECT_EQ(default_casync_chunk_store("https://h/indexes/a/indexes/x.caibx?q=1#f"), "https://h/indexes/a/chunks/");
  EXPECT_EQ(default_casync_chunk_store("https://h/a/b/x.caibx?q=indexes"), "https://h/a/b/");
  EXPECT_EQ(default_casync_chunk_store("/srv/casync/indexes/x.caibx"), "/srv/casync/chunks");
  EXPECT_EQ(default_casync_chunk_store("file:///srv/c/x.caibx"), "/srv/c");
}

TEST(Casync, LocalIndexAndStoreMatchTheBlob) {
  NEED_CASYNC(f);
  TempDir cache;
  auto src = open_casync((f.dir / "site/casync/indexes/blob.caibx").string(), std::nullopt, options(cache));
  ASSERT_TRUE(src.ok()) << src.error().message();
  expect_random_reads_match(**src, f.blob, 51, 80);
  auto via_pipeline = [&](std::string index) {
    profiles::PipelineSource s;
    s.kind = profiles::StageKind::Casync;
    s.location = index;
    s.chunk_store = (f.dir / "site/casync/chunks").string();
    s.content = profiles::ContentDigest{"sha512:" + sha512_hex(f.blob), f.blob.size()};
    return open_pipeline(s, OpenOptions{.cache_dir = cache.path(), .network = NetworkMode::Offline});
  };
  auto p = via_pipeline("file://" + (f.dir / "site/casync/indexes/blob.caibx").string());
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(read_all(**p), f.blob);
  auto caidx = via_pipeline((f.dir / "x.CAIDX").string());
  ASSERT_FALSE(caidx.ok());
  EXPECT_NE(caidx.error().message().find("expected casync blob index (.caibx)"), std::string::npos);
}

TEST(Casync, CorruptChunkIsRejectedByItsId) {
  NEED_CASYNC(f);
  // Replace one chunk's file by another chunk's (valid zstd, wrong content).
  std::vector<fs::path> chunks;
  for (auto& e : fs::recursive_directory_iterator(f.dir / "site/casync/chunks"))
    if (e.is_regular_file())
      chunks.push_back(e.path());
  ASSERT_GE(chunks.size(), 2u);
  std::sort(chunks.begin(), chunks.end());
  fs::copy_file(chunks[1], chunks[0], fs::copy_options::overwrite_existing);
  TempDir cache;
  auto src = open_casync((f.dir / "site/casync/indexes/blob.caibx").string(), std::nullopt, options(cache));
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes all(f.blob.size());
  auto r = (*src)->read_at(0, all);
  ASSERT_FALSE(r.ok());
  const std::string& m = r.error().message();
  EXPECT_TRUE(m.find("does not hash to its id") != std::string::npos || m.find("decompressed to") != std::string::npos) << m;
  EXPECT_NE(m.find(chunks[0].stem().string()), std::string::npos) << m;
  // A truncated index is rejected.
  Bytes idx = read_file(f.dir / "site/casync/indexes/blob.caibx");
  idx.resize(idx.size() - 13);
  write_file(f.dir / "bad.caibx", idx);
  auto bad = open_casync((f.dir / "bad.caibx").string(), (f.dir / "site/casync/chunks").string(), options(cache));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("casync index"), std::string::npos) << bad.error().message();
}

TEST(Casync, OverHttpWithTheDefaultStoreAndChunkCache) {
  NEED_CASYNC(f);
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  Lighttpd server(f.dir / "site");
  ASSERT_TRUE(server.ok()) << server.error();
  TempDir cache;
  {
    auto src = open_casync(server.url("casync/indexes/blob.caibx"), std::nullopt, options(cache));
    ASSERT_TRUE(src.ok()) << src.error().message();
    expect_random_reads_match(**src, f.blob, 52, 30);
    EXPECT_NE((*src)->describe().find("store " + server.url("casync/chunks/")), std::string::npos) << (*src)->describe();
  }
  // Chunks fetched over http are cached by id: reading what was read before
  // works with the chunk store gone.
  Bytes first(1000);
  {
    auto src = open_casync(server.url("casync/indexes/blob.caibx"), std::nullopt, options(cache));
    ASSERT_TRUE(src.ok());
    expect_ok((*src)->read_at(0, first));
  }
  fs::rename(f.dir / "site/casync/chunks", f.dir / "site/casync/gone");
  auto src = open_casync(server.url("casync/indexes/blob.caibx"), std::nullopt, options(cache));
  ASSERT_TRUE(src.ok());
  Bytes again(1000);
  expect_ok((*src)->read_at(0, again));
  EXPECT_EQ(again, first);
}

} // namespace
} // namespace fastboop::test
