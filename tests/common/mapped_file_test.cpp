// MappedFile: an input mapped read-only notices writes made after it was
// opened (the pusher's digest is computed over the mapping, which follows the
// file).
#include "common/mapped_file.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <fstream>
#include <gmock/gmock.h>

namespace fastboop {
namespace {

using test::random_bytes;
using test::TempDir;
using test::write_file;
using ::testing::HasSubstr;

TEST(MappedFile, MapsTheBytesAndIsUnchangedUntilWritten) {
  TempDir dir;
  const auto path = dir / "boot.img";
  const auto bytes = random_bytes(100000, 1);
  write_file(path, bytes);
  auto image = MappedFile::open(path);
  ASSERT_TRUE(image) << image.error().message();
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), image->bytes().begin(), image->bytes().end()));
  EXPECT_TRUE(image->check_unchanged());
}

TEST(MappedFile, AWriteInPlaceIsNoticed) {
  TempDir dir;
  const auto path = dir / "boot.img";
  write_file(path, random_bytes(100000, 1));
  const auto before = std::filesystem::last_write_time(path);
  auto image = MappedFile::open(path);
  ASSERT_TRUE(image) << image.error().message();
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('x');
  }
  // Timestamps are coarse: make the write's mtime differ as it would later.
  std::filesystem::last_write_time(path, before + std::chrono::seconds(1));
  auto changed = image->check_unchanged();
  ASSERT_FALSE(changed);
  EXPECT_THAT(changed.error().message(), HasSubstr(path.string() + " was modified"));
}

TEST(MappedFile, TruncationIsNoticed) {
  TempDir dir;
  const auto path = dir / "boot.img";
  write_file(path, random_bytes(100000, 1));
  auto image = MappedFile::open(path);
  ASSERT_TRUE(image) << image.error().message();
  std::filesystem::resize_file(path, 50000);
  EXPECT_FALSE(image->check_unchanged());
}

TEST(MappedFile, ARebuildRenamedOverItIsNotAChange) {
  // The mapping keeps the old file's bytes, so those are still what was
  // checked and what is sent.
  TempDir dir;
  const auto path = dir / "boot.img";
  const auto bytes = random_bytes(100000, 1);
  write_file(path, bytes);
  auto image = MappedFile::open(path);
  ASSERT_TRUE(image) << image.error().message();
  write_file(dir / "new.img", random_bytes(100000, 2));
  std::filesystem::rename(dir / "new.img", path);
  EXPECT_TRUE(image->check_unchanged());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), image->bytes().begin(), image->bytes().end()));
}

TEST(MappedFile, ReadThroughHandsOverExactlyTheRangeInPieces) {
  // 600 KiB crosses the 256 KiB read chunk twice; the range starts and ends
  // off any chunk or page boundary.
  TempDir dir;
  const auto path = dir / "kernel";
  const auto bytes = random_bytes(600 * 1024, 3);
  write_file(path, bytes);
  for (Prefault prefault : {Prefault::Yes, Prefault::No}) {
    auto file = MappedFile::open(path, prefault);
    ASSERT_TRUE(file) << file.error().message();
    const ByteSpan part = file->bytes().subspan(1234, bytes.size() - 1234 - 77);
    EXPECT_TRUE(file->contains(part));
    std::vector<std::uint8_t> seen;
    int pieces = 0;
    auto r = file->read_through(part, [&](ByteSpan piece) {
      seen.insert(seen.end(), piece.begin(), piece.end());
      ++pieces;
    });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(pieces, 3);
    EXPECT_TRUE(std::equal(seen.begin(), seen.end(), bytes.begin() + 1234, bytes.end() - 77));
  }
}

TEST(MappedFile, ReadThroughRefusesForeignRangesAndNoticesTruncation) {
  TempDir dir;
  const auto path = dir / "ramdisk";
  write_file(path, random_bytes(300000, 4));
  auto file = MappedFile::open(path, Prefault::No);
  ASSERT_TRUE(file) << file.error().message();
  const std::vector<std::uint8_t> other(16);
  EXPECT_FALSE(file->contains(ByteSpan(other)));
  auto foreign = file->read_through(ByteSpan(other), [](ByteSpan) {});
  ASSERT_FALSE(foreign);
  EXPECT_THAT(foreign.error().message(), HasSubstr("outside " + path.string()));
  // Reading a truncated file through the mapping would be SIGBUS; pread
  // gives a clear error instead.
  std::filesystem::resize_file(path, 1000);
  auto cut = file->read_through(file->bytes(), [](ByteSpan) {});
  ASSERT_FALSE(cut);
  EXPECT_THAT(cut.error().message(), HasSubstr(path.string() + " became shorter"));
}

TEST(MappedFile, EmptyMapsToNothingAndMissingFilesAreErrors) {
  TempDir dir;
  write_file(dir / "empty.img", std::string_view());
  auto empty = MappedFile::open(dir / "empty.img");
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_TRUE(empty->check_unchanged());
  auto missing = MappedFile::open(dir / "missing.img");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message(), HasSubstr("missing.img"));
  auto directory = MappedFile::open(dir.path());
  ASSERT_FALSE(directory);
  EXPECT_THAT(directory.error().message(), HasSubstr("not a regular file"));
}

} // namespace
} // namespace fastboop
