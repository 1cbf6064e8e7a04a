// End to end on real distro data: fastboop-stage0 build on the unpacked
// Debian arm64 kernel package for oneplus-fajita and arrow-db410c, checked
// with GNU cpio, bsdtar, gzip/zstd, fdtget and kmod's own view.
#include "stage0/build.hpp"

#include "common/hash.hpp"
#include "stage0/cpio.hpp"
#include "stage0_fixtures.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace fastboop::stage0 {
namespace {

using fastboop::test::TempDir;
using fastboop::test::read_file;
using fastboop::test::run;
using fastboop::test::sh;

std::string tool() { return fastboop::test::tool_path("fastboop-stage0").string(); }

class Stage0Debian : public ::testing::Test {
protected:
  void SetUp() override {
    STAGE0_REQUIRE_DEBIAN_KERNEL();
    k = *test::debian_kernel();
    init = dir / "stage0-aarch64";
    test::put(init, test::fake_elf(183));
  }
  ProcessOutput build(const std::vector<std::string>& extra, const std::filesystem::path& out) {
    std::vector<std::string> argv = {tool(), "build", k.tree.string(), "-o", out.string(), "--stage0-init",
                                     init.string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  }
  std::string listing(const std::string& cmd, const std::filesystem::path& archive) {
    auto out = sh(cmd + " < '" + archive.string() + "'");
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return std::string(as_chars(out.out));
  }
  test::DebianKernel k;
  TempDir dir;
  std::filesystem::path init;
};

TEST_F(Stage0Debian, FajitaLocalRootFullOutputs) {
  FASTBOOP_REQUIRE_PROGRAM("cpio");
  FASTBOOP_REQUIRE_PROGRAM("bsdtar");
  FASTBOOP_REQUIRE_PROGRAM("fdtget");
  auto out = build({"--device-profile", "oneplus-fajita", "--root-device", "/dev/sda17", "--rootfs-type", "ext4",
                    "--serial", "--require-module", "dwc3-qcom", "--cmdline-append",
                    "quiet stage0.serial=abc smoo.log=debug", "--inject-mac-wifi", "qcom,wcn3990-wifi",
                    "--depfile", (dir / "dep.d").string()},
                   dir / "fajita");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto o = dir / "fajita";
  for (const char* f : {"stage0.cpio", "kernel", "devicetree.dtb", "cmdline", "stage0.json"})
    EXPECT_TRUE(std::filesystem::exists(o / f)) << f;
  // GNU cpio and bsdtar list the same entries.
  std::string gnu = listing("cpio -it --quiet", o / "stage0.cpio");
  EXPECT_EQ(gnu, listing("bsdtar -tf -", o / "stage0.cpio"));
  std::set<std::string> entries;
  std::istringstream in(gnu);
  for (std::string l; std::getline(in, l);)
    entries.insert(l);
  const std::string mdir = "lib/modules/" + k.kver + "/";
  for (const std::string& e : {std::string("init"), std::string("etc/stage0/stage0.rootfs"),
                               std::string("etc/stage0/stage0.root_device"), std::string("etc/stage0/smoo.log"),
                               std::string("etc/stage0/smoo.acm"), mdir + "modules.dep",
                               mdir + "kernel/fs/ext4/ext4.ko", mdir + "kernel/crypto/crc32c_generic.ko",
                               mdir + "kernel/drivers/usb/dwc3/dwc3-qcom.ko",
                               mdir + "kernel/drivers/usb/gadget/function/usb_f_acm.ko"})
    EXPECT_TRUE(entries.count(e)) << e;
  EXPECT_FALSE(entries.count(mdir + "kernel/drivers/block/ublk_drv.ko"));
  // Extract with GNU cpio: settings and the load list as the PID1 reads them.
  std::filesystem::create_directories(dir / "x");
  ASSERT_EQ(sh("cd '" + (dir / "x").string() + "' && cpio -id --quiet < '" + (o / "stage0.cpio").string() + "'").exit_code, 0);
  EXPECT_EQ(std::string(as_chars(read_file(dir / "x/etc/stage0/stage0.rootfs"))), "ext4\n");
  EXPECT_EQ(std::string(as_chars(read_file(dir / "x/etc/stage0/stage0.serial"))), "abc\n");
  EXPECT_EQ(std::string(as_chars(read_file(dir / "x/etc/stage0/stage0.root_device"))), "/dev/sda17\n");
  EXPECT_EQ(read_file(dir / "x/init"), test::fake_elf(183));
  std::string list(as_chars(read_file(dir / "x/etc/modules-load.d/fastboop-stage0.conf")));
  // Dependencies first: crc32c_generic (ext4's pre: softdep) before ext4, udc_core before libcomposite.
  EXPECT_LT(list.find("crc32c_generic\n"), list.find("ext4\n")) << list;
  EXPECT_LT(list.find("udc_core\n"), list.find("libcomposite\n")) << list;
  EXPECT_EQ(read_file(dir / ("x/" + mdir + "kernel/fs/ext4/ext4.ko")),
            read_file(k.tree / (mdir + "kernel/fs/ext4/ext4.ko")));
  // Kernel: fajita wants image.gz; gzip -dc gives back the Debian Image.
  auto gz = sh("gzip -dc '" + (o / "kernel").string() + "' | cmp - '" + (k.tree / ("boot/vmlinuz-" + k.kver)).string() + "'");
  EXPECT_EQ(gz.exit_code, 0) << gz.err;
  // DTB: MAC injected, seed from the stage0.serial token (upstream rule).
  auto mac = sh("fdtget -t bx '" + (o / "devicetree.dtb").string() + "' /soc@0/wifi@18800000 local-mac-address");
  EXPECT_EQ(mac.exit_code, 0) << mac.err;
  auto expected = mac_from_seed("abc", "wifi", "qcom,wcn3990-wifi");
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%x %x %x %x %x %x\n", expected[0], expected[1], expected[2], expected[3],
                expected[4], expected[5]);
  EXPECT_EQ(std::string(as_chars(mac.out)), buf);
  EXPECT_EQ(std::string(as_chars(read_file(o / "cmdline"))), "plymouth.ignore-serial-consoles quiet");
  // Manifest.
  auto j = nlohmann::json::parse(std::string(as_chars(read_file(o / "stage0.json"))));
  EXPECT_EQ(j["device"], "oneplus-fajita");
  EXPECT_EQ(j["kernel"]["version"], k.kver);
  EXPECT_EQ(j["kernel"]["encoding"], "image.gz");
  bool saw_softdep = false, saw_required = false;
  for (const auto& m : j["modules"]) {
    if (m["name"] == "crc32c_generic") {
      saw_softdep = m["reason"] == "softdep";
    }
    if (m["name"] == "dwc3_qcom")
      saw_required = m["reason"] == "required";
  }
  EXPECT_TRUE(saw_softdep);
  EXPECT_TRUE(saw_required);
  EXPECT_EQ(j["outputs"]["stage0.cpio"]["sha512"], sha512_hex(read_file(o / "stage0.cpio")));
  EXPECT_EQ(j["outputs"]["kernel"]["size"], std::filesystem::file_size(o / "kernel"));
  bool hashed_kernel = false;
  for (const auto& i : j["inputs"])
    if (i["path"] == "/boot/vmlinuz-" + k.kver)
      hashed_kernel = i["sha512"] == sha512_hex(read_file(k.tree / ("boot/vmlinuz-" + k.kver)));
  EXPECT_TRUE(hashed_kernel);
  std::string dep(as_chars(read_file(dir / "dep.d")));
  EXPECT_NE(dep.find("vmlinuz-" + k.kver), std::string::npos);
  EXPECT_NE(dep.find("ext4.ko"), std::string::npos);
  EXPECT_NE(dep.find(init.string()), std::string::npos);
}

TEST_F(Stage0Debian, Db410cReproducibleAcrossRunsAndDirectories) {
  std::vector<std::string> args = {"--device-profile", "arrow-db410c", "--root-device", "/dev/mmcblk0p10"};
  ASSERT_EQ(build(args, dir / "a").exit_code, 0);
  ASSERT_EQ(build(args, dir / "b").exit_code, 0);
  for (const char* f : {"stage0.cpio", "kernel", "devicetree.dtb", "cmdline"})
    EXPECT_EQ(read_file(dir / "a" / f), read_file(dir / "b" / f)) << f;
  auto ja = nlohmann::json::parse(std::string(as_chars(read_file(dir / "a/stage0.json"))));
  EXPECT_EQ(ja["dtb"]["source"], "/usr/lib/linux-image-" + k.kver + "/qcom/apq8016-sbc.dtb");
  EXPECT_EQ(read_file(dir / "a/devicetree.dtb"), read_file(k.tree / ("usr/lib/linux-image-" + k.kver + "/qcom/apq8016-sbc.dtb")));
  // -o - writes the same cpio to stdout.
  auto out = run({tool(), "build", k.tree.string(), "-o", "-", "--stage0-init", init.string(), "--device-profile",
                  "arrow-db410c", "--root-device", "/dev/mmcblk0p10"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out, read_file(dir / "a/stage0.cpio"));
}

TEST_F(Stage0Debian, CompressedOutputsExpandWithStockTools) {
  FASTBOOP_REQUIRE_PROGRAM("zstd");
  FASTBOOP_REQUIRE_PROGRAM("lz4");
  std::vector<std::string> args = {"--device-profile", "oneplus-fajita", "--root-device", "/dev/sda17"};
  ASSERT_EQ(build(args, dir / "plain").exit_code, 0);
  Bytes plain = read_file(dir / "plain/stage0.cpio");
  for (auto [codec, suffix, cmd] : {std::tuple{"gzip", ".gz", "gzip -dc"}, std::tuple{"zstd", ".zst", "zstd -dc"},
                                    std::tuple{"xz", ".xz", "xz -dc"}, std::tuple{"lz4", ".lz4", "lz4 -dc"}}) {
    auto argv = args;
    argv.insert(argv.end(), {"--compress", codec});
    auto o = dir / codec;
    auto r = build(argv, o);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto file = o / (std::string("stage0.cpio") + suffix);
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    auto d = sh(std::string(cmd) + " < '" + file.string() + "'");
    ASSERT_EQ(d.exit_code, 0) << codec << ": " << d.err;
    EXPECT_EQ(d.out, plain) << codec;
  }
}

TEST_F(Stage0Debian, ErrorsNameWhatIsWrong) {
  // Smoo mode needs ublk_drv, which Debian 6.1 does not build.
  auto r = build({"--device-profile", "oneplus-fajita", "--smoo-gadget", init.string()}, dir / "o");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("ublk_drv"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(k.kver), std::string::npos) << r.err;
  // Smoo mode without a gadget program.
  r = build({"--device-profile", "oneplus-fajita"}, dir / "o");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--smoo-gadget"), std::string::npos) << r.err;
  // A PID1 of another architecture is refused.
  test::put(dir / "x86-init", test::fake_elf(62));
  r = run({tool(), "build", k.tree.string(), "-o", (dir / "o").string(), "--device-profile", "oneplus-fajita",
           "--root-device", "/dev/sda1", "--stage0-init", (dir / "x86-init").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("x86_64"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("aarch64"), std::string::npos) << r.err;
  // Unknown module.
  r = build({"--device-profile", "oneplus-fajita", "--root-device", "/dev/sda1", "--require-module", "no_such_mod"}, dir / "o");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no_such_mod"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "o/stage0.cpio")); // nothing half-written
  // Usage errors exit 2.
  r = run({tool(), "build", k.tree.string()});
  EXPECT_EQ(r.exit_code, 2);
  r = build({"--device-profile", "oneplus-fajita", "--setting", "bogus.key=1", "--root-device", "/dev/sda1"}, dir / "o");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(Stage0Debian, AugmentEntriesWinInsideTheBuild) {
  FASTBOOP_REQUIRE_PROGRAM("cpio");
  auto aug = dir / "aug";
  test::put(aug / "init", "my own init");
  test::put(aug / "etc/stage0/stage0.on_failure", "reboot\n");
  test::put(aug / "bin/busybox", "bb");
  ASSERT_EQ(sh("cd '" + aug.string() + "' && find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -n > ../aug.cpio.gz").exit_code, 0);
  auto r = build({"--device-profile", "oneplus-fajita", "--root-device", "/dev/sda1", "--augment",
                  (dir / "aug.cpio.gz").string(), "--on-failure", "halt"},
                 dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CpioImage img;
  ASSERT_TRUE(img.merge_archive(read_file(dir / "o/stage0.cpio"), "out"));
  EXPECT_EQ(std::string(as_chars(img.find("init")->data)), "my own init");
  EXPECT_EQ(std::string(as_chars(img.find("etc/stage0/stage0.on_failure")->data)), "reboot\n");
  EXPECT_NE(img.find("bin/busybox"), nullptr);
  EXPECT_NE(img.find("etc/stage0/stage0.rootfs"), nullptr);
}

// Library level: DevPro size limits and module compression handling on a
// synthetic tree (Debian ships uncompressed modules).
struct SyntheticTree {
  TempDir dir;
  explicit SyntheticTree(const std::string& config) {
    auto root = dir.path();
    test::put(root / "boot/vmlinuz-9.0", test::fake_arm64_image("9.0", 1 << 20));
    test::put(root / "boot/config-9.0", config);
    auto m = root / "lib/modules/9.0";
    test::put(m / "modules.dep",
              "kernel/fs/overlay.ko.xz:\nkernel/fs/erofs.ko.zst: kernel/lib/lz4.ko.gz\nkernel/lib/lz4.ko.gz:\n"
              // The smoo set: Debian 12's arm64 kernel has no ublk_drv, so
              // only this tree can build the default (smoo) mode.
              "kernel/fs/configfs/configfs.ko:\n"
              "kernel/drivers/usb/gadget/libcomposite.ko: kernel/fs/configfs/configfs.ko\n"
              "kernel/drivers/usb/gadget/function/usb_f_fs.ko: kernel/drivers/usb/gadget/libcomposite.ko "
              "kernel/fs/configfs/configfs.ko\n"
              "kernel/drivers/usb/gadget/function/usb_f_acm.ko: kernel/drivers/usb/gadget/libcomposite.ko "
              "kernel/fs/configfs/configfs.ko\n"
              "kernel/drivers/block/ublk_drv.ko:\n");
    test::put(m / "modules.builtin", "");
    Bytes elf = test::fake_module({});
    for (const char* k : {"kernel/fs/configfs/configfs.ko", "kernel/drivers/usb/gadget/libcomposite.ko",
                          "kernel/drivers/usb/gadget/function/usb_f_fs.ko",
                          "kernel/drivers/usb/gadget/function/usb_f_acm.ko", "kernel/drivers/block/ublk_drv.ko"})
      test::put(m / k, elf);
    test::put(m / "kernel/fs/overlay.ko.xz", *compress(Codec::Xz, elf));
    test::put(m / "kernel/fs/erofs.ko.zst", *compress(Codec::Zstd, test::fake_module({"vendor/erofs-fw.bin", "missing.bin"})));
    test::put(m / "kernel/lib/lz4.ko.gz", *compress(Codec::Gzip, elf));
    test::put(root / "lib/firmware/vendor/erofs-fw.bin", "FIRMWARE");
    auto dtb = run_process({"dtc", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"}, as_bytes("/dts-v1/; / { };"));
    test::put(root / "boot/dtbs/9.0/vendor/board.dtb", dtb->out);
  }
  Stage0Options options() const {
    Stage0Options o;
    o.device.id = "test-board";
    o.device.devicetree_name = "vendor/board";
    o.device.boot.page_size = 4096;
    o.device.boot.kernel_encoding = profiles::KernelEncoding::ImageGz;
    o.root_device = "/dev/vda";
    o.init = HostFile{"init", test::fake_elf(183)};
    return o;
  }
  Result<Stage0Result> build(Stage0Options o) const {
    auto fsys = filesystems::open_host_directory(dir.path().string());
    if (!fsys)
      return std::move(fsys).error();
    return build_stage0(**fsys, std::move(o));
  }
};

TEST(Stage0Synthetic, CompressedModulesFollowKernelConfig) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  SyntheticTree no_decompress("CONFIG_MODULES=y\n# CONFIG_MODULE_DECOMPRESS is not set\n");
  auto r = no_decompress.build(no_decompress.options());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->module_compression, "decompressed");
  CpioImage img;
  ASSERT_TRUE(img.merge_archive(r->initrd, "out"));
  ASSERT_NE(img.find("lib/modules/9.0/kernel/fs/erofs.ko"), nullptr);
  EXPECT_EQ(img.find("lib/modules/9.0/kernel/fs/erofs.ko")->data,
            test::fake_module({"vendor/erofs-fw.bin", "missing.bin"}));
  // Firmware declared by the modules: listed, not copied without --include-firmware.
  ASSERT_EQ(r->firmware.size(), 2u);
  EXPECT_EQ(r->firmware[0].name, "vendor/erofs-fw.bin");
  EXPECT_EQ(r->firmware[0].module, "erofs");
  EXPECT_EQ(r->firmware[0].found_at, "/lib/firmware/vendor/erofs-fw.bin");
  EXPECT_FALSE(r->firmware[1].found_at);
  EXPECT_EQ(img.find("lib/firmware/vendor/erofs-fw.bin"), nullptr);
  auto with_fw = no_decompress.options();
  with_fw.firmware = FirmwareMode::Include;
  auto rf = no_decompress.build(with_fw);
  ASSERT_TRUE(rf) << rf.error().message();
  CpioImage imgf;
  ASSERT_TRUE(imgf.merge_archive(rf->initrd, "out"));
  ASSERT_NE(imgf.find("lib/firmware/vendor/erofs-fw.bin"), nullptr);
  EXPECT_EQ(std::string(as_chars(imgf.find("lib/firmware/vendor/erofs-fw.bin")->data)), "FIRMWARE");
  EXPECT_TRUE(rf->firmware[0].included);
  EXPECT_EQ(std::string(as_chars(img.find("lib/modules/9.0/modules.dep")->data)),
            "kernel/fs/overlay.ko:\nkernel/lib/lz4.ko:\nkernel/fs/erofs.ko: kernel/lib/lz4.ko\n");

  SyntheticTree keeps("CONFIG_MODULES=y\nCONFIG_MODULE_DECOMPRESS=y\n");
  r = keeps.build(keeps.options());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->module_compression, "kept");
  CpioImage img2;
  ASSERT_TRUE(img2.merge_archive(r->initrd, "out"));
  EXPECT_NE(img2.find("lib/modules/9.0/kernel/fs/erofs.ko.zst"), nullptr);
  // Overrides.
  auto o = keeps.options();
  o.module_compression = ModuleCompression::Decompress;
  r = keeps.build(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->module_compression, "decompressed");
  o = no_decompress.options();
  o.module_compression = ModuleCompression::Keep;
  r = no_decompress.build(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->module_compression, "kept");
}

TEST(Stage0Synthetic, SizeLimitsGiveTheSizes) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  SyntheticTree t("CONFIG_MODULE_DECOMPRESS=y\n");
  auto o = t.options();
  o.device.boot.limits = profiles::BootLimits{std::nullopt, 1000, std::nullopt};
  auto r = t.build(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("max_initrd_bytes = 1000"), std::string::npos) << r.error().message();
  o = t.options();
  o.device.boot.limits = profiles::BootLimits{100, std::nullopt, std::nullopt};
  r = t.build(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("max_kernel_bytes = 100"), std::string::npos) << r.error().message();
  o = t.options();
  o.device.boot.limits = profiles::BootLimits{0, 0, 8192};
  r = t.build(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("max_total_bytes = 8192"), std::string::npos) << r.error().message();
  o.device.boot.limits = profiles::BootLimits{0, 0, 0}; // 0 = unlimited
  EXPECT_TRUE(t.build(o));
}

TEST(Stage0Synthetic, KernelVersionMismatchAndSearchOrder) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  SyntheticTree t("");
  test::put(t.dir / "boot/vmlinuz-9.0", test::fake_arm64_image("9.1-wrong"));
  auto r = t.build(t.options());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("9.1-wrong"), std::string::npos);
  EXPECT_NE(r.error().message().find("/lib/modules/9.0"), std::string::npos);
}

TEST(Stage0Synthetic, BootProfileSettingsComeFirst) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("cpio");
  SyntheticTree t("CONFIG_MODULE_DECOMPRESS=y\n");
  // Base DTB with symbols so overlays can target labels.
  auto base = compile_dts(as_bytes("/dts-v1/; / { compatible = \"vendor,board\"; "
                                   "wlan: wifi { compatible = \"vendor,wifi\"; status = \"disabled\"; }; };"),
                          "base");
  ASSERT_TRUE(base);
  test::put(t.dir / "boot/dtbs/9.0/vendor/board.dtb", *base);
  auto ov_profile = compile_dts(as_bytes("/dts-v1/; /plugin/; &wlan { status = \"okay\"; };"), "p");
  auto ov_cli = compile_dts(as_bytes("/dts-v1/; /plugin/; &wlan { status = \"fail\"; label = \"cli\"; };"), "c");
  ASSERT_TRUE(ov_profile && ov_cli);
  auto o = t.options();
  o.required_modules = {"overlay"};
  o.dtbos = {HostFile{"cli.dtbo", *ov_cli}};
  o.extra_cmdline = "from_cli";
  profiles::EffectiveStage0 eff;
  eff.kernel_modules = {"lz4"};
  eff.dt_overlays = {*ov_profile};
  eff.extra_cmdline = "from_profile smoo.log=trace";
  eff.inject_mac = profiles::InjectMac{std::string("vendor,wifi"), std::nullopt};
  apply_effective_stage0(o, eff, "test-profile");
  auto r = t.build(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->cmdline, "from_profile from_cli");
  EXPECT_EQ(r->settings.at("smoo.log"), "trace");
  // The CLI overlay applies after the profile's, so its value wins.
  fastboop::test::TempDir d;
  fastboop::test::write_file(d / "m.dtb", r->dtb);
  auto st = sh("fdtget -t s '" + (d / "m.dtb").string() + "' /wifi status");
  EXPECT_EQ(std::string(as_chars(st.out)), "fail\n");
  auto mac = sh("fdtget -t bx '" + (d / "m.dtb").string() + "' /wifi local-mac-address");
  EXPECT_EQ(mac.exit_code, 0) << mac.err;
  bool profile_overlay_recorded = false;
  for (const auto& in : r->inputs)
    if (in.origin == "boot-profile")
      profile_overlay_recorded = true;
  EXPECT_TRUE(profile_overlay_recorded);
  std::vector<std::string> order;
  for (const auto& m : r->modules.load_order)
    order.push_back(m.name);
  EXPECT_EQ(order, (std::vector<std::string>{"overlay", "lz4", "erofs"}));
}

std::vector<std::string> load_order(const Stage0Result& r) {
  std::vector<std::string> names;
  for (const auto& m : r.modules.load_order)
    names.push_back(m.name);
  return names;
}

bool has_module(const Stage0Result& r, const std::string& name) {
  auto names = load_order(r);
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string entry_text(const CpioImage& img, const std::string& path) {
  const CpioEntry* e = img.find(path);
  return e ? std::string(as_chars(e->data)) : std::string("<absent>");
}

// An aarch64 executable: a real static one when the cross compiler is there,
// else an ELF header with e_machine = EM_AARCH64 (all the generator reads).
Bytes aarch64_program(const std::filesystem::path& dir) {
  if (fastboop::test::have_program("aarch64-linux-gnu-gcc")) {
    test::put(dir / "g.c", "int main(void) { return 0; }\n");
    auto cc = run({"aarch64-linux-gnu-gcc", "-static", "-Os", "-o", (dir / "g").string(), (dir / "g.c").string()});
    if (cc.exit_code == 0)
      return read_file(dir / "g");
  }
  return test::fake_elf(183);
}

TEST(Stage0Synthetic, SmooModeIsTheDefault) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  SyntheticTree t("CONFIG_MODULE_DECOMPRESS=y\n");
  TempDir d;
  const Bytes gadget = aarch64_program(d.path());
  auto o = t.options();
  o.root_device.reset();
  o.smoo_gadget = HostFile{(d / "g").string(), gadget};
  auto r = t.build(o);
  ASSERT_TRUE(r) << r.error().message();
  CpioImage img;
  ASSERT_TRUE(img.merge_archive(r->initrd, "out"));
  const CpioEntry* g = img.find("bin/smoo-gadget");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->mode, 0100755u);
  EXPECT_EQ(g->data, gadget);
  // ublk_drv and the gadget stack, dependencies first; no ACM without --serial.
  for (const char* m : {"ublk_drv", "usb_f_fs", "libcomposite", "configfs", "overlay", "erofs"})
    EXPECT_TRUE(has_module(*r, m)) << m;
  EXPECT_FALSE(has_module(*r, "usb_f_acm"));
  std::string list = entry_text(img, "etc/modules-load.d/fastboop-stage0.conf");
  EXPECT_NE(list.find("ublk_drv\n"), std::string::npos) << list;
  EXPECT_LT(list.find("configfs\n"), list.find("libcomposite\n")) << list;
  EXPECT_LT(list.find("libcomposite\n"), list.find("usb_f_fs\n")) << list;
  EXPECT_NE(img.find("lib/modules/9.0/kernel/drivers/block/ublk_drv.ko"), nullptr);
  EXPECT_EQ(entry_text(img, "etc/stage0/smoo.mimic_fastboot"), "1\n");
  EXPECT_EQ(img.find("etc/stage0/stage0.root_device"), nullptr);
  EXPECT_EQ(entry_text(img, "etc/stage0/stage0.rootfs"), "erofs\n");

