// The PID1 boot sequence run against the recording FakeSys: step order, the
// system calls each step makes, timeouts, and the one-line failure report.
#include "fake_sys.hpp"
#include "pid1.hpp"

#include <cerrno>
#include <cstring>
#include <gtest/gtest.h>

using namespace fastboop::stage0_init;
using fastboop::stage0::OnFailure;
using fastboop::stage0_init::test::FakeSys;

namespace {

const std::string kRel = "6.1.0-test";
const std::string kBase = "/lib/modules/" + kRel;

// A stage0 initramfs as the generator lays it out, plus the kernel's reactions.
struct Boot : ::testing::Test {
  FakeSys sys;

  void SetUp() override {
    setting("stage0.rootfs", "erofs");
    setting("smoo.vendor", "0x18d1");
    setting("smoo.product", "0x4ee0");
    setting("stage0.serial", "serial-1");
    setting("smoo.mimic_fastboot", "1");
    setting("smoo.max_io_bytes", "1048576");
    sys.add_file("/etc/modules-load.d/fastboop-stage0.conf",
                 "configfs\nlibcomposite\nusb_f_fs\nublk_drv\noverlay\nerofs\n");
    sys.add_file("/proc/sys/kernel/osrelease", kRel + "\n");
    sys.add_file(
        kBase + "/modules.dep",
        "kernel/fs/configfs/configfs.ko:\n"
        "kernel/drivers/usb/common/usb-common.ko:\n"
        "kernel/drivers/usb/gadget/udc/udc-core.ko: kernel/drivers/usb/common/usb-common.ko\n"
        "kernel/drivers/usb/gadget/libcomposite.ko: kernel/drivers/usb/gadget/udc/udc-core.ko "
        "kernel/fs/configfs/configfs.ko\n"
        "kernel/drivers/usb/gadget/function/usb_f_fs.ko.xz: "
        "kernel/drivers/usb/gadget/libcomposite.ko\n"
        "kernel/drivers/block/ublk_drv.ko:\n"
        "kernel/fs/erofs/erofs.ko:\n");
    sys.add_file(kBase + "/modules.builtin", "kernel/fs/overlayfs/overlay.ko\n");
    for (const char* m :
         {"kernel/fs/configfs/configfs.ko", "kernel/drivers/usb/common/usb-common.ko",
          "kernel/drivers/usb/gadget/udc/udc-core.ko", "kernel/drivers/usb/gadget/libcomposite.ko",
          "kernel/drivers/usb/gadget/function/usb_f_fs.ko.xz", "kernel/drivers/block/ublk_drv.ko",
          "kernel/fs/erofs/erofs.ko"})
      sys.add_file(kBase + "/" + m, "\x7f"
                                    "ELF");
    sys.add_file("/bin/smoo-gadget", "ELF");
    sys.add_file("/proc/filesystems", "nodev\tsysfs\nnodev\ttmpfs\n\terofs\nnodev\toverlay\n");
    sys.add_file("/proc/self/mountinfo", "1 0 0:1 / / rw - rootfs rootfs rw\n");
    sys.add_dir("/sys/kernel/config/usb_gadget");
    sys.add_dir("/sys/class/udc/dummy_udc.0");
    // The root filesystem's content, as the overlay will show it.
    sys.add_file("/newroot/etc/fstab", "/dev/sda1 / ext4 defaults 0 1\n");
    sys.add_file("/newroot/sbin/init", "ELF");
    sys.add_dir("/newroot/usr/lib/systemd/system");
    // Kernel reactions: the gadget's descriptors make ep1 appear; binding
    // the UDC lets the host export the disk, so /dev/ublkb0 shows up.
    sys.on_spawn = [this](const std::vector<std::string>&) {
      sys.add_file("/dev/ffs-usb-gadget0-0/ep1", "");
    };
    sys.on_write = [this](const std::string& path, const std::string&) {
      if (path.ends_with("/UDC"))
        sys.add_node("/dev/ublkb0", FileType::BlockDevice);
    };
  }

  void setting(const std::string& key, const std::string& value) {
    sys.add_file("/etc/stage0/" + key, value + "\n");
  }

  std::vector<std::string> step_lines() const {
    std::vector<std::string> out;
    for (const std::string& line : sys.log_lines)
      if (line.starts_with("stage0: step "))
        out.push_back(line);
    return out;
  }

  std::size_t index_of(const std::string& call) const {
    for (std::size_t i = 0; i < sys.calls.size(); ++i)
      if (sys.calls[i] == call)
        return i;
    ADD_FAILURE() << "call not made: " << call;
    return SIZE_MAX;
  }

