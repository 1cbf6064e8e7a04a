// `fastboop boot` end to end against the fastboot device emulator (TCP): the
// device identified by its probes, stage0 and the boot image built for it and
// cached (a second run generates nothing; an image the CMake functions built
// is a hit too), pushed and booted; every refusal (wrong, ambiguous or
// unknown device, missing PID1 or smoo-gadget, an image over the device's
// limits) before any download, read from the emulator's command trace.
#include "../pipeline/http_harness.hpp"
#include "../push/emulator.hpp"
#include "../stage0/stage0_fixtures.hpp"
#include "common/hash.hpp"
#include "common/process.hpp"
#include "fastboot/driver.hpp"

#include <csignal>
#include <fstream>
#include <gmock/gmock.h>
#include <sys/wait.h>
#include <thread>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Probes no built-in profile passes.
const std::vector<std::string> kPhoneVars = {
    "--var", "max-download-size=0x4000000", "--var", "product=fbtest", "--var", "serialno=FBT0001"};

std::string devpro_yaml(const std::string& id, const std::string& product,
                        const std::string& limits = "") {
  return "id: " + id +
         "\n"
         "display_name: fastboop test phone " +
         id +
         "\n"
         "devicetree_name: vendor/board\n"
         "match:\n  - fastboot: {vid: 0x18d1, pid: 0x4ee0}\n"
         "probe:\n  - fastboot.getvar: product\n    equals: " +
         product +
         "\n"
         "boot:\n  fastboot_boot:\n    android_bootimg:\n      header_version: 2\n      page_size: "
         "2048\n" +
         limits +
         "      kernel:\n        encoding: image.gz\n      cmdline_append: console=ttyMSM0\n";
}

// A synthetic rootfs (arm64 kernel, the smoo module set, a DTB), a DevPro
// directory, fake aarch64 PID1 and smoo-gadget, and a private cache.
struct Fixture {
  TempDir dir;
  std::filesystem::path rootfs = dir / "rootfs";
  std::filesystem::path devpro = dir / "devpro";
  std::filesystem::path cache = dir / "cache";
  std::filesystem::path init = dir / "stage0-aarch64";
  std::filesystem::path gadget = dir / "smoo-gadget-aarch64";

  Fixture() {
    using stage0::test::put;
    put(rootfs / "boot/vmlinuz-9.0", stage0::test::fake_arm64_image("9.0", 1 << 16));
    auto m = rootfs / "lib/modules/9.0";
    put(m / "modules.dep",
        "kernel/fs/overlay.ko:\nkernel/fs/erofs.ko:\nkernel/fs/configfs/configfs.ko:\n"
        "kernel/drivers/usb/gadget/libcomposite.ko: kernel/fs/configfs/configfs.ko\n"
        "kernel/drivers/usb/gadget/function/usb_f_fs.ko: "
        "kernel/drivers/usb/gadget/libcomposite.ko\n"
        "kernel/drivers/block/ublk_drv.ko:\n");
    put(m / "modules.builtin", "");
    const Bytes elf = stage0::test::fake_module({});
    for (const char* k :
         {"kernel/fs/overlay.ko", "kernel/fs/erofs.ko", "kernel/fs/configfs/configfs.ko",
          "kernel/drivers/usb/gadget/libcomposite.ko",
          "kernel/drivers/usb/gadget/function/usb_f_fs.ko", "kernel/drivers/block/ublk_drv.ko"})
      put(m / k, elf);
    auto dtb = run_process({"dtc", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"},
                           as_bytes("/dts-v1/; / { };"));
    EXPECT_TRUE(dtb) << "dtc is needed for the fixture DTB";
    if (dtb)
      put(rootfs / "boot/dtbs/9.0/vendor/board.dtb", dtb->out);
    put(devpro / "fbtest-phone.yaml", devpro_yaml("fbtest-phone", "fbtest"));
    put(init, stage0::test::fake_elf(183));
    put(gadget, stage0::test::fake_elf(183));
  }

  // `fastboop ARGS` with the fixture's profiles and cache, nothing of the host's.
  ProcessOutput fastboop(std::vector<std::string> args, std::vector<std::string> env = {}) const {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "FASTBOOP_SCHEMA_PATH=" + devpro.string(),
                                     "FASTBOOP_DEVPRO_SYSTEM_DIRS=",
                                     "FASTBOOP_CACHE_DIR=" + cache.string(),
                                     "FASTBOOP_STAGE0_PATH=",
                                     "FASTBOOP_SMOO_GADGET_PATH="};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(tool_path("fastboop").string());
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }

