// The host's first-boot settings, read as the spec orders the sources, and
// the tokens they become on a kernel command line.
#include "boot/personalize.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>

namespace fastboop::boot {
namespace {

using ::testing::ElementsAre;

TEST(HostSettings, EnvironmentFirstThenFilesThenDefaults) {
  test::TempDir root;
  std::filesystem::create_directories(root / "etc/default");
  test::write_file(root / "etc/locale.conf", "LANG=\"fr_FR.UTF-8\"\nLC_MESSAGES=en_GB.UTF-8\n");
  test::write_file(root / "etc/vconsole.conf", "KEYMAP=de-latin1\n");
  test::write_file(root / "etc/default/keyboard", "XKBLAYOUT=\"fr,us\"\n");
  std::filesystem::create_symlink("/usr/share/zoneinfo/Europe/Paris", root / "etc/localtime");

  HostSources host{{{"LANG", "de_DE.UTF-8"}}, root.path().string()};
  auto s = read_host_settings(host);
  EXPECT_EQ(s.locale, "de_DE.UTF-8");
  EXPECT_EQ(s.locale_messages, "en_GB.UTF-8");
  EXPECT_EQ(s.keymap, "de-latin1");
  EXPECT_EQ(s.timezone, "Europe/Paris");

  host.env = {{"LC_ALL", "C"}, {"TZ", ":America/New_York"}};
  std::filesystem::remove(root / "etc/vconsole.conf");
  s = read_host_settings(host);
  EXPECT_EQ(s.locale, "en_US.UTF-8"); // C says nothing about the language
  EXPECT_EQ(s.keymap, "fr");          // XKBLAYOUT, first item
  EXPECT_EQ(s.timezone, "America/New_York");

  HostSources empty{{}, (root / "nothing").string()};
  s = read_host_settings(empty);
  EXPECT_EQ(s.locale, "en_US.UTF-8");
  EXPECT_FALSE(s.locale_messages);
  EXPECT_EQ(s.keymap, "us");
  EXPECT_EQ(s.timezone, "UTC");
}

TEST(HostSettings, ValuesThatAreNotPlainTokensNeverReachTheCommandLine) {
  test::TempDir root;
  HostSources host{{{"LANG", "en_US.UTF-8 init=/bin/sh"}, {"TZ", "Europe/Berlin\"x"}},
                   root.path().string()};
  auto s = read_host_settings(host);
  EXPECT_EQ(s.locale, "en_US.UTF-8");
  EXPECT_EQ(s.timezone, "UTC");
}

TEST(HostSettings, TokensAreSystemdCredentialsAndTheClockInMicroseconds) {
  HostSettings s;
  s.locale = "de_DE.UTF-8";
  s.keymap = "de";
  s.timezone = "Europe/Berlin";
  EXPECT_THAT(firstboot_tokens(s),
              ElementsAre("systemd.set_credential=firstboot.locale:de_DE.UTF-8",
                          "systemd.set_credential=firstboot.keymap:de",
                          "systemd.set_credential=firstboot.timezone:Europe/Berlin"));
  EXPECT_EQ(clock_token(
                std::chrono::system_clock::time_point(std::chrono::microseconds(1700000000123456))),
            "systemd.clock_usec=1700000000123456");
}

} // namespace
} // namespace fastboop::boot
