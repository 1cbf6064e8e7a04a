// The aarch64 PID1 booted for real: QEMU (aarch64 virt, TCG) with Debian's
// arm64 kernel package, an initramfs holding our stage0-aarch64 as /init, the
// kernel's own gadget and virtio modules, dummy_hcd as the UDC and a stand-in
// smoo-gadget; the root comes from a virtio disk via stage0.root_device.
// Everything is asserted from the serial log, which is kept next to the test
// binary (qemu-<test>.log).
#include "pid1.hpp"
#include "plan.hpp"
#include "stage0_settings/stage0_settings.hpp"
#include "test_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <regex>

namespace fs = std::filesystem;
using namespace fastboop;
using namespace fastboop::test;

namespace {

// Skip on a developer machine without QEMU or the cross-built payloads; fail
// under FASTBOOP_REQUIRE_QEMU=1 (CI), so CI can never pass by skipping.
#define REQUIRE_FOR_QEMU(condition, what)                                                          \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      const char* strict = std::getenv("FASTBOOP_REQUIRE_QEMU");                                   \
      if (strict && std::string(strict) == "1")                                                    \
        FAIL() << "QEMU test prerequisite missing: " << (what) << " (FASTBOOP_REQUIRE_QEMU=1)";    \
      GTEST_SKIP() << "QEMU test skipped: " << (what);                                             \
    }                                                                                              \
  } while (0)

struct Kernel {
  fs::path tree;
  std::string version;
  fs::path image() const { return tree / "boot" / ("vmlinuz-" + version); }
  fs::path modules() const { return tree / "lib/modules" / version; }
};

