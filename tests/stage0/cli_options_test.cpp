// The fastboop-stage0 command line on a small synthetic rootfs: each option
// the audit found untested at the CLI level, run through the built tool with
// a Device Profile from $FASTBOOP_SCHEMA_PATH.
#include "stage0/codec.hpp"
#include "stage0/cpio.hpp"
#include "stage0_fixtures.hpp"

#include <nlohmann/json.hpp>

namespace fastboop::stage0 {
namespace {

using fastboop::test::read_file;
using fastboop::test::run;
using fastboop::test::sh;
using fastboop::test::TempDir;

constexpr std::string_view kDevpro = R"(id: test-board
display_name: Test board
devicetree_name: vendor/board
match:
  - fastboot: {vid: 0x18d1, pid: 0x4ee0}
probe:
  - fastboot.getvar: product
    equals: test
boot:
  fastboot_boot:
    android_bootimg:
      header_version: 2
      page_size: 4096
      limits:
        max_initrd_bytes: MAX_INITRD
      kernel:
        encoding: image
      initrd:
        compress: zstd
)";

// The PID1 stand-in: an aarch64 ELF header plus a marker, so the test can
// tell which of several candidates landed at /init.
Bytes init_elf(std::uint16_t machine, std::string_view marker) {
  Bytes b = test::fake_elf(machine);
  b.insert(b.end(), marker.begin(), marker.end());
  return b;
}

class Stage0Cli : public ::testing::Test {
protected:
  void SetUp() override {
    if (!fastboop::test::have_program("dtc")) {
      FASTBOOP_REQUIRE_PROGRAM("dtc");
      return;
    }
    tree = dir / "tree";
    put_kernel("9.0", "CONFIG_MODULES=y\n# CONFIG_MODULE_DECOMPRESS is not set\n");
    test::put(tree / "lib/firmware/vendor/erofs-fw.bin", "FIRMWARE");
    test::put(tree / "boot/dtbs/9.0/vendor/board.dtb",
              dtc("/dts-v1/; / { model = \"rootfs\"; soc { wifi { compatible = \"vendor,wifi\"; }; }; };"));
    write_devpro("0");
    init = dir / "stage0-aarch64";
    test::put(init, init_elf(183, "explicit"));
  }

  void put_kernel(const std::string& kver, const std::string& config) {
    test::put(tree / ("boot/vmlinuz-" + kver), test::fake_arm64_image(kver, 1 << 16));
    test::put(tree / ("boot/config-" + kver), config);
    auto m = tree / ("lib/modules/" + kver);
    test::put(m / "modules.dep", "kernel/fs/overlay.ko.xz:\nkernel/fs/erofs/erofs.ko.zst: kernel/lib/lz4.ko.gz\n"
                                 "kernel/lib/lz4.ko.gz:\nkernel/fs/ext4/ext4.ko.xz:\n"
                                 "kernel/fs/configfs/configfs.ko:\n"
                                 "kernel/drivers/usb/gadget/libcomposite.ko: kernel/fs/configfs/configfs.ko\n"
                                 "kernel/drivers/usb/gadget/function/usb_f_fs.ko: "
                                 "kernel/drivers/usb/gadget/libcomposite.ko kernel/fs/configfs/configfs.ko\n"
                                 "kernel/drivers/block/ublk_drv.ko:\n");
    Bytes elf = test::fake_module({});
    test::put(m / "kernel/fs/overlay.ko.xz", *compress(Codec::Xz, elf));
    test::put(m / "kernel/fs/ext4/ext4.ko.xz", *compress(Codec::Xz, elf));
    test::put(m / "kernel/fs/erofs/erofs.ko.zst", *compress(Codec::Zstd, test::fake_module({"vendor/erofs-fw.bin"})));
    test::put(m / "kernel/lib/lz4.ko.gz", *compress(Codec::Gzip, elf));
    for (const char* k : {"kernel/fs/configfs/configfs.ko", "kernel/drivers/usb/gadget/libcomposite.ko",
                          "kernel/drivers/usb/gadget/function/usb_f_fs.ko", "kernel/drivers/block/ublk_drv.ko"})
      test::put(m / k, elf);
  }

