// Pure PID1 plans: configfs attributes, smoo arguments, module index,
// machine-id vectors (spec §7.3), OSTree path rules.
#include "plan.hpp"

#include <algorithm>
#include <gtest/gtest.h>

using namespace fastboop::stage0_init;
using fastboop::stage0::Stage0Settings;
using K = GadgetOp::Kind;

TEST(GadgetPlan, DefaultsMatchSpec45) {
  Stage0Settings s;
  const GadgetLayout layout = gadget_layout("usb-gadget0");
  EXPECT_EQ(layout.ffs_dir, "/dev/ffs-usb-gadget0-0");
  EXPECT_EQ(layout.ffs_instance, "usb-gadget0-0");
  const std::string g = "/sys/kernel/config/usb_gadget/usb-gadget0";
  const std::vector<GadgetOp> expected = {
      {K::Mkdir, g, ""},
      {K::Write, g + "/bDeviceClass", "0x00"},
      {K::Write, g + "/bDeviceSubClass", "0x00"},
      {K::Write, g + "/bDeviceProtocol", "0x00"},
      {K::Write, g + "/idVendor", "0xdead"},
      {K::Write, g + "/idProduct", "0xbeef"},
      {K::Write, g + "/bMaxPacketSize0", "0x40"},
      {K::Write, g + "/bcdDevice", "0x0000"},
      {K::Write, g + "/bcdUSB", "0x0200"},
      {K::Mkdir, g + "/strings/0x409", ""},
      {K::Write, g + "/strings/0x409/manufacturer", "smoo"},
      {K::Write, g + "/strings/0x409/product", "smoo gadget"},
      {K::Write, g + "/strings/0x409/serialnumber", "0001"},
      {K::Mkdir, g + "/functions/ffs.usb-gadget0-0", ""},
      {K::Mkdir, g + "/configs/c.1", ""},
      {K::Write, g + "/configs/c.1/bmAttributes", "0x80"},
      {K::Write, g + "/configs/c.1/MaxPower", "500"},
      {K::Mkdir, g + "/configs/c.1/strings/0x409", ""},
      {K::Write, g + "/configs/c.1/strings/0x409/configuration", "config"},
      {K::Symlink, g + "/configs/c.1/ffs.usb-gadget0-0", g + "/functions/ffs.usb-gadget0-0"},
  };
  EXPECT_EQ(gadget_plan(s, layout), expected);
}

TEST(GadgetPlan, SettingsAndAcm) {
  Stage0Settings s;
  s.vendor_id = 0x18d1;
  s.product_id = 0x4ee0;
  s.serial = "E2E0001";
  s.acm = true;
  const GadgetLayout layout = gadget_layout("usb-gadget0");
  const auto ops = gadget_plan(s, layout);
  const std::string g = layout.dir;
  auto find = [&](const std::string& path) {
    for (const GadgetOp& op : ops)
      if (op.path == path)
        return op;
    ADD_FAILURE() << "no op for " << path;
    return GadgetOp{};
  };
  EXPECT_EQ(find(g + "/idVendor").value, "0x18d1");
  EXPECT_EQ(find(g + "/idProduct").value, "0x4ee0");
  EXPECT_EQ(find(g + "/strings/0x409/serialnumber").value, "E2E0001");
  // Fixed instance indexes (upstream takes them from hash-set order): ffs 0, acm 1.
  EXPECT_EQ(find(g + "/functions/acm.usb-gadget0-1").kind, K::Mkdir);
  EXPECT_EQ(find(g + "/configs/c.1/acm.usb-gadget0-1").value, g + "/functions/acm.usb-gadget0-1");
  // Every function exists before the config that links it.
  EXPECT_EQ(ops.back().kind, K::Symlink);
}

TEST(GadgetPlan, AcmOnlyHasNoFunctionFs) {
  Stage0Settings s; // smoo.acm unset: AcmOnly still adds the ACM function
  const GadgetLayout layout = gadget_layout("usb-gadget0");
  const auto ops = gadget_plan(s, layout, GadgetFunctions::AcmOnly);
  const std::string g = layout.dir;
  for (const GadgetOp& op : ops)
    EXPECT_EQ(op.path.find("ffs."), std::string::npos) << op.path;
  ASSERT_GE(ops.size(), 2u);
  EXPECT_EQ(ops.back(), (GadgetOp{K::Symlink, g + "/configs/c.1/acm.usb-gadget0-1",
                                  g + "/functions/acm.usb-gadget0-1"}));
  EXPECT_NE(std::find(ops.begin(), ops.end(), GadgetOp{K::Mkdir, g + "/functions/acm.usb-gadget0-1", ""}),
            ops.end());
}

TEST(SmooArguments, Minimal) {
  EXPECT_EQ(smoo_arguments(Stage0Settings{}, "/dev/ffs-usb-gadget0-0"),
            (std::vector<std::string>{"/bin/smoo-gadget", "--ffs-dir", "/dev/ffs-usb-gadget0-0",
                                      "--state-file", "/run/smoo/state.json", "--export-map-file",
                                      "/run/smoo/exports.json"}));
}

TEST(SmooArguments, FromSettings) {
  Stage0Settings s;
  s.queue_count = 2;
  s.queue_depth = 64;
  s.max_io_bytes = 1048576;
  s.mimic_fastboot = true;
  s.vendor_id = 0x18d1; // not passed: ignored by smoo-gadget with --ffs-dir
  s.serial = "x";       // smoo-gadget has no --serial option
  EXPECT_EQ(
      smoo_arguments(s, "/dev/ffs-g-0"),
      (std::vector<std::string>{"/bin/smoo-gadget", "--ffs-dir", "/dev/ffs-g-0", "--state-file",
                                "/run/smoo/state.json", "--export-map-file",
                                "/run/smoo/exports.json", "--queue-count", "2", "--queue-depth",
                                "64", "--max-io", "1048576", "--mimic-fastboot"}));
}

