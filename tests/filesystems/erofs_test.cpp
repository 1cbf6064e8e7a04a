// EROFS reader against images made by Debian's mkfs.erofs from a fixture
// tree: every layout and compressor the tool can produce must read back
// byte-identical to the tree.
#include "filesystems/open.hpp"
#include "filesystems/walk.hpp"
#include "sources.hpp"
#include "test_support.hpp"
#include "tree.hpp"

#include <random>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using filesystems::open_erofs;

Bytes crc32c_le(Bytes data) { // test-local reference: bitwise CRC32C, seed ~0, no final xor
  std::uint32_t crc = 0xFFFFFFFF;
  for (auto b : data) {
    crc ^= b;
    for (int k = 0; k < 8; ++k)
      crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  Bytes out(4);
  store_le<std::uint32_t>(out.data(), crc);
  return out;
}

fs::path make_image(const std::string& name, const std::vector<std::string>& options) {
  fs::path image = shared_dir() / (name + ".erofs");
  if (!fs::exists(image)) {
    std::vector<std::string> argv{"mkfs.erofs", "--quiet", "-T0", "-U6661626f-6f70-4000-8000-000000000001"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(image.string());
    argv.push_back(posix_tree().string());
    auto out = run(argv);
    EXPECT_EQ(out.exit_code, 0) << out.err;
  }
  return image;
}

struct Variant {
  const char* name;
  std::vector<std::string> options;
};

class ErofsImages : public ::testing::TestWithParam<Variant> {};

TEST_P(ErofsImages, ReadsBackIdenticalToTree) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  auto image = make_image(GetParam().name, GetParam().options);
  auto source = FileSource::open(image.string());
  ASSERT_TRUE(source.ok());
  auto erofs = open_erofs(std::move(*source));
  ASSERT_TRUE(erofs.ok()) << erofs.error().message();
  auto host = filesystems::open_host_directory(posix_tree().string());
  ASSERT_TRUE(host.ok());
  std::size_t nodes = expect_same_tree(**host, **erofs, CompareMeta::All);
  EXPECT_GT(nodes, 400u);

  // Hard links share one inode; paths resolve through symlinks inside the image.
  auto h1 = filesystems::resolve_path(**erofs, "/hard1");
  auto h2 = filesystems::resolve_path(**erofs, "hard2");
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_EQ(*h1, *h2);
  auto leaf = filesystems::read_file(**erofs, "/link_dir/c/../c/d/e/f/leaf.txt");
  ASSERT_TRUE(leaf.ok()) << leaf.error().message();
  EXPECT_EQ(as_chars(*leaf), "deep leaf\n");
  // "../../../../etc/passwd" stops at the image root, which has no etc/.
  auto escape = filesystems::resolve_path(**erofs, "/a/link_escape");
  ASSERT_FALSE(escape.ok());
  EXPECT_NE(escape.error().message().find("'etc' not found"), std::string::npos) << escape.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    MkfsErofs, ErofsImages,
    ::testing::Values(Variant{"plain", {}}, Variant{"noinline", {"-Enoinline_data"}},
                      Variant{"compact_inodes", {"-Eforce-inode-compact"}},
                      Variant{"extended_inodes", {"-Eforce-inode-extended"}},
                      Variant{"chunked_blockmap", {"--chunksize=8192", "-Eforce-inode-blockmap"}},
                      Variant{"chunked_indexes", {"--chunksize=4096", "-Eforce-chunk-indexes"}},
                      Variant{"lz4", {"-zlz4"}}, Variant{"lz4hc", {"-zlz4hc"}},
                      Variant{"lz4_legacy", {"-zlz4", "-Elegacy-compress"}},
                      Variant{"lz4hc_big_pcluster", {"-zlz4hc", "-C65536"}},
                      Variant{"lz4hc_big_pcluster_legacy", {"-zlz4hc", "-C16384", "-Elegacy-compress"}},
                      Variant{"lz4hc_ztailpacking", {"-zlz4hc", "-Eztailpacking"}},
                      Variant{"lz4_big_ztailpacking", {"-zlz4", "-C32768", "-Eztailpacking"}}),
    // Not "-Eztailpacking -Enoinline_data": erofs-utils 1.5 then writes small
    // files as plain inodes pointing at zeroed blocks (its own fsck.erofs
    // extracts zeros too), so there is no correct answer to compare with.
    [](const ::testing::TestParamInfo<Variant>& p) { return std::string(p.param.name); });

TEST(Erofs, LzmaWhenMkfsSupportsIt) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  auto help = run({"mkfs.erofs", "--help"});
  if (std::string(as_chars(help.out)).find("lzma") == std::string::npos &&
      help.err.find("lzma") == std::string::npos)
    GTEST_SKIP() << "this mkfs.erofs was built without lzma (Debian 12's erofs-utils 1.5 is)";
  auto image = make_image("lzma", {"-zlzma"});
  auto erofs = open_erofs(FileSource::open(image.string()).value());
  ASSERT_TRUE(erofs.ok()) << erofs.error().message();
  auto host = filesystems::open_host_directory(posix_tree().string());
  expect_same_tree(**host, **erofs, CompareMeta::All);
}

