// The smoo host serves only verified blocks when its source has block-hash
// tables (issue 17): ServedRootfs reads through the same pipeline as
// fastboop-stage0, so a compiled profile's tables check every block the
// phone's reads fetch, in the first reader and in every replica.
#include "../pipeline/http_harness.hpp"
#include "common/hash.hpp"
#include "smoo/rootfs.hpp"
#include "test_support.hpp"

#include <cstdlib>
#include <gmock/gmock.h>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;
constexpr std::uint64_t kBlock = 64u << 10;

class SmooVerifiedSource : public ::testing::Test {
protected:
  void SetUp() override {
    for (const char* p : {"mke2fs", "lighttpd"})
      FASTBOOP_REQUIRE_PROGRAM(p);
    write_file(tmp / "tree/data.bin", random_bytes(3u << 20, 9));
    auto mk = sh("mke2fs -q -F -t ext4 -b 4096 -d '" + (tmp / "tree").string() + "' -E root_owner=0:0 '" +
                 (tmp / "root.ext4").string() + "' 8M");
    ASSERT_EQ(mk.exit_code, 0) << mk.err;
    original = read_file(tmp / "root.ext4");
    server = std::make_unique<Lighttpd>(tmp.path());
    ASSERT_TRUE(server->ok()) << server->error();
    write_file(tmp / "m.yaml", "id: served\nrootfs:\n  ext4:\n    http: " + server->url("root.ext4") +
                                   "\n    content:\n      digest: sha512:" + sha512_hex(original) +
                                   "\n      size_bytes: " + std::to_string(original.size()) + "\n");
    auto c = run({"env", "XDG_CACHE_HOME=" + (tmp / "profile-cache").string(),
                  tool_path("fastboop-profile").string(), "compile", (tmp / "m.yaml").string(), "--optimize", "-o",
                  (tmp / "tables.fbp").string()});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    ::setenv("XDG_CACHE_HOME", cache.path().c_str(), 1);
  }
  void TearDown() override { ::unsetenv("XDG_CACHE_HOME"); }

  TempDir tmp;
  TempDir cache;
  Bytes original;
  std::unique_ptr<Lighttpd> server;
};

TEST_F(SmooVerifiedSource, ABadBlockIsNeverServedByAnyReader) {
  // One byte changed, far from the superblock: opening still works.
  const std::uint64_t bad_block = 100;
  Bytes served = original;
  served[bad_block * kBlock + 17] ^= 0xFF;
  write_file(tmp / "root.ext4", served);
  auto rootfs = smoo::ServedRootfs::open((tmp / "tables.fbp").string(),
                                         stage0::SourceOptions{.network = pipeline::NetworkMode::Online});
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message();
  auto replica = rootfs->serve_options().open_replica();
  ASSERT_TRUE(replica.ok()) << replica.error().message();
  for (pipeline::BlockSource* reader : {&rootfs->image(), replica->get()}) {
    Bytes good(kBlock);
    ASSERT_TRUE(reader->read_at(3 * kBlock, good).ok());
    EXPECT_TRUE(std::equal(good.begin(), good.end(), original.begin() + 3 * kBlock));
    Bytes bad(4096);
    auto r = reader->read_at(bad_block * kBlock, bad);
    ASSERT_FALSE(r.ok()) << "a block that fails its table must not be served";
    EXPECT_THAT(r.error().message(), HasSubstr("do not match the profile's block-hash table"));
    EXPECT_THAT(r.error().message(), HasSubstr(server->url("root.ext4")));
  }
}

TEST_F(SmooVerifiedSource, IntactSourceServesTheSameBytes) {
  auto rootfs = smoo::ServedRootfs::open((tmp / "tables.fbp").string(),
                                         stage0::SourceOptions{.network = pipeline::NetworkMode::Online});
  ASSERT_TRUE(rootfs.ok()) << rootfs.error().message();
  Bytes got(original.size());
  ASSERT_TRUE(rootfs->image().read_at(0, got).ok());
  EXPECT_EQ(got, original);
}

} // namespace
} // namespace fastboop::test