std::string text(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// tests/data/fetch-debian-kernel.sh, once per test binary (it caches on disk too).
const Kernel* fetch_kernel(std::string& error) {
  static Kernel kernel;
  static std::string fetch_error = "not fetched";
  static bool done = false;
  if (!done) {
    done = true;
    ProcessOutput out = run({(source_dir() / "tests/data/fetch-debian-kernel.sh").string()});
    std::map<std::string, std::string> vars;
    std::string all = text(out.out);
    for (std::size_t pos = 0; pos < all.size();) {
      std::size_t end = all.find('\n', pos);
      std::string line = all.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      if (auto eq = line.find('='); eq != std::string::npos)
        vars[line.substr(0, eq)] = line.substr(eq + 1);
      pos = end == std::string::npos ? all.size() : end + 1;
    }
    if (out.exit_code == 0 && vars.count("FASTBOOP_KPKG_DIR") && vars.count("FASTBOOP_KVER")) {
      kernel = {vars["FASTBOOP_KPKG_DIR"], vars["FASTBOOP_KVER"]};
      fetch_error.clear();
    } else {
      fetch_error =
          "fetch-debian-kernel.sh failed (exit " + std::to_string(out.exit_code) + "): " + out.err;
    }
  }
  error = fetch_error;
  return error.empty() ? &kernel : nullptr;
}

// Compile-time paths: the shared gtest helper's ENVIRONMENT property only
// delivers its first variable (FASTBOOP_SOURCE_DIR), so binary_dir() is unset.
fs::path payload() {
  return fs::path(STAGE0_PAYLOAD_DIR) / "stage0-aarch64";
}
fs::path guest_program(const std::string& name) {
  return fs::path(STAGE0_GUEST_DIR) / name;
}

void install_file(const fs::path& from, const fs::path& to) {
  fs::create_directories(to.parent_path());
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

enum class Gadget { StandIn, None };

struct Scenario {
  stage0::Stage0Settings settings;
  std::vector<std::string> modules;
  Gadget gadget = Gadget::StandIn;
  std::string drop_module_file; // module whose .ko is left out of the initramfs
};

fs::path stage0_tool() {
  return fs::path(STAGE0_TOOL_DIR) / "fastboop-stage0";
}

std::string hex16(std::uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04x", unsigned(v));
  return buf;
}

// The real generator: fastboop-stage0 build on the kernel package tree (a
// rootfs with /boot and /lib/modules), with our payload and the stand-in.
// A dropped module is then removed from the generated archive, as a broken
// initramfs would lack it.
fs::path generate_initramfs(const TempDir& tmp, const Kernel& kernel, const Scenario& s) {
  const stage0::Stage0Settings& st = s.settings;
  const fs::path out = tmp / "stage0-out";
  std::vector<std::string> argv = {stage0_tool().string(),
                                   "build",
                                   kernel.tree.string(),
                                   "--device-profile",
                                   "arrow-db410c",
                                   "-o",
                                   out.string(),
                                   "--stage0-init",
                                   payload().string(),
                                   "--compress",
                                   "none",
                                   "--rootfs-type",
                                   std::string(stage0::to_string(*st.rootfs))};
  auto opt = [&argv](const char* name, const std::string& value) {
    argv.push_back(name);
    argv.push_back(value);
  };
  if (s.gadget == Gadget::StandIn)
    opt("--smoo-gadget", guest_program("smoo-gadget-standin").string());
  if (!st.root_device.empty())
    opt("--root-device", st.root_device);
  if (st.root_device_timeout_s)
    opt("--root-device-timeout", std::to_string(*st.root_device_timeout_s));
  if (!st.serial.empty())
    opt("--stage0-serial", st.serial);
  if (st.vendor_id)
    opt("--usb-vendor", hex16(*st.vendor_id));
  if (st.product_id)
    opt("--usb-product", hex16(*st.product_id));
  if (st.queue_depth)
    opt("--smoo-queue-depth", std::to_string(*st.queue_depth));
  if (st.udc_timeout_s)
    opt("--udc-timeout", std::to_string(*st.udc_timeout_s));
  if (st.ep1_timeout_s)
    opt("--ep1-timeout", std::to_string(*st.ep1_timeout_s));
  if (st.on_failure != stage0::OnFailure::Panic)
    opt("--on-failure", std::string(stage0::to_string(st.on_failure)));
  if (st.acm)
    argv.push_back("--serial");
  if (!st.mimic_fastboot)
    argv.push_back("--no-mimic-fastboot");
  else // the generator sets it only when the root comes over smoo
    opt("--setting", "smoo.mimic_fastboot=1");
  // With --root-device the generator adds no gadget modules of its own.
  for (const std::string& m : s.modules)
    opt("--require-module", m);
  ProcessOutput built = run(argv);
  EXPECT_EQ(built.exit_code, 0) << built.err;
  fs::path cpio = out / "stage0.cpio";
  if (s.drop_module_file.empty())
    return cpio;
  const fs::path tree = tmp / "unpacked";
  fs::create_directories(tree);
  ProcessOutput unpacked =
      sh("cd '" + tree.string() + "' && cpio -idm --quiet < '" + cpio.string() + "'");
  EXPECT_EQ(unpacked.exit_code, 0) << unpacked.err;
  for (const auto& e : fs::recursive_directory_iterator(tree))
    if (e.is_regular_file() && e.path().string().find("/lib/modules/") != std::string::npos &&
        stage0_init::module_name_key(e.path().filename().string()) ==
            stage0_init::module_name_key(s.drop_module_file))
      fs::remove(e.path());
  cpio = tmp / "initramfs-broken.cpio";
  ProcessOutput packed = run({(source_dir() / "tests/stage0-init/pack-initramfs.sh").string(),
                              tree.string(), cpio.string()});
  EXPECT_EQ(packed.exit_code, 0) << packed.err;
  return cpio;
}

// Lays the initramfs out as fastboop-stage0 does (settings and module list
// through the shared format code), then packs it with GNU cpio.
fs::path stage_initramfs(const TempDir& tmp, const Kernel& kernel, const Scenario& s) {
  const fs::path root = tmp / "initramfs";
  for (const char* dir : {"dev", "proc", "sys", "etc/stage0", "etc/modules-load.d"})
    fs::create_directories(root / dir);
  install_file(payload(), root / "init");
  if (s.gadget == Gadget::StandIn)
    install_file(guest_program("smoo-gadget-standin"), root / "bin/smoo-gadget");

  auto files = stage0::render_settings_files(s.settings);
  EXPECT_TRUE(files.ok()) << files.error().message();
  for (const stage0::SettingsFile& f : *files)
    write_file(root / stage0::kSettingsDir / f.name, f.content);
  auto list = stage0::render_module_list(s.modules);
  EXPECT_TRUE(list.ok());
  write_file(root / stage0::kModuleListPath, *list);

  // The modules and everything modules.dep says they need.
  const fs::path src = kernel.modules();
  const fs::path dst = root / "lib/modules" / kernel.version;
  std::string dep_text = text(read_file(src / "modules.dep"));
  stage0_init::ModuleIndex index = stage0_init::ModuleIndex::parse(dep_text);
  install_file(src / "modules.dep", dst / "modules.dep");
  install_file(src / "modules.builtin", dst / "modules.builtin");
  for (const std::string& name : s.modules) {
    const std::string* path = index.path_of(name);
    if (!path) {
      ADD_FAILURE() << "module " << name << " not in the kernel package's modules.dep";
      continue;
    }
    std::vector<std::string> files_needed = index.deps_of(*path);
    files_needed.push_back(*path);
    for (const std::string& rel : files_needed)
      if (stage0_init::module_name_key(rel) != stage0_init::module_name_key(s.drop_module_file))
        install_file(src / rel, dst / rel);
  }
  const fs::path cpio = tmp / "initramfs.cpio";
  ProcessOutput packed = run({(source_dir() / "tests/stage0-init/pack-initramfs.sh").string(),
                              root.string(), cpio.string()});
  EXPECT_EQ(packed.exit_code, 0) << packed.err;
  return cpio;
}

// fastboop-stage0 when it is built (the real pipeline), else the staging above.
fs::path build_initramfs(const TempDir& tmp, const Kernel& kernel, const Scenario& s) {
  if (fs::exists(stage0_tool()))
    return generate_initramfs(tmp, kernel, s);
  return stage_initramfs(tmp, kernel, s);
}

// A root filesystem whose init reports and powers off; /etc/fstab must be gone
// by the time it runs.
fs::path build_root(const TempDir& tmp, stage0::RootFsType type) {
  const fs::path root = tmp / "rootfs";
  for (const char* dir : {"proc", "sys", "dev", "run", "etc"})
    fs::create_directories(root / dir);
  install_file(guest_program("root-init"), root / "sbin/init");
  write_file(root / "etc/fstab", "/dev/vda / auto defaults 0 1\n");
  const fs::path image = tmp / "root.img";
  ProcessOutput made;
  if (type == stage0::RootFsType::Erofs) {
    made = run({"mkfs.erofs", "--quiet", "--all-root", "-T0", image.string(), root.string()});
  } else {
    made = run({"mke2fs", "-q", "-F", "-t", "ext4", "-d", root.string(), "-E", "root_owner=0:0",
                image.string(), "16M"});
  }
  EXPECT_EQ(made.exit_code, 0) << made.err;
  return image;
}

// Boots and returns the serial log. QEMU is killed after `timeout_s`.
std::string boot(const Kernel& kernel, const fs::path& initramfs, const fs::path& disk,
                 const std::string& name) {
  const fs::path log = fs::path(STAGE0_TEST_BINARY_DIR) / ("qemu-" + name + ".log");
  fs::create_directories(log.parent_path());
  QemuGuest qemu("qemu-system-aarch64", "virt",
                 {"-cpu", "cortex-a57", "-m", "1024", "-nographic", "-no-reboot", "-nic", "none", "-kernel",
                  kernel.image().string(), "-initrd", initramfs.string(), "-drive",
                  "if=none,file=" + disk.string() + ",format=raw,id=d0,readonly=on", "-device",
                  "virtio-blk-device,drive=d0", "-append", "console=ttyAMA0 quiet panic=-1"},
                 log);
  EXPECT_TRUE(qemu.wait_exit(std::chrono::seconds(180))) << qemu.describe_timeout();
  std::string out = text(read_file(log));
  ::testing::Test::RecordProperty("serial_log", log.string());
  return out;
}

bool has(const std::string& log, const std::string& needle) {
  return log.find(needle) != std::string::npos;
}

std::size_t count(const std::string& log, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t pos = log.find(needle); pos != std::string::npos;
       pos = log.find(needle, pos + 1))
    ++n;
  return n;
}

// Each step's start line, in order, and how it ended.
void expect_steps(const std::string& log, const std::set<std::string>& skipped) {
  std::size_t last = 0;
  for (const char* step : stage0_init::kStepNames) {
    const std::string start = "stage0: step " + std::string(step) + "\r\n";
    const std::size_t at = log.find(start, last);
    ASSERT_NE(at, std::string::npos) << "no start line for step " << step << " (in order)";
    last = at;
    // exec-init cannot log "ok": success replaces the process with the root's init.
    const std::string end =
        std::string(step) == "exec-init"
            ? std::string("stage0: exec-init: exec /sbin/init")
            : "stage0: step " + std::string(step) + (skipped.count(step) ? " skipped: " : " ok");
    EXPECT_TRUE(has(log, end)) << "step " << step << " did not end with '" << end << "'";
  }
  const std::size_t exec_line = log.find("stage0: exec-init: exec /sbin/init");
  const std::size_t root_init = log.find("ROOT-INIT: running as pid 1");
  EXPECT_TRUE(exec_line != std::string::npos && root_init != std::string::npos &&
              exec_line < root_init);
}

class Stage0InitQemu : public ::testing::Test {
protected:
  const Kernel* kernel = nullptr;

  void SetUp() override {
    REQUIRE_FOR_QEMU(have_program("qemu-system-aarch64"), "qemu-system-aarch64 (qemu-system-arm)");
    REQUIRE_FOR_QEMU(fs::exists(payload()),
                     payload().string() + " (needs g++-aarch64-linux-gnu at configure time)");
    REQUIRE_FOR_QEMU(fs::exists(guest_program("smoo-gadget-standin")) &&
                         fs::exists(guest_program("root-init")),
                     "aarch64 guest helpers in " STAGE0_GUEST_DIR);
    FASTBOOP_REQUIRE_PROGRAM("cpio");
    FASTBOOP_REQUIRE_PROGRAM("mkfs.erofs");
    FASTBOOP_REQUIRE_PROGRAM("mke2fs");
    std::string error;
    kernel = fetch_kernel(error);
    REQUIRE_FOR_QEMU(kernel != nullptr, error);
  }

  static Scenario gadget_scenario() {
    Scenario s;
    s.settings.rootfs = stage0::RootFsType::Erofs;
    s.settings.root_device = "/dev/vda";
    s.settings.root_device_timeout_s = 60;
    s.settings.udc_timeout_s = 60;
    s.settings.ep1_timeout_s = 60;
    s.settings.vendor_id = 0x18d1;
    s.settings.product_id = 0x4ee0;
    s.settings.serial = "FBTEST0001";
    s.settings.mimic_fastboot = true;
    s.settings.max_io_bytes = 1048576;
    s.settings.queue_depth = 32;
    s.settings.acm = true; // the optional CDC-ACM console: two more interfaces
    // The generator's base set (ublk_drv is not in this 6.1 kernel), the
    // root's filesystem with crc32c (a soft dependency of libcrc32c), the
    // virtio disk, and dummy_hcd as the UDC.
    s
        .modules = {"configfs",       "libcomposite", "usb_f_fs",    "overlay",
                    "crc32c_generic", "erofs",        "virtio_mmio", "virtio_blk",
                    "usb_f_acm",      "dummy_hcd",    "cdc_acm"}; // the host-side driver, to read
                                                                  // the ACM console in the guest
    return s;
  }
};

} // namespace