  // Without fastboot mimicry the setting is not written; with --serial the ACM
  // function joins the gadget.
  o.mimic_fastboot = false;
  o.serial = true;
  r = t.build(o);
  ASSERT_TRUE(r) << r.error().message();
  CpioImage img2;
  ASSERT_TRUE(img2.merge_archive(r->initrd, "out"));
  EXPECT_EQ(img2.find("etc/stage0/smoo.mimic_fastboot"), nullptr);
  EXPECT_EQ(entry_text(img2, "etc/stage0/smoo.acm"), "1\n");
  EXPECT_TRUE(has_module(*r, "usb_f_acm"));

  // A gadget program for another architecture is refused.
  o.smoo_gadget = HostFile{"x86-gadget", test::fake_elf(62)};
  r = t.build(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("--smoo-gadget x86-gadget is built for x86_64 but the kernel is aarch64"),
            std::string::npos)
      << r.error().message();
  // And smoo mode without any gadget program is a usage error.
  o.smoo_gadget.reset();
  r = t.build(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("--smoo-gadget"), std::string::npos) << r.error().message();
}

// stage0.root_device decides smoo-or-local however it arrives, not only
// through --root-device.
TEST(Stage0Synthetic, LocalRootFromAnySettingSource) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  SyntheticTree t("CONFIG_MODULE_DECOMPRESS=y\n");
  auto check_local = [&](Stage0Options o, const std::string& how) {
    o.root_device.reset(); // no --root-device, no --smoo-gadget
    auto r = t.build(std::move(o));
    ASSERT_TRUE(r) << how << ": " << r.error().message();
    EXPECT_EQ(r->settings.at("stage0.root_device"), "/dev/vdb") << how;
    EXPECT_FALSE(has_module(*r, "ublk_drv")) << how;
    EXPECT_FALSE(has_module(*r, "usb_f_fs")) << how;
    EXPECT_EQ(r->cmdline_generated.find("stage0.root_device"), std::string::npos) << how;
  };
  auto o = t.options();
  o.settings["stage0.root_device"] = "/dev/vdb";
  check_local(o, "--setting");
  o = t.options();
  o.extra_cmdline = "quiet stage0.root_device=/dev/vdb";
  check_local(o, "--cmdline-append");
  o = t.options();
  profiles::EffectiveStage0 eff;
  eff.extra_cmdline = "stage0.root_device=/dev/vdb";
  apply_effective_stage0(o, eff, "profile");
  check_local(o, "boot profile extra_cmdline");
  // --root-device (an option) beats a token.
  o = t.options();
  o.root_device = "/dev/vdc";
  o.extra_cmdline = "stage0.root_device=/dev/vdb";
  auto r = t.build(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->settings.at("stage0.root_device"), "/dev/vdc");
  // --serial with a local root: the ACM-only gadget's modules, no FunctionFS.
  o = t.options();
  o.serial = true;
  r = t.build(o);
  ASSERT_TRUE(r) << r.error().message();
  for (const char* m : {"configfs", "libcomposite", "usb_f_acm"})
    EXPECT_TRUE(has_module(*r, m)) << m;
  EXPECT_FALSE(has_module(*r, "usb_f_fs"));
  EXPECT_EQ(r->settings.at("smoo.acm"), "1");
  // smoo.acm as a token loads the ACM modules too.
  o = t.options();
  o.extra_cmdline = "smoo.acm";
  r = t.build(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(has_module(*r, "usb_f_acm"));
}

