// ISO 9660 through libarchive over a BlockSource, against images made by
// xorriso (Rock Ridge + Joliet, and plain Joliet).
#include "filesystems/open.hpp"
#include "filesystems/walk.hpp"
#include "sources.hpp"
#include "test_support.hpp"
#include "tree.hpp"

#include <gmock/gmock.h>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using filesystems::open_iso9660;

fs::path make_iso(const std::string& name, const std::vector<std::string>& options, const fs::path& tree) {
  fs::path image = shared_dir() / (name + ".iso");
  if (!fs::exists(image)) {
    std::vector<std::string> argv{"xorriso", "-as", "mkisofs", "-quiet", "-V", "FASTBOOP"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("-o");
    argv.push_back(image.string());
    argv.push_back(tree.string());
    auto out = run(argv);
    EXPECT_EQ(out.exit_code, 0) << out.err;
  }
  return image;
}

TEST(Iso9660, RockRidgeReadsBackIdenticalToTree) {
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  auto image = make_iso("rockridge", {"-R", "-J"}, posix_tree());
  auto iso = open_iso9660(FileSource::open(image.string()).value());
  ASSERT_TRUE(iso.ok()) << iso.error().message();
  auto host = filesystems::open_host_directory(posix_tree().string());
  ASSERT_TRUE(host.ok());
  // libarchive 3.6.2 drops the '/' between components when a Rock Ridge
  // symlink spans several SL entries (bsdtar shows the same; xorriso reads it
  // right), so the 300-byte /link_long target is not compared here.
  EXPECT_GT(expect_same_tree(**host, **iso, CompareMeta::All, {"/link_long"}), 400u);
  auto leaf = filesystems::read_file(**iso, "/link_dir/c/d/e/f/leaf.txt");
  ASSERT_TRUE(leaf.ok()) << leaf.error().message();
  EXPECT_EQ(as_chars(*leaf), "deep leaf\n");
  // Reads in small sequential pieces continue the open stream; a backwards read re-opens it.
  auto node = filesystems::resolve_path(**iso, "/big/random_1M");
  ASSERT_TRUE(node.ok());
  Bytes whole = read_file(posix_tree() / "big" / "random_1M");
  Bytes piece(100000);
  for (std::uint64_t off : {0ull, 100000ull, 900000ull, 500ull}) {
    ASSERT_TRUE((*iso)->read(*node, off, piece).ok());
    EXPECT_TRUE(std::equal(piece.begin(), piece.end(), whole.begin() + static_cast<std::ptrdiff_t>(off))) << off;
  }
  auto detected = filesystems::open_filesystem(FileSource::open(image.string()).value());
  ASSERT_TRUE(detected.ok()) << detected.error().message();
  EXPECT_EQ((*detected)->kind(), "iso9660");
}

TEST(Iso9660, JolietOnlyNamesAndContents) {
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  auto image = make_iso("joliet", {"-J", "-joliet-long"}, fat_tree());
  auto iso = open_iso9660(FileSource::open(image.string()).value());
  ASSERT_TRUE(iso.ok()) << iso.error().message();
  auto host = filesystems::open_host_directory(fat_tree().string());
  EXPECT_GT(expect_same_tree(**host, **iso, CompareMeta::ContentsOnly), 150u);
}

TEST(Iso9660Hostile, TruncatedAndCorrupt) {
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  Bytes img = read_file(make_iso("rockridge", {"-R", "-J"}, posix_tree()));
  auto open_err = [](Bytes data) {
    auto r = open_iso9660(std::make_unique<MemorySource>(std::move(data)));
    if (!r.ok())
      return r.error().message();
    auto walked = filesystems::walk_tree(**r, [&](const filesystems::WalkItem& item) -> Result<void> {
      if (item.stat.type == filesystems::FileType::Regular) {
        Bytes buf(item.stat.size);
        TRY((*r)->read(item.node, 0, buf));
      }
      return ok();
    });
    return walked.ok() ? std::string("ok") : walked.error().message();
  };
  EXPECT_NE(open_err(Bytes(img.begin(), img.begin() + 40000)).find("iso9660"), std::string::npos);
  std::string half = open_err(Bytes(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(img.size() / 2)));
  EXPECT_NE(half, "ok");
  EXPECT_NE(half.find("iso9660"), std::string::npos) << half;
  Bytes bad = img;
  std::memset(bad.data() + 16 * 2048, 0, 2048); // primary volume descriptor
  EXPECT_NE(open_err(bad).find("iso9660"), std::string::npos) << open_err(bad);
}

// The fuzz campaign's out-of-memory (issue 24): a root directory record
// claiming 4 GiB made libarchive allocate 4 GiB before reading it. The walk
// in front of libarchive refuses it, naming the block and the claim.
TEST(Iso9660Hostile, DirectoryClaimingFourGiBIsRefusedBeforeAnyAllocation) {
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  Bytes img = read_file(make_iso("rockridge", {"-R", "-J"}, posix_tree()));
  const std::size_t root_size = 16 * 2048 + 156 + 10; // both-endian 32-bit data length
  for (std::size_t i = 0; i < 8; ++i)
    img[root_size + i] = 0xff;
  auto r = open_iso9660(std::make_unique<MemorySource>(std::move(img)));
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), ::testing::HasSubstr("claims 4294967295 bytes, past the end of the image"));
}

// A subdirectory whose record points back at the root: the walk visits each
// extent once and ends.
TEST(Iso9660Hostile, DirectoryLoopEnds) {
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  Bytes img = read_file(make_iso("rockridge", {"-R", "-J"}, posix_tree()));
  auto le32 = [&](std::size_t at) {
    return std::uint32_t(img[at]) | std::uint32_t(img[at + 1]) << 8 | std::uint32_t(img[at + 2]) << 16 |
           std::uint32_t(img[at + 3]) << 24;
  };
  const std::uint32_t root_extent = le32(16 * 2048 + 156 + 2);
  // The root's first subdirectory record gets the root's extent.
  std::size_t p = std::size_t(root_extent) * 2048;
  bool patched = false;
  for (std::size_t end = p + 2048; p < end && img[p] != 0; p += img[p])
    if ((img[p + 25] & 2) && !(img[p + 32] == 1 && img[p + 33] <= 1)) {
      for (int i = 0; i < 4; ++i) {
        img[p + 2 + i] = static_cast<std::uint8_t>(root_extent >> (8 * i));
        img[p + 9 - i] = static_cast<std::uint8_t>(root_extent >> (8 * i));
      }
      patched = true;
      break;
    }
  ASSERT_TRUE(patched);
  auto r = open_iso9660(std::make_unique<MemorySource>(std::move(img)));
  if (!r.ok()) {
    EXPECT_THAT(r.error().message(), ::testing::HasSubstr("iso9660"));
  }
}

} // namespace
} // namespace fastboop::test