  // boot SOURCE on `target` with the fixture's payloads, no per-boot tokens.
  ProcessOutput boot(const std::string& target, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"boot",
                                     rootfs.string(),
                                     "-s",
                                     target,
                                     "--stage0",
                                     init.string(),
                                     "--smoo-gadget",
                                     gadget.string(),
                                     "--no-serve",
                                     "--no-system-time",
                                     "--no-firstboot"};
    args.insert(args.end(), extra.begin(), extra.end());
    return fastboop(args);
  }

  // The one boot.img in the cache.
  std::filesystem::path cached_image() const {
    for (const auto& e : std::filesystem::directory_iterator(cache / "bootimg"))
      if (std::filesystem::exists(e.path() / "boot.img"))
        return e.path() / "boot.img";
    return {};
  }
};

bool only_getvar(const Emulator& emu) {
  for (const auto& cmd : emu.commands())
    if (cmd.rfind("getvar:", 0) != 0) {
      ADD_FAILURE() << "device received '" << cmd << "'";
      return false;
    }
  return true;
}

std::string data_line(const std::filesystem::path& image) {
  const Bytes b = read_file(image);
  return "DATA " + std::to_string(b.size()) + " fnv1a=" + fnv1a_hex(b);
}

bool trace_has(const Emulator& emu, const std::string& line) {
  const auto t = emu.trace();
  return std::find(t.begin(), t.end(), line) != t.end();
}

TEST(BootTool, IdentifiesBuildsCachesAndBootsThenASecondRunGeneratesNothing) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Fixture f;
  Emulator emu(kPhoneVars);
  auto first = f.boot(emu.tcp_target());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.err, HasSubstr("is a 'fbtest-phone'"));
  EXPECT_THAT(first.err, HasSubstr("generating stage0 for fbtest-phone"));
  EXPECT_THAT(first.err, HasSubstr("generating boot.img for fbtest-phone"));
  EXPECT_THAT(first.err, HasSubstr("boot OKAY"));
  const auto image = f.cached_image();
  ASSERT_FALSE(image.empty());
  // What went out is the cached image, whole, then boot.
  EXPECT_TRUE(trace_has(emu, data_line(image))) << data_line(image);
  auto cmds = emu.commands();
  ASSERT_GE(cmds.size(), 2u);
  EXPECT_EQ(cmds.back(), "boot");
  for (const auto& c : cmds)
    EXPECT_TRUE(fastboot::command_is_allowed(c)) << c;

  Emulator again(kPhoneVars);
  auto second = f.boot(again.tcp_target());
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_THAT(second.err, HasSubstr("cache hit: stage0 for fbtest-phone"));
  EXPECT_THAT(second.err, HasSubstr("cache hit: boot.img for fbtest-phone"));
  EXPECT_THAT(second.err, Not(HasSubstr("generating")));
  EXPECT_TRUE(trace_has(again, data_line(image)));
  EXPECT_EQ(again.commands().back(), "boot");
}

TEST(BootTool, PerBootClockAndFirstBootSettingsGoOnTheCommandLineOfACopy) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Fixture f;
  Emulator emu(kPhoneVars);
  auto out = f.fastboop({"boot", f.rootfs.string(), "-s", emu.tcp_target(), "--stage0",
                         f.init.string(), "--smoo-gadget", f.gadget.string(), "--no-serve"},
                        {"LANG=de_DE.UTF-8", "TZ=Europe/Berlin"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("systemd.clock_usec="));
  EXPECT_THAT(out.err, HasSubstr("systemd.set_credential=firstboot.locale:de_DE.UTF-8"));
  EXPECT_THAT(out.err, HasSubstr("systemd.set_credential=firstboot.timezone:Europe/Berlin"));
  // The cache keeps the image without them; the device got a same-sized copy.
  const Bytes cached = read_file(f.cached_image());
  const std::string cached_text(as_chars(cached));
  EXPECT_EQ(cached_text.find("clock_usec"), std::string::npos);
  EXPECT_FALSE(trace_has(emu, data_line(f.cached_image())));
  EXPECT_TRUE(trace_has(
      emu, "CMD download:" + [&] {
        char b[16];
        std::snprintf(b, sizeof b, "%08zx", cached.size());
        return std::string(b);
      }()));
  EXPECT_EQ(emu.commands().back(), "boot");
}