TEST(ModuleIndex, ParsesModulesDep) {
  auto index = ModuleIndex::parse("kernel/fs/configfs/configfs.ko:\n"
                                  "kernel/drivers/usb/gadget/udc/udc-core.ko.xz: "
                                  "kernel/drivers/usb/common/usb-common.ko\n"
                                  "garbage line without colon\n"
                                  "kernel/drivers/usb/dwc3/dwc3-qcom.ko.zst:  a.ko   b.ko \n");
  EXPECT_EQ(index.size(), 3u);
  ASSERT_NE(index.path_of("udc-core"), nullptr);
  EXPECT_EQ(*index.path_of("udc_core"), "kernel/drivers/usb/gadget/udc/udc-core.ko.xz");
  EXPECT_EQ(index.deps_of("kernel/drivers/usb/gadget/udc/udc-core.ko.xz"),
            (std::vector<std::string>{"kernel/drivers/usb/common/usb-common.ko"}));
  // Upstream matches names exactly; we fold '-' and '_' like the kernel does.
  ASSERT_NE(index.path_of("dwc3_qcom"), nullptr);
  EXPECT_EQ(index.deps_of(*index.path_of("dwc3-qcom")), (std::vector<std::string>{"a.ko", "b.ko"}));
  EXPECT_EQ(index.path_of("missing"), nullptr);
}

TEST(ModuleIndex, NamesAndCompression) {
  EXPECT_EQ(module_name_key("kernel/a/usb_f_fs.ko.zst"), "usb_f_fs");
  EXPECT_EQ(module_name_key("usb-common.ko"), "usb_common");
  EXPECT_EQ(module_name_key("dummy_hcd"), "dummy_hcd");
  EXPECT_TRUE(module_is_compressed("x.ko.xz"));
  EXPECT_TRUE(module_is_compressed("x.ko.gz"));
  EXPECT_TRUE(module_is_compressed("x.ko.zst"));
  EXPECT_FALSE(module_is_compressed("x.ko"));
  EXPECT_EQ(parse_modules_builtin("kernel/fs/ext4/ext4.ko\n\nkernel/x/usb-common.ko\n"),
            (std::set<std::string>{"ext4", "usb_common"}));
}

TEST(MachineId, SpecVectors) {
  EXPECT_EQ(format_machine_id(machine_id_from_serial("serial-1")),
            "cfb194d5557abeaacfb195d5557ac05d");
  EXPECT_EQ(format_machine_id(machine_id_from_serial("0001")), "32d976acdfb9b8ff32d975acdfb9b74c");
  EXPECT_EQ(format_machine_id(machine_id_from_serial("ABCDEF0123")),
            "b675dbb26f8f263fb675dab26f8f248c");
}

TEST(MachineId, AllZeroBecomesOne) {
  EXPECT_EQ(format_machine_id({}), "01" + std::string(30, '0'));
}

TEST(Ostree, NormalizePath) {
  EXPECT_EQ(*normalize_ostree_path(" /ostree/boot.1/fedora/abc/0/ "), "ostree/boot.1/fedora/abc/0");
  EXPECT_EQ(*normalize_ostree_path("./ostree//./x"), "ostree/x");
  EXPECT_FALSE(normalize_ostree_path("/ostree/../etc").ok());
  EXPECT_FALSE(normalize_ostree_path("/./").ok());
}

TEST(Ostree, StaterootVar) {
  EXPECT_EQ(*ostree_stateroot_var("ostree/deploy/fedora/deploy/deadbeef.0"),
            "ostree/deploy/fedora/var");
  auto bad = ostree_stateroot_var("ostree/deploy/fedora/current");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("missing deploy"), std::string::npos);
  EXPECT_FALSE(ostree_stateroot_var("ostree/deploy/fedora/deploy/x/extra").ok());
}

TEST(ProcParsers, MountinfoAndFilesystems) {
  const char* mountinfo = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
                          "23 1 0:22 / /newroot/proc rw - proc proc rw\n";
  EXPECT_TRUE(mountinfo_has_mount_point(mountinfo, "/newroot/proc"));
  EXPECT_FALSE(mountinfo_has_mount_point(mountinfo, "/newroot/sys"));
  EXPECT_TRUE(filesystems_has("nodev\tsysfs\n\text4\nnodev\toverlay\n", "overlay"));
  EXPECT_FALSE(filesystems_has("nodev\toverlayfs\n", "overlay"));
}

TEST(KmsgForwarder, FormatsRecords) {
  EXPECT_EQ(format_kmsg_record("6,339,5140900,-;stage0: step smoo\n"),
            "[    5.140900] stage0: step smoo\r\n");
  EXPECT_EQ(
      format_kmsg_record("4,1,123456789012,-,caller=T1;usb 1-1: new device\n SUBSYSTEM=usb\n"),
      "[123456.789012] usb 1-1: new device\r\n");
  EXPECT_EQ(format_kmsg_record("6,2,0,-;x"), "[    0.000000] x\r\n");
  EXPECT_FALSE(format_kmsg_record("6,2,0,-;\n"));
  EXPECT_FALSE(format_kmsg_record("no separator\n"));
  EXPECT_FALSE(format_kmsg_record(""));
}
