// fastboop-bootimg as a program: info/--json, analyze on stock-like images
// made by Debian's mkbootimg (its YAML must load as a DevPro), exit codes,
// atomic output and the depfile.
#include "bootimg/bootimg.hpp"
#include "profiles/profiles.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace fastboop;
namespace fs = std::filesystem;

namespace {

std::string tool() { return (fs::read_symlink("/proc/self/exe").parent_path() / "fastboop-bootimg").string(); }

// A stock-like set of parts: a gzip kernel (real gzip) and a DTB (real dtc).
struct Stock {
  test::TempDir dir;
  Stock() {
    test::write_file(dir / "Image", test::random_bytes(200000, 7));
    test::write_file(dir / "ramdisk", test::random_bytes(5000, 8));
    auto r = test::sh("cd '" + dir.path().string() +
                      "' && gzip -n9 < Image > Image.gz && "
                      "printf '/dts-v1/;\\n/ { model = \"m\"; compatible = \"v,m\"; #address-cells = <1>; "
                      "#size-cells = <1>; };\\n' > m.dts && dtc -I dts -O dtb -o m.dtb m.dts && "
                      "cat Image.gz m.dtb m.dtb > Image.gz-dtb");
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  std::string p(const std::string& name) const { return (dir / name).string(); }
};

profiles::DeviceProfile load_skeleton(const std::string& yaml) {
  std::string full = "id: analyzed\ndevicetree_name: v/m\nmatch: []\nprobe: []\n" + yaml;
  auto parsed = profiles::parse_device_profile(full, "analyze output");
  EXPECT_TRUE(parsed) << parsed.error().message() << "\n" << yaml;
  return parsed ? *parsed : profiles::DeviceProfile{};
}

} // namespace

TEST(BootimgTool, AnalyzeAppendedDtbV0) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Stock s;
  auto r = test::run({"mkbootimg", "--header_version", "0", "--base", "0x80000000", "--pagesize", "2048",
                      "--kernel", s.p("Image.gz-dtb"), "--ramdisk", s.p("ramdisk"), "--cmdline",
                      "console=ttyMSM0,115200n8 androidboot.hardware=qcom", "-o", s.p("stock.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = test::run({tool(), "analyze", s.p("stock.img")});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  std::string yaml(as_chars(a.out));
  EXPECT_NE(yaml.find("2 appended DTB(s)"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("androidboot.hardware=qcom"), std::string::npos);
  auto p = load_skeleton(yaml);
  EXPECT_EQ(p.boot.header_version, 0u);
  EXPECT_EQ(p.boot.page_size, 2048u);
  EXPECT_EQ(p.boot.base, 0x80000000u);
  EXPECT_EQ(p.boot.kernel_offset, 0x8000u);
  EXPECT_EQ(p.boot.kernel_encoding, profiles::KernelEncoding::ImageGzDtb);
  EXPECT_FALSE(p.boot.extensions.ramdisk_offset);
}

TEST(BootimgTool, AnalyzeV2DtbSectionAndQuirks) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Stock s;
  auto r = test::run({"mkbootimg", "--header_version", "2", "--base", "0", "--pagesize", "4096", "--kernel",
                      s.p("Image.gz"), "--ramdisk", s.p("ramdisk"), "--dtb", s.p("m.dtb"), "--dtb_offset",
                      "0x01100000", "-o", s.p("v2.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto a = test::run({tool(), "analyze", s.p("v2.img")});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  auto p = load_skeleton(std::string(as_chars(a.out)));
  EXPECT_EQ(p.boot.header_version, 2u);
  EXPECT_EQ(p.boot.page_size, 4096u);
  EXPECT_EQ(p.boot.base, 0u);
  EXPECT_EQ(p.boot.dtb_offset, 0x01100000u);
  EXPECT_EQ(p.boot.kernel_encoding, profiles::KernelEncoding::ImageGz);

  // Samsung-style: raw kernel, DTB as second stage, odd tags offset, board
  // name and the SEANDROIDENFORCE footer.
  r = test::run({"mkbootimg", "--header_version", "0", "--base", "0x10000000", "--kernel", s.p("Image"),
                 "--ramdisk", s.p("ramdisk"), "--second", s.p("m.dtb"), "--tags_offset", "0x01e00000", "--board",
                 "SRPOI01A000", "-o", s.p("sam.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto sh = test::sh("printf SEANDROIDENFORCE >> '" + s.p("sam.img") + "'");
  ASSERT_EQ(sh.exit_code, 0);
  a = test::run({tool(), "analyze", s.p("sam.img")});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  p = load_skeleton(std::string(as_chars(a.out)));
  EXPECT_EQ(p.boot.kernel_encoding, profiles::KernelEncoding::Image);
  EXPECT_TRUE(p.boot.extensions.dtb_in_second);
  EXPECT_TRUE(p.boot.extensions.samsung_seandroidenforce);
  EXPECT_EQ(p.boot.extensions.tags_offset, 0x01e00000u);
  EXPECT_EQ(p.boot.extensions.board, "SRPOI01A000");
  EXPECT_FALSE(p.boot.extensions.second_offset);

  auto info = test::run({tool(), "info", "--json", s.p("sam.img")});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  auto j = nlohmann::json::parse(as_chars(info.out));
  EXPECT_EQ(j["seandroidenforce"], true);
  EXPECT_EQ(j["tags_addr"], 0x11e00000u);
  EXPECT_EQ(j["id_recipe"], "aosp");
  EXPECT_EQ(j["sections"].size(), 3u);
}

TEST(BootimgTool, InfoTextExitCodesAndAtomicOutput) {
  test::TempDir dir;
  test::write_file(dir / "k", test::random_bytes(1000, 1));
  test::write_file(dir / "junk", std::string_view("not a boot image at all"));
  auto r = test::run({tool(), "--kernel", (dir / "k").string(), "--cmdline", "a b", "--os_version", "11.0.0",
                      "--os_patch_level", "2023-08-01", "-o", (dir / "b.img").string(), "--depfile",
                      (dir / "b.d").string(), "--id"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::string(as_chars(r.out)).substr(0, 2), "0x");
  std::string depfile(as_chars(test::read_file(dir / "b.d")));
  EXPECT_EQ(depfile.rfind((dir / "b.img").string() + ":", 0), 0u) << depfile;
  EXPECT_NE(depfile.find((dir / "k").string()), std::string::npos) << depfile;
  auto info = test::run({tool(), "info", (dir / "b.img").string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  std::string text(as_chars(info.out));
  EXPECT_NE(text.find("os_version: 11.0.0"), std::string::npos) << text;
  EXPECT_NE(text.find("os_patch_level: 2023-08"), std::string::npos);
  EXPECT_NE(text.find("cmdline: a b"), std::string::npos);
  EXPECT_NE(text.find("kernel_addr: 0x10008000"), std::string::npos);

  auto bad = test::run({tool(), "info", (dir / "junk").string()});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find((dir / "junk").string()), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("magic"), std::string::npos);

  // A failing pack leaves neither the output nor a temporary behind.
  auto fail = test::run({tool(), "--header_version", "2", "--kernel", (dir / "k").string(), "-o",
                         (dir / "v2.img").string()});
  EXPECT_EQ(fail.exit_code, 1);
  EXPECT_NE(fail.err.find("DTB"), std::string::npos) << fail.err;
  EXPECT_FALSE(fs::exists(dir / "v2.img"));
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  EXPECT_EQ(test::run({tool(), "--pagesize", "zzz", "--kernel", (dir / "k").string(), "-o",
                       (dir / "x.img").string()})
                .exit_code,
            2);
  EXPECT_EQ(test::run({tool(), "--no-such-option"}).exit_code, 2);
  EXPECT_EQ(test::run({tool(), "--help"}).exit_code, 0);
  EXPECT_EQ(test::run({tool(), "--kernel", (dir / "k").string()}).exit_code, 2);
}

TEST(BootimgTool, VendorBootV4FragmentsRoundTrip) {
  test::TempDir dir;
  test::write_file(dir / "vr", test::random_bytes(3000, 1));
  test::write_file(dir / "frag", test::random_bytes(5000, 2));
  test::write_file(dir / "dtb", test::random_bytes(700, 3));
  test::write_file(dir / "bootconfig", std::string_view("androidboot.x=y\n"));
  auto r = test::run({tool(), "--header_version", "4", "--pagesize", "4096", "--vendor_ramdisk",
                      (dir / "vr").string(), "--ramdisk_type", "dlkm", "--ramdisk_name", "dlkm", "--board_id3",
                      "0x42", "--vendor_ramdisk_fragment", (dir / "frag").string(), "--dtb", (dir / "dtb").string(),
                      "--vendor_bootconfig", (dir / "bootconfig").string(), "--vendor_cmdline", "a=b",
                      "--vendor_boot", (dir / "vb.img").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = test::run({tool(), "info", "--json", (dir / "vb.img").string()});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  auto j = nlohmann::json::parse(as_chars(info.out));
  ASSERT_EQ(j["vendor_ramdisks"].size(), 2u);
  EXPECT_EQ(j["vendor_ramdisks"][1]["name"], "dlkm");
  EXPECT_EQ(j["vendor_ramdisks"][1]["board_id"][3], 0x42);
  EXPECT_EQ(j["bootconfig_size"], 16);
  auto u = test::run({tool(), "unpack", (dir / "vb.img").string(), "-o", (dir / "u").string()});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  EXPECT_EQ(test::read_file(dir / "u" / "vendor_ramdisk_01"), test::read_file(dir / "frag"));
  auto sh = test::sh("cd '" + (dir / "u").string() + "' && xargs -0 '" + tool() +
                     "' --vendor_boot rebuilt.img < mkbootimg_args.nul");
  ASSERT_EQ(sh.exit_code, 0) << sh.err;
  EXPECT_EQ(test::read_file(dir / "u" / "rebuilt.img"), test::read_file(dir / "vb.img"));
  // A fragment group without its file is a usage error.
  EXPECT_EQ(test::run({tool(), "--ramdisk_name", "x", "--vendor_boot", (dir / "y.img").string()}).exit_code, 2);
}
