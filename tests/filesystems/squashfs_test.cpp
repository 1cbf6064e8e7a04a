// squashfs (libsquashfs) against images made by Debian's mksquashfs from the
// fixture tree, with every compressor Debian's squashfs-tools writes: the tree
// we read equals the fixture and what unsquashfs extracts from the same image.
#include "filesystems/open.hpp"
#include "filesystems/walk.hpp"
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

// The campaign's next find (issue 24, CI run of stop 26): libsquashfs
// allocated an inode by its declared sizes, a symlink's 32-bit target size
// (4 GiB) or an extended file's 64-bit size (its block list), before
// reading the bytes. Both are checked before the library reads the inode.
TEST(SquashfsHostile, InodeSizesBeyondALimitAreRefusedBeforeTheLibraryAllocates) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  TempDir dir;
  const fs::path tree = dir / "tree";
  fs::create_directories(tree);
  fs::create_symlink("symlink-target-marker", tree / "link");
  write_file(tree / "big", Bytes(123457, 0x42));
  fs::create_hard_link(tree / "big", tree / "big2"); // two links: an extended file inode
  const fs::path image = dir / "img.squashfs";
  // -noI: the inode table uncompressed, so its fields can be patched in place.
  auto made = run({"mksquashfs", tree.string(), image.string(), "-noappend", "-no-progress", "-quiet", "-noI",
                   "-mkfs-time", "0", "-all-time", "0", "-no-xattrs"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const Bytes good = read_file(image);
  auto find = [&](ByteSpan needle) {
    auto it = std::search(good.begin(), good.end(), needle.begin(), needle.end());
    EXPECT_NE(it, good.end());
    return static_cast<std::size_t>(it - good.begin());
  };
  auto list_after = [&](std::size_t at, std::uint64_t value, int width) {
    Bytes bad = good;
    for (int i = 0; i < width; ++i)
      bad[at + i] = static_cast<std::uint8_t>(value >> (8 * i));
    auto fs = filesystems::open_squashfs(std::make_unique<MemorySource>(bad));
    if (!fs.ok())
      return fs.error().message();
    auto listing = (*fs)->list((*fs)->root());
    return listing.ok() ? std::string("ok") : listing.error().message();
  };
  // The unpatched image lists, so the patches below are what is refused.
  EXPECT_EQ(list_after(0, good[0], 1), "ok");
  const std::string marker = "symlink-target-marker";
  const std::size_t target = find(ByteSpan(reinterpret_cast<const std::uint8_t*>(marker.data()), marker.size()));
  EXPECT_THAT(list_after(target - 4, 0xFFFE0000u, 4),
              ::testing::HasSubstr("inode of 'link' is a symlink with a 4294836224-byte target (limit 4095)"));
  const std::uint8_t size[8] = {0x41, 0xe2, 0x01, 0, 0, 0, 0, 0}; // 123457
  EXPECT_THAT(list_after(find(size), std::uint64_t{1} << 60, 8),
              ::testing::HasSubstr("is a 1152921504606846976-byte file: its list of"));
}

// Issue 21: the superblock fields a hostile live ISO could carry. The
// superblock is read by libsquashfs and checked before anything is sized by it.
TEST(SquashfsHostile, BadCompressorIdAndAbsurdSizesFailCleanly) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  const Bytes good = read_file(make_image("gzip"));
  auto open_patched = [&](auto patch) {
    Bytes bad = good;
    patch(bad);
    return filesystems::open_squashfs(std::make_unique<MemorySource>(bad));
  };
  auto bad_compressor = open_patched([](Bytes& b) { store_le<std::uint16_t>(&b[20], 0x77); });
  ASSERT_FALSE(bad_compressor.ok());
  EXPECT_THAT(bad_compressor.error().message(), ::testing::HasSubstr("super block: unsupported feature"));
  // A 1 GiB block size (block_log agreeing): beyond the format's 1 MiB.
  auto huge_block = open_patched([](Bytes& b) {
    store_le<std::uint32_t>(&b[12], 1u << 30);
    store_le<std::uint16_t>(&b[22], 30);
  });
  ASSERT_FALSE(huge_block.ok());
  EXPECT_THAT(huge_block.error().message(), ::testing::HasSubstr("squashfs"));
  // bytes_used and the table offsets far past the end of the image.
  {
    auto cut = open_patched([&](Bytes& b) { store_le<std::uint64_t>(&b[40], good.size() + 1); });
    ASSERT_FALSE(cut.ok());
    EXPECT_THAT(cut.error().message(), ::testing::HasSubstr("the super block says " + std::to_string(good.size() + 1)));
  }
  for (std::size_t field : {40u, 48u, 64u, 72u, 80u}) {
    auto far = open_patched([&](Bytes& b) { store_le<std::uint64_t>(&b[field], ~std::uint64_t{0} >> 4); });
    ASSERT_FALSE(far.ok()) << "superblock field at " << field;
  }
  // 4 billion inodes and ids claimed: refused or bounded by what is actually read.
  auto many = open_patched([](Bytes& b) {
    store_le<std::uint32_t>(&b[4], 0xffffffffu);
    store_le<std::uint16_t>(&b[26], 0xffff);
  });
  if (many.ok()) {
    auto listing = (*many)->list((*many)->root());
    (void)listing;
  }
}

// A directory entry pointing back at the root: the walk stops with an error
// (a directory reached twice), never loops.
TEST(SquashfsHostile, DirectoryLoopIsAnErrorNotAHang) {
  FASTBOOP_REQUIRE_PROGRAM("mksquashfs");
  TempDir dir;
  fs::create_directories(dir / "tree/a/b");
  write_file(dir / "tree/a/b/file", "x");
  const fs::path image = dir / "loop.squashfs";
  // Uncompressed metadata, so the directory table can be patched in place.
  auto out = run({"mksquashfs", (dir / "tree").string(), image.string(), "-noI", "-noD", "-noF", "-noX", "-noappend",
                  "-no-progress", "-quiet", "-mkfs-time", "0", "-all-time", "0", "-no-xattrs"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  Bytes b = read_file(image);
  const std::uint64_t root_ref = load_le<std::uint64_t>(&b[32]);
  const std::uint64_t dir_table = load_le<std::uint64_t>(&b[72]);
  // The entry of "b" in a's listing: offset, inode_offset, type 1 (directory), name_size 0, "b".
  std::size_t at = 0;
  for (std::size_t i = static_cast<std::size_t>(dir_table); i + 9 <= b.size(); ++i)
    if (b[i + 8] == 'b' && load_le<std::uint16_t>(&b[i + 4]) == 1 && load_le<std::uint16_t>(&b[i + 6]) == 0) {
      at = i;
      break;
    }
  ASSERT_NE(at, 0u) << "no directory entry for b";
  ASSERT_EQ(root_ref >> 16, 0u) << "the fixture's inodes fit one metadata block";
  store_le<std::uint16_t>(&b[at], static_cast<std::uint16_t>(root_ref & 0xffff));
  auto squashfs = filesystems::open_squashfs(std::make_unique<MemorySource>(b));
  ASSERT_TRUE(squashfs.ok()) << squashfs.error().message();
  auto walked = filesystems::walk_tree(**squashfs, [](const filesystems::WalkItem&) { return ok(); });
  ASSERT_FALSE(walked.ok());
}

} // namespace
} // namespace fastboop::test
