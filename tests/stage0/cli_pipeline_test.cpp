// fastboop-stage0 inspect/ls/cat/build over the artifact pipeline, end to
// end through the tool: pipeline hints appended by `fastboop-profile compile
// --optimize`, --local-artifact, --expect-sha512, the TTY-only progress line,
// and a layered .img.xz (xz -> Android sparse -> GPT -> ext4) served by
// lighttpd. Fixtures are made with the real tools (mke2fs -d, img2simg,
// sgdisk, mkfs.fat + mcopy, xz) from a small synthetic rootfs.
#include "../pipeline/http_harness.hpp"
#include "common/hash.hpp"
#include "stage0_fixtures.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace fastboop::stage0 {
namespace {

namespace fsys = std::filesystem;
using fastboop::test::read_file;
using fastboop::test::TempDir;

std::string text(const Bytes& b) { return std::string(as_chars(b)); }

std::string sha512_hex(const fsys::path& p) {
  auto d = sha512_file(p);
  EXPECT_TRUE(d) << d.error().message();
  return d->content_digest().substr(7);
}

std::uint64_t size_of(const fsys::path& p) { return fsys::file_size(p); }

// The tool with a private cache ($XDG_CACHE_HOME) and optional environment.
ProcessOutput stage0_tool(const fsys::path& cache, std::vector<std::string> args,
                          std::vector<std::string> env = {}) {
  std::vector<std::string> argv = {"env", "XDG_CACHE_HOME=" + cache.string(), "FASTBOOP_OFFLINE="};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(fastboop::test::tool_path("fastboop-stage0").string());
  argv.insert(argv.end(), args.begin(), args.end());
  return fastboop::test::run(argv);
}

ProcessOutput sh_ok(const std::string& script) {
  auto r = fastboop::test::sh("set -e; " + script);
  EXPECT_EQ(r.exit_code, 0) << script << "\n" << r.err << text(r.out);
  return r;
}

// A small rootfs: a kernel, its modules with modules.dep, a DTB directory,
// and a few MiB of incompressible data so that fetching everything costs.
class CliPipeline : public ::testing::Test {
protected:
  void SetUp() override {
    for (const char* p : {"mke2fs", "img2simg"})
      FASTBOOP_REQUIRE_PROGRAM(p);
    const auto root = tmp / "tree";
    test::put(root / "boot/vmlinuz-9.0", test::fake_arm64_image("9.0", 1 << 20));
    const auto m = root / "lib/modules/9.0";
    test::put(m / "modules.dep", "kernel/fs/overlay.ko:\nkernel/fs/erofs.ko: kernel/lib/lz4.ko\nkernel/lib/lz4.ko:\n");
    test::put(m / "modules.builtin", "");
    for (const char* k : {"kernel/fs/overlay.ko", "kernel/fs/erofs.ko", "kernel/lib/lz4.ko"})
      test::put(m / k, test::fake_module({}));
    test::put(root / "boot/dtbs/9.0/vendor/board.dtb", "not really a dtb");
    test::put(root / "usr/share/data/big.bin", fastboop::test::random_bytes(6u << 20, 7));
    sh_ok("mke2fs -q -F -t ext4 -b 4096 -d '" + root.string() + "' -E root_owner=0:0 '" + ext4().string() + "' 32M");
    sh_ok("img2simg '" + ext4().string() + "' '" + simg().string() + "'");
  }
  fsys::path ext4() const { return tmp / "root.ext4"; }
  fsys::path simg() const { return tmp / "root.simg"; }
  Bytes modules_dep() const { return read_file(tmp / "tree/lib/modules/9.0/modules.dep"); }