TEST_F(Stage0InitQemu, BootsRootFromVirtioDiskWithGadgetEnumerated) {
  TempDir tmp;
  Scenario s = gadget_scenario();
  const std::string log = boot(*kernel, build_initramfs(tmp, *kernel, s),
                               build_root(tmp, s.settings.rootfs.value()), "gadget");
  expect_steps(log, {"ostree-detect", "ostree", "plymouth"});
  EXPECT_TRUE(has(log, "stage0: modules: loaded dummy_hcd"));
  EXPECT_TRUE(
      has(log, "stage0: step gadget ok: /sys/kernel/config/usb_gadget/usb-gadget0 18d1:4ee0 +acm"));
  // The stand-in got the §5.1 arguments and wrote its descriptors.
  EXPECT_TRUE(has(log, "SMOO-STANDIN: argv: --ffs-dir /dev/ffs-usb-gadget0-0 --state-file "
                       "/run/smoo/state.json --export-map-file /run/smoo/exports.json "
                       "--queue-depth 32 --max-io 1048576 --mimic-fastboot"));
  EXPECT_TRUE(has(log, "SMOO-STANDIN-MARKER: descriptors written to /dev/ffs-usb-gadget0-0/ep0 "
                       "(interface ff/42/03), staying up"));
  EXPECT_TRUE(has(log, "stage0: step smoo ok: smoo-gadget pid "));
  EXPECT_TRUE(has(log, ", bound to dummy_udc.0"));
  // dummy_hcd's host side enumerated the gadget with the configured identity.
  EXPECT_TRUE(std::regex_search(log, std::regex("SMOO-STANDIN-HOST-SIDE: device [0-9.-]+ id "
                                                "18d1:4ee0 serial FBTEST0001 interface ff/42/03 "
                                                "interfaces 3")))
      << log;
  // The CDC-ACM console carries the kernel log (forwarded from /dev/kmsg).
  EXPECT_TRUE(
      std::regex_search(log, std::regex("SMOO-STANDIN-ACM: kmsg reached the host over "
                                        "CDC-ACM: \\[ *[0-9]+\\.[0-9]{6}\\] stage0: step smoo")))
      << log;
  // The root's init ran on the overlay, after fstab removal and credential staging.
  const std::string machine_id =
      stage0_init::format_machine_id(stage0_init::machine_id_from_serial("FBTEST0001"));
  EXPECT_TRUE(
      has(log, "ROOT-INIT-MARKER: root-fstype=overlay writable=1 fstab=removed machine-id=" +
                   machine_id + " enumerated=1"))
      << log;
  EXPECT_TRUE(has(log, "reboot: Power down"));
  EXPECT_FALSE(has(log, "FATAL"));
  EXPECT_FALSE(has(log, "Kernel panic"));
}

