// Superblock-magic detection and open_filesystem() dispatch over real images.
#include "filesystems/open.hpp"
#include "pipeline/sources.hpp"
#include "sources.hpp"
#include "test_support.hpp"
#include "tree.hpp"

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using filesystems::FsKind;

TEST(OpenFilesystem, DetectsEachKindByMagic) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  FASTBOOP_REQUIRE_PROGRAM("mke2fs");
  FASTBOOP_REQUIRE_PROGRAM("mkfs.fat");
  FASTBOOP_REQUIRE_PROGRAM("xorriso");
  TempDir dir;
  fs::create_directories(dir / "t" / "boot");
  write_file(dir / "t" / "boot" / "vmlinuz", "kernel bytes\n");
  struct Case {
    std::string image;
    std::string cmd;
    FsKind kind;
    std::string_view name;
  } cases[] = {
      {"a.erofs", "mkfs.erofs --quiet -zlz4 IMG T", FsKind::Erofs, "erofs"},
      {"a.ext4", "mke2fs -q -F -t ext4 -d T IMG 8M", FsKind::Ext4, "ext4"},
      {"a.ext2", "mke2fs -q -F -t ext2 -d T IMG 8M", FsKind::Ext4, "ext4"},
      {"a.fat", "mkfs.fat -C IMG 4096 >/dev/null && MTOOLS_SKIP_CHECK=1 mcopy -s -i IMG T/boot ::/", FsKind::Fat, "fat"},
      {"a.iso", "xorriso -as mkisofs -quiet -R -o IMG T", FsKind::Iso9660, "iso9660"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.image);
    std::string cmd = c.cmd;
    std::string img = (dir / c.image).string();
    for (auto pos = cmd.find("IMG"); pos != std::string::npos; pos = cmd.find("IMG"))
      cmd.replace(pos, 3, "'" + img + "'");
    for (auto pos = cmd.find(" T"); pos != std::string::npos; pos = cmd.find(" T", pos + 1))
      if (pos + 2 == cmd.size() || cmd[pos + 2] == ' ' || cmd[pos + 2] == '/')
        cmd.replace(pos + 1, 1, "'" + (dir / "t").string() + "'");
    auto out = sh(cmd);
    ASSERT_EQ(out.exit_code, 0) << cmd << "\n" << out.err;
    auto source = FileSource::open(img);
    ASSERT_TRUE(source.ok());
    auto kind = filesystems::detect_filesystem(**source);
    ASSERT_TRUE(kind.ok()) << kind.error().message();
    ASSERT_TRUE(kind->has_value());
    EXPECT_EQ(filesystems::fs_kind_name(**kind), filesystems::fs_kind_name(c.kind));
    auto fs = filesystems::open_filesystem(std::move(source).value());
    ASSERT_TRUE(fs.ok()) << fs.error().message();
    EXPECT_EQ((*fs)->kind(), c.name);
    auto kernel = filesystems::read_file(**fs, "/boot/vmlinuz");
    ASSERT_TRUE(kernel.ok()) << kernel.error().message();
    EXPECT_EQ(as_chars(*kernel), "kernel bytes\n");
  }
}

TEST(OpenFilesystem, UnknownBytesAreAClearError) {
  auto fs = filesystems::open_filesystem(std::make_unique<MemorySource>(random_bytes(100000, 3)));
  ASSERT_FALSE(fs.ok());
  EXPECT_NE(fs.error().message().find("no known filesystem"), std::string::npos) << fs.error().message();
  auto tiny = filesystems::open_filesystem(std::make_unique<MemorySource>(Bytes(10, 0)));
  ASSERT_FALSE(tiny.ok());
  // Asking for a specific kind on the wrong bytes names that filesystem.
  auto wrong = filesystems::open_erofs(std::make_unique<MemorySource>(Bytes(8192, 0)));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("bad superblock magic"), std::string::npos)
      << wrong.error().message();
  auto wrong_ext4 = filesystems::open_ext4(std::make_unique<MemorySource>(Bytes(8192, 0)));
  ASSERT_FALSE(wrong_ext4.ok());
  EXPECT_NE(wrong_ext4.error().message().find("ext4: cannot open"), std::string::npos);
  auto wrong_fat = filesystems::open_fat(std::make_unique<MemorySource>(Bytes(8192, 0)));
  ASSERT_FALSE(wrong_fat.ok());
  EXPECT_NE(wrong_fat.error().message().find("fat: boot sector"), std::string::npos);
  auto wrong_iso = filesystems::open_iso9660(std::make_unique<MemorySource>(Bytes(65536, 0)));
  ASSERT_FALSE(wrong_iso.ok());
  EXPECT_NE(wrong_iso.error().message().find("iso9660"), std::string::npos);
}

// Issue 16 item 18: an EROFS error names the image file, not only the
// structure inside it.
TEST(OpenFilesystem, ErofsErrorsNameTheImageFile) {
  test::TempDir dir;
  Bytes image(8192, 0);
  // The EROFS magic at 1024 with an absurd block size (2^40).
  const std::uint8_t magic[4] = {0xe2, 0xe1, 0xf5, 0xe0};
  std::copy(magic, magic + 4, image.begin() + 1024);
  image[1024 + 12] = 40;
  test::write_file(dir / "broken-rootfs.erofs", image);
  auto source = pipeline::open_file_source((dir / "broken-rootfs.erofs").string());
  ASSERT_TRUE(source.ok()) << source.error().message();
  auto fs = filesystems::open_filesystem(std::move(*source));
  ASSERT_FALSE(fs.ok());
  EXPECT_NE(fs.error().message().find((dir / "broken-rootfs.erofs").string()), std::string::npos)
      << fs.error().message();
  EXPECT_NE(fs.error().message().find("block size"), std::string::npos) << fs.error().message();
}

} // namespace
} // namespace fastboop::test
