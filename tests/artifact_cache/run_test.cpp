// `fastboop-cache run`'s library: identities as GNU stat prints them, the key
// material, a generation inserted then served as a hit (outputs, depfile,
// stamp, digest records), a failed command, a corrupt entry, the settled-file
// rule of the digest memo, and the statistics. cmake.machinery and
// cmake.remote_cache check it end to end through the CMake functions.
#include "artifact_cache/memo.hpp"
#include "artifact_cache/run.hpp"
#include "artifact_cache/store.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <gmock/gmock.h>
#include <thread>

namespace fastboop::artifact_cache {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;
using ::testing::HasSubstr;

// A stage0-like generation: OUTPUT_DIR gets "kernel" (the rootfs's bytes)
// and "stage0.cpio"; every run of the command appends a line to `count`.
struct Fixture {
  TempDir tmp;
  fs::path cache = tmp / "cache";
  fs::path rootfs = tmp / "src" / "root fs.img"; // a space: escaped in the depfile
  fs::path keydir = tmp / "src" / "keys";
  fs::path count = tmp / "count";

  Fixture() {
    write_file(rootfs, std::string_view("rootfs bytes"));
    write_file(keydir / "b.txt", std::string_view("second"));
    write_file(keydir / "a.txt", std::string_view("first"));
  }

  RunRequest request(const std::string& build = "build") const {
    RunRequest r;
    r.cache_dir = cache.string();
    r.kind = "stage0";
    r.key_files = {rootfs.string()};
    r.key_dirs = {keydir.string()};
    r.key_text = "device=x|root=/dev/sda";
    r.output_dir = (tmp / build / "out").string();
    r.stamp = (tmp / build / "out.stamp").string();
    r.depfile = (tmp / build / "out.d").string();
    r.depfile_target = "out.stamp";
    r.memo_dir = (tmp / build / "memo").string();
    r.command = {"sh",
                 "-c",
                 "cp \"$1\" \"$2/kernel\" && printf cpio > \"$2/stage0.cpio\" && "
                 "printf '%s: %s\\n' \"$2/kernel\" \"$1\" > \"$3\" && echo run >> \"$4\"",
                 "sh",
                 rootfs.string(),
                 r.output_dir,
                 r.depfile,
                 count.string()};
    return r;
  }
  int runs() const {
    return fs::exists(count) ? static_cast<int>(test::read_text(count).size() / 4) : 0;
  }
};

Result<RunOutcome> run(const RunRequest& r) {
  Counters c;
  return run_cached(r, nullptr, c);
}

TEST(CacheIdentity, IsWhatGnuStatPrints) {
  TempDir tmp;
  write_file(tmp / "f", std::string_view("x"));
  const std::string cmd = "stat -L -c %d-%i-%s-%.9Y-%.9Z '" + (tmp / "f").string() + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[256] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, p), nullptr);
  ::pclose(p);
  std::string expected = buf;
  expected.erase(expected.find_last_not_of('\n') + 1);
  EXPECT_EQ(file_identity((tmp / "f").string()), expected);
  EXPECT_FALSE(file_identity((tmp / "missing").string()));
}

// The layout every cache entry is keyed with (format v2: SHA-256 digests; v1
// had SHA-512 ones, so no v1 key is ever computed again).
TEST(CacheKey, MaterialKeepsTheV2Layout) {
  const std::string d1(64, 'a'), d2(64, 'b');
  const std::string material =
      key_material("bootimg", "dev|quiet", {{"/t/tool", "/", d1}, {"/s/kernel", "kernel", d2}});
  EXPECT_EQ(material, "fastboop-cache-v2\nbootimg\ndev;quiet\n" + d1 + "\nkernel " + d2 + "\n");
  EXPECT_EQ(cache_key("bootimg", "dev|quiet", {{"/t/tool", "/", d1}, {"/s/kernel", "kernel", d2}}),
            sha256_hex(as_bytes(material)));
}

// A record an older fastboop wrote (a SHA-512) is not read as a digest.
TEST(CacheMemo, ARecordOfAnotherDigestLengthIsIgnored) {
  test::TempDir tmp;
  const std::string dir = (tmp / "memo").string();
  record_digest(dir, "1-2-3-4.000000000-5.000000000", "/f", std::string(128, 'a'));
  EXPECT_FALSE(recorded_digest({dir}, "1-2-3-4.000000000-5.000000000"));
  record_digest(dir, "1-2-3-4.000000000-5.000000000", "/f", std::string(64, 'a'));
  EXPECT_EQ(recorded_digest({dir}, "1-2-3-4.000000000-5.000000000"), std::string(64, 'a'));
}

TEST(CacheRun, GeneratesOnceThenServesAHitInAnotherBuildTree) {
  Fixture f;
  auto first = run(f.request("A"));
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->served, Served::Generated);
  EXPECT_EQ(f.runs(), 1);
  // The command's depfile names the edge's output.
  EXPECT_THAT(test::read_text(f.tmp / "A" / "out.d"), ::testing::StartsWith("out.stamp: "));

  auto second = run(f.request("B"));
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(second->served, Served::LocalHit);
  EXPECT_EQ(second->key, first->key);
  EXPECT_EQ(f.runs(), 1);
  EXPECT_EQ(test::read_text(f.tmp / "B" / "out" / "kernel"), "rootfs bytes");
  EXPECT_EQ(test::read_text(f.tmp / "B" / "out" / "stage0.cpio"), "cpio");
  EXPECT_TRUE(fs::exists(f.tmp / "B" / "out.stamp"));
  // The depfile the tool would have written: every key input, escaped.
  const std::string dep = test::read_text(f.tmp / "B" / "out.d");
  EXPECT_THAT(dep, HasSubstr("root\\ fs.img"));
  EXPECT_THAT(dep, HasSubstr((f.keydir / "a.txt").string()));
  // The placed files are recorded in the build tree's memo (the boot.img key reads them).
  const fs::path placed = f.tmp / "B" / "out" / "kernel";
  EXPECT_EQ(recorded_digest({(f.tmp / "B" / "memo").string()}, *file_identity(placed.string())),
            cache_digest("rootfs bytes"));
  // No staging directory is left anywhere.
  for (const auto& e : fs::recursive_directory_iterator(f.tmp.path()))
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr("tmp-")));
}