TEST_F(Stage0InitQemu, LocalExt4RootWithoutGadget) {
  TempDir tmp;
  Scenario s = gadget_scenario();
  s.gadget = Gadget::None;
  s.settings.acm = false; // no ACM-only gadget either: the gadget step is skipped
  s.settings.rootfs = stage0::RootFsType::Ext4;
  s.settings.serial.clear();
  s.modules = {"configfs", "overlay", "crc32c_generic", "ext4", "virtio_mmio", "virtio_blk"};
  const std::string log = boot(*kernel, build_initramfs(tmp, *kernel, s),
                               build_root(tmp, stage0::RootFsType::Ext4), "ext4-local");
  expect_steps(log, {"gadget", "smoo", "ostree-detect", "ostree", "plymouth"});
  EXPECT_TRUE(has(log, "stage0: step gadget skipped: no /bin/smoo-gadget in the initramfs"));
  EXPECT_TRUE(has(log, "stage0: step root-mount ok: /dev/vda (ext4)"));
  EXPECT_TRUE(std::regex_search(log, std::regex("ROOT-INIT-MARKER: root-fstype=overlay writable=1 "
                                                "fstab=removed machine-id=[0-9a-f]{32} "
                                                "enumerated=0")))
      << log;
  EXPECT_FALSE(has(log, "SMOO-STANDIN"));
  EXPECT_FALSE(has(log, "Kernel panic"));
}