  void write_devpro(const std::string& max_initrd) {
    std::string y(kDevpro);
    y.replace(y.find("MAX_INITRD"), 10, max_initrd);
    test::put(dir / "devpro/test-board.yaml", y);
  }

  Bytes dtc(const std::string& source) {
    auto out = run_process({"dtc", "-@", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"}, as_bytes(source));
    EXPECT_TRUE(out && out->exit_code == 0);
    return out ? out->out : Bytes{};
  }

  // fastboop-stage0 build SOURCE -o OUT --device-profile test-board ...,
  // with the test's Device Profile directory and a clean environment for the
  // PID1 search.
  ProcessOutput build(const std::vector<std::string>& extra, const std::filesystem::path& out,
                      const std::vector<std::string>& env = {}, bool with_init = true,
                      const std::filesystem::path& source = {}) {
    std::vector<std::string> argv = {"env",
                                     "-u",
                                     "FASTBOOP_STAGE0_PATH",
                                     "FASTBOOP_SCHEMA_PATH=" + (dir / "devpro").string(),
                                     "HOME=" + dir.path().string(),
                                     "XDG_CONFIG_HOME="};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {fastboop::test::tool_path("fastboop-stage0").string(), "build",
                             (source.empty() ? tree : source).string(), "-o", out.string(), "--device-profile",
                             "test-board"});
    if (with_init)
      argv.insert(argv.end(), {"--stage0-init", init.string()});
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run(argv);
  }

  CpioImage archive(const std::filesystem::path& file) {
    CpioImage img;
    auto r = img.merge_archive(read_file(file), file.string());
    EXPECT_TRUE(r) << r.error().message();
    return img;
  }

  nlohmann::json manifest(const std::filesystem::path& out) {
    return nlohmann::json::parse(std::string(as_chars(read_file(out / "stage0.json"))));
  }

  // fdtget -t TYPE DTB NODE PROP, trimmed; a failure gives its stderr.
  std::string fdtget(const std::filesystem::path& dtb, const std::string& type, const std::string& node_prop) {
    auto r = sh("fdtget -t " + type + " '" + dtb.string() + "' " + node_prop);
    std::string s(as_chars(r.out));
    while (!s.empty() && s.back() == '\n')
      s.pop_back();
    return r.exit_code == 0 ? s : "<fdtget failed: " + r.err + ">";
  }

  TempDir dir;
  std::filesystem::path tree;
  std::filesystem::path init;
};

const std::vector<std::string> kLocal = {"--root-device", "/dev/vda"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_F(Stage0Cli, CompressDefaultsToTheDevproInitrdCompression) {
  FASTBOOP_REQUIRE_PROGRAM("zstd");
  auto r = build(kLocal, dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(std::filesystem::exists(dir / "o/stage0.cpio.zst"));
  EXPECT_FALSE(std::filesystem::exists(dir / "o/stage0.cpio"));
  EXPECT_EQ(manifest(dir / "o")["initrd"]["compression"], "zstd");
  auto d = sh("zstd -dc < '" + (dir / "o/stage0.cpio.zst").string() + "' | cpio -it --quiet");
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_NE(std::string(as_chars(d.out)).find("etc/stage0/stage0.rootfs"), std::string::npos);
  // --compress overrides the DevPro.
  r = build(with(kLocal, {"--compress", "none"}), dir / "n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "n/stage0.cpio"));
  EXPECT_FALSE(std::filesystem::exists(dir / "n/stage0.cpio.zst"));
}

// Issue 16 item 8: the output directory is the tool's and is replaced as a
// whole: a rebuild with another compression leaves no stale stage0.cpio next
// to the new stage0.cpio.zst (fastboop-bootimg would refuse the pair).
TEST_F(Stage0Cli, RebuildReplacesTheWholeOutputDirectoryIssue16Item8) {
  FASTBOOP_REQUIRE_PROGRAM("zstd");
  auto r = build(with(kLocal, {"--compress", "none"}), dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(std::filesystem::exists(dir / "o/stage0.cpio"));
  r = build(kLocal, dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "o/stage0.cpio.zst"));
  EXPECT_FALSE(std::filesystem::exists(dir / "o/stage0.cpio"));
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    left.push_back(e.path().filename().string());
  for (const auto& name : left)
    EXPECT_EQ(name.find(".tmp."), std::string::npos) << name; // no staging directory left behind
  // A directory this tool did not write is not replaced.
  test::put(dir / "mine/notes.txt", "keep me");
  r = build(kLocal, dir / "mine");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("without stage0.json"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "mine/notes.txt"));
}

// Issue 16 item 9: `-o` under a missing directory is refused before any work,
// naming the output, and creates nothing.
TEST_F(Stage0Cli, OutputUnderAMissingDirectoryIsRefusedAndNothingIsCreatedIssue16Item9) {
  const auto out = dir / "nonexistent" / "x";
  auto r = build(kLocal, out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("output " + out.string() + ": directory " + (dir / "nonexistent").string() +
                       " does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "nonexistent"));
}

// Issue 16 item 5: stage0 settings go through the PID1's own parser at build
// time; a value the device would ignore is refused on the host.
TEST_F(Stage0Cli, SettingsTheDeviceWouldIgnoreAreRefusedAtBuildTimeIssue16Item5) {
  for (const auto& [option, message] :
       {std::pair<std::vector<std::string>, std::string>{
            {"--on-failure", "explode"},
            "stage0.on_failure='explode' is not panic, reboot or halt"},
        {{"--usb-vendor", "0xZZZZ"}, "smoo.vendor='0xZZZZ' is not a 16-bit number"},
        {{"--setting", "smoo.queue_count=lots"}, "smoo.queue_count='lots' is not a decimal number"},
        {{"--cmdline-append", "stage0.yeetfstab=maybe"},
         "stage0.yeetfstab='maybe' is not a boolean"}}) {
    SCOPED_TRACE(message);
    auto r = build(with(kLocal, option), dir / "bad");
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "bad"));
  }
  auto r = build(with(kLocal, {"--on-failure", "reboot", "--usb-vendor", "0x18d1"}), dir / "good");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(Stage0Cli, DtboSourceIsCompiledAndApplied) {
  FASTBOOP_REQUIRE_PROGRAM("fdtget");
  test::put(dir / "ov.dts", "/dts-v1/;\n/plugin/;\n&{/soc/wifi} { status = \"okay\"; label-from = \"dts\"; };\n");
  auto r = build(with(kLocal, {"--dtbo", (dir / "ov.dts").string()}), dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fdtget(dir / "o/devicetree.dtb", "s", "/soc/wifi label-from"), "dts");
  EXPECT_EQ(fdtget(dir / "o/devicetree.dtb", "s", "/ model"), "rootfs");
  // A compiled .dtbo works the same; a broken .dts names the file.
  test::put(dir / "ov.dtbo", dtc("/dts-v1/; /plugin/; &{/soc} { extra = <7>; };"));
  r = build(with(kLocal, {"--dtbo", (dir / "ov.dtbo").string()}), dir / "b");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fdtget(dir / "b/devicetree.dtb", "u", "/soc extra"), "7");
  test::put(dir / "bad.dts", "/dts-v1/; /plugin/; &{/soc { broken");
  r = build(with(kLocal, {"--dtbo", (dir / "bad.dts").string()}), dir / "c");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.dts"), std::string::npos) << r.err;
}

TEST_F(Stage0Cli, DtbFromTheHostReplacesTheRootfsOne) {
  FASTBOOP_REQUIRE_PROGRAM("fdtget");
  test::put(dir / "host.dtb", dtc("/dts-v1/; / { model = \"host\"; };"));
  auto r = build(with(kLocal, {"--dtb", (dir / "host.dtb").string()}), dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(fdtget(dir / "o/devicetree.dtb", "s", "/ model"), "host");
  EXPECT_EQ(manifest(dir / "o")["dtb"]["source"], (dir / "host.dtb").string());
  r = build(with(kLocal, {"--dtb", (dir / "missing.dtb").string()}), dir / "m");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("missing.dtb"), std::string::npos) << r.err;
}

TEST_F(Stage0Cli, KernelVersionChoosesAmongSeveral) {
  put_kernel("9.1", "CONFIG_MODULE_DECOMPRESS=y\n");
  test::put(tree / "boot/dtbs/9.1/vendor/board.dtb", dtc("/dts-v1/; / { model = \"nine-one\"; };"));
  auto r = build(kLocal, dir / "o");
  EXPECT_EQ(r.exit_code, 2); // a usage error: the caller must choose
  EXPECT_NE(r.err.find("--kernel-version"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("9.0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("9.1"), std::string::npos) << r.err;
  r = build(with(kLocal, {"--kernel-version", "9.1"}), dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = manifest(dir / "o");
  EXPECT_EQ(j["kernel"]["version"], "9.1");
  EXPECT_EQ(j["kernel"]["path"], "/boot/vmlinuz-9.1");
  EXPECT_EQ(j["dtb"]["source"], "/boot/dtbs/9.1/vendor/board.dtb");
  EXPECT_EQ(read_file(dir / "o/kernel"), read_file(tree / "boot/vmlinuz-9.1"));
  CpioImage img = archive(dir / "o/stage0.cpio.zst");
  EXPECT_NE(img.find("lib/modules/9.1/modules.dep"), nullptr);
  EXPECT_EQ(img.find("lib/modules/9.0/modules.dep"), nullptr);
  r = build(with(kLocal, {"--kernel-version", "8.8"}), dir / "x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("8.8"), std::string::npos) << r.err;
}

TEST_F(Stage0Cli, IncludeFirmwareCopiesWhatModulesDeclare) {
  auto r = build(kLocal, dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(archive(dir / "o/stage0.cpio.zst").find("lib/firmware/vendor/erofs-fw.bin"), nullptr);
  EXPECT_EQ(manifest(dir / "o")["firmware"][0]["included"], false);
  EXPECT_EQ(manifest(dir / "o")["firmware"][0]["found_at"], "/lib/firmware/vendor/erofs-fw.bin");
  r = build(with(kLocal, {"--include-firmware"}), dir / "f");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CpioImage img = archive(dir / "f/stage0.cpio.zst");
  ASSERT_NE(img.find("lib/firmware/vendor/erofs-fw.bin"), nullptr);
  EXPECT_EQ(std::string(as_chars(img.find("lib/firmware/vendor/erofs-fw.bin")->data)), "FIRMWARE");
  EXPECT_EQ(manifest(dir / "f")["firmware"][0]["included"], true);
}

TEST_F(Stage0Cli, ModuleCompressionFlagsAndTheirExclusion) {
  const std::string erofs = "lib/modules/9.0/kernel/fs/erofs/erofs.ko";
  // The kernel config lacks CONFIG_MODULE_DECOMPRESS: decompressed by default.
  auto r = build(kLocal, dir / "auto");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CpioImage a = archive(dir / "auto/stage0.cpio.zst");
  ASSERT_NE(a.find(erofs), nullptr);
  EXPECT_EQ(a.find(erofs)->data, test::fake_module({"vendor/erofs-fw.bin"}));
  EXPECT_EQ(manifest(dir / "auto")["module_compression"], "decompressed");
  r = build(with(kLocal, {"--keep-compressed-modules"}), dir / "keep");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CpioImage k = archive(dir / "keep/stage0.cpio.zst");
  EXPECT_EQ(k.find(erofs), nullptr);
  ASSERT_NE(k.find(erofs + ".zst"), nullptr);
  EXPECT_EQ(k.find(erofs + ".zst")->data, read_file(tree / "lib/modules/9.0/kernel/fs/erofs/erofs.ko.zst"));
  EXPECT_EQ(manifest(dir / "keep")["module_compression"], "kept");
  std::string dep(as_chars(k.find("lib/modules/9.0/modules.dep")->data));
  EXPECT_NE(dep.find("kernel/fs/erofs/erofs.ko.zst: kernel/lib/lz4.ko.gz"), std::string::npos) << dep;
  // A kernel that decompresses itself, and --decompress-modules overriding it.
  test::put(tree / "boot/config-9.0", "CONFIG_MODULE_DECOMPRESS=y\n");
  r = build(kLocal, dir / "kernel-says-keep");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(manifest(dir / "kernel-says-keep")["module_compression"], "kept");
  r = build(with(kLocal, {"--decompress-modules"}), dir / "dec");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(archive(dir / "dec/stage0.cpio.zst").find(erofs), nullptr);
  EXPECT_EQ(manifest(dir / "dec")["module_compression"], "decompressed");
  r = build(with(kLocal, {"--decompress-modules", "--keep-compressed-modules"}), dir / "both");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--decompress-modules and --keep-compressed-modules exclude each other"), std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "both/stage0.cpio.zst"));
}

TEST_F(Stage0Cli, Stage0InitSearchChain) {
  test::put(dir / "env-init", init_elf(183, "from-env"));
  // $FASTBOOP_STAGE0_PATH comes before the build tree and libdir.
  auto r = build(kLocal, dir / "env", {"FASTBOOP_STAGE0_PATH=" + (dir / "env-init").string()}, false);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CpioImage img = archive(dir / "env/stage0.cpio.zst");
  ASSERT_NE(img.find("init"), nullptr);
  EXPECT_EQ(img.find("init")->data, init_elf(183, "from-env"));
  EXPECT_EQ(img.find("init")->mode, 0100755u);
  // --stage0-init beats the environment.
  r = build(kLocal, dir / "explicit", {"FASTBOOP_STAGE0_PATH=" + (dir / "env-init").string()}, true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(archive(dir / "explicit/stage0.cpio.zst").find("init")->data, init_elf(183, "explicit"));
  // A PID1 for another architecture is refused, naming both.
  test::put(dir / "x86-init", init_elf(62, "x86"));
  r = build(kLocal, dir / "x86", {"FASTBOOP_STAGE0_PATH=" + (dir / "x86-init").string()}, false);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("x86-init is built for x86_64"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("aarch64"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "x86/stage0.cpio.zst"));
  // A set but missing path is an error, not a silent fall-through.
  r = build(kLocal, dir / "gone", {"FASTBOOP_STAGE0_PATH=" + (dir / "no-such-init").string()}, false);
  EXPECT_EQ(r.exit_code, 3); // a missing input (cli::Exit::MissingInput)
  EXPECT_NE(r.err.find("$FASTBOOP_STAGE0_PATH=" + (dir / "no-such-init").string()), std::string::npos) << r.err;
}

TEST_F(Stage0Cli, SmooModeWithAGadgetProgram) {
  test::put(dir / "smoo-gadget", init_elf(183, "gadget"));
  auto r = build({"--smoo-gadget", (dir / "smoo-gadget").string()}, dir / "o");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CpioImage img = archive(dir / "o/stage0.cpio.zst");
  ASSERT_NE(img.find("bin/smoo-gadget"), nullptr);
  EXPECT_EQ(img.find("bin/smoo-gadget")->mode, 0100755u);
  std::string list(as_chars(img.find("etc/modules-load.d/fastboop-stage0.conf")->data));
  EXPECT_NE(list.find("ublk_drv\n"), std::string::npos) << list;
  EXPECT_NE(list.find("usb_f_fs\n"), std::string::npos) << list;
  EXPECT_EQ(std::string(as_chars(img.find("etc/stage0/smoo.mimic_fastboot")->data)), "1\n");
  // --no-mimic-fastboot drops the setting; an x86-64 gadget is refused.
  r = build({"--smoo-gadget", (dir / "smoo-gadget").string(), "--no-mimic-fastboot"}, dir / "nm");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(archive(dir / "nm/stage0.cpio.zst").find("etc/stage0/smoo.mimic_fastboot"), nullptr);
  test::put(dir / "x86-gadget", init_elf(62, "gadget"));
  r = build({"--smoo-gadget", (dir / "x86-gadget").string()}, dir / "x");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("x86-gadget is built for x86_64 but the kernel is aarch64"), std::string::npos) << r.err;
  // stage0.root_device through --setting makes the gadget optional.
  r = build({"--setting", "stage0.root_device=/dev/vdb"}, dir / "s");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(archive(dir / "s/stage0.cpio.zst").find("lib/modules/9.0/kernel/drivers/block/ublk_drv.ko"), nullptr);
}

TEST_F(Stage0Cli, StdoutOutputChecksTheInitrdLimit) {
  write_devpro("64");
  auto r = build(with(kLocal, {"--compress", "none"}), std::filesystem::path("-"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("max_initrd_bytes = 64"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  write_devpro("0");
  r = build(with(kLocal, {"--compress", "none"}), std::filesystem::path("-"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  CpioImage img;
  ASSERT_TRUE(img.merge_archive(r.out, "stdout"));
  EXPECT_NE(img.find("init"), nullptr);
}

TEST_F(Stage0Cli, RootfsTypeFollowsTheImageType) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  // Returns etc/stage0/stage0.rootfs; the matching filesystem module is loaded.
  auto rootfs_of = [&](const std::filesystem::path& source, const std::string& name, const std::string& module) {
    auto r = build(kLocal, dir / name, {}, true, source);
    EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
    if (r.exit_code != 0)
      return std::string("<failed>");
    CpioImage img = archive(dir / name / "stage0.cpio.zst");
    const CpioEntry* e = img.find("etc/stage0/stage0.rootfs");
    std::string mods = manifest(dir / name)["modules"].dump();
    EXPECT_NE(mods.find("\"" + module + "\""), std::string::npos) << name << ": no " << module << " in " << mods;
    return e ? std::string(as_chars(e->data)) : std::string("<absent>");
  };
  auto mk = sh("mkfs.ext4 -q -F -d '" + tree.string() + "' '" + (dir / "root.ext4").string() + "' 16M && " +
               "mkfs.erofs --quiet '" + (dir / "root.erofs").string() + "' '" + tree.string() + "'");
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  EXPECT_EQ(rootfs_of(dir / "root.ext4", "from-ext4", "ext4"), "ext4\n");
  EXPECT_EQ(rootfs_of(dir / "root.erofs", "from-erofs", "erofs"), "erofs\n");
  // A directory has no type of its own: erofs, unless --rootfs-type says otherwise.
  EXPECT_EQ(rootfs_of(tree, "from-dir", "erofs"), "erofs\n");
  auto r = build(with(kLocal, {"--rootfs-type", "ext4"}), dir / "forced", {}, true, dir / "root.erofs");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(std::string(as_chars(archive(dir / "forced/stage0.cpio.zst").find("etc/stage0/stage0.rootfs")->data)),
            "ext4\n");
  r = build(with(kLocal, {"--rootfs-type", "xfs"}), dir / "xfs");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("xfs"), std::string::npos) << r.err;
}

} // namespace
} // namespace fastboop::stage0