  bool called(const std::string& call) const {
    return std::find(sys.calls.begin(), sys.calls.end(), call) != sys.calls.end();
  }

  bool logged(const std::string& needle) const {
    for (const std::string& line : sys.log_lines)
      if (line.find(needle) != std::string::npos)
        return true;
    return false;
  }

  // `expected` must appear in this order (other calls may come between).
  void expect_in_order(const std::vector<std::string>& expected) const {
    std::size_t at = 0;
    for (const std::string& call : expected) {
      auto it =
          std::find(sys.calls.begin() + static_cast<std::ptrdiff_t>(at), sys.calls.end(), call);
      ASSERT_NE(it, sys.calls.end()) << "missing or out of order: " << call;
      at = static_cast<std::size_t>(it - sys.calls.begin()) + 1;
    }
  }
};

} // namespace

TEST_F(Boot, SmooFlowRunsEveryStepInOrder) {
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(sys.error_lines.empty());
  std::vector<std::string> starts;
  for (const std::string& line : step_lines())
    if (line.find(" ok") == std::string::npos && line.find(" skipped") == std::string::npos)
      starts.push_back(line.substr(std::string("stage0: step ").size()));
  EXPECT_EQ(starts, (std::vector<std::string>(std::begin(kStepNames), std::end(kStepNames))));
  const std::string g = "/sys/kernel/config/usb_gadget/usb-gadget0";
  expect_in_order({
      "mount proc /proc proc 0",
      "mount sysfs /sys sysfs 0",
      "mount devtmpfs /dev devtmpfs 0",
      "attach_console",
      "mount tmpfs /run tmpfs 0",
      // dependencies first, each file once; overlay is built in
      "finit_module " + kBase + "/kernel/fs/configfs/configfs.ko 0",
      "finit_module " + kBase + "/kernel/drivers/usb/common/usb-common.ko 0",
      "finit_module " + kBase + "/kernel/drivers/usb/gadget/udc/udc-core.ko 0",
      "finit_module " + kBase + "/kernel/drivers/usb/gadget/libcomposite.ko 0",
      "finit_module " + kBase + "/kernel/drivers/usb/gadget/function/usb_f_fs.ko.xz 4",
      "finit_module " + kBase + "/kernel/drivers/block/ublk_drv.ko 0",
      "finit_module " + kBase + "/kernel/fs/erofs/erofs.ko 0",
      "mount configfs /sys/kernel/config configfs 0",
      "mkdir " + g,
      "write " + g + "/idVendor = 0x18d1",
      "write " + g + "/idProduct = 0x4ee0",
      "write " + g + "/strings/0x409/serialnumber = serial-1",
      "symlink " + g + "/configs/c.1/ffs.usb-gadget0-0 -> " + g + "/functions/ffs.usb-gadget0-0",
      "mount usb-gadget0-0 /dev/ffs-usb-gadget0-0 functionfs 0",
      "spawn /bin/smoo-gadget --ffs-dir /dev/ffs-usb-gadget0-0 --state-file /run/smoo/state.json "
      "--export-map-file /run/smoo/exports.json --max-io 1048576 --mimic-fastboot",
      "write " + g + "/UDC = dummy_udc.0",
      "mount /dev/ublkb0 /lower erofs RDONLY",
      "mount tmpfs /upper tmpfs 0",
      "mount overlay /newroot overlay 0 lowerdir=/lower,upperdir=/upper/upper,workdir=/upper/work",
      "mount - / - REC|PRIVATE",
      "unlink /newroot/etc/fstab",
      "mount /proc /newroot/proc - BIND|REC",
      "mount /sys /newroot/sys - BIND|REC",
      "mount /dev /newroot/dev - BIND|REC",
      "mount /run /newroot/run - BIND",
      "chdir /newroot",
      "mount /newroot / - MOVE",
      "chroot .",
      "chdir /",
      "write /run/credstore/system.machine_id = cfb194d5557abeaacfb195d5557ac05d",
      "exec /sbin/init argc=1",
  });
  // Every module file was loaded exactly once.
  EXPECT_EQ(std::count_if(sys.calls.begin(), sys.calls.end(),
                          [](const std::string& c) { return c.starts_with("finit_module"); }),
            7);
  // The new root's files were reached through the moved root.
  EXPECT_FALSE(sys.has("/newroot/etc/fstab"));
  EXPECT_TRUE(sys.has("/run/credstore/system.machine_id"));
  EXPECT_TRUE(logged("stage0: step modules ok: 7 module files"));
  EXPECT_TRUE(logged("stage0: modules: overlay: built in"));
}