TEST(BootTool, OutputWritesTheImageAndSidecarWithoutADevice) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Fixture f;
  const auto out_img = f.dir / "out" / "boot.img";
  std::filesystem::create_directories(out_img.parent_path());
  auto out = f.fastboop({"boot", f.rootfs.string(), "--device-profile", "fbtest-phone", "-o",
                         out_img.string(), "--stage0", f.init.string(), "--smoo-gadget",
                         f.gadget.string()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(read_file(out_img), read_file(f.cached_image()));
  EXPECT_THAT(read_text(out_img.string() + ".json"), HasSubstr("\"fbtest-phone\""));
}

// Issue 17: a URL with --expect-sha512 is checked before a byte is used, so a
// wrong digest builds nothing; --unverified-ranged-reads builds from unchecked
// ranges, says so, and files nothing under the claimed digest.
TEST(BootTool, AUrlIsCheckedBeforeUseAndAnUnverifiedBuildIsNeverCached) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  Fixture f;
  TempDir www;
  auto made = run({"mkfs.erofs", "-T0", (www / "root.erofs").string(), f.rootfs.string()});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string good = sha512_file(www / "root.erofs")->sha512_hex;
  std::string wrong = good;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  Lighttpd server(www.path());
  ASSERT_TRUE(server.ok()) << server.error();
  const std::string url = server.url("root.erofs");
  const auto out_img = f.dir / "boot.img";
  auto build = [&](const std::string& digest, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"boot", url, "--device-profile", "fbtest-phone", "-o", out_img.string(),
                                     "--stage0", f.init.string(), "--smoo-gadget", f.gadget.string(),
                                     "--expect-sha512", digest};
    args.insert(args.end(), extra.begin(), extra.end());
    return f.fastboop(args);
  };
  auto bad = build(wrong);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("expected sha512:" + wrong));
  EXPECT_FALSE(std::filesystem::exists(out_img));
  EXPECT_FALSE(std::filesystem::exists(f.cache / "bootimg"));

  auto lazy = build(good, {"--unverified-ranged-reads"});
  ASSERT_EQ(lazy.exit_code, 0) << lazy.err;
  EXPECT_THAT(lazy.err, HasSubstr("--unverified-ranged-reads: its bytes are used before its SHA-512 is checked"));
  EXPECT_THAT(lazy.err, HasSubstr("not caching: --unverified-ranged-reads"));
  EXPECT_TRUE(std::filesystem::exists(out_img));
  EXPECT_FALSE(std::filesystem::exists(f.cache / "bootimg"));

  auto checked = build(good);
  ASSERT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_THAT(checked.err, Not(HasSubstr("unverified")));
  EXPECT_THAT(checked.err, HasSubstr("generating boot.img for fbtest-phone"));
  EXPECT_EQ(read_file(out_img), read_file(f.cached_image()));
}

TEST(BootTool, ABootImageTheCMakeFunctionsBuiltIsACacheHit) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("ninja");
  Fixture f;
  const auto project = f.dir / "project";
  write_file(project / "CMakeLists.txt",
             "cmake_minimum_required(VERSION 3.25)\nproject(p LANGUAGES NONE)\n"
             "find_package(Fastboop CONFIG REQUIRED)\n"
             "add_fastboop_boot_image(img DEVICE fbtest-phone ROOTFS " +
                 f.rootfs.string() + " DEVICE_PROFILE_PATH " + f.devpro.string() + " SMOO_GADGET " +
                 f.gadget.string() + " STAGE0_INIT " + f.init.string() + ")\n");
  auto configure = run({"cmake", "-S", project.string(), "-B", (f.dir / "build").string(), "-G",
                        "Ninja", "-DFastboop_DIR=" + (binary_dir() / "cmake-modules").string(),
                        "-DFASTBOOP_CACHE_DIR=" + f.cache.string()});
  ASSERT_EQ(configure.exit_code, 0) << configure.err;
  auto build = run({"cmake", "--build", (f.dir / "build").string()});
  ASSERT_EQ(build.exit_code, 0) << build.err << std::string(as_chars(build.out));

  const auto out_img = f.dir / "boot.img";
  auto out = f.fastboop({"boot", f.rootfs.string(), "--device-profile", "fbtest-phone", "-o",
                         out_img.string(), "--stage0", f.init.string(), "--smoo-gadget",
                         f.gadget.string()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("cache hit: stage0 for fbtest-phone"));
  EXPECT_THAT(out.err, HasSubstr("cache hit: boot.img for fbtest-phone"));
  EXPECT_THAT(out.err, Not(HasSubstr("generating")));
  EXPECT_EQ(read_file(out_img), read_file(f.dir / "build" / "img" / "boot.img"));
}