TEST_F(Stage0InitQemu, MissingModuleFailsLoudlyAndPanics) {
  TempDir tmp;
  Scenario s = gadget_scenario();
  s.drop_module_file = "dummy_hcd";
  const std::string log = boot(*kernel, build_initramfs(tmp, *kernel, s),
                               build_root(tmp, s.settings.rootfs.value()), "missing-module");
  const std::string line = "stage0: FATAL: step modules failed: dummy_hcd: load /lib/modules/" +
                           kernel->version +
                           "/kernel/drivers/usb/gadget/udc/dummy_hcd.ko: No such file or "
                           "directory (errno 2) (on_failure=panic)";
  EXPECT_TRUE(has(log, line)) << log;
  // One failure line from the PID1 (the kernel may echo its /dev/kmsg copy).
  EXPECT_EQ(count(log, "\nstage0: FATAL"), 1u) << log;
  EXPECT_TRUE(has(log, "Kernel panic - not syncing: Attempted to kill init!")) << log;
  EXPECT_FALSE(has(log, "stage0: step gadget")); // nothing after the failed step
  EXPECT_FALSE(has(log, "ROOT-INIT"));
}

TEST_F(Stage0InitQemu, RootDeviceTimeoutFollowsOnFailureReboot) {
  TempDir tmp;
  Scenario s = gadget_scenario();
  s.gadget = Gadget::None;
  s.settings.acm = false; // else an ACM-only gadget comes up first, and there is no UDC here
  s.settings.root_device = "/dev/vdz"; // never appears
  s.settings.root_device_timeout_s = 2;
  s.settings.on_failure = stage0::OnFailure::Reboot;
  s.modules = {"configfs", "overlay", "crc32c_generic", "erofs", "virtio_mmio", "virtio_blk"};
  const std::string log = boot(*kernel, build_initramfs(tmp, *kernel, s),
                               build_root(tmp, s.settings.rootfs.value()), "timeout-reboot");
  EXPECT_TRUE(has(log, "stage0: FATAL: step root-wait failed: block device /dev/vdz not ready "
                       "after 2 s: no such node (on_failure=reboot)"))
      << log;
  // One failure line from the PID1 (the kernel may echo its /dev/kmsg copy).
  EXPECT_EQ(count(log, "\nstage0: FATAL"), 1u) << log;
  // -no-reboot turns the guest's reboot into QEMU exiting.
  EXPECT_TRUE(has(log, "reboot: Restarting system")) << log;
  EXPECT_FALSE(has(log, "Kernel panic"));
  EXPECT_FALSE(has(log, "ROOT-INIT"));
}