TEST_F(Boot, UdcIsBoundOnlyAfterEp1Appears) {
  int polls_before_ep1 = 3;
  sys.on_spawn = nullptr;
  sys.on_sleep = [&](std::uint64_t) {
    if (--polls_before_ep1 == 0)
      sys.add_file("/dev/ffs-usb-gadget0-0/ep1", "");
  };
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_GE(sys.clock_ms, 150u);
  EXPECT_LT(index_of("spawn /bin/smoo-gadget --ffs-dir /dev/ffs-usb-gadget0-0 --state-file "
                     "/run/smoo/state.json --export-map-file /run/smoo/exports.json --max-io "
                     "1048576 --mimic-fastboot"),
            index_of("write /sys/kernel/config/usb_gadget/usb-gadget0/UDC = dummy_udc.0"));
}

TEST_F(Boot, UdcBindRetriesWhileFunctionFsIsNotReady) {
  int failures = 2;
  sys.on_write_error = [&](const std::string& path) {
    return path.ends_with("/UDC") && failures-- > 0 ? (failures == 1 ? ENODEV : EBUSY) : 0;
  };
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_EQ(std::count(sys.calls.begin(), sys.calls.end(),
                       "write /sys/kernel/config/usb_gadget/usb-gadget0/UDC = dummy_udc.0"),
            1);
  EXPECT_EQ(failures, -1);
  EXPECT_TRUE(logged("stage0: smoo: UDC bind succeeded after 2 retries"));
}

TEST_F(Boot, UdcBindGivesUpAfterBoundedRetries) {
  sys.on_write_error = [&](const std::string& path) { return path.ends_with("/UDC") ? EBUSY : 0; };
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "smoo");
  EXPECT_EQ(r.cause, "bind /sys/kernel/config/usb_gadget/usb-gadget0/UDC to dummy_udc.0: Device "
                     "or resource busy (errno 16)");
  EXPECT_LE(sys.clock_ms, 2100u);
}

TEST_F(Boot, NamedUdcAndSmooLog) {
  sys.add_dir("/sys/class/udc/a_first.udc");
  setting("stage0.udc", "dummy_udc.0");
  setting("smoo.log", "debug");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(called("write /sys/kernel/config/usb_gadget/usb-gadget0/UDC = dummy_udc.0"));
  EXPECT_TRUE(logged("[env RUST_LOG=debug]") ||
              std::any_of(sys.calls.begin(), sys.calls.end(), [](const std::string& c) {
                return c.find("[env RUST_LOG=debug]") != std::string::npos;
              }));
}

TEST_F(Boot, FirstUdcAlphabetically) {
  sys.add_dir("/sys/class/udc/a_first.udc");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(called("write /sys/kernel/config/usb_gadget/usb-gadget0/UDC = a_first.udc"));
}

TEST_F(Boot, ModuleLoadFailureIsFatalNamingModuleAndErrno) {
  sys.on_finit_module = [](const std::string& path, int) {
    return path.find("usb_f_fs") != std::string::npos ? ENOEXEC : 0;
  };
  RunResult r = run_pid1(sys);
  EXPECT_FALSE(r.exec_ok);
  EXPECT_EQ(r.failed_step, "modules");
  ASSERT_EQ(sys.error_lines.size(), 1u);
  EXPECT_EQ(sys.error_lines[0],
            "stage0: FATAL: step modules failed: usb_f_fs: load " + kBase +
                "/kernel/drivers/usb/gadget/function/usb_f_fs.ko.xz (compressed): Exec format "
                "error (errno 8) (on_failure=panic)");
  EXPECT_EQ(r.on_failure, OnFailure::Panic);
  // Upstream only warned and went on to time out later; nothing runs after the failure now.
  EXPECT_FALSE(called("mount configfs /sys/kernel/config configfs 0"));
}

TEST_F(Boot, AlreadyLoadedModuleIsFine) {
  sys.on_finit_module = [](const std::string&, int) { return EEXIST; };
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(logged("loaded configfs (already present)"));
}

TEST_F(Boot, MissingModuleFileIsFatal) {
  sys.remove(kBase + "/kernel/fs/erofs/erofs.ko");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "modules");
  EXPECT_NE(r.cause.find("erofs: load " + kBase + "/kernel/fs/erofs/erofs.ko: No such file"),
            std::string::npos)
      << r.cause;
}

TEST_F(Boot, UnknownModuleNameIsFatal) {
  sys.add_file("/etc/modules-load.d/fastboop-stage0.conf", "configfs\nno_such_mod\n");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "modules");
  EXPECT_EQ(r.cause, "no_such_mod: not in " + kBase + "/modules.dep");
}