TEST(BootTool, ADirectoryCannotBeServedSoItIsRefusedBeforeAnythingIsSent) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Fixture f;
  Emulator emu(kPhoneVars);
  auto out = f.fastboop({"boot", f.rootfs.string(), "-s", emu.tcp_target(), "--stage0",
                         f.init.string(), "--smoo-gadget", f.gadget.string()});
  EXPECT_EQ(out.exit_code, 2) << out.err;
  EXPECT_THAT(out.err, HasSubstr("serving the root over smoo"));
  EXPECT_THAT(out.err, HasSubstr("is a directory"));
  EXPECT_TRUE(only_getvar(emu));
}

TEST(BootTool, AfterBootTheRootIsServedUntilInterrupted) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  Fixture f;
  const auto image = f.dir / "rootfs.erofs";
  auto mk = run({"mkfs.erofs", image.string(), f.rootfs.string()});
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  Emulator emu(kPhoneVars);
  const auto log = f.dir / "boot.log";
  const pid_t pid =
      spawn_logged({"/usr/bin/env", "FASTBOOP_SCHEMA_PATH=" + f.devpro.string(),
                    "FASTBOOP_DEVPRO_SYSTEM_DIRS=", "FASTBOOP_CACHE_DIR=" + f.cache.string(),
                    tool_path("fastboop").string(), "boot", image.string(), "-s", emu.tcp_target(),
                    "--stage0", f.init.string(), "--smoo-gadget", f.gadget.string()},
                   log);
  ASSERT_GT(pid, 0);
  bool serving = false;
  for (int i = 0; i < 600 && !serving; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    serving = read_text(log).find("over smoo until interrupted") != std::string::npos;
  }
  EXPECT_TRUE(serving) << read_text(log);
  EXPECT_EQ(emu.commands().back(), "boot");
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_text(log);
  EXPECT_THAT(read_text(log), HasSubstr("served "));
}

TEST(BootTool, WaitGivesUpAfterTheTimeoutNamingTheDevice) {
  Fixture f;
  std::uint16_t closed = 0;
  {
    Emulator gone(kPhoneVars); // a port that just stopped listening
    closed = gone.tcp_port();
  }
  const auto start = std::chrono::steady_clock::now();
  auto out = f.fastboop({"boot", f.rootfs.string(), "-s", "tcp:127.0.0.1:" + std::to_string(closed),
                         "--wait", "--timeout", "2", "--stage0", f.init.string(), "--smoo-gadget",
                         f.gadget.string(), "--no-serve"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(out.exit_code, 0);
  EXPECT_THAT(out.err, HasSubstr("waiting for a fastboot device"));
  EXPECT_THAT(out.err, HasSubstr("tcp:127.0.0.1:" + std::to_string(closed)));
  EXPECT_GE(seconds, 2.0);
  EXPECT_LT(seconds, 15.0);
  EXPECT_FALSE(std::filesystem::exists(f.cache / "stage0"));
}

TEST(BootTool, AProfileWhoseProbesFailIsRefusedWithGetvarOnly) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Fixture f;
  Emulator emu({"--var", "product=other"});
  auto out = f.boot(emu.tcp_target(), {"--device-profile", "fbtest-phone"});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("is not a 'fbtest-phone' device"));
  EXPECT_THAT(out.err, HasSubstr("getvar:product"));
  EXPECT_TRUE(only_getvar(emu));
  EXPECT_FALSE(std::filesystem::exists(f.cache / "stage0"))
      << "built for a device that was refused";
}

