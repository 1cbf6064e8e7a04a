// The same stage0 from a directory, an ext4 image (mke2fs -d), an EROFS
// image (mkfs.erofs) and a compiled Boot Profile with a FAT boot partition
// (mkfs.fat + mcopy) holding kernel and DTBs plus an ext4 root: all built
// from the Debian arm64 kernel package, all giving identical bytes.
#include "common/file_io.hpp"
#include "common/hash.hpp"
#include "profiles/profiles.hpp"
#include "stage0_fixtures.hpp"

#include <sstream>

namespace fastboop::stage0 {
namespace {

using fastboop::test::read_file;
using fastboop::test::run;
using fastboop::test::TempDir;

struct Images {
  std::filesystem::path dir;
  std::string kver;
};

const std::optional<Images>& images() {
  static const std::optional<Images> cached = []() -> std::optional<Images> {
    if (!test::debian_kernel())
      return std::nullopt;
    auto out = run({"bash", (fastboop::test::source_dir() / "tests/stage0/make-images.sh").string()});
    if (out.exit_code != 0) {
      ADD_FAILURE() << "make-images.sh failed: " << out.err;
      return std::nullopt;
    }
    std::istringstream in(std::string(as_chars(out.out)));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("STAGE0_IMAGES=", 0) == 0)
        return Images{line.substr(14), test::debian_kernel()->kver};
    return std::nullopt;
  }();
  return cached;
}

class Stage0Images : public ::testing::TestWithParam<const char*> {
protected:
  void SetUp() override {
    for (const char* p : {"mke2fs", "mkfs.erofs", "mkfs.fat", "mcopy"})
      FASTBOOP_REQUIRE_PROGRAM(p);
    STAGE0_REQUIRE_DEBIAN_KERNEL();
    ASSERT_TRUE(images());
    init = tmp / "stage0-aarch64";
    test::put(init, test::fake_elf(183));
  }
  ProcessOutput build(const std::string& source, const std::string& device, const std::filesystem::path& out) {
    return run({fastboop::test::tool_path("fastboop-stage0").string(), "build", source, "--device-profile", device,
                "-o", out.string(), "--stage0-init", init.string(), "--root-device", "/dev/sda17", "--rootfs-type",
                "ext4", "--serial", "--require-module", "dwc3-qcom", "--offline"});
  }
  void expect_same(const std::filesystem::path& a, const std::filesystem::path& b) {
    for (const char* f : {"stage0.cpio", "kernel", "devicetree.dtb", "cmdline"})
      EXPECT_EQ(read_file(a / f), read_file(b / f)) << f << " differs between " << a << " and " << b;
  }
  TempDir tmp;
  std::filesystem::path init;
};

TEST_P(Stage0Images, SameBytesFromDirectoryExt4AndErofs) {
  const auto& im = *images();
  const std::string device = GetParam();
  auto ref = build((im.dir / "tree").string(), device, tmp / "dir");
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  for (const char* image : {"root.ext4", "root.erofs"}) {
    auto out = build((im.dir / image).string(), device, tmp / image);
    ASSERT_EQ(out.exit_code, 0) << image << ": " << out.err;
    expect_same(tmp / "dir", tmp / image);
  }
  // inspect/ls/cat see the same files through the image as on the host.
  auto cat = run({fastboop::test::tool_path("fastboop-stage0").string(), "cat", (im.dir / "root.erofs").string(),
                  "/lib/modules/" + im.kver + "/modules.dep"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_EQ(cat.out, read_file(im.dir / ("tree/lib/modules/" + im.kver + "/modules.dep")));
  auto ls = run({fastboop::test::tool_path("fastboop-stage0").string(), "ls", (im.dir / "root.ext4").string(), "/boot"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(std::string(as_chars(ls.out)).find("vmlinuz-" + im.kver), std::string::npos);
  auto insp = run({fastboop::test::tool_path("fastboop-stage0").string(), "inspect", (im.dir / "root.erofs").string(),
                   "--json"});
  ASSERT_EQ(insp.exit_code, 0) << insp.err;
  EXPECT_NE(std::string(as_chars(insp.out)).find("\"filesystem\": \"erofs\""), std::string::npos);
}

TEST_P(Stage0Images, BootProfileWithFatBootAndExt4Root) {
  const auto& im = *images();
  const std::string device = GetParam();
  auto leaf = [&](const std::filesystem::path& p) {
    profiles::PipelineSource s;
    s.kind = profiles::StageKind::File;
    s.location = p.string();
    auto d = sha512_file(p);
    EXPECT_TRUE(d);
    s.content = profiles::ContentDigest{d->content_digest(), d->size};
    return s;
  };
  profiles::BootProfile bp;
  bp.id = "debian-split";
  bp.rootfs = profiles::FilesystemSource{false, profiles::FilesystemKind::Ext4, leaf(im.dir / "split-root.ext4")};
  profiles::FilesystemSource boot{false, profiles::FilesystemKind::Fat, leaf(im.dir / "boot.vfat")};
  bp.kernel = profiles::PathSource{"/vmlinuz", boot};
  bp.dtbs = profiles::PathSource{"/dtbs", boot};
  auto bytes = profiles::encode_boot_profile(bp);
  ASSERT_TRUE(bytes) << bytes.error().message();
  test::put(tmp / "split.fbprof", *bytes);
  auto ref = build((im.dir / "tree").string(), device, tmp / "dir");
  ASSERT_EQ(ref.exit_code, 0) << ref.err;
  auto out = build((tmp / "split.fbprof").string(), device, tmp / "bp");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  expect_same(tmp / "dir", tmp / "bp");
  // --part reads the boot partition.
  auto ls = run({fastboop::test::tool_path("fastboop-stage0").string(), "ls", (tmp / "split.fbprof").string(),
                 "/dtbs/qcom", "--part", "dtbs"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(std::string(as_chars(ls.out)).find("apq8016-sbc.dtb"), std::string::npos);
  // A profile limited to other devices is refused.
  bp.stage0.devices["some-other-device"] = {};
  test::put(tmp / "other.fbprof", *profiles::encode_boot_profile(bp));
  auto refused = build((tmp / "other.fbprof").string(), device, tmp / "no");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("not compatible"), std::string::npos) << refused.err;
}

INSTANTIATE_TEST_SUITE_P(Devices, Stage0Images, ::testing::Values("oneplus-fajita", "arrow-db410c"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

} // namespace
} // namespace fastboop::stage0