TEST_F(Boot, DashAndUnderscoreAreTheSameModule) {
  sys.add_file("/etc/modules-load.d/fastboop-stage0.conf", "usb_common\nudc_core\n");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(called("finit_module " + kBase + "/kernel/drivers/usb/gadget/udc/udc-core.ko 0"));
}

TEST_F(Boot, MissingModulesDepIsFatalWhenModulesAreListed) {
  sys.remove(kBase + "/modules.dep");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "modules");
  EXPECT_NE(r.cause.find("modules.dep"), std::string::npos);
}

TEST_F(Boot, MissingRootfsSettingIsFatal) {
  sys.remove("/etc/stage0/stage0.rootfs");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "settings");
  EXPECT_NE(r.cause.find("stage0.rootfs"), std::string::npos);
}

TEST_F(Boot, SettingsWarningsAreLoggedAndDirectoriesSkipped) {
  setting("smoo.vendor", "not-a-number");
  sys.add_dir("/etc/stage0/subdir");
  sys.add_node("/etc/stage0/smoo.acm", FileType::Symlink, "/etc/stage0/stage0.rootfs");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(logged("stage0: settings: warning: setting smoo.vendor='not-a-number'"));
  EXPECT_TRUE(called("write /sys/kernel/config/usb_gadget/usb-gadget0/idVendor = 0xdead"));
  EXPECT_FALSE(sys.has("/sys/kernel/config/usb_gadget/usb-gadget0/functions/acm.usb-gadget0-1"));
}

TEST_F(Boot, MountFailureUsesOnFailureFromSettings) {
  setting("stage0.on_failure", "reboot");
  sys.mount_errors["/sys"] = EBUSY;
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "mounts");
  EXPECT_EQ(r.on_failure, OnFailure::Reboot);
  ASSERT_EQ(sys.error_lines.size(), 1u);
  EXPECT_EQ(sys.error_lines[0], "stage0: FATAL: step mounts failed: mount sysfs on /sys: Device or "
                                "resource busy (errno 16) (on_failure=reboot)");
}

TEST_F(Boot, NoUdcTimesOut) {
  sys.remove("/sys/class/udc/dummy_udc.0");
  setting("stage0.udc_timeout", "2");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "gadget");
  EXPECT_EQ(r.cause, "a UDC in /sys/class/udc not ready after 2 s");
  EXPECT_GE(sys.clock_ms, 2000u);
  EXPECT_LT(sys.clock_ms, 2200u);
}

TEST_F(Boot, MissingLibcompositeIsNamed) {
  sys.remove("/sys/kernel/config/usb_gadget");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "gadget");
  EXPECT_NE(r.cause.find("libcomposite"), std::string::npos);
}

TEST_F(Boot, GadgetExitBeforeEp1IsFatal) {
  sys.on_spawn = nullptr;
  sys.child_status = ChildStatus{true, 1};
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "smoo");
  EXPECT_EQ(r.cause,
            "smoo-gadget exited with status 1 while waiting for /dev/ffs-usb-gadget0-0/ep1");
}

TEST_F(Boot, GadgetExitWhileWaitingForUblkIsFatal) {
  sys.on_write = nullptr; // the host never exports
  int polls = 0;
  sys.on_sleep = [&](std::uint64_t) {
    if (++polls == 5)
      sys.child_status = ChildStatus{true, 3};
  };
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "root-wait");
  EXPECT_EQ(r.cause, "smoo-gadget exited with status 3 while waiting for block device /dev/ublkb0");
}

TEST_F(Boot, UblkTimeoutFromSettings) {
  sys.on_write = nullptr;
  setting("stage0.ublk_timeout", "5");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "root-wait");
  EXPECT_EQ(r.cause, "block device /dev/ublkb0 not ready after 5 s: no such node");
  EXPECT_GE(sys.clock_ms, 5000u);
}

TEST_F(Boot, LocalRootWithoutGadgetSkipsGadgetSteps) {
  sys.remove("/bin/smoo-gadget");
  setting("stage0.root_device", "/dev/vda");
  setting("stage0.rootfs", "ext4");
  int polls = 0;
  sys.on_sleep = [&](std::uint64_t) {
    if (++polls == 4)
      sys.add_node("/dev/vda", FileType::BlockDevice);
  };
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(logged("stage0: step gadget skipped: no /bin/smoo-gadget in the initramfs"));
  EXPECT_TRUE(logged("stage0: step smoo skipped: no /bin/smoo-gadget in the initramfs"));
  EXPECT_FALSE(called("mount configfs /sys/kernel/config configfs 0"));
  // ext4 lower roots are mounted with noload so the journal is never replayed.
  EXPECT_TRUE(called("mount /dev/vda /lower ext4 RDONLY noload"));
}

