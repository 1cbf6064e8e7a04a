// stage0/request.hpp: what a front end asks, turned into SourceOptions and
// Stage0Options, with a Boot Profile or live ISO SOURCE given as data (no
// image is opened; the profile names no kernel or dtbs pipeline to read).
#include "stage0/request.hpp"

#include "result_matchers.hpp"
#include "stage0_settings/stage0_settings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace fastboop::stage0 {
namespace {

using fastboop::test::FailedWithMessage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kDigest = "sha512:" + std::string(128, 'a');

TEST(Stage0Request, SourceOptionsFollowTheRequest) {
  const auto plain = make_source_options({});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->network);
  EXPECT_FALSE(plain->expect_digest);
  EXPECT_EQ(plain->digest_check, pipeline::DigestCheck::Upfront);
  EXPECT_FALSE(plain->boot_profile_id);

  const auto full = make_source_options({.offline = true,
                                         .local_artifacts = {"a.img", "b.img"},
                                         .expect_sha512 = std::string(128, 'a'),
                                         .unverified_ranged_reads = true,
                                         .boot_profile = "phosh"});
  ASSERT_TRUE(full);
  EXPECT_EQ(full->network, pipeline::NetworkMode::Offline);
  EXPECT_THAT(full->local_artifacts, ElementsAre("a.img", "b.img"));
  EXPECT_EQ(full->expect_digest, kDigest);
  EXPECT_EQ(full->digest_check, pipeline::DigestCheck::WhenComplete);
  EXPECT_EQ(full->boot_profile_id, "phosh");

  EXPECT_FALSE(make_source_options({.expect_sha512 = "sha512:xyz"}));
}

profiles::DeviceProfile device(const std::string& id) {
  profiles::DeviceProfile d;
  d.id = id;
  return d;
}

OpenedSource boot_profile_source() {
  OpenedSource s;
  profiles::BootProfile bp;
  bp.id = "test-profile";
  bp.rootfs.filesystem = profiles::FilesystemKind::Ext4;
  bp.extra_cmdline = "quiet";
  bp.stage0.kernel_modules = {"lz4"};
  profiles::DeviceStage0 dev;
  dev.kernel_modules = {"qcom_wdt"};
  dev.inject_mac = profiles::InjectMac{std::string("vendor,wifi"), std::string("vendor,bt")};
  bp.stage0.devices["oneplus-fajita"] = dev;
  s.boot_profile = bp;
  return s;
}

// ## Show that a Boot Profile SOURCE's allow-list, filesystem and effective
// stage0 settings apply, the request's own values after or over them.
TEST(Stage0Request, BootProfileSettingsApplyUnlessTheRequestOverrides) {
  const OpenedSource source = boot_profile_source();
  BuildRequest request;
  request.modules = {"dm_mod"};
  request.cmdline_append = {"splash", "smoo.log=info"};
  request.inject_wifi = "cli,wifi";
  const auto o = make_stage0_options(request, source, device("oneplus-fajita"));
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->rootfs_type, "ext4");
  EXPECT_THAT(o->profile_modules, ElementsAre("lz4", "qcom_wdt"));
  EXPECT_THAT(o->required_modules, ElementsAre("dm_mod"));
  EXPECT_EQ(o->extra_cmdline, "quiet splash smoo.log=info");
  EXPECT_EQ(o->inject_mac.wifi, "cli,wifi");
  EXPECT_EQ(o->inject_mac.bluetooth, "vendor,bt");

  request.rootfs_type = "erofs";
  const auto typed = make_stage0_options(request, source, device("oneplus-fajita"));
  ASSERT_TRUE(typed);
  EXPECT_EQ(typed->rootfs_type, "erofs");

  EXPECT_THAT(
      make_stage0_options(request, source, device("arrow-db410c")),
      FailedWithMessage(HasSubstr("boot profile 'test-profile' is not compatible with device "
                                  "profile 'arrow-db410c'")));
}

TEST(Stage0Request, LiveIsoRootIsSquashfsWithTheNestedImageAsSettings) {
  OpenedSource source;
  source.live = LiveRoot{};
  source.live->nested_image = "/LiveOS/rootfs.img";
  source.live->nested_type = "ext4";
  const auto o = make_stage0_options({}, source, device("oneplus-fajita"));
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->rootfs_type, "squashfs");
  EXPECT_EQ(o->settings.at(std::string(key::kRootfsImage)), "/LiveOS/rootfs.img");
  EXPECT_EQ(o->settings.at(std::string(key::kRootfsImageType)), "ext4");
  EXPECT_FALSE(o->kernel);
}

TEST(Stage0Request, SettingsAreCheckedKeyValuePairs) {
  const OpenedSource source;
  BuildRequest request;
  request.named_settings = {{"smoo.log", "debug"}};
  request.settings = {"smoo.log=trace"};
  const auto o = make_stage0_options(request, source, device("d"));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->settings.at("smoo.log"), "trace");

  request.settings = {"smoo.log"};
  EXPECT_THAT(make_stage0_options(request, source, device("d")),
              FailedWithMessage(HasSubstr("expected KEY=VALUE")));
  request.settings = {"nope.key=1"};
  EXPECT_THAT(make_stage0_options(request, source, device("d")),
              FailedWithMessage(HasSubstr("unknown key 'nope.key'")));
  request.settings = {"stage0.rootfs=ext4"};
  EXPECT_THAT(make_stage0_options(request, source, device("d")),
              FailedWithMessage(HasSubstr("stage0.rootfs is set with --rootfs-type")));
}

} // namespace
} // namespace fastboop::stage0
