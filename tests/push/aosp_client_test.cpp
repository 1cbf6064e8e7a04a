// Validates the emulator itself against the real peer: Debian's AOSP fastboot
// client runs getvar and boot (download + boot) over TCP and UDP, and the
// emulator's trace shows exactly the bytes it sent.
#include "emulator.hpp"

#include <gmock/gmock.h>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;

class AospClient : public ::testing::TestWithParam<const char*> {};

TEST_P(AospClient, GetvarDownloadBootAgainstEmulator) {
  FASTBOOP_REQUIRE_PROGRAM("fastboot");
  Emulator emu({"--var", "max-download-size=0x4000000", "--var", "product=emu", "--info-flood", "2"});
  const std::string target = std::string(GetParam()) == "tcp" ? emu.tcp_target() : emu.udp_target();
  auto out = run({"fastboot", "-s", target, "getvar", "product"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("product: emu"));
  EXPECT_THAT(out.err, HasSubstr("(bootloader) line 0 of the INFO flood"));

  TempDir dir;
  auto image = random_bytes(303104, 5); // not starting with ANDROID!: the client wraps it
  write_file(dir / "kernel", image);
  out = run({"fastboot", "-s", target, "boot", (dir / "kernel").string()});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("booting downloaded image"));
  auto cmds = emu.commands();
  ASSERT_GE(cmds.size(), 3u);
  EXPECT_EQ(cmds.front(), "getvar:product");
  EXPECT_EQ(cmds.back(), "boot");
  EXPECT_EQ(cmds[cmds.size() - 2].rfind("download:", 0), 0u);
  auto trace = emu.trace();
  EXPECT_TRUE(std::any_of(trace.begin(), trace.end(), [](auto& l) { return l.rfind("DATA ", 0) == 0; }));
}

TEST_P(AospClient, FailTextReachesTheClient) {
  FASTBOOP_REQUIRE_PROGRAM("fastboot");
  Emulator emu({"--fault", "fail-boot"});
  const std::string target = std::string(GetParam()) == "tcp" ? emu.tcp_target() : emu.udp_target();
  TempDir dir;
  write_file(dir / "kernel", random_bytes(4096, 1));
  auto out = run({"fastboot", "-s", target, "boot", (dir / "kernel").string()});
  EXPECT_NE(out.exit_code, 0);
  EXPECT_THAT(out.err, HasSubstr("boot refused by script"));
}

INSTANTIATE_TEST_SUITE_P(Net, AospClient, ::testing::Values("tcp", "udp"));

} // namespace
} // namespace fastboop::test