// --serial with a local root and no smoo-gadget: the generator writes
// smoo.acm and loads usb_f_acm, and the PID1 must bind an ACM-only gadget, or
// serial-getty@ttyGS0 would wait for a tty that never appears.
TEST_F(Boot, LocalRootWithAcmBindsAnAcmOnlyGadget) {
  sys.remove("/bin/smoo-gadget");
  setting("stage0.root_device", "/dev/vda");
  setting("smoo.acm", "1");
  sys.add_node("/dev/vda", FileType::BlockDevice);
  sys.add_file("/newroot/lib/systemd/system/serial-getty@.service", "[Unit]");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  const std::string g = "/sys/kernel/config/usb_gadget/usb-gadget0";
  expect_in_order({
      "mount configfs /sys/kernel/config configfs 0",
      "mkdir " + g,
      "write " + g + "/idVendor = 0x18d1",
      "write " + g + "/idProduct = 0x4ee0",
      "write " + g + "/strings/0x409/serialnumber = serial-1",
      "mkdir " + g + "/functions/acm.usb-gadget0-1",
      "mkdir " + g + "/configs/c.1",
      "symlink " + g + "/configs/c.1/acm.usb-gadget0-1 -> " + g + "/functions/acm.usb-gadget0-1",
      "write " + g + "/UDC = dummy_udc.0",
      "start_kmsg_forwarder",
      "mount /dev/vda /lower erofs RDONLY",
  });
  EXPECT_FALSE(sys.has(g + "/functions/ffs.usb-gadget0-0"));
  for (const std::string& call : sys.calls) {
    EXPECT_EQ(call.find("functionfs"), std::string::npos) << call;
    EXPECT_EQ(call.find("spawn"), std::string::npos) << call;
  }
  EXPECT_TRUE(logged("acm only, bound to dummy_udc.0"));
  EXPECT_TRUE(logged("stage0: step smoo skipped: no /bin/smoo-gadget in the initramfs"));
  EXPECT_TRUE(called("symlink /run/systemd/system/getty.target.wants/serial-getty@ttyGS0.service "
                     "-> /lib/systemd/system/serial-getty@.service"));
}

TEST_F(Boot, LocalRootWithoutAcmSetsUpNoGadget) {
  sys.remove("/bin/smoo-gadget");
  setting("stage0.root_device", "/dev/vda");
  setting("smoo.acm", "0");
  sys.add_node("/dev/vda", FileType::BlockDevice);
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(logged("stage0: step gadget skipped: no /bin/smoo-gadget in the initramfs"));
  for (const std::string& call : sys.calls) {
    EXPECT_EQ(call.find("/sys/kernel/config"), std::string::npos) << call;
    EXPECT_EQ(call.find("/UDC"), std::string::npos) << call;
  }
  EXPECT_FALSE(called("start_kmsg_forwarder"));
}

TEST_F(Boot, LocalRootWithAcmFailsLoudlyWithoutAUdc) {
  sys.remove("/bin/smoo-gadget");
  sys.remove("/sys/class/udc/dummy_udc.0");
  setting("stage0.root_device", "/dev/vda");
  setting("smoo.acm", "1");
  setting("stage0.udc_timeout", "2");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "gadget");
  EXPECT_EQ(r.cause, "a UDC in /sys/class/udc not ready after 2 s");
}

TEST_F(Boot, LocalRootWithGadgetKeepsGadgetAndWaitsForTheDevice) {
  setting("stage0.root_device", "/dev/vda");
  sys.add_node("/dev/vda", FileType::BlockDevice);
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(called("write /sys/kernel/config/usb_gadget/usb-gadget0/UDC = dummy_udc.0"));
  EXPECT_TRUE(called("mount /dev/vda /lower erofs RDONLY"));
}

TEST_F(Boot, LocalRootTimeout) {
  sys.remove("/bin/smoo-gadget");
  setting("stage0.root_device", "/dev/vdb");
  setting("stage0.root_device_timeout", "7");
  sys.add_file("/dev/vdb", ""); // a regular file is not a block device
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "root-wait");
  EXPECT_EQ(r.cause, "block device /dev/vdb not ready after 7 s: not a block device");
}

