// FAT12/16/32 reader against images made by mkfs.fat and filled by mcopy:
// long names, 8.3 names with NT lower-case bits, nested and multi-cluster
// directories, byte-identical contents.
#include "filesystems/open.hpp"
#include "filesystems/walk.hpp"
#include "sources.hpp"
#include "test_support.hpp"
#include "tree.hpp"

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using filesystems::open_fat;

fs::path make_fat(int bits) {
  fs::path image = shared_dir() / ("fat" + std::to_string(bits) + ".img");
  if (!fs::exists(image)) {
    // FAT32 needs 65525 clusters: one 512-byte sector each keeps the image at 34 MB.
    std::string kib = bits == 12 ? "8192" : bits == 16 ? "16384" : "34000";
    auto mk = run({"mkfs.fat", "-F", std::to_string(bits), "-s", bits == 12 ? "8" : "1", "-i", "12345678", "-n",
                   "FASTBOOP", "-C", image.string(), kib});
    EXPECT_EQ(mk.exit_code, 0) << mk.err;
    auto cp = sh("cd '" + fat_tree().string() + "' && MTOOLS_SKIP_CHECK=1 mcopy -s -i '" + image.string() + "' * ::/");
    EXPECT_EQ(cp.exit_code, 0) << cp.err;
  }
  return image;
}

class FatImages : public ::testing::TestWithParam<int> {};

TEST_P(FatImages, ReadsBackIdenticalToTree) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.fat");
  FASTBOOP_REQUIRE_PROGRAM("mcopy");
  auto image = make_fat(GetParam());
  auto fat = open_fat(FileSource::open(image.string()).value());
  ASSERT_TRUE(fat.ok()) << fat.error().message();
  auto host = filesystems::open_host_directory(fat_tree().string());
  ASSERT_TRUE(host.ok());
  EXPECT_GT(expect_same_tree(**host, **fat, CompareMeta::ContentsOnly), 150u);
  // FAT names are case-insensitive: the exact name wins, otherwise any case matches.
  auto efi = filesystems::read_file(**fat, "/efi/boot/bootaa64.efi");
  ASSERT_TRUE(efi.ok()) << efi.error().message();
  EXPECT_EQ(efi->size(), 70000u);
  auto readme = filesystems::read_file(**fat, "readme.txt");
  ASSERT_TRUE(readme.ok()) << readme.error().message();
  // And auto-detection finds FAT.
  auto detected = filesystems::open_filesystem(FileSource::open(image.string()).value());
  ASSERT_TRUE(detected.ok()) << detected.error().message();
  EXPECT_EQ((*detected)->kind(), "fat");
}

INSTANTIATE_TEST_SUITE_P(MkfsFat, FatImages, ::testing::Values(12, 16, 32),
                         [](const ::testing::TestParamInfo<int>& p) { return "fat" + std::to_string(p.param); });

std::string walk_error(Bytes data) {
  auto fat = open_fat(std::make_unique<MemorySource>(std::move(data)));
  if (!fat.ok())
    return fat.error().message();
  auto walked = filesystems::walk_tree(**fat, [&](const filesystems::WalkItem& item) -> Result<void> {
    if (item.stat.type == filesystems::FileType::Regular) {
      Bytes buf(item.stat.size);
      TRY((*fat)->read(item.node, 0, buf));
    }
    return ok();
  });
  return walked.ok() ? "ok" : walked.error().message();
}

TEST(FatHostile, BadBootSectorAndTruncation) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.fat");
  FASTBOOP_REQUIRE_PROGRAM("mcopy");
  Bytes img = read_file(make_fat(16));
  EXPECT_EQ(walk_error(img), "ok");
  Bytes bad = img;
  bad[510] = 0;
  EXPECT_NE(walk_error(bad).find("0x55AA"), std::string::npos) << walk_error(bad);
  bad = img;
  bad[13] = 3; // sectors per cluster
  EXPECT_NE(walk_error(bad).find("sectors per cluster 3"), std::string::npos) << walk_error(bad);
  std::string cut = walk_error(Bytes(img.begin(), img.begin() + 400000));
  EXPECT_NE(cut.find("past the end of the image"), std::string::npos) << cut;
}

TEST(FatHostile, LoopingChainsAndDirectoryCycles) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.fat");
  FASTBOOP_REQUIRE_PROGRAM("mcopy");
  Bytes img = read_file(make_fat(32));
  std::uint32_t bps = load_le<std::uint16_t>(img.data() + 11);
  std::uint32_t spc = img[13];
  std::uint32_t rsvd = load_le<std::uint16_t>(img.data() + 14);
  std::uint32_t nfats = img[16];
  std::uint32_t fatsz = load_le<std::uint32_t>(img.data() + 36);
  std::uint32_t root_cluster = load_le<std::uint32_t>(img.data() + 44);
  std::uint64_t fat_off = std::uint64_t{rsvd} * bps;
  std::uint64_t data_off = (rsvd + std::uint64_t{nfats} * fatsz) * bps;
  std::uint64_t root_off = data_off + std::uint64_t{root_cluster - 2} * spc * bps;

  // Every chain points back at its own start: a loop, reported, not followed forever.
  Bytes looped = img;
  for (std::uint32_t c = 3; c < 5000; ++c)
    store_le<std::uint32_t>(looped.data() + fat_off + c * 4, c);
  std::string e = walk_error(looped);
  EXPECT_NE(e.find("loop"), std::string::npos) << e;

  // Point the "deep" directory entry back at the root directory.
  Bytes cyclic = img;
  bool patched = false;
  for (std::uint64_t off = root_off; off < root_off + spc * bps; off += 32) {
    if (std::memcmp(cyclic.data() + off, "DEEP       ", 11) == 0) {
      store_le<std::uint16_t>(cyclic.data() + off + 20, static_cast<std::uint16_t>(root_cluster >> 16));
      store_le<std::uint16_t>(cyclic.data() + off + 26, static_cast<std::uint16_t>(root_cluster));
      patched = true;
    }
  }
  ASSERT_TRUE(patched);
  e = walk_error(cyclic);
  EXPECT_NE(e.find("directory cycle"), std::string::npos) << e;
}

} // namespace
} // namespace fastboop::test