  ProcessOutput profile_tool(std::vector<std::string> args) {
    std::vector<std::string> argv = {"env", "XDG_CACHE_HOME=" + (tmp / "profile-cache").string(),
                                     fastboop::test::tool_path("fastboop-profile").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return fastboop::test::run(argv);
  }
  // Compile `manifest` to `out` (with --optimize: FBPHINT0 appended).
  void compile(const std::string& manifest, const fsys::path& out, bool optimize) {
    fastboop::test::write_file(tmp / "m.yaml", manifest);
    std::vector<std::string> args = {"compile", (tmp / "m.yaml").string(), "-o", out.string()};
    if (optimize)
      args.push_back("--optimize");
    auto r = profile_tool(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  TempDir tmp;
  TempDir cache;
};

// Offset of the last chunk header of a sparse image (walking the headers).
std::uint64_t last_chunk_header(const Bytes& s) {
  auto u16 = [&](std::size_t o) { return load_le<std::uint16_t>(&s[o]); };
  auto u32 = [&](std::size_t o) { return load_le<std::uint32_t>(&s[o]); };
  std::uint64_t off = u16(8), last = 0;
  const std::uint32_t chunks = u32(20);
  for (std::uint32_t i = 0; i < chunks; ++i) {
    last = off;
    off += u32(static_cast<std::size_t>(off) + 8);
  }
  return last;
}

TEST_F(CliPipeline, AppendedSparseIndexHintIsUsed) {
  const std::string manifest = "id: hinted\nrootfs:\n  ext4:\n    android_sparseimg:\n      file: " +
                               simg().string() + "\n";
  compile(manifest, tmp / "hinted.fbp", true);
  compile(manifest, tmp / "plain.fbp", false);
  ASSERT_GT(size_of(tmp / "hinted.fbp"), size_of(tmp / "plain.fbp")) << "--optimize appended no record";

  // Both read the intact image.
  for (const char* p : {"hinted.fbp", "plain.fbp"}) {
    auto r = stage0_tool(cache.path(), {"cat", (tmp / p).string(), "/lib/modules/9.0/modules.dep"});
    ASSERT_EQ(r.exit_code, 0) << p << ": " << r.err;
    EXPECT_EQ(r.out, modules_dep());
  }
  // Break the last chunk header: the scan fails on it, the hint never reads it.
  Bytes s = read_file(simg());
  const std::uint64_t at = last_chunk_header(s);
  s[at] = 0xAD;
  s[at + 1] = 0xDE;
  fastboop::test::write_file(simg(), s);
  auto plain = stage0_tool(cache.path(), {"cat", (tmp / "plain.fbp").string(), "/lib/modules/9.0/modules.dep"});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.err.find("android_sparseimg"), std::string::npos) << plain.err;
  auto hinted = stage0_tool(cache.path(), {"cat", (tmp / "hinted.fbp").string(), "/lib/modules/9.0/modules.dep"});
  ASSERT_EQ(hinted.exit_code, 0) << hinted.err;
  EXPECT_EQ(hinted.out, modules_dep());
  auto ls = stage0_tool(cache.path(), {"ls", (tmp / "hinted.fbp").string(), "/boot"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(text(ls.out).find("vmlinuz-9.0"), std::string::npos);
  // A damaged record is an error naming it, not silently ignored.
  Bytes h = read_file(tmp / "hinted.fbp");
  h.resize(h.size() - 3);
  fastboop::test::write_file(tmp / "cut.fbp", h);
  auto cut = stage0_tool(cache.path(), {"ls", (tmp / "cut.fbp").string(), "/boot"});
  EXPECT_NE(cut.exit_code, 0);
  EXPECT_NE(cut.err.find("FBBLKTB0"), std::string::npos) << cut.err; // the last record (issue 17)
}

TEST_F(CliPipeline, HintSparesTheChunkScanOverHttp) {
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  fastboop::test::Lighttpd server(tmp.path());
  ASSERT_TRUE(server.ok()) << server.error();
  // A pass-through proxy counts the requests each run makes.
  fastboop::test::FaultProxy proxy(server.port());
  const std::string manifest = "id: web\nrootfs:\n  ext4:\n    android_sparseimg:\n      source:\n        http: " +
                               proxy.url("root.simg") + "\n        content:\n          digest: sha512:" +
                               sha512_hex(simg()) + "\n          size_bytes: " + std::to_string(size_of(simg())) +
                               "\n";
  compile(manifest, tmp / "hinted.fbp", true);
  compile(manifest, tmp / "plain.fbp", false);
  auto requests = [&](const char* profile) {
    TempDir fresh; // each run starts with an empty cache
    const int before = proxy.requests();
    auto r = stage0_tool(fresh.path(), {"cat", (tmp / profile).string(), "/lib/modules/9.0/modules.dep"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, modules_dep());
    return proxy.requests() - before;
  };
  const int hinted = requests("hinted.fbp"), plain = requests("plain.fbp");
  EXPECT_GT(hinted, 0);
  EXPECT_LT(hinted, plain) << "the sparse index hint must spare the chunk-header scan";
}

TEST_F(CliPipeline, LocalArtifactServesAnUnreachableProfileOffline) {
  // Port 9 (discard) on loopback: nothing listens; offline mode never tries.
  const std::string manifest = "id: away\nrootfs:\n  ext4:\n    http: http://127.0.0.1:9/root.ext4\n"
                               "    content:\n      digest: sha512:" +
                               sha512_hex(ext4()) + "\n      size_bytes: " + std::to_string(size_of(ext4())) + "\n";
  compile(manifest, tmp / "away.fbp", false);
  auto with = stage0_tool(cache.path(), {"cat", (tmp / "away.fbp").string(), "/lib/modules/9.0/modules.dep",
                                         "--offline", "--local-artifact", ext4().string()});
  ASSERT_EQ(with.exit_code, 0) << with.err;
  EXPECT_EQ(with.out, modules_dep());
  auto insp = stage0_tool(cache.path(), {"inspect", (tmp / "away.fbp").string(), "--offline", "--local-artifact",
                                         (tmp / "root.simg").string(), "--local-artifact", ext4().string()});
  ASSERT_EQ(insp.exit_code, 0) << insp.err;
  EXPECT_NE(text(insp.out).find("local-artifact(" + fsys::canonical(ext4()).string()), std::string::npos)
      << text(insp.out);
  auto without = stage0_tool(cache.path(), {"cat", (tmp / "away.fbp").string(), "/lib/modules/9.0/modules.dep",
                                            "--offline"});
  EXPECT_NE(without.exit_code, 0);
  EXPECT_NE(without.err.find("offline mode"), std::string::npos) << without.err;
  EXPECT_NE(without.err.find("--local-artifact"), std::string::npos) << without.err;
  // FASTBOOP_OFFLINE=1 is the same switch.
  auto env = stage0_tool(cache.path(), {"ls", (tmp / "away.fbp").string(), "/"}, {"FASTBOOP_OFFLINE=1"});
  EXPECT_NE(env.exit_code, 0);
  EXPECT_NE(env.err.find("offline mode"), std::string::npos) << env.err;
  // A missing artifact file is a clear error.
  auto missing = stage0_tool(cache.path(), {"ls", (tmp / "away.fbp").string(), "/", "--offline",
                                            "--local-artifact", (tmp / "nope").string()});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("--local-artifact"), std::string::npos) << missing.err;
}

TEST_F(CliPipeline, ExpectSha512OnALocalFile) {
  const std::string good = sha512_hex(ext4());
  auto ok = stage0_tool(cache.path(), {"cat", ext4().string(), "/lib/modules/9.0/modules.dep", "--expect-sha512", good});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, modules_dep());
  std::string wrong = good;
  wrong[0] = wrong[0] == '0' ? '1' : '0';
  auto bad = stage0_tool(cache.path(), {"ls", ext4().string(), "/", "--expect-sha512", wrong});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_NE(bad.err.find("expected sha512:" + wrong), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("actual sha512:" + good), std::string::npos) << bad.err;
  for (const std::string& malformed : std::vector<std::string>{good.substr(1), "ABC", std::string(good).replace(5, 1, "F")}) {
    auto r = stage0_tool(cache.path(), {"inspect", ext4().string(), "--expect-sha512", malformed});
    EXPECT_EQ(r.exit_code, 2) << malformed << ": " << r.err;
    EXPECT_NE(r.err.find("--expect-sha512"), std::string::npos) << r.err;
  }
  // build takes it too.
  auto b = stage0_tool(cache.path(), {"build", ext4().string(), "--device-profile", "arrow-db410c", "-o",
                                      (tmp / "out").string(), "--stage0-init", (tmp / "init").string(),
                                      "--expect-sha512", wrong});
  EXPECT_NE(b.exit_code, 0);
  EXPECT_NE(b.err.find("actual sha512:" + good), std::string::npos) << b.err;
}

TEST_F(CliPipeline, ExpectSha512KeysTheHttpCacheAndVerifies) {
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  FASTBOOP_REQUIRE_PROGRAM("xz");
  // An http object is verified once it is complete. A small one (a single
  // fetch page, 256 KiB) is complete on the first read, so a wrong digest
  // shows at once; a big one only when read in full.
  sh_ok("cd '" + tmp.path().string() + "'; mkdir -p small/lib/modules/9.0 && cp tree/lib/modules/9.0/modules.dep "
        "small/lib/modules/9.0/ && mke2fs -q -F -t ext4 -d small small.ext4 2M && xz -0 -c small.ext4 > root.ext4.xz");
  ASSERT_LT(size_of(tmp / "root.ext4.xz"), 256u << 10);
  const std::string good = sha512_hex(tmp / "root.ext4.xz");
  std::string wrong = good;
  wrong[127] = wrong[127] == 'a' ? 'b' : 'a';
  {
    fastboop::test::Lighttpd server(tmp.path());
    ASSERT_TRUE(server.ok()) << server.error();
    const std::string url = server.url("root.ext4.xz");
    auto bad = stage0_tool(cache.path(), {"ls", url, "/", "--expect-sha512", wrong});
    // (the cache dir under the wrong digest never gets a verified marker)
    EXPECT_NE(bad.exit_code, 0);
    EXPECT_NE(bad.err.find("expected sha512:" + wrong), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find("actual sha512:" + good), std::string::npos) << bad.err;
    auto r = stage0_tool(cache.path(), {"cat", url, "/lib/modules/9.0/modules.dep", "--expect-sha512", good});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, modules_dep());
  }
  // Cached under the digest (and verified), so it works with the server gone.
  const auto store = cache.path() / "fastboop/http" /
                     (good + "-" + std::to_string(size_of(tmp / "root.ext4.xz")));
  EXPECT_TRUE(fsys::exists(store / "verified")) << store;
  auto again = stage0_tool(cache.path(), {"cat", "http://127.0.0.1:9/elsewhere.xz", "/lib/modules/9.0/modules.dep",
                                          "--expect-sha512", good, "--offline"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, modules_dep());
  // Without the digest there is no key: offline is a clear error.
  auto nokey = stage0_tool(cache.path(), {"ls", "http://127.0.0.1:9/elsewhere.xz", "/", "--offline"});
  EXPECT_NE(nokey.exit_code, 0);
  EXPECT_NE(nokey.err.find("offline mode"), std::string::npos) << nokey.err;
  // --local-artifact with the same digest stands in for the URL.
  TempDir empty_cache;
  auto local = stage0_tool(empty_cache.path(), {"ls", "http://127.0.0.1:9/x.xz", "/lib/modules/9.0", "--offline",
                                                "--expect-sha512", good, "--local-artifact",
                                                (tmp / "root.ext4.xz").string()});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_NE(text(local.out).find("modules.dep"), std::string::npos) << text(local.out);
}

// Issue 17: without a block-hash table, a digest the user gave means a
// whole, verified download. 32 MiB: listing / reads a few pages, so only the
// up-front check can notice a wrong digest; unchecked ranged reads happen only
// when asked for by name, with a warning.
TEST_F(CliPipeline, ExpectedDigestOfAUrlIsCheckedBeforeUseUnlessUnverifiedReadsAreAskedFor) {
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  const std::string good = sha512_hex(ext4());
  std::string wrong = good;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  fastboop::test::Lighttpd server(tmp.path());
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string url = server.url("root.ext4");
  auto strict = stage0_tool(cache.path(), {"ls", url, "/", "--expect-sha512", wrong});
  EXPECT_NE(strict.exit_code, 0);
  EXPECT_TRUE(strict.out.empty()) << text(strict.out);
  EXPECT_NE(strict.err.find("http(" + url + ")"), std::string::npos) << strict.err;
  EXPECT_NE(strict.err.find("expected sha512:" + wrong), std::string::npos) << strict.err;
  EXPECT_NE(strict.err.find("actual sha512:" + good), std::string::npos) << strict.err;
  // Asked for by name: the wrong digest goes unnoticed, and the warning says so.
  TempDir cache2;
  auto lazy = stage0_tool(cache2.path(), {"ls", url, "/", "--expect-sha512", wrong, "--unverified-ranged-reads"});
  EXPECT_EQ(lazy.exit_code, 0) << lazy.err;
  EXPECT_NE(lazy.err.find("--unverified-ranged-reads: its bytes are used before its SHA-512 is checked"),
            std::string::npos)
      << lazy.err;
  // --verify-download (what the CMake functions pass) is the same default.
  auto right = stage0_tool(cache.path(), {"ls", url, "/lib/modules/9.0", "--expect-sha512", good, "--verify-download"});
  ASSERT_EQ(right.exit_code, 0) << right.err;
  EXPECT_NE(text(right.out).find("modules.dep"), std::string::npos) << text(right.out);
  EXPECT_EQ(right.err.find("unverified"), std::string::npos) << right.err;
  EXPECT_TRUE(fsys::exists(cache.path() / "fastboop/http" / (good + "-" + std::to_string(size_of(ext4()))) /
                           "verified"));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"ls", url, "/", "--verify-download"},
        std::vector<std::string>{"ls", url, "/", "--expect-sha512", good, "--unverified-ranged-reads",
                                 "--verify-download"}}) {
    auto r = stage0_tool(cache.path(), args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--"), std::string::npos) << r.err;
  }
}

TEST_F(CliPipeline, ProgressLineOnlyOnATerminal) {
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  FASTBOOP_REQUIRE_PROGRAM("script");
  fastboop::test::Lighttpd server(tmp.path());
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string url = server.url("root.ext4");
  // Not a TTY (a pipe): no progress line, even with no delay.
  auto piped = stage0_tool(cache.path(), {"cat", url, "/usr/share/data/big.bin"}, {"FASTBOOP_PROGRESS_DELAY_MS=0"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.out, read_file(tmp / "tree/usr/share/data/big.bin"));
  EXPECT_EQ(piped.err.find("fetched"), std::string::npos) << piped.err;
  // Under a pseudo-terminal (script(1)) it shows the bytes fetched.
  TempDir fresh;
  const std::string cmd = "env XDG_CACHE_HOME=" + fresh.path().string() + " FASTBOOP_PROGRESS_DELAY_MS=0 " +
                          fastboop::test::tool_path("fastboop-stage0").string() + " ls " + url + " /usr/share/data";
  auto tty = fastboop::test::run({"script", "-q", "-e", "-c", cmd, "/dev/null"});
  ASSERT_EQ(tty.exit_code, 0) << tty.err << text(tty.out);
  EXPECT_NE(text(tty.out).find("fastboop: fetched"), std::string::npos) << text(tty.out);
  EXPECT_NE(text(tty.out).find("big.bin"), std::string::npos) << text(tty.out);
}

// xz (multi-block) -> Android sparse -> GPT (FAT boot + ext4 root) -> ext4,
// named .img.xz as distributions publish it; local and over lighttpd.
TEST_F(CliPipeline, LayeredImageInspectLsCat) {
  for (const char* p : {"sgdisk", "mkfs.fat", "mcopy", "xz"})
    FASTBOOP_REQUIRE_PROGRAM(p);
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  const std::string d = tmp.path().string();
  sh_ok("cd '" + d + "'; truncate -s 48M disk.img;"
        " sgdisk -n1:2048:+8M -c1:boot -t1:ef00 -n2:0:0 -c2:root -t2:8300 disk.img >/dev/null;"
        " mkfs.fat -C -n BOOT boot.vfat 8192 >/dev/null; mcopy -i boot.vfat tree/boot/vmlinuz-9.0 ::/vmlinuz;"
        " dd if=boot.vfat of=disk.img bs=512 seek=2048 conv=notrunc status=none;"
        " dd if=root.ext4 of=disk.img bs=512 seek=$((2048 + 8 * 2048)) conv=notrunc status=none;"
        " img2simg disk.img disk.simg; xz -T2 -0 --block-size=1MiB -c disk.simg > rootfs.img.xz");
  fastboop::test::Lighttpd server(tmp.path());
  ASSERT_TRUE(server.ok()) << server.error();
  for (const std::string& src : {tmp.path().string() + "/rootfs.img.xz", server.url("rootfs.img.xz")}) {
    SCOPED_TRACE(src);
    auto insp = stage0_tool(cache.path(), {"inspect", src, "--json"});
    ASSERT_EQ(insp.exit_code, 0) << insp.err;
    auto j = nlohmann::json::parse(text(insp.out));
    ASSERT_EQ(j["layers"].size(), 4u) << j.dump();
    EXPECT_EQ(j["layers"][0], "gpt[index=1,partlabel=root]");
    EXPECT_EQ(j["layers"][1], "android_sparseimg");
    EXPECT_EQ(j["layers"][2], "xz");
    EXPECT_NE(j["layers"][3].get<std::string>().find("rootfs.img.xz"), std::string::npos);
    EXPECT_EQ(j["filesystem"], "ext4");
    ASSERT_EQ(j["kernels"].size(), 1u) << j.dump();
    const auto& k = j["kernels"][0];
    EXPECT_EQ(k["version"], "9.0");
    EXPECT_EQ(k["modules_dir"], "/lib/modules/9.0");
    EXPECT_EQ(k["modules_dep"], true);
    EXPECT_EQ(k["image"], "/boot/vmlinuz-9.0") << k.dump();
    EXPECT_EQ(k["arch"], "aarch64") << k.dump();
    EXPECT_EQ(k["dtb_dirs"], nlohmann::json::array({"/boot/dtbs/9.0", "/boot/dtbs"}));
    auto cat = stage0_tool(cache.path(), {"cat", src, "/usr/share/data/big.bin"});
    ASSERT_EQ(cat.exit_code, 0) << cat.err;
    EXPECT_EQ(cat.out, read_file(tmp / "tree/usr/share/data/big.bin"));
    auto ls = stage0_tool(cache.path(), {"ls", src, "/lib/modules/9.0/kernel/fs"});
    ASSERT_EQ(ls.exit_code, 0) << ls.err;
    EXPECT_NE(text(ls.out).find("erofs.ko"), std::string::npos) << text(ls.out);
    EXPECT_NE(text(ls.out).find("overlay.ko"), std::string::npos) << text(ls.out);
  }
}

// Issue 17: `compile --optimize` appends block-hash tables; every block an
// http read fetches is then checked. Which blocks a read needs is taken from
// the page map a clean run leaves in its cache.
class CliBlockTables : public CliPipeline {
protected:
  void SetUp() override {
    CliPipeline::SetUp();
    if (IsSkipped())
      return;
    FASTBOOP_REQUIRE_PROGRAM("lighttpd");
    server = std::make_unique<fastboop::test::Lighttpd>(tmp.path());
    ASSERT_TRUE(server->ok()) << server->error();
    original = read_file(simg());
    const std::string manifest = "id: web\nrootfs:\n  ext4:\n    android_sparseimg:\n      source:\n        http: " +
                                 server->url("root.simg") + "\n        content:\n          digest: sha512:" +
                                 sha512_hex(simg()) + "\n          size_bytes: " +
                                 std::to_string(original.size()) + "\n";
    compile(manifest, tmp / "tables.fbp", true);
    compile(manifest, tmp / "plain.fbp", false);
  }
  ProcessOutput cat(const fsys::path& cache_dir, const char* profile) {
    return stage0_tool(cache_dir, {"cat", (tmp / profile).string(), "/lib/modules/9.0/modules.dep"});
  }
  fsys::path store(const fsys::path& cache_dir) const {
    return cache_dir / "fastboop/http" /
           (fastboop::sha512_hex(original) + "-" + std::to_string(original.size()));
  }
  Bytes page_map(const fsys::path& cache_dir) const { return read_file(store(cache_dir) / "pages-65536"); }
  void serve_with_flip(std::uint64_t offset) {
    Bytes bad = original;
    bad[offset] ^= 0xFF;
    fastboop::test::write_file(simg(), bad);
  }

  // After a read into `cache_dir`: the server flips a byte of a block that
  // read never fetched.
  void flip_a_block_never_read(const fsys::path& cache_dir) {
    Bytes map = page_map(cache_dir);
    map.resize(static_cast<std::size_t>((original.size() + 65535) / 65536), 0);
    const auto unread = std::find(map.begin(), map.end(), 0);
    ASSERT_NE(unread, map.end()) << "the read fetched every block";
    serve_with_flip(static_cast<std::uint64_t>(unread - map.begin()) * 65536 + 5);
  }

  std::unique_ptr<fastboop::test::Lighttpd> server;
  Bytes original;
};

TEST_F(CliBlockTables, ByteFlippedInANeededBlockFailsWithNoOutputAndNothingCached) {
  TempDir clean;
  auto ok_run = cat(clean.path(), "tables.fbp");
  ASSERT_EQ(ok_run.exit_code, 0) << ok_run.err;
  EXPECT_EQ(ok_run.out, modules_dep());
  const Bytes map = page_map(clean.path());
  const auto needed = std::find(map.begin(), map.end(), 2);
  ASSERT_NE(needed, map.end()) << "the read cached no checked block";
  EXPECT_EQ(std::count(map.begin(), map.end(), 1), 0) << "every cached block says it was checked";
  const std::uint64_t block = static_cast<std::uint64_t>(needed - map.begin());
  serve_with_flip(block * 65536 + 100);
  TempDir fresh;
  auto bad = cat(fresh.path(), "tables.fbp");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(bad.out.empty()) << "no output";
  EXPECT_NE(bad.err.find(server->url("root.simg")), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("artifact root.simg"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("bytes " + std::to_string(block * 65536) + "-"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("fetching it once more"), std::string::npos) << bad.err;
  if (fsys::exists(store(fresh.path()) / "pages-65536")) {
    const Bytes after = page_map(fresh.path());
    EXPECT_TRUE(after.size() <= block || after[block] == 0) << "the bad block is not cached";
  }
}

TEST_F(CliBlockTables, ByteFlippedInABlockNeverReadDoesNotMatter) {
  TempDir clean;
  ASSERT_EQ(cat(clean.path(), "tables.fbp").exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(flip_a_block_never_read(clean.path()));
  TempDir fresh;
  auto r = cat(fresh.path(), "tables.fbp");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, modules_dep());
  EXPECT_EQ(page_map(fresh.path()), page_map(clean.path())) << "the same blocks fetched";
}

TEST_F(CliBlockTables, TamperedTableIsRefused) {
  Bytes fbp = read_file(tmp / "tables.fbp");
  const std::string magic = "FBBLKTB0";
  const auto at = std::search(fbp.begin(), fbp.end(), magic.begin(), magic.end());
  ASSERT_NE(at, fbp.end());
  // Every block hash of the one table changed: whatever the read needs fails.
  for (auto p = at + 14 + 4 + 76; p < fbp.end(); p += 32)
    *p ^= 0x55;
  fastboop::test::write_file(tmp / "tampered.fbp", fbp);
  TempDir fresh;
  auto r = cat(fresh.path(), "tampered.fbp");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("do not match the profile's block-hash table"), std::string::npos) << r.err;
}

TEST_F(CliBlockTables, UpstreamProfileWithoutTablesWorksWithANote) {
  // The upstream layout: the profile alone, and the profile with its FBPHINT0.
  Bytes fbp = read_file(tmp / "tables.fbp");
  const std::string magic = "FBBLKTB0";
  fbp.erase(std::search(fbp.begin(), fbp.end(), magic.begin(), magic.end()), fbp.end());
  fastboop::test::write_file(tmp / "hints-only.fbp", fbp);
  for (const char* p : {"plain.fbp", "hints-only.fbp"}) {
    TempDir fresh;
    auto r = cat(fresh.path(), p);
    ASSERT_EQ(r.exit_code, 0) << p << ": " << r.err;
    EXPECT_EQ(r.out, modules_dep());
    EXPECT_NE(r.err.find("no block-hash tables"), std::string::npos) << p << ": " << r.err;
    EXPECT_NE(r.err.find("fetched whole and checked"), std::string::npos) << p << ": " << r.err;
    EXPECT_TRUE(fsys::exists(store(fresh.path()) / "verified")) << p << ": the whole object was checked";
  }
}

// Without a table, the profile's digest can be checked only on the whole
// object, so it is fetched whole and checked before a byte is used: a flip in
// a block the read never needs is still caught. The old behaviour (partial,
// unchecked reads) only by name, with a warning.
TEST_F(CliBlockTables, AProfileWithoutTablesIsCheckedWholeBeforeUse) {
  TempDir clean;
  ASSERT_EQ(cat(clean.path(), "tables.fbp").exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(flip_a_block_never_read(clean.path()));
  TempDir fresh;
  auto strict = cat(fresh.path(), "plain.fbp");
  EXPECT_NE(strict.exit_code, 0);
  EXPECT_TRUE(strict.out.empty()) << text(strict.out);
  EXPECT_NE(strict.err.find("sha512:" + fastboop::sha512_hex(original)), std::string::npos) << strict.err;
  EXPECT_FALSE(fsys::exists(store(fresh.path()) / "verified")) << "nothing wrong is filed as verified";
  TempDir lazy_cache;
  auto lazy = stage0_tool(lazy_cache.path(), {"cat", (tmp / "plain.fbp").string(), "/lib/modules/9.0/modules.dep",
                                              "--unverified-ranged-reads"});
  ASSERT_EQ(lazy.exit_code, 0) << lazy.err;
  EXPECT_EQ(lazy.out, modules_dep());
  EXPECT_NE(lazy.err.find("--unverified-ranged-reads: partial http reads are used before the profile's digests"),
            std::string::npos)
      << lazy.err;
}

TEST_F(CliBlockTables, ShowListsTheTables) {
  auto r = profile_tool({"show", (tmp / "tables.fbp").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(text(r.out).find("--- # block_hash_tables"), std::string::npos) << text(r.out);
  EXPECT_NE(text(r.out).find("block_size: 65536"), std::string::npos) << text(r.out);
}

} // namespace
} // namespace fastboop::stage0