// The smoo chain in QEMU showed /dev/ublkb0 existing a moment before it opens
// (ENXIO until ublk's partition scan ends): the node alone is not readiness.
TEST_F(Boot, UblkNodeThatDoesNotOpenYetIsWaitedFor) {
  int opens = 0;
  sys.on_block_open = [&](const std::string&) { return ++opens < 4 ? ENXIO : 0; };
  sys.block_sizes["/dev/ublkb0"] = 72ull << 20;
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "") << r.cause;
  EXPECT_EQ(opens, 4);
  expect_in_order({"open-block /dev/ublkb0", "mount /dev/ublkb0 /lower erofs RDONLY"});
  EXPECT_TRUE(logged("step root-wait ok: /dev/ublkb0, 75497472 bytes"))
      << ::testing::PrintToString(sys.log_lines);
}

TEST_F(Boot, UblkNodeThatNeverOpensTimesOutSayingWhy) {
  sys.on_block_open = [](const std::string&) { return ENXIO; };
  setting("stage0.ublk_timeout", "3");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "root-wait");
  EXPECT_EQ(r.cause, "block device /dev/ublkb0 not ready after 3 s: open: " +
                         std::string(std::strerror(ENXIO)));
}

TEST_F(Boot, AnEmptyBlockDeviceIsNotARoot) {
  sys.block_sizes["/dev/ublkb0"] = 0;
  setting("stage0.ublk_timeout", "2");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "root-wait");
  EXPECT_EQ(r.cause, "block device /dev/ublkb0 not ready after 2 s: size 0");
}

TEST_F(Boot, NoRootSourceAtAll) {
  sys.remove("/bin/smoo-gadget");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "root-wait");
  EXPECT_NE(r.cause.find("nothing can provide /dev/ublkb0"), std::string::npos);
}

TEST_F(Boot, OverlayMissingIsFatal) {
  sys.add_file("/proc/filesystems", "nodev\tsysfs\n\terofs\n");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "root-mount");
  EXPECT_NE(r.cause.find("overlayfs not available"), std::string::npos);
}

TEST_F(Boot, KeepFstabWhenAsked) {
  setting("stage0.yeetfstab", "0");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(sys.has("/newroot/etc/fstab"));
  EXPECT_TRUE(logged("stage0: step fstab skipped"));
}

TEST_F(Boot, AbsentFstabIsFine) {
  sys.remove("/newroot/etc/fstab");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_TRUE(logged("stage0: step fstab ok: no /etc/fstab"));
}

TEST_F(Boot, BindsSkipExistingMountPoints) {
  sys.add_file("/proc/self/mountinfo", "30 1 0:5 / /newroot/dev rw - devtmpfs devtmpfs rw\n");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_FALSE(called("mount /dev /newroot/dev - BIND|REC"));
  EXPECT_TRUE(called("mount /sys /newroot/sys - BIND|REC"));
}

TEST_F(Boot, CredentialsAndUnits) {
  setting("firstboot.locale", "en_US.UTF-8");
  setting("firstboot.timezone", "Europe/Berlin");
  setting("smoo.acm", "1");
  sys.add_file("/newroot/usr/lib/systemd/system/plymouth-start.service", "[Unit]");
  sys.add_file("/newroot/etc/systemd/system/plymouth-start.service", "[Unit]");
  sys.add_file("/newroot/lib/systemd/system/serial-getty@.service", "[Unit]");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_EQ(sys.node("/run/credstore/firstboot.locale")->content, "en_US.UTF-8");
  EXPECT_EQ(sys.node("/run/credstore/firstboot.timezone")->content, "Europe/Berlin");
  EXPECT_FALSE(sys.has("/run/credstore/firstboot.keymap"));
  EXPECT_EQ(sys.node("/run/credstore/system.machine_id")->content,
            "cfb194d5557abeaacfb195d5557ac05d");
  // /etc/systemd/system wins over /usr/lib/systemd/system.
  EXPECT_TRUE(called("symlink /run/systemd/system/sysinit.target.wants/plymouth-start.service -> "
                     "/etc/systemd/system/plymouth-start.service"));
  EXPECT_TRUE(called("symlink /run/systemd/system/getty.target.wants/serial-getty@ttyGS0.service "
                     "-> /lib/systemd/system/serial-getty@.service"));
  EXPECT_TRUE(sys.has("/sys/kernel/config/usb_gadget/usb-gadget0/functions/acm.usb-gadget0-1"));
  // The kmsg -> ttyGS0 forwarder starts once the gadget is bound.
  EXPECT_LT(index_of("write /sys/kernel/config/usb_gadget/usb-gadget0/UDC = dummy_udc.0"),
            index_of("start_kmsg_forwarder"));
}

