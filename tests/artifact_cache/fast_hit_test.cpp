// fastboop-cache-hit's library: argument screening, identities as GNU stat
// prints them, the key material, and serving (or declining) a recorded hit.
// cmake.machinery checks it end to end against FastboopCacheRun.cmake.
#include "artifact_cache/fast_hit.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>
#include <sstream>

namespace fastboop::artifact_cache {
namespace {

namespace fs = std::filesystem;
using test::TempDir;
using test::write_file;
using ::testing::HasSubstr;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string digest_of(const fs::path& p) {
  return sha512_hex(as_bytes(slurp(p)));
}

void record(const fs::path& memo, const fs::path& file, const std::string& digest) {
  fs::create_directories(memo);
  write_file(memo / *file_identity(file.string()), digest + " " + file.string() + "\n");
}

// A cache holding one stage0-like entry for a rootfs file plus a key directory,
// with every digest recorded, as FastboopCacheRun.cmake leaves it.
struct Fixture {
  TempDir tmp;
  fs::path cache = tmp / "cache";
  fs::path memo = tmp / "build" / "memo";
  fs::path rootfs = tmp / "src" / "root fs.img"; // a space: escaped in the depfile
  fs::path keydir = tmp / "src" / "keys";
  std::string key;
  fs::path entry;

  Fixture() {
    write_file(rootfs, std::string_view("rootfs bytes"));
    write_file(keydir / "b.txt", std::string_view("second"));
    write_file(keydir / "a.txt", std::string_view("first"));
    for (const auto& f : {rootfs, keydir / "a.txt", keydir / "b.txt"})
      record(cache / "digests", f, digest_of(f));
    const std::string material =
        key_material("stage0", "device=x|root=/dev/sda",
                     {{rootfs.string(), "/", digest_of(rootfs)},
                      {(keydir / "a.txt").string(), "a.txt", digest_of(keydir / "a.txt")},
                      {(keydir / "b.txt").string(), "b.txt", digest_of(keydir / "b.txt")}});
    key = sha512_hex(as_bytes(material)).substr(0, 64);
    entry = cache / "stage0" / key;
    write_file(entry / "kernel", std::string_view("kernel bytes"));
    write_file(entry / "stage0.cpio", std::string_view("cpio bytes"));
    write_file(entry / "manifest.txt", digest_of(entry / "kernel") + " kernel\n" +
                                           digest_of(entry / "stage0.cpio") + " stage0.cpio\n");
    for (const auto& n : {"kernel", "stage0.cpio"})
      record(cache / "digests", entry / n, digest_of(entry / n));
  }

  HitRequest request() const {
    HitRequest r;
    r.cache_dir = cache.string();
    r.kind = "stage0";
    r.key_files = rootfs.string();
    r.key_dirs = keydir.string();
    r.key_text = "device=x|root=/dev/sda";
    r.output_dir = (tmp / "build" / "out").string();
    r.stamp = (tmp / "build" / "out.stamp").string();
    r.depfile = (tmp / "build" / "out.d").string();
    r.depfile_target = "out.stamp";
    r.memo_dir = memo.string();
    return r;
  }
};

TEST(FastHitArguments, TakesTheFunctionsCommandLine) {
  auto r = parse_hit_arguments({"/usr/bin/cmake", "-DFASTBOOP_CACHE_DIR=/c", "-DKIND=bootimg",
                                "-DMEMO_DIR=/m", "-DKEY_FILES=/t/fastboop-bootimg",
                                "-DKEY_DIRS=/b/s0", "-DKEY_TEXT=dev|",
                                "-DOUTPUTS=/b/boot.img|/b/boot.img.json", "-DDEPFILE=/b/boot.img.d",
                                "-DDEPFILE_TARGET=boot.img", "-P", "/m/FastboopCacheRun.cmake",
                                "--", "/t/fastboop-bootimg", "-DNOT_OURS=1", "odd value "});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->cache_dir, "/c");
  EXPECT_EQ(r->kind, "bootimg");
  EXPECT_EQ(r->key_text, "dev|");
  EXPECT_EQ(r->outputs, "/b/boot.img|/b/boot.img.json");
  EXPECT_EQ(r->depfile_target, "boot.img");
  EXPECT_EQ(r->memo_dir, "/m");
}

TEST(FastHitArguments, LeavesAnythingUnusualToCMake) {
  const std::vector<std::string> base = {"cmake", "-DFASTBOOP_CACHE_DIR=/c", "-DKIND=stage0",
                                         "-DOUTPUT_DIR=/o"};
  auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return parse_hit_arguments(args);
  };
  EXPECT_TRUE(with({"-P", "FastboopCacheRun.cmake"}));
  EXPECT_FALSE(with({"-DOTHER=1", "-P", "FastboopCacheRun.cmake"}));            // unknown variable
  EXPECT_FALSE(with({"-DKEY_TEXT=a;b", "-P", "FastboopCacheRun.cmake"}));       // a CMake list
  EXPECT_FALSE(with({"-DKEY_TEXT=trailing ", "-P", "FastboopCacheRun.cmake"})); // CMake strips it
  EXPECT_FALSE(with({"-DKEY_TEXT='quoted'", "-P", "FastboopCacheRun.cmake"}));  // CMake unquotes it
  EXPECT_FALSE(with({"-P", "Other.cmake"}));                                    // not our script
  EXPECT_FALSE(with({}));                                                       // no script at all
  EXPECT_FALSE(
      parse_hit_arguments({"cmake", "-DFASTBOOP_CACHE_DIR=", "-DKIND=stage0", "-DOUTPUT_DIR=/o",
                           "-P", "FastboopCacheRun.cmake"})); // no cache
}

