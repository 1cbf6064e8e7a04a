// squashfs (libsquashfs) against images made by Debian's mksquashfs from the
// fixture tree, with every compressor Debian's squashfs-tools writes: the tree
// we read equals the fixture and what unsquashfs extracts from the same image.
#include "filesystems/open.hpp"
#include "sources.hpp"
#include "test_support.hpp"
#include "tree.hpp"

#include <gmock/gmock.h>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;

fs::path make_image(const std::string& comp) {
  const fs::path image = shared_dir() / ("tree-" + comp + ".squashfs");
  if (!fs::exists(image)) {
    auto out = run({"mksquashfs", posix_tree().string(), image.string(), "-comp", comp, "-noappend", "-no-progress",
                    "-quiet", "-b", "16384", "-mkfs-time", "0", "-all-time", "0", "-no-xattrs"});
    EXPECT_EQ(out.exit_code, 0) << out.err;
  }
  return image;
}

class SquashfsImages : public ::testing::TestWithParam<const char*> {};

TEST_P(SquashfsImages, ReadsBackIdenticalToTheTreeAndToUnsquashfs) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  FASTBOOP_REQUIRE_PROGRAM("unsquashfs");
  const auto image = make_image(GetParam());
  auto source = FileSource::open(image.string());
  ASSERT_TRUE(source.ok());
  auto squashfs = filesystems::open_filesystem(std::move(*source)); // detected by its magic
  ASSERT_TRUE(squashfs.ok()) << squashfs.error().message();
  EXPECT_EQ((*squashfs)->kind(), "squashfs");
  auto host = filesystems::open_host_directory(posix_tree().string());
  ASSERT_TRUE(host.ok());
  EXPECT_GT(expect_same_tree(**host, **squashfs, CompareMeta::All), 400u);

  TempDir dir;
  auto un = run({"unsquashfs", "-no-progress", "-quiet", "-d", (dir / "x").string(), image.string()});
  ASSERT_EQ(un.exit_code, 0) << un.err;
  auto extracted = filesystems::open_host_directory((dir / "x").string());
  ASSERT_TRUE(extracted.ok());
  expect_same_tree(**extracted, **squashfs, CompareMeta::All);
}

INSTANTIATE_TEST_SUITE_P(Compressors, SquashfsImages, ::testing::Values("gzip", "xz", "zstd", "lz4"),
                         [](const auto& param_info) { return std::string(param_info.param); });

// Debian's libsquashfs is built without LZO (mksquashfs still writes it):
// such an image is refused by name, or read like the others where supported.
TEST(Squashfs, LzoIsReadOrRefusedByName) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  auto source = FileSource::open(make_image("lzo").string());
  ASSERT_TRUE(source.ok());
  auto squashfs = filesystems::open_squashfs(std::move(*source));
  if (!squashfs.ok()) {
    EXPECT_THAT(squashfs.error().message(), ::testing::HasSubstr("compressor lzo is not supported"));
    return;
  }
  auto host = filesystems::open_host_directory(posix_tree().string());
  ASSERT_TRUE(host.ok());
  expect_same_tree(**host, **squashfs, CompareMeta::All);
}

TEST(SquashfsHostile, TruncatedAndCorruptImagesFailCleanly) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  const Bytes good = read_file(make_image("gzip"));
  ASSERT_GT(good.size(), 4096u);
  // Truncated: the tables at the end are gone.
  {
    auto fs = filesystems::open_squashfs(std::make_unique<MemorySource>(Bytes(good.begin(), good.begin() + 4096)));
    ASSERT_FALSE(fs.ok());
    EXPECT_THAT(fs.error().message(), ::testing::HasSubstr("squashfs"));
  }
  // Bad magic.
  {
    Bytes bad = good;
    bad[0] = 'x';
    auto fs = filesystems::open_squashfs(std::make_unique<MemorySource>(bad));
    ASSERT_FALSE(fs.ok());
    EXPECT_THAT(fs.error().message(), ::testing::HasSubstr("not a squashfs image"));
  }
  // Flipped bytes all over the metadata: every read either works or fails
  // with an error; nothing crashes or hangs (the fuzz target goes further).
  for (std::size_t at = 96; at < good.size(); at += good.size() / 37) {
    Bytes bad = good;
    bad[at] ^= 0x5a;
    auto fs = filesystems::open_squashfs(std::make_unique<MemorySource>(bad));
    if (!fs.ok())
      continue;
    auto listing = (*fs)->list((*fs)->root());
    (void)listing;
  }
}

// The fuzz campaign's out-of-memory (issue 24): libsquashfs sized the
// fragment table from the super block (300 million entries, 4.5 GiB) before
// reading it. Counts the image cannot hold are refused first.
TEST(SquashfsHostile, SuperBlockCountsBeyondTheImageAreRefusedBeforeAnyTable) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  const Bytes good = read_file(make_image("gzip"));
  auto patched = [&](std::size_t at, std::uint32_t value) {
    Bytes bad = good;
    for (int i = 0; i < 4; ++i)
      bad[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
    auto fs = filesystems::open_squashfs(std::make_unique<MemorySource>(bad));
    return fs.ok() ? std::string("ok") : fs.error().message();
  };
  EXPECT_THAT(patched(16, 0x12000001), ::testing::HasSubstr("claims 301989889 fragments for")); // fragment_entry_count
  EXPECT_THAT(patched(4, 0x7fffffff), ::testing::HasSubstr("inodes (limit"));                   // inode_count
  EXPECT_THAT(patched(40, 0xffffffff), ::testing::HasSubstr("bytes are used, the image has"));  // bytes_used
}

} // namespace
} // namespace fastboop::test