TEST_F(Boot, NoKmsgForwarderWithoutAcm) {
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_FALSE(called("start_kmsg_forwarder"));
}

TEST_F(Boot, RandomMachineIdWithoutSerial) {
  sys.remove("/etc/stage0/stage0.serial");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  EXPECT_EQ(sys.node("/run/credstore/system.machine_id")->content,
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_TRUE(
      called("write /sys/kernel/config/usb_gadget/usb-gadget0/strings/0x409/serialnumber = 0001"));
  EXPECT_TRUE(logged("stage0: step plymouth skipped: no Plymouth units in the root"));
}

TEST_F(Boot, InitSearchOrderAndNamedInit) {
  sys.add_file("/newroot/usr/lib/systemd/systemd", "ELF");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok);
  EXPECT_TRUE(called("exec /usr/lib/systemd/systemd argc=1"));
}

TEST_F(Boot, NamedInitMustExist) {
  setting("stage0.init", "/bin/my-init");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "exec-init");
  EXPECT_EQ(r.cause, "no init in the new root (tried /bin/my-init)");
}

TEST_F(Boot, ExecFailureIsFatal) {
  sys.exec_result = EACCES;
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "exec-init");
  EXPECT_EQ(r.cause, "exec /sbin/init: Permission denied (errno 13)");
}

TEST_F(Boot, OstreeHandoff) {
  const std::string deploy = "ostree/deploy/fedora/deploy/abc.0";
  setting("ostree", "/ostree/boot.1/fedora/abc/0");
  sys.add_dir("/newroot/" + deploy + "/boot");
  sys.add_dir("/newroot/" + deploy + "/var");
  sys.add_dir("/newroot/" + deploy + "/proc");
  sys.add_dir("/newroot/" + deploy + "/run");
  sys.add_file("/newroot/" + deploy + "/sbin/init", "ELF");
  sys.add_file("/newroot/" + deploy + "/etc/fstab", "x");
  sys.add_dir("/newroot/ostree/deploy/fedora/var");
  sys.add_node("/newroot/ostree/boot.1/fedora/abc/0", FileType::Symlink,
               "../../../deploy/fedora/deploy/abc.0");
  sys.add_node("/newroot/boot/loader", FileType::Symlink, "loader.1");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  expect_in_order({
      "unlink /newroot/" + deploy + "/etc/fstab",
      "mount /proc /newroot/" + deploy + "/proc - BIND|REC",
      "mount /newroot / - MOVE",
      "chroot .",
      "mkdir /" + deploy + "/sysroot",
      "mount / /" + deploy + "/sysroot - BIND",
      "mount /ostree/deploy/fedora/var /" + deploy + "/var - BIND",
      "mount /boot /" + deploy + "/boot - BIND",
      "mount none /" + deploy + "/sysroot - PRIVATE",
      "mount /" + deploy + " /run/fastboop-stage0-root - BIND|REC",
      "chroot /run/fastboop-stage0-root",
      "write /run/ostree-booted = ",
      "chmod /run/ostree-booted 416",
      "exec /sbin/init argc=1",
  });
  EXPECT_TRUE(sys.has("/newroot/" + deploy + "/etc") &&
              !sys.has("/newroot/" + deploy + "/etc/fstab"));
}

TEST_F(Boot, OstreeRejectsNonSymlinkAndBadLayout) {
  setting("ostree", "/ostree/boot.1/fedora/abc/0");
  sys.add_dir("/newroot/ostree/boot.1/fedora/abc/0");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "ostree-detect");
  EXPECT_EQ(r.cause, "/newroot/ostree/boot.1/fedora/abc/0 is not a symlink");
}

TEST_F(Boot, OstreeRejectsDotDot) {
  setting("ostree", "/ostree/../etc");
  RunResult r = run_pid1(sys);
  EXPECT_EQ(r.failed_step, "ostree-detect");
  EXPECT_NE(r.cause.find(".."), std::string::npos);
}

// Issue 21: a live ISO's squashfs is the lower root, under the same overlay.
TEST_F(Boot, SquashfsRootIsMountedAsSquashfsUnderTheOverlay) {
  setting("stage0.rootfs", "squashfs");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  expect_in_order({
      "mount /dev/ublkb0 /lower squashfs RDONLY",
      "mount tmpfs /upper tmpfs 0",
      "mount overlay /newroot overlay 0 lowerdir=/lower,upperdir=/upper/upper,workdir=/upper/work",
      "exec /sbin/init argc=1",
  });
  EXPECT_FALSE(called("loop-attach /medium/LiveOS/rootfs.img"));
}