TEST(Stage0Synthetic, MacSeedAndSettingsOverrideOrder) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("fdtget");
  SyntheticTree t("CONFIG_MODULE_DECOMPRESS=y\n");
  auto base = compile_dts(as_bytes("/dts-v1/; / { wifi { compatible = \"vendor,wifi\"; }; };"), "base");
  ASSERT_TRUE(base);
  test::put(t.dir / "boot/dtbs/9.0/vendor/board.dtb", *base);
  auto mac_of = [&](Stage0Options o) {
    o.inject_mac.wifi = "vendor,wifi";
    auto r = t.build(std::move(o));
    EXPECT_TRUE(r) << r.error().message();
    if (!r)
      return std::string();
    TempDir d;
    fastboop::test::write_file(d / "m.dtb", r->dtb);
    return std::string(as_chars(sh("fdtget -t bx '" + (d / "m.dtb").string() + "' /wifi local-mac-address").out));
  };
  auto expect_mac = [](const std::string& seed) {
    auto m = mac_from_seed(seed, "wifi", "vendor,wifi");
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%x %x %x %x %x %x\n", m[0], m[1], m[2], m[3], m[4], m[5]);
    return std::string(buf);
  };
  auto o = t.options();
  EXPECT_EQ(mac_of(o), expect_mac("0"));
  o.stage0_serial = "generated";
  EXPECT_EQ(mac_of(o), expect_mac("generated"));
  o.extra_cmdline = "stage0.serial=token";
  EXPECT_EQ(mac_of(o), expect_mac("token"));
  o.settings["stage0.serial"] = "option";
  EXPECT_EQ(mac_of(o), expect_mac("option"));
  // The settings files follow the same order, and stage0.rootfs is forced.
  o.extra_cmdline = "stage0.serial=token smoo.log=trace stage0.rootfs=ext4 stage0.on_failure=halt";
  o.settings["smoo.log"] = "debug";
  auto r = t.build(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->settings.at("stage0.serial"), "option");
  EXPECT_EQ(r->settings.at("smoo.log"), "debug");
  EXPECT_EQ(r->settings.at("stage0.on_failure"), "halt");
  EXPECT_EQ(r->settings.at("stage0.rootfs"), "erofs");
}

// `-o -` encodes no kernel, but the initramfs limit still holds.
TEST(Stage0Synthetic, InitrdOnlyOutputStillChecksTheInitrdLimit) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  SyntheticTree t("CONFIG_MODULE_DECOMPRESS=y\n");
  auto o = t.options();
  o.outputs = OutputSet::InitrdOnly;
  o.device.boot.limits = profiles::BootLimits{std::nullopt, 1000, std::nullopt};
  auto r = t.build(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("max_initrd_bytes = 1000"), std::string::npos) << r.error().message();
  // The kernel and total limits need the encoded kernel, which -o - skips.
  o.device.boot.limits = profiles::BootLimits{100, std::nullopt, 8192 * 4};
  r = t.build(o);
  EXPECT_TRUE(r) << r.error().message();
}

} // namespace
} // namespace fastboop::stage0