Bytes image_bytes(const std::string& name, const std::vector<std::string>& options) {
  return read_file(make_image(name, options));
}

std::string open_error(Bytes data) {
  auto r = open_erofs(std::make_unique<MemorySource>(std::move(data)));
  return r.ok() ? std::string("opened") : r.error().message();
}

// Opens and walks the image, reading every file; the first error or "ok".
std::string walk_error(Bytes data) {
  auto erofs = open_erofs(std::make_unique<MemorySource>(std::move(data)));
  if (!erofs.ok())
    return erofs.error().message();
  auto walked = filesystems::walk_tree(**erofs, [&](const filesystems::WalkItem& item) -> Result<void> {
    if (item.stat.type == filesystems::FileType::Regular && item.stat.size < (16u << 20)) {
      Bytes buf(item.stat.size);
      TRY((*erofs)->read(item.node, 0, buf));
    }
    if (item.stat.type == filesystems::FileType::Symlink)
      TRY((*erofs)->read_link(item.node));
    return ok();
  });
  return walked.ok() ? "ok" : walked.error().message();
}

TEST(ErofsHostile, BadMagicAndTruncation) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  Bytes img = image_bytes("plain", {});
  EXPECT_EQ(walk_error(img), "ok");
  Bytes bad = img;
  bad[1024] ^= 0xff;
  EXPECT_NE(walk_error(bad).find("bad superblock magic"), std::string::npos) << walk_error(bad);
  EXPECT_NE(walk_error(Bytes(img.begin(), img.begin() + 1100)).find("too small"), std::string::npos);
  for (std::size_t keep : {img.size() - 1, img.size() - 5000, img.size() / 2, std::size_t{5000}}) {
    std::string e = walk_error(Bytes(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(keep)));
    EXPECT_NE(e.find("past the end of the image"), std::string::npos) << keep << ": " << e;
    EXPECT_NE(e.find("erofs"), std::string::npos) << e;
  }
}

TEST(ErofsHostile, ChecksumAndUnknownFeatureNamed) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  Bytes img = image_bytes("plain", {});
  ASSERT_EQ(load_le<std::uint32_t>(img.data() + 1024 + 8) & 1, 1u) << "mkfs.erofs sets SB_CHKSUM by default";
  Bytes bad = img;
  bad[1024 + 80] |= 0x20; // fragments: not produced by Debian 12, reported by name
  EXPECT_NE(open_error(bad).find("checksum mismatch"), std::string::npos) << open_error(bad);
  Bytes block(bad.begin() + 1024, bad.begin() + 4096);
  store_le<std::uint32_t>(block.data() + 4, 0);
  Bytes crc = crc32c_le(block);
  std::copy(crc.begin(), crc.end(), bad.begin() + 1028);
  EXPECT_NE(open_error(bad).find("unsupported incompatible feature 'fragments/dedupe'"), std::string::npos)
      << open_error(bad);
}

TEST(ErofsHostile, CorruptMetadataFailsCleanly) {
  // Flip bytes across inodes, directories and compressed indexes: every
  // outcome must be an error or a clean walk, never a crash or a hang.
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  for (const auto& [name, options] : {Variant{"plain", {}}, Variant{"lz4hc", {"-zlz4hc"}}}) {
    Bytes img = image_bytes(name, options);
    std::uint64_t meta = std::uint64_t{load_le<std::uint32_t>(img.data() + 1024 + 40)} << img[1024 + 12];
    std::uint64_t root_pos = meta + load_le<std::uint16_t>(img.data() + 1024 + 14) * 32ull;
    std::uint64_t span = std::min<std::uint64_t>(img.size() - root_pos, 128 * 1024);
    std::mt19937 rng(7);
    int errors = 0;
    for (int round = 0; round < 15; ++round) {
      Bytes bad = img;
      for (int k = 0; k < 6; ++k)
        bad[root_pos + rng() % span] ^= static_cast<std::uint8_t>(1 + rng() % 255);
      std::string e = walk_error(std::move(bad));
      if (e != "ok") {
        ++errors;
        EXPECT_NE(e.find("erofs"), std::string::npos) << e;
      }
    }
    EXPECT_GT(errors, 0) << name;
  }
}

} // namespace
} // namespace fastboop::test