// Fedora's nested layout: the squashfs holds LiveOS/rootfs.img (ext4), which a
// read-only loop device makes the lower root.
TEST_F(Boot, NestedRootImageIsLoopMountedFromTheSquashfs) {
  setting("stage0.rootfs", "squashfs");
  setting("stage0.rootfs_image", "/LiveOS/rootfs.img");
  setting("stage0.rootfs_image_type", "ext4");
  sys.add_file("/medium/LiveOS/rootfs.img", "ext4 image");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  expect_in_order({
      "mount /dev/ublkb0 /medium squashfs RDONLY",
      "loop-attach /medium/LiveOS/rootfs.img",
      "mount /dev/loop0 /lower ext4 RDONLY noload",
      "mount tmpfs /upper tmpfs 0",
      "mount overlay /newroot overlay 0 lowerdir=/lower,upperdir=/upper/upper,workdir=/upper/work",
      "exec /sbin/init argc=1",
  });
  EXPECT_TRUE(logged("/dev/loop0 (ext4) + tmpfs -> /newroot"));
}

// A live ISO on the device's own disk: the squashfs is a byte range of the
// ISO, shown by a read-only loop device with offset and size.
TEST_F(Boot, RootByteRangeOfADeviceIsLoopMounted) {
  sys.remove("/bin/smoo-gadget");
  setting("stage0.rootfs", "squashfs");
  setting("stage0.root_device", "/dev/vda");
  setting("stage0.root_offset", "1048576");
  setting("stage0.root_size", "8192000");
  sys.add_node("/dev/vda", FileType::BlockDevice);
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  expect_in_order({
      "loop-attach /dev/vda offset=1048576 size=8192000",
      "mount /dev/loop0 /lower squashfs RDONLY",
      "mount tmpfs /upper tmpfs 0",
      "exec /sbin/init argc=1",
  });
  EXPECT_FALSE(called("mount /dev/vda /lower squashfs RDONLY"));
  EXPECT_TRUE(logged("bytes 1048576+8192000 of /dev/vda on /dev/loop0"));
}

// Fedora's layout on a local disk: the byte range holds the squashfs, which
// holds the nested image.
TEST_F(Boot, RootByteRangeThenNestedImage) {
  sys.remove("/bin/smoo-gadget");
  setting("stage0.rootfs", "squashfs");
  setting("stage0.root_device", "/dev/vda");
  setting("stage0.root_offset", "4096");
  setting("stage0.rootfs_image", "/LiveOS/rootfs.img");
  setting("stage0.rootfs_image_type", "ext4");
  sys.add_node("/dev/vda", FileType::BlockDevice);
  sys.add_file("/medium/LiveOS/rootfs.img", "ext4 image");
  RunResult r = run_pid1(sys);
  ASSERT_TRUE(r.exec_ok) << r.failure_line();
  expect_in_order({
      "loop-attach /dev/vda offset=4096 size=0",
      "mount /dev/loop0 /medium squashfs RDONLY",
      "loop-attach /medium/LiveOS/rootfs.img",
      "mount /dev/loop1 /lower ext4 RDONLY noload",
  });
}

TEST_F(Boot, RootByteRangeThatCannotBeAttachedFailsNamingIt) {
  sys.remove("/bin/smoo-gadget");
  setting("stage0.rootfs", "squashfs");
  setting("stage0.root_device", "/dev/vda");
  setting("stage0.root_offset", "4096");
  setting("stage0.root_size", "2048");
  sys.add_node("/dev/vda", FileType::BlockDevice);
  sys.fail_loop_attach = EINVAL;
  RunResult r = run_pid1(sys);
  ASSERT_FALSE(r.exec_ok);
  EXPECT_EQ(r.failed_step, "root-mount");
  EXPECT_NE(r.cause.find("attach a loop device to bytes 4096+2048 of /dev/vda"), std::string::npos)
      << r.cause;
  EXPECT_FALSE(called("mount tmpfs /upper tmpfs 0"));
}

TEST_F(Boot, NestedRootImageThatIsMissingFailsNamingIt) {
  setting("stage0.rootfs", "squashfs");
  setting("stage0.rootfs_image", "/LiveOS/rootfs.img");
  setting("stage0.rootfs_image_type", "ext4");
  RunResult r = run_pid1(sys);
  ASSERT_FALSE(r.exec_ok);
  EXPECT_EQ(r.failed_step, "root-mount");
  EXPECT_NE(r.cause.find("attach a loop device to /medium/LiveOS/rootfs.img"), std::string::npos) << r.cause;
  EXPECT_FALSE(called("mount tmpfs /upper tmpfs 0"));
}
