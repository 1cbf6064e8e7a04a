// The generator's cmdline splitter and settings merge (spec §2.11): which
// tokens become /etc/stage0 settings, which stay on the kernel cmdline, and
// which layer wins.
#include "stage0/settings.hpp"

#include <gtest/gtest.h>

namespace fastboop::stage0 {
namespace {

using Strings = std::vector<std::string>;

// Spec §7.1, gen:1329.
TEST(SplitCmdline, UpstreamStage0TokensVector) {
  auto s = split_extra_cmdline(
      "quiet smoo.log=trace smoo.acm stage0.serial=abc123 stage0.yeetfstab=0 ostree=/ostree/boot.1/fedora/deadbeef/0");
  EXPECT_EQ(s.settings, (Settings{{"smoo.log", "trace"},
                                  {"smoo.acm", "1"},
                                  {"stage0.serial", "abc123"},
                                  {"stage0.yeetfstab", "0"},
                                  {"ostree", "/ostree/boot.1/fedora/deadbeef/0"}}));
  EXPECT_EQ(s.passthrough, Strings{"quiet"});
  EXPECT_TRUE(s.warnings.empty());
}

// Spec §7.1, gen:1352: firstboot credentials become settings, others pass.
TEST(SplitCmdline, FirstbootCredentialsBecomeSettings) {
  auto s = split_extra_cmdline("systemd.set_credential=firstboot.locale:en_US.UTF-8 "
                               "systemd.set_credential=foo:bar "
                               "systemd.set_credential=firstboot.keymap:de "
                               "systemd.set_credential=firstboot.timezone:Europe/Berlin "
                               "systemd.set_credential=firstboot.locale-messages:C.UTF-8 "
                               "systemd.set_credential=firstboot.hostname:x systemd.set_credential=nocolon");
  EXPECT_EQ(s.settings, (Settings{{"firstboot.locale", "en_US.UTF-8"},
                                  {"firstboot.keymap", "de"},
                                  {"firstboot.timezone", "Europe/Berlin"},
                                  {"firstboot.locale-messages", "C.UTF-8"}}));
  EXPECT_EQ(s.passthrough, (Strings{"systemd.set_credential=foo:bar", "systemd.set_credential=firstboot.hostname:x",
                                    "systemd.set_credential=nocolon"}));
}

TEST(SplitCmdline, BareFlagsBecomeOneAndOtherBareKeysPassThrough) {
  auto s = split_extra_cmdline("stage0.fb stage0.yeetfstab smoo.acm smoo.mimic_fastboot smoo.log smoo.break ro");
  EXPECT_EQ(s.settings, (Settings{{"stage0.fb", "1"},
                                  {"stage0.yeetfstab", "1"},
                                  {"smoo.acm", "1"},
                                  {"smoo.mimic_fastboot", "1"}}));
  // Bare smoo.log / smoo.break are not flags (spec §2.11 table, last row).
  EXPECT_EQ(s.passthrough, (Strings{"smoo.log", "smoo.break", "ro"}));
}

// Spec §8.13: upstream dropped empty values silently; we drop them with a
// warning naming the token, and they do not reach the kernel cmdline either.
TEST(SplitCmdline, EmptyValuesWarn) {
  auto s = split_extra_cmdline("stage0.serial= quiet systemd.set_credential=firstboot.locale: smoo.log=x");
  EXPECT_EQ(s.settings, (Settings{{"smoo.log", "x"}}));
  EXPECT_EQ(s.passthrough, Strings{"quiet"});
  ASSERT_EQ(s.warnings.size(), 2u);
  EXPECT_NE(s.warnings[0].find("'stage0.serial='"), std::string::npos) << s.warnings[0];
  EXPECT_NE(s.warnings[0].find("empty value"), std::string::npos) << s.warnings[0];
  EXPECT_NE(s.warnings[1].find("'systemd.set_credential=firstboot.locale:'"), std::string::npos) << s.warnings[1];
}

TEST(SplitCmdline, WhitespaceNoQuotingOrderAndLastWins) {
  auto s = split_extra_cmdline("  a=\"b c\"\tconsole=ttyMSM0\n smoo.log=one smoo.log=two  ");
  // No quoting: the quote characters stay, the space splits the token.
  EXPECT_EQ(s.passthrough, (Strings{"a=\"b", "c\"", "console=ttyMSM0"}));
  EXPECT_EQ(s.settings, (Settings{{"smoo.log", "two"}}));
  EXPECT_TRUE(split_extra_cmdline("").passthrough.empty());
  EXPECT_TRUE(split_extra_cmdline(" \t\n").settings.empty());
  // Unknown dotted keys are not settings.
  EXPECT_EQ(split_extra_cmdline("stage0.nope=1").passthrough, Strings{"stage0.nope=1"});
  // Aliases and port keys are settings.
  EXPECT_EQ(split_extra_cmdline("smoo.queue_size=8 stage0.root_device=/dev/vda").settings,
            (Settings{{"smoo.queue_size", "8"}, {"stage0.root_device", "/dev/vda"}}));
}

TEST(MergeSettings, OptionsBeatTokensBeatGeneratedAndRootfsIsForced) {
  SettingsLayers l;
  l.generated = {{"smoo.acm", "1"}, {"stage0.serial", "gen"}, {"smoo.max_io_bytes", "1048576"},
                 {"smoo.mimic_fastboot", "1"}};
  l.tokens = {{"stage0.serial", "tok"}, {"smoo.log", "trace"}, {"smoo.acm", "0"}, {"stage0.rootfs", "ext4"}};
  l.options = {{"smoo.log", "debug"}, {"stage0.rootfs", "ext4"}, {"stage0.udc", "a.udc"}};
  l.rootfs = "erofs";
  EXPECT_EQ(merge_settings(l), (Settings{{"smoo.acm", "0"},
                                         {"stage0.serial", "tok"},
                                         {"smoo.max_io_bytes", "1048576"},
                                         {"smoo.mimic_fastboot", "1"},
                                         {"smoo.log", "debug"},
                                         {"stage0.udc", "a.udc"},
                                         {"stage0.rootfs", "erofs"}}));
  SettingsLayers only;
  only.rootfs = "ext4";
  EXPECT_EQ(merge_settings(only), (Settings{{"stage0.rootfs", "ext4"}}));
}

} // namespace
} // namespace fastboop::stage0