TEST(BootTool, ADeviceNoProfileMatchesIsRefusedBeforeAnythingIsBuilt) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Fixture f;
  Emulator emu({"--var", "product=nothing-we-know"});
  auto out = f.boot(emu.tcp_target());
  EXPECT_NE(out.exit_code, 0);
  EXPECT_THAT(out.err, HasSubstr("matches no Device Profile"));
  EXPECT_THAT(out.err, HasSubstr("fbtest-phone: probe getvar:product equals 'fbtest' failed"));
  EXPECT_TRUE(only_getvar(emu));
  EXPECT_FALSE(std::filesystem::exists(f.cache / "stage0"));
}

TEST(BootTool, TwoMatchingProfilesAreAmbiguousUntilOneIsChosen) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Fixture f;
  stage0::test::put(f.devpro / "fbtest-twin.yaml", devpro_yaml("fbtest-twin", "fbtest"));
  Emulator emu(kPhoneVars);
  auto out = f.boot(emu.tcp_target());
  EXPECT_EQ(out.exit_code, 2) << out.err;
  EXPECT_THAT(out.err, HasSubstr("matches several Device Profiles"));
  EXPECT_THAT(out.err, HasSubstr("fbtest-phone"));
  EXPECT_THAT(out.err, HasSubstr("fbtest-twin"));
  EXPECT_THAT(out.err, HasSubstr("--device-profile"));
  EXPECT_TRUE(only_getvar(emu));
  EXPECT_FALSE(std::filesystem::exists(f.cache / "stage0"));

  Emulator chosen(kPhoneVars);
  auto ok = f.boot(chosen.tcp_target(), {"--device-profile", "fbtest-twin"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(chosen.commands().back(), "boot");
}

TEST(BootTool, AMissingPid1PayloadIsAnErrorSayingWhereItLookedBeforeTheDevice) {
  Fixture f;
  Emulator emu(kPhoneVars);
  auto out = f.fastboop({"boot", f.rootfs.string(), "-s", emu.tcp_target(), "--stage0",
                         (f.dir / "no-such-pid1").string(), "--smoo-gadget", f.gadget.string(),
                         "--no-serve"});
  EXPECT_EQ(out.exit_code, 3) << out.err; // missing input (the one exit-code table)
  EXPECT_THAT(out.err,
              HasSubstr("--stage0 " + (f.dir / "no-such-pid1").string() + ": no such file"));
  EXPECT_TRUE(emu.commands().empty());

  // No option and nothing on the search path: every place tried is named.
  auto searched = f.fastboop({"boot", f.rootfs.string(), "-s", emu.tcp_target(), "--smoo-gadget",
                              f.gadget.string(), "--no-serve"},
                             {"FASTBOOP_STAGE0_PATH=" + (f.dir / "gone").string()});
  EXPECT_EQ(searched.exit_code, 3) << searched.err;
  EXPECT_THAT(searched.err, HasSubstr("$FASTBOOP_STAGE0_PATH=" + (f.dir / "gone").string()));
  EXPECT_TRUE(emu.commands().empty());
}

TEST(BootTool, AMissingSmooGadgetIsAnErrorUnlessTheRootIsOnTheDevice) {
  Fixture f;
  Emulator emu(kPhoneVars);
  auto out =
      f.fastboop({"boot", f.rootfs.string(), "-s", emu.tcp_target(), "--stage0", f.init.string()},
                 {"FASTBOOP_SMOO_GADGET_PATH=" + (f.dir / "no-gadget").string()});
  EXPECT_EQ(out.exit_code, 3) << out.err;
  EXPECT_THAT(out.err, HasSubstr("FASTBOOP_SMOO_GADGET_PATH=" + (f.dir / "no-gadget").string()));
  EXPECT_TRUE(emu.commands().empty());
}

TEST(BootTool, AnImageOverTheDevicesLimitsIsRefusedBeforeAnyDownload) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Fixture f;
  stage0::test::put(
      f.devpro / "fbtest-phone.yaml",
      devpro_yaml("fbtest-phone", "fbtest", "      limits:\n        max_total_bytes: 8192\n"));
  Emulator emu(kPhoneVars);
  auto out = f.boot(emu.tcp_target());
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("max_total_bytes = 8192"));
  EXPECT_TRUE(only_getvar(emu));

  // And the device's own max-download-size.
  Fixture g;
  Emulator small({"--var", "max-download-size=0x1000", "--var", "product=fbtest"});
  auto over = g.boot(small.tcp_target());
  EXPECT_EQ(over.exit_code, 1) << over.err;
  EXPECT_THAT(over.err, HasSubstr("max-download-size"));
  EXPECT_TRUE(only_getvar(small));
}

