// ext4 through libext2fs and our io_manager, against images made by
// `mke2fs -d` from the fixture tree: extents, block maps (ext2), inline data,
// htree directories, 64-bit, fast and slow symlinks.
#include "filesystems/open.hpp"
#include "filesystems/walk.hpp"
#include "sources.hpp"
#include "test_support.hpp"
#include "tree.hpp"

#include <random>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using filesystems::open_ext4;

struct Variant {
  const char* name;
  std::vector<std::string> options;
  bool htree = false; // rebuild directories as htree with e2fsck -D
};

fs::path make_ext4(const Variant& v) {
  fs::path image = shared_dir() / (std::string(v.name) + ".ext4");
  if (!fs::exists(image)) {
    std::vector<std::string> argv{"mke2fs", "-q", "-F", "-E", "root_owner=0:0",
                                  "-U", "6661626f-6f70-4000-8000-000000000002", "-d", posix_tree().string()};
    argv.insert(argv.end(), v.options.begin(), v.options.end());
    argv.push_back(image.string());
    argv.push_back("64M");
    auto out = run(argv);
    EXPECT_EQ(out.exit_code, 0) << out.err;
    if (v.htree) {
      auto fsck = run({"e2fsck", "-fyD", image.string()});
      EXPECT_LE(fsck.exit_code, 1) << fsck.err; // 1: "errors corrected" = directories optimised
    }
  }
  return image;
}

class Ext4Images : public ::testing::TestWithParam<Variant> {};

TEST_P(Ext4Images, ReadsBackIdenticalToTree) {
  FASTBOOP_REQUIRE_PROGRAM("mke2fs");
  FASTBOOP_REQUIRE_PROGRAM("e2fsck");
  FASTBOOP_REQUIRE_PROGRAM("debugfs");
  auto image = make_ext4(GetParam());
  if (GetParam().htree) {
    // Make sure the fixture really has an indexed directory.
    auto st = run({"debugfs", "-R", "stat /many", image.string()});
    EXPECT_NE(std::string(as_chars(st.out)).find("Flags: 0x81000"), std::string::npos)
        << std::string(as_chars(st.out));
  }
  auto ext4 = open_ext4(FileSource::open(image.string()).value());
  ASSERT_TRUE(ext4.ok()) << ext4.error().message();
  EXPECT_EQ((*ext4)->kind(), "ext4");
  auto host = filesystems::open_host_directory(posix_tree().string());
  ASSERT_TRUE(host.ok());
  // lost+found exists only in the image.
  auto lf = filesystems::try_resolve_path(**ext4, "/lost+found");
  ASSERT_TRUE(lf.ok());
  EXPECT_TRUE(lf->has_value());
  struct WithoutLostFound final : filesystems::Filesystem {
    filesystems::Filesystem& inner;
    explicit WithoutLostFound(filesystems::Filesystem& f) : inner(f) {}
    std::string_view kind() const override { return inner.kind(); }
    filesystems::NodeId root() const override { return inner.root(); }
    Result<filesystems::FileStat> stat(filesystems::NodeId n) override { return inner.stat(n); }
    Result<std::optional<filesystems::DirEntry>> lookup(filesystems::NodeId d, std::string_view n) override {
      return inner.lookup(d, n);
    }
    Result<std::vector<filesystems::DirEntry>> list(filesystems::NodeId d) override {
      auto entries = TRY(inner.list(d));
      if (d == inner.root())
        std::erase_if(entries, [](const auto& e) { return e.name == "lost+found"; });
      return entries;
    }
    Result<void> read(filesystems::NodeId f, std::uint64_t o, std::span<std::uint8_t> out) override {
      return inner.read(f, o, out);
    }
    Result<std::string> read_link(filesystems::NodeId n) override { return inner.read_link(n); }
  } view(**ext4);
  EXPECT_GT(expect_same_tree(**host, view, CompareMeta::All), 400u);

  auto h1 = filesystems::resolve_path(**ext4, "/hard1");
  auto h2 = filesystems::resolve_path(**ext4, "/hard2");
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_EQ(*h1, *h2);
  auto leaf = filesystems::read_file(**ext4, "/link_dir/c/d/e/f/leaf.txt");
  ASSERT_TRUE(leaf.ok()) << leaf.error().message();
  EXPECT_EQ(as_chars(*leaf), "deep leaf\n");
}

INSTANTIATE_TEST_SUITE_P(
    Mke2fs, Ext4Images,
    ::testing::Values(Variant{"ext4", {"-t", "ext4"}},
                      Variant{"ext4_64bit_1k", {"-t", "ext4", "-O", "64bit", "-b", "1024"}},
                      Variant{"ext4_inline_data", {"-t", "ext4", "-O", "inline_data", "-I", "512"}},
                      Variant{"ext4_htree", {"-t", "ext4"}, true},
                      Variant{"ext2_blockmap", {"-t", "ext2"}}),
    [](const ::testing::TestParamInfo<Variant>& p) { return std::string(p.param.name); });

std::string walk_error(Bytes data) {
  auto ext4 = open_ext4(std::make_unique<MemorySource>(std::move(data)));
  if (!ext4.ok())
    return ext4.error().message();
  auto walked = filesystems::walk_tree(**ext4, [&](const filesystems::WalkItem& item) -> Result<void> {
    if (item.stat.type == filesystems::FileType::Regular && item.stat.size < (16u << 20)) {
      Bytes buf(item.stat.size);
      TRY((*ext4)->read(item.node, 0, buf));
    }
    if (item.stat.type == filesystems::FileType::Symlink)
      TRY((*ext4)->read_link(item.node));
    return ok();
  });
  return walked.ok() ? "ok" : walked.error().message();
}

TEST(Ext4Hostile, CorruptAndTruncatedImagesFailCleanly) {
  FASTBOOP_REQUIRE_PROGRAM("mke2fs");
  Bytes img = read_file(make_ext4(Variant{"ext4", {"-t", "ext4"}}));
  EXPECT_EQ(walk_error(img), "ok");
  Bytes bad = img;
  bad[1024 + 56] ^= 0xff; // superblock magic
  EXPECT_NE(walk_error(bad).find("ext4: cannot open"), std::string::npos) << walk_error(bad);
  std::string cut = walk_error(Bytes(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(img.size() / 16)));
  EXPECT_NE(cut, "ok");
  EXPECT_NE(cut.find("ext4"), std::string::npos) << cut;
  // Flipped bytes in the inode tables and directories (metadata_csum catches
  // most): errors, never crashes.
  std::mt19937 rng(11);
  int errors = 0;
  for (int round = 0; round < 10; ++round) {
    Bytes b = img;
    for (int k = 0; k < 16; ++k)
      b[1024 + rng() % (2u << 20)] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    errors += walk_error(std::move(b)) != "ok";
  }
  EXPECT_GT(errors, 0);
}

} // namespace
} // namespace fastboop::test
