// Validates the emulator itself against the real peer: Debian's AOSP fastboot
// client runs getvar and boot (download + boot) over TCP and UDP, and the
// emulator's trace shows exactly the bytes it sent.
#include "emulator.hpp"

#include <algorithm>
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

// The emulator loses every 7th host packet and every 11th reply, and sends
// every 5th reply twice; the AOSP client must recover (retransmit, drop
// stale duplicates) and the device must count each data byte exactly once.
TEST(AospClientUdp, LossAndDuplicationStillDeliverExactlyTheAnnouncedBytes) {
  FASTBOOP_REQUIRE_PROGRAM("fastboot");
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  Emulator emu({"--var", "max-download-size=0x4000000", "--var", "product=emu", "--udp-max-packet", "1024",
                "--udp-drop-every", "7", "--udp-drop-reply-every", "11", "--udp-dup-every", "5"});
  TempDir dir;
  write_file(dir / "kernel", random_bytes(40000, 9));
  // A real boot image: the client sends it as it is, so the bytes are known.
  auto mk = run({"mkbootimg", "--kernel", (dir / "kernel").string(), "--header_version", "0", "-o",
                 (dir / "boot.img").string()});
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  const Bytes image = read_file(dir / "boot.img");
  auto out = run({"fastboot", "-s", emu.udp_target(), "boot", (dir / "boot.img").string()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("booting downloaded image"));

  auto cmds = emu.commands();
  ASSERT_GE(cmds.size(), 2u);
  EXPECT_EQ(cmds.back(), "boot");
  const std::string& download = cmds[cmds.size() - 2];
  ASSERT_EQ(download.rfind("download:", 0), 0u) << download;
  const std::uint64_t announced = std::stoull(download.substr(9), nullptr, 16);
  EXPECT_EQ(announced, image.size());
  auto trace = emu.trace();
  std::vector<std::string> data_lines;
  for (auto& l : trace)
    if (l.rfind("DATA ", 0) == 0)
      data_lines.push_back(l);
  EXPECT_EQ(data_lines, std::vector<std::string>{"DATA " + std::to_string(announced) + " fnv1a=" + fnv1a_hex(image)});
  // The faults really happened.
  auto has = [&](const char* prefix) {
    return std::any_of(trace.begin(), trace.end(), [&](auto& l) { return l.rfind(prefix, 0) == 0; });
  };
  EXPECT_TRUE(has("UDP drop packet"));
  EXPECT_TRUE(has("UDP drop reply"));
  EXPECT_TRUE(has("UDP retransmit"));
}

INSTANTIATE_TEST_SUITE_P(Net, AospClient, ::testing::Values("tcp", "udp"));

} // namespace
} // namespace fastboop::test