TEST(BootTool, AManifestSourceIsCompiledInMemory) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  Fixture f;
  const auto image = f.dir / "rootfs.erofs";
  auto mk = run({"mkfs.erofs", image.string(), f.rootfs.string()});
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  const auto manifest = f.dir / "profile.yaml";
  write_file(manifest, "id: fbtest-rootfs\nrootfs:\n  erofs:\n    file: rootfs.erofs\n");
  const auto out_img = f.dir / "boot.img";
  auto out = f.fastboop({"boot", manifest.string(), "--device-profile", "fbtest-phone", "-o",
                         out_img.string(), "--stage0", f.init.string(), "--smoo-gadget",
                         f.gadget.string(), "--boot-profile", "fbtest-rootfs"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_TRUE(std::filesystem::exists(out_img));

  // The same manifest through fastboop-stage0 build.
  auto s0 =
      run({"/usr/bin/env", "FASTBOOP_SCHEMA_PATH=" + f.devpro.string(),
           "FASTBOOP_DEVPRO_SYSTEM_DIRS=", tool_path("fastboop-stage0").string(), "build",
           manifest.string(), "--device-profile", "fbtest-phone", "--stage0-init", f.init.string(),
           "--smoo-gadget", f.gadget.string(), "-o", (f.dir / "s0").string()});
  ASSERT_EQ(s0.exit_code, 0) << s0.err;
  EXPECT_TRUE(std::filesystem::exists(f.dir / "s0" / "stage0.json"));

  auto wrong = f.fastboop({"boot", manifest.string(), "--device-profile", "fbtest-phone", "-o",
                           out_img.string(), "--stage0", f.init.string(), "--smoo-gadget",
                           f.gadget.string(), "--boot-profile", "other"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_THAT(wrong.err, HasSubstr("holds Boot Profile 'fbtest-rootfs'"));
}

TEST(BootTool, AChannelCarryingItsDeviceProfileAndImageBuildsTheSameBootImage) {
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
  Fixture f;
  const auto image = f.dir / "rootfs.erofs";
  auto mk = run({"mkfs.erofs", "-T0", image.string(), f.rootfs.string()});
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  write_file(f.dir / "profile.yaml", "id: fbtest-rootfs\nrootfs:\n  erofs:\n    file: rootfs.erofs\n");
  const std::string profile_tool = tool_path("fastboop-profile").string();
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{profile_tool, "compile-devpro", (f.devpro / "fbtest-phone.yaml").string(), "-o",
                                 (f.dir / "phone.fdp").string()},
        std::vector<std::string>{profile_tool, "compile", (f.dir / "profile.yaml").string(), "-o",
                                 (f.dir / "profile.fbp").string()},
        std::vector<std::string>{profile_tool, "channel", "pack", (f.dir / "phone.fdp").string(),
                                 (f.dir / "profile.fbp").string(), "--artifact", image.string(), "--index", "-o",
                                 (f.dir / "distro.channel").string()}}) {
    auto r = run(argv);
    ASSERT_EQ(r.exit_code, 0) << argv[1] << ": " << r.err;
  }
  const auto separate = f.dir / "separate.img", channel = f.dir / "channel.img";
  auto a = f.fastboop({"boot", image.string(), "--device-profile", "fbtest-phone", "-o", separate.string(),
                       "--stage0", f.init.string(), "--smoo-gadget", f.gadget.string()});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // No Device Profile directory: fbtest-phone comes from the channel.
  auto b = f.fastboop({"boot", (f.dir / "distro.channel").string(), "--device-profile", "fbtest-phone", "-o",
                       channel.string(), "--stage0", f.init.string(), "--smoo-gadget", f.gadget.string()},
                      {"FASTBOOP_SCHEMA_PATH="});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(read_file(channel), read_file(separate));
  // The bare image without a Device Profile directory: the id is unknown.
  auto c = f.fastboop({"boot", image.string(), "--device-profile", "fbtest-phone", "-o",
                       (f.dir / "none.img").string(), "--stage0", f.init.string(), "--smoo-gadget",
                       f.gadget.string()},
                      {"FASTBOOP_SCHEMA_PATH="});
  EXPECT_EQ(c.exit_code, 3) << c.err;
}

} // namespace
} // namespace fastboop::test