TEST(FastHitIdentity, IsWhatGnuStatPrints) {
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

TEST(FastHitKey, MaterialMatchesTheScriptsLayout) {
  const std::string d1(128, 'a'), d2(128, 'b');
  EXPECT_EQ(
      key_material("bootimg", "dev|quiet", {{"/t/tool", "/", d1}, {"/s/kernel", "kernel", d2}}),
      "fastboop-cache-v1\nbootimg\ndev;quiet\n" + d1 + "\nkernel " + d2 + "\n");
}

TEST(FastHit, ServesARecordedHitIntoAnOutputDirectory) {
  Fixture fx;
  const HitRequest r = fx.request();
  fs::create_directories(fs::path(r.output_dir));
  write_file(fs::path(r.output_dir) / "stale", std::string_view("from an earlier build"));
  auto key = serve_recorded_hit(r);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(*key, fx.key);
  const fs::path out = r.output_dir;
  EXPECT_EQ(slurp(out / "kernel"), "kernel bytes");
  EXPECT_EQ(slurp(out / "stage0.cpio"), "cpio bytes");
  EXPECT_FALSE(fs::exists(out / "stale")); // the directory is the entry, nothing else
  EXPECT_TRUE(fs::exists(r.stamp));
  EXPECT_EQ(slurp(r.depfile), "out.stamp: \\\n  " + std::string(fx.tmp.path().string()) +
                                  "/src/root\\ fs.img \\\n  " + (fx.keydir / "a.txt").string() +
                                  " \\\n  " + (fx.keydir / "b.txt").string() + "\n");
  // The placed files are recorded for the boot.img key in this build tree.
  const std::string rec = slurp(fx.memo / *file_identity((out / "kernel").string()));
  EXPECT_EQ(rec, digest_of(out / "kernel") + " " + (out / "kernel").string() + "\n");
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr("fastboop-tmp")));
}

TEST(FastHit, ServesOutputFilesAndLeavesNoStage) {
  Fixture fx;
  HitRequest r = fx.request();
  const fs::path dir = fx.tmp / "build" / "img";
  r.output_dir.clear();
  r.outputs = (dir / "kernel").string() + "|" + (dir / "stage0.cpio").string();
  auto key = serve_recorded_hit(r);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(slurp(dir / "kernel"), "kernel bytes");
  EXPECT_EQ(slurp(dir / "stage0.cpio"), "cpio bytes");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);
  // An entry that lacks one of the outputs is not a hit.
  r.outputs += "|" + (dir / "extra").string();
  EXPECT_FALSE(serve_recorded_hit(r));
}

TEST(FastHit, DeclinesWithoutARecordedInputDigest) {
  Fixture fx;
  write_file(fx.rootfs, std::string_view("rootfs bytez")); // same size, new identity
  auto key = serve_recorded_hit(fx.request());
  ASSERT_FALSE(key);
  EXPECT_THAT(key.error().message(), HasSubstr("no recorded digest for " + fx.rootfs.string()));
  EXPECT_FALSE(fs::exists(fx.request().output_dir));
  EXPECT_FALSE(fs::exists(fx.request().stamp));
}

TEST(FastHit, DeclinesAStoredFileThatNoLongerMatchesItsRecord) {
  Fixture fx;
  write_file(fx.entry / "kernel",
             std::string_view("kernel bytez")); // corrupt entry: CMake re-verifies it
  auto key = serve_recorded_hit(fx.request());
  ASSERT_FALSE(key);
  EXPECT_THAT(key.error().message(),
              HasSubstr("kernel has no recorded digest matching the manifest"));
  EXPECT_FALSE(fs::exists(fx.request().output_dir));
}

TEST(FastHit, DeclinesKeyDirectoriesThatAreNotFlatFiles) {
  {
    Fixture fx;
    write_file(fx.keydir / ".hidden", std::string_view("h"));
    EXPECT_FALSE(serve_recorded_hit(fx.request()));
  }
  {
    Fixture fx;
    fs::create_directories(fx.keydir / "sub");
    EXPECT_FALSE(serve_recorded_hit(fx.request()));
  }
  {
    Fixture fx;
    fs::create_symlink(fx.keydir / "a.txt", fx.keydir / "c.txt");
    EXPECT_FALSE(serve_recorded_hit(fx.request()));
  }
}

TEST(FastHit, DeclinesAMissingEntryOrAnOddManifest) {
  {
    Fixture fx;
    HitRequest r = fx.request();
    r.key_text = "device=y|root=/dev/sda"; // another key
    auto key = serve_recorded_hit(r);
    ASSERT_FALSE(key);
    EXPECT_THAT(key.error().message(), HasSubstr("no entry"));
  }
  {
    Fixture fx;
    write_file(fx.entry / "manifest.txt", digest_of(fx.entry / "kernel") + " ../kernel\n");
    EXPECT_FALSE(serve_recorded_hit(fx.request()));
  }
}

} // namespace
} // namespace fastboop::artifact_cache