TEST(CacheRun, ServesOutputFilesIntoPlace) {
  Fixture f;
  RunRequest r = f.request();
  r.output_dir.clear();
  const fs::path img = f.tmp / "img" / "boot.img";
  r.outputs = {img.string(), img.string() + ".json"};
  r.command = {"sh", "-c", "printf img > \"$1\" && printf json > \"$1.json\"", "sh", img.string()};
  auto first = run(r);
  ASSERT_TRUE(first) << first.error().message();
  ASSERT_EQ(first->served, Served::Generated);
  fs::remove_all(f.tmp / "img");
  auto hit = run(r);
  ASSERT_TRUE(hit) << hit.error().message();
  EXPECT_EQ(hit->served, Served::LocalHit);
  EXPECT_EQ(test::read_text(img), "img");
  EXPECT_EQ(test::read_text(img.string() + ".json"), "json");
}

TEST(CacheRun, AChangedInputIsANewKey) {
  Fixture f;
  const auto a = run(f.request());
  write_file(f.keydir / "a.txt", std::string_view("FIRST"));
  const auto b = run(f.request());
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->key, b->key);
  EXPECT_EQ(b->served, Served::Generated);
  EXPECT_EQ(f.runs(), 2);
}

TEST(CacheRun, AFailedCommandFailsAndStoresNothing) {
  Fixture f;
  RunRequest r = f.request();
  r.command = {"sh", "-c", "exit 3"};
  auto out = run(r);
  ASSERT_FALSE(out);
  EXPECT_THAT(out.error().message(), HasSubstr("sh failed (exit 3) while generating stage0"));
  EXPECT_FALSE(fs::exists(f.cache / "stage0") && !fs::is_empty(f.cache / "stage0"));
  EXPECT_FALSE(fs::exists(r.stamp));
}

TEST(CacheRun, ACorruptEntryIsRegeneratedAndReplaced) {
  Fixture f;
  const auto first = run(f.request("A"));
  ASSERT_TRUE(first);
  const fs::path stored = f.cache / "stage0" / first->key / "kernel";
  write_file(stored, std::string_view("evil bytes!!")); // same size, new ctime
  testing::internal::CaptureStderr();
  auto again = run(f.request("B"));
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->served, Served::Generated);
  EXPECT_THAT(err, HasSubstr("is corrupt; regenerating"));
  EXPECT_EQ(test::read_text(f.tmp / "B" / "out" / "kernel"), "rootfs bytes");
  EXPECT_EQ(test::read_text(stored), "rootfs bytes");
  EXPECT_EQ(run(f.request("C"))->served, Served::LocalHit);
}

TEST(CacheRun, WithoutACacheTheCommandJustRuns) {
  Fixture f;
  RunRequest r = f.request();
  r.cache_dir.clear();
  ASSERT_EQ(run(r)->served, Served::Uncached);
  ASSERT_EQ(run(r)->served, Served::Uncached);
  EXPECT_EQ(f.runs(), 2);
  EXPECT_THAT(test::read_text(r.depfile), ::testing::StartsWith("out.stamp: "));
  EXPECT_TRUE(fs::exists(r.stamp));
}

// Digest memo: an input is recorded only once its ctime is older than the
// timestamp granularity, so a rewrite after the stat can never share the
// identity the record is filed under.
TEST(CacheMemo, RecordsAnInputOnlyOnceItHasSettled) {
  Fixture f;
  const std::string id = *file_identity(f.rootfs.string());
  ASSERT_FALSE(identity_settled(id) && id.find(".000000000") != std::string::npos)
      << "this test needs sub-second timestamps";
  ASSERT_TRUE(run(f.request()));
  const std::vector<std::string> shared{(f.cache / "digests").string()};
  if (!identity_settled(id)) {
    EXPECT_FALSE(recorded_digest(shared, id)) << "recorded before settling";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  ASSERT_TRUE(identity_settled(id));
  ASSERT_TRUE(run(f.request()));
  EXPECT_EQ(recorded_digest(shared, id), cache_digest("rootfs bytes"));
}

TEST(CacheStats, RunsAddUpInTheCache) {
  Fixture f;
  Counters c;
  ASSERT_TRUE(run_cached(f.request("A"), nullptr, c));
  ASSERT_TRUE(run_cached(f.request("B"), nullptr, c));
  EXPECT_EQ(c.misses, 1u);
  EXPECT_EQ(c.local_hits, 1u);
  ASSERT_TRUE(zero_stats(f.cache.string()));
  add_to_stats(f.cache.string(), c);
  add_to_stats(f.cache.string(), c);
  const Counters sum = read_stats(f.cache.string());
  EXPECT_EQ(sum.misses, 2u);
  EXPECT_EQ(sum.local_hits, 2u);
  EXPECT_THAT(format_stats(sum), HasSubstr("local hits       2\n"));
  ASSERT_TRUE(zero_stats(f.cache.string()));
  EXPECT_EQ(read_stats(f.cache.string()).local_hits, 0u);
}

} // namespace
} // namespace fastboop::artifact_cache
