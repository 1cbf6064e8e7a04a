// build_stage0's step decisions (stage0/build_steps.hpp) as pure functions:
// no dtc, no rootfs, no image.
#include "stage0/build_steps.hpp"

#include "result_matchers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fastboop::stage0 {
namespace {

using fastboop::test::FailedWithMessage;
using fastboop::test::HasValue;
using ::testing::HasSubstr;
using Strings = std::vector<std::string>;

// ## Show that the lower root's type is the request, else the SOURCE's kind
// when the PID1 mounts it, else erofs; and that nothing else is taken.
TEST(Stage0BuildSteps, RootfsTypeIsTheRequestElseAMountableSourceKindElseErofs) {
  EXPECT_THAT(rootfs_type_for("", "ext4"), HasValue(std::string("ext4")));
  EXPECT_THAT(rootfs_type_for("", "squashfs"), HasValue(std::string("squashfs")));
  EXPECT_THAT(rootfs_type_for("", "directory"), HasValue(std::string("erofs")));
  EXPECT_THAT(rootfs_type_for("ext4", "erofs"), HasValue(std::string("ext4")));
  const auto bad = rootfs_type_for("btrfs", "ext4");
  EXPECT_THAT(bad, FailedWithMessage(HasSubstr("'btrfs' is not erofs, ext4 or squashfs")));
  EXPECT_EQ(bad.error().kind(), ErrorKind::Usage);
}

// ## Show the settings layers: generated values, cmdline tokens, explicit
// options, each over the one before, and stage0.rootfs forced last.
TEST(Stage0BuildSteps, SettingsLayersOrderGeneratedTokensOptions) {
  Stage0Options o;
  o.serial = true;
  o.stage0_serial = "from-option";
  o.max_io_bytes = 4096;
  o.root_device = "/dev/sda1";
  o.settings = {{"smoo.log", "info"}, {"stage0.rootfs", "ext4"}};
  const SettingsLayers layers =
      settings_layers(o, "erofs", {{"stage0.serial", "from-token"}, {"smoo.log", "x"}});
  EXPECT_EQ(layers.rootfs, "erofs");
  EXPECT_EQ(layers.generated, (Settings{{"smoo.acm", "1"},
                                        {"stage0.serial", "from-option"},
                                        {"smoo.max_io_bytes", "4096"}}));
  EXPECT_EQ(layers.tokens.at("stage0.serial"), "from-token");
  EXPECT_EQ(layers.options.at("stage0.root_device"), "/dev/sda1");
  const Settings merged = merge_settings(layers);
  EXPECT_EQ(merged.at("stage0.serial"), "from-token");
  EXPECT_EQ(merged.at("smoo.log"), "info");
  EXPECT_EQ(merged.at("stage0.rootfs"), "erofs");

  Stage0Options plain;
  plain.stage0_serial = "";
  const SettingsLayers none = settings_layers(plain, "ext4", {});
  EXPECT_EQ(none.generated, (Settings{{"smoo.max_io_bytes", "1048576"}}));
  EXPECT_TRUE(none.options.empty());
}

// ## Show that the root comes over smoo unless stage0.root_device is set,
// that a smoo root needs a gadget program, and when mimic applies.
TEST(Stage0BuildSteps, RootPlanFollowsRootDeviceGadgetAndAcm) {
  const auto smoo = plan_root({}, true);
  ASSERT_TRUE(smoo);
  EXPECT_TRUE(smoo->smoo);
  EXPECT_TRUE(smoo->gadget);
  EXPECT_FALSE(smoo->acm);
  EXPECT_TRUE(mimics_fastboot(true, *smoo));
  EXPECT_FALSE(mimics_fastboot(false, *smoo));

  const auto missing = plan_root({{"stage0.root_device", "  "}}, false);
  EXPECT_THAT(missing, FailedWithMessage(HasSubstr("no --smoo-gadget PATH")));
  EXPECT_EQ(missing.error().kind(), ErrorKind::Usage);

  const auto local =
      plan_root({{"stage0.root_device", "/dev/mmcblk1"}, {"smoo.acm", "yes"}}, false);
  ASSERT_TRUE(local);
  EXPECT_FALSE(local->smoo);
  EXPECT_FALSE(local->gadget);
  EXPECT_TRUE(local->acm);
  EXPECT_FALSE(mimics_fastboot(true, *local));

  const auto local_gadget =
      plan_root({{"stage0.root_device", "/dev/mmcblk1"}, {"smoo.acm", "0"}}, true);
  ASSERT_TRUE(local_gadget);
  EXPECT_FALSE(local_gadget->smoo);
  EXPECT_TRUE(local_gadget->gadget);
  EXPECT_FALSE(local_gadget->acm);
}

TEST(Stage0BuildSteps, MacSeedIsTheMergedSerialElseZero) {
  EXPECT_EQ(mac_seed({}), "0");
  EXPECT_EQ(mac_seed({{"stage0.serial", " "}}), "0");
  EXPECT_EQ(mac_seed({{"stage0.serial", " abc\n"}}), "abc");
  EXPECT_EQ(setting_value({{"smoo.log", " debug "}}, "smoo.log"), "debug");
  EXPECT_EQ(setting_value({}, "smoo.log"), "");
}

TEST(Stage0BuildSteps, GeneratedCmdlineIsThePlymouthTokenThenThePassthrough) {
  EXPECT_EQ(generated_cmdline(false, {}), "");
  EXPECT_EQ(generated_cmdline(false, {"quiet", "splash"}), "quiet splash");
  EXPECT_EQ(generated_cmdline(true, {"quiet"}), "plymouth.ignore-serial-consoles quiet");
}

// ## Show the module set for each root plan, in the order it is resolved.
TEST(Stage0BuildSteps, RequiredModulesFollowTheRootPlan) {
  const Strings profile{"lz4"}, cli{"dm_mod"};
  EXPECT_EQ(required_modules({true, true, false}, "erofs", {}, profile, cli),
            (Strings{"configfs", "libcomposite", "usb_f_fs", "ublk_drv", "overlay", "erofs", "lz4",
                     "dm_mod"}));
  EXPECT_EQ(required_modules({false, false, false}, "ext4", {}, {}, {}),
            (Strings{"overlay", "ext4"}));
  EXPECT_EQ(required_modules({false, false, true}, "ext4", {}, {}, {}),
            (Strings{"configfs", "libcomposite", "overlay", "ext4", "usb_f_acm"}));
  EXPECT_EQ(required_modules({false, true, true}, "ext4", {}, {}, {}),
            (Strings{"configfs", "libcomposite", "usb_f_fs", "overlay", "ext4", "usb_f_acm"}));
  // A live ISO's nested root image: a loop device and its filesystem.
  EXPECT_EQ(required_modules({false, false, false}, "squashfs",
                             {{"stage0.rootfs_image_type", "ext4"}}, {}, cli),
            (Strings{"overlay", "squashfs", "loop", "ext4", "dm_mod"}));
}

TEST(Stage0BuildSteps, ModuleNamesGiveTheirCodecAndArchivePath) {
  EXPECT_EQ(module_codec("kernel/fs/erofs.ko.xz"), Codec::Xz);
  EXPECT_EQ(module_codec("a.ko.zst"), Codec::Zstd);
  EXPECT_EQ(module_codec("a.ko.gz"), Codec::Gzip);
  EXPECT_EQ(module_codec("a.ko"), std::nullopt);
  EXPECT_EQ(module_codec("a.xz"), std::nullopt);
  EXPECT_EQ(module_archive_relpath("kernel/fs/erofs.ko.xz", false), "kernel/fs/erofs.ko");
  EXPECT_EQ(module_archive_relpath("kernel/fs/erofs.ko.xz", true), "kernel/fs/erofs.ko.xz");
  EXPECT_EQ(module_archive_relpath("kernel/fs/erofs.ko", false), "kernel/fs/erofs.ko");
  EXPECT_EQ(module_archive_relpath("kernel/a.ko.d/b.ko.zst", false), "kernel/a.ko.d/b.ko");
}

TEST(Stage0BuildSteps, KernelConfigAndFirmwareSearchOrders) {
  EXPECT_EQ(kernel_config_paths("6.1.0", "/usr/lib/modules/6.1.0"),
            (Strings{"/boot/config-6.1.0", "/usr/lib/modules/6.1.0/config"}));
  EXPECT_EQ(firmware_paths("qcom/a.mbn"),
            (Strings{"/lib/firmware/qcom/a.mbn", "/lib/firmware/qcom/a.mbn.zst",
                     "/lib/firmware/qcom/a.mbn.xz", "/usr/lib/firmware/qcom/a.mbn",
                     "/usr/lib/firmware/qcom/a.mbn.zst", "/usr/lib/firmware/qcom/a.mbn.xz"}));
  EXPECT_EQ(firmware_archive_path("/usr/lib/firmware/qcom/a.mbn.zst"),
            "lib/firmware/qcom/a.mbn.zst");
  EXPECT_EQ(firmware_archive_path("/lib/firmware/b.bin"), "lib/firmware/b.bin");
}

TEST(Stage0BuildSteps, InitrdCodecIsTheRequestElseTheDevproElseNone) {
  profiles::DeviceProfile d;
  EXPECT_EQ(initrd_codec(std::nullopt, d), Codec::None);
  EXPECT_EQ(initrd_codec(Codec::Xz, d), Codec::Xz);
  d.boot.initrd.emplace();
  EXPECT_EQ(initrd_codec(std::nullopt, d), Codec::None);
  d.boot.initrd->compress = profiles::Compression::Lz4;
  EXPECT_EQ(initrd_codec(std::nullopt, d), Codec::Lz4);
  EXPECT_EQ(initrd_codec(Codec::None, d), Codec::None);
  d.boot.initrd->compress = profiles::Compression::Zstd;
  EXPECT_EQ(initrd_codec(std::nullopt, d), Codec::Zstd);
}

} // namespace
} // namespace fastboop::stage0
