// fastboop-push end to end against the emulator: exit codes, messages, the
// device check before any download, --check, --then, detect, and the
// forbidden-command scans of the built binaries.
#include "bootimg/bootimg.hpp"
#include "common/hash.hpp"
#include "emulator.hpp"
#include "fastboot/driver.hpp"

#include <fstream>
#include <thread>
#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> device_vars = {"--var", "max-download-size=0x4000000", "--var", "product=sdm845",
                                              "--var", "partition-type:op2=raw",      "--var", "serialno=EMU0001"};

std::vector<std::string> vars_with(std::vector<std::string> extra) {
  auto v = device_vars;
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

ProcessOutput push(std::vector<std::string> args) {
  args.insert(args.begin(), tool_path("fastboop-push").string());
  return run(args);
}

// A real Android boot image (v2, page 4096, like the built-in sdm845
// profiles): fastboop-push parses every image before any command (issue 16
// item 2), so random bytes no longer stand in for one.
Bytes boot_image(std::size_t kernel_size, std::uint32_t seed, std::uint32_t header_version = 2,
                 std::uint32_t page_size = 4096) {
  const Bytes kernel = random_bytes(kernel_size, seed);
  const Bytes ramdisk = random_bytes(8000, seed + 1);
  const Bytes dtb = random_bytes(900, seed + 2);
  bootimg::BootImageArgs a;
  a.header_version = header_version;
  a.page_size = page_size;
  a.kernel = kernel;
  a.ramdisk = ramdisk;
  if (header_version == 2)
    a.dtb = dtb;
  auto built = bootimg::build_boot_image(a);
  EXPECT_TRUE(built) << built.error().message();
  return built ? *built : Bytes{};
}

// The sidecar's device_profile.boot, as fastboop-bootimg writes it.
std::string boot_block(std::uint32_t header_version = 2, std::uint32_t page_size = 4096,
                       const std::string& limits = "") {
  return R"("boot": {"fastboot_boot": {"android_bootimg": {"header_version": )" +
         std::to_string(header_version) + R"(, "page_size": )" + std::to_string(page_size) +
         (limits.empty() ? "" : ", \"limits\": " + limits) +
         R"(, "kernel": {"encoding": "image.gz"}}}})";
}

std::string hex8(std::uint64_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "%08llx", static_cast<unsigned long long>(v));
  return b;
}

// A boot image with a sidecar naming a test profile.
struct ImageFixture {
  TempDir dir;
  std::filesystem::path image = dir / "boot.img";
  Bytes bytes = boot_image(180000, 42);
  explicit ImageFixture(const std::string& product = "sdm845", bool with_sidecar = true) {
    write_file(image, bytes);
    if (with_sidecar)
      write_file(
          dir / "boot.img.json",
          R"({"device_profile": {"id": "test-phone", "match": [{"vid": "0x18d1", "pid": "0xd00d"}],
                     "probe": [{"getvar": "product", "op": "equals", "value": ")" +
              product + R"("}, {"getvar": "partition-type:op2", "op": "exists"}], )" +
              boot_block() + "}}");
  }
};

void expect_only_allowed(const Emulator& emu) {
  for (auto& cmd : emu.commands())
    EXPECT_TRUE(fastboot::command_is_allowed(cmd)) << "device received '" << cmd << "'";
}

class PushTool : public ::testing::TestWithParam<const char*> {
protected:
  std::string target(const Emulator& emu) const {
    return std::string(GetParam()) == "tcp" ? emu.tcp_target() : emu.udp_target();
  }
};

TEST_P(PushTool, GetvarPrintsTheValue) {
  Emulator emu(device_vars);
  auto out = push({"getvar", "product", "-s", target(emu)});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(std::string(as_chars(out.out)), "sdm845\n");
  EXPECT_EQ(emu.commands(), std::vector<std::string>{"getvar:product"});
}

TEST_P(PushTool, GetvarFailIsQuotedWithNonZeroExit) {
  Emulator emu(device_vars);
  auto out = push({"getvar", "nope", "-s", target(emu)});
  EXPECT_EQ(out.exit_code, 5); // the device said no: a device error (cli::Exit::Device)
  EXPECT_THAT(out.err, HasSubstr("getvar:nope FAILED (remote: 'GetVar Variable Not found')"));
}

TEST_P(PushTool, BootsAMatchingDevice) {
  Emulator emu(device_vars);
  ImageFixture img;
  auto out = push({"boot", img.image.string(), "-s", target(emu)});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("matches profile 'test-phone'"));
  EXPECT_THAT(out.err, HasSubstr("(bootloader) booting downloaded image"));
  auto cmds = emu.commands();
  ASSERT_GE(cmds.size(), 3u);
  EXPECT_EQ(cmds[0], "getvar:product");
  EXPECT_EQ(cmds[1], "getvar:partition-type:op2");
  EXPECT_EQ(cmds[cmds.size() - 2], "download:" + hex8(img.bytes.size()));
  EXPECT_EQ(cmds.back(), "boot");
  auto trace = emu.trace();
  EXPECT_NE(
      std::find(trace.begin(), trace.end(),
                "DATA " + std::to_string(img.bytes.size()) + " fnv1a=" + fnv1a_hex(img.bytes)),
      trace.end());
  expect_only_allowed(emu);
}

TEST_P(PushTool, RefusesADeviceWhoseProbesFailAndSendsOnlyGetvar) {
  Emulator emu(device_vars);
  ImageFixture img("beryllium");
  auto out = push({"boot", img.image.string(), "-s", target(emu)});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("refusing"));
  EXPECT_THAT(out.err, HasSubstr("getvar:product equals 'beryllium' failed: device answered 'sdm845'"));
  for (auto& cmd : emu.commands())
    EXPECT_EQ(cmd.rfind("getvar:", 0), 0u) << cmd;
}

TEST_P(PushTool, ForceDeviceBootsAnywayAndSaysSoLoudly) {
  Emulator emu(device_vars);
  ImageFixture img("beryllium");
  auto out = push({"boot", img.image.string(), "-s", target(emu), "--force-device"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("--force-device"));
  EXPECT_EQ(emu.commands().back(), "boot");
}

TEST_P(PushTool, CheckStopsBeforeTheDownload) {
  Emulator emu(device_vars);
  ImageFixture img;
  auto out = push({"boot", img.image.string(), "-s", target(emu), "--check"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(std::string(as_chars(out.out)), HasSubstr("check ok"));
  EXPECT_THAT(std::string(as_chars(out.out)), HasSubstr("serial=EMU0001"));
  for (auto& cmd : emu.commands())
    EXPECT_EQ(cmd.rfind("getvar:", 0), 0u) << cmd;
}

// Issue 16 item 13: -q anywhere, and it silences the bootloader's INFO lines.
TEST_P(PushTool, QuietAfterTheSubcommandSilencesBootloaderInfoLines) {
  ImageFixture img;
  {
    Emulator emu(device_vars);
    auto loud = push({"boot", img.image.string(), "-s", target(emu)});
    ASSERT_EQ(loud.exit_code, 0) << loud.err;
    EXPECT_THAT(loud.err, HasSubstr("(bootloader) booting downloaded image"));
  }
  Emulator emu(device_vars);
  auto quiet = push({"boot", img.image.string(), "-s", target(emu), "-q"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(emu.commands().back(), "boot");
}

// Issue 16 item 15: what was matched, checked and sent, for scripts.
TEST_P(PushTool, JsonReportsSayWhatWasMatchedCheckedAndSent) {
  ImageFixture img;
  {
    Emulator emu(device_vars);
    auto check = push({"boot", img.image.string(), "-s", target(emu), "--check", "--json"});
    ASSERT_EQ(check.exit_code, 0) << check.err;
    auto j = nlohmann::json::parse(as_chars(check.out));
    EXPECT_EQ(j["device"], target(emu));
    EXPECT_EQ(j["serial"], "EMU0001");
    EXPECT_EQ(j["device_profile"], "test-phone");
    EXPECT_TRUE(j["profile_matched"].get<bool>());
    EXPECT_EQ(j["probes"].get<std::vector<std::string>>(),
              (std::vector<std::string>{"getvar:product equals 'sdm845'",
                                        "getvar:partition-type:op2 exists"}));
    EXPECT_TRUE(j["probe_failure"].is_null());
    EXPECT_TRUE(j["also_matches"].is_array());
    EXPECT_TRUE(j["image_sha512"].is_null()); // the fixture's sidecar records no digest
    EXPECT_TRUE(j["check_only"].get<bool>());
    EXPECT_FALSE(j["booted"].get<bool>());
    EXPECT_EQ(j["image_bytes"], img.bytes.size());
    EXPECT_EQ(j["max_download_size"], 0x4000000);
    EXPECT_EQ(j["sent"].get<std::vector<std::string>>(), emu.commands());
  }
  {
    Emulator emu(device_vars);
    auto boot = push({"boot", img.image.string(), "-s", target(emu), "--json"});
    ASSERT_EQ(boot.exit_code, 0) << boot.err;
    auto j = nlohmann::json::parse(as_chars(boot.out));
    EXPECT_TRUE(j["booted"].get<bool>());
    EXPECT_EQ(j["sent"].get<std::vector<std::string>>(), emu.commands());
    EXPECT_EQ(j["sent"].back(), "boot");
  }
  Emulator emu(device_vars);
  auto getvar = push({"getvar", "product", "-s", target(emu), "--json"});
  ASSERT_EQ(getvar.exit_code, 0) << getvar.err;
  auto g = nlohmann::json::parse(as_chars(getvar.out));
  EXPECT_EQ(g["name"], "product");
  EXPECT_EQ(g["value"], "sdm845");
}

TEST_P(PushTool, TooLargeImageFailsBeforeAnyByteNamingBothSizes) {
  Emulator emu({"--var", "max-download-size=0x10000", "--var", "product=sdm845", "--var", "partition-type:op2=raw"});
  ImageFixture img;
  auto out = push({"boot", img.image.string(), "-s", target(emu)});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr(std::to_string(img.bytes.size()) + " bytes"));
  EXPECT_THAT(out.err, HasSubstr("65536 bytes"));
  for (auto& cmd : emu.commands())
    EXPECT_EQ(cmd.rfind("getvar:", 0), 0u) << cmd;
}

TEST_P(PushTool, ThenRunsTheHandOffWithTheSerial) {
  Emulator emu(device_vars);
  ImageFixture img;
  const auto env_file = img.dir / "env";
  auto out = push({"boot", img.image.string(), "-s", target(emu), "--then",
                   "echo \"$FASTBOOP_SERIAL $FASTBOOP_DEVICE_PROFILE\" > " + env_file.string()});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  std::ifstream in(env_file);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "EMU0001 test-phone");
}

TEST_P(PushTool, FailingHandOffIsAnError) {
  Emulator emu(device_vars);
  ImageFixture img;
  auto out = push({"boot", img.image.string(), "-s", target(emu), "--then", "exit 3"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("exited with status 3"));
}

TEST_P(PushTool, EveryDeviceFaultExitsNonZeroWithAClearMessage) {
  const bool tcp = std::string(GetParam()) == "tcp";
  const std::string asked =
      "device asked for " + std::to_string(ImageFixture().bytes.size() + 1) + " bytes";
  const std::vector<std::pair<const char*, std::string>> faults = {
      {"fail-download", "download refused by script"},
      {"fail-boot", "'boot' FAILED (remote: 'boot refused by script')"},
      {"disconnect-download", tcp ? "closed the connection" : "no answer from the device"},
      {"silence-boot", tcp ? "timed out" : "no answer from the device"},
      {"malformed", "malformed response"},
      {"bad-status", "unknown response status"},
      {"oversized", tcp ? "exceeds the 4096-byte limit" : "response of more than 4096 bytes"},
      {"wrong-data-size", asked},
  };
  for (auto& [fault, message] : faults) {
    SCOPED_TRACE(fault);
    Emulator emu(vars_with({"--fault", fault}));
    ImageFixture img;
    auto out = push({"boot", img.image.string(), "-s", target(emu), "--io-timeout", "1"});
    EXPECT_EQ(out.exit_code, 5) << out.err; // every device fault is a device error (cli::Exit::Device)
    EXPECT_THAT(out.err, HasSubstr(message));
    EXPECT_THAT(out.err, HasSubstr("fastboop-push: error:"));
    expect_only_allowed(emu);
  }
}

INSTANTIATE_TEST_SUITE_P(Net, PushTool, ::testing::Values("tcp", "udp"));

TEST(PushToolUsage, ImageWithoutSidecarNeedsAProfile) {
  Emulator emu(device_vars);
  ImageFixture img("sdm845", false);
  auto out = push({"boot", img.image.string(), "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("--device-profile"));
  EXPECT_TRUE(emu.commands().empty());
}

TEST(PushToolUsage, EmptyImageIsRefusedBeforeAnyCommand) {
  Emulator emu(device_vars);
  ImageFixture img;
  write_file(img.image, std::string_view());
  auto out = push({"boot", img.image.string(), "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("the image is empty"));
  EXPECT_TRUE(emu.commands().empty());
}

TEST(PushToolUsage, MalformedSidecarNamesFileAndField) {
  ImageFixture img("sdm845", false);
  write_file(img.dir / "boot.img.json", R"({"device_profile": {"id": "x", "probe": [{"getvar": "product", "op": "like"}]}})");
  auto out = push({"boot", img.image.string(), "-s", "tcp:127.0.0.1:1"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("boot.img.json"));
  EXPECT_THAT(out.err, HasSubstr("device_profile.probe[0].op: unknown probe op 'like'"));
}

// The sidecar's `image` block (as fastboop-bootimg writes it) names the
// image it belongs to; a stale one is refused before any byte reaches the
// device, --force-device or not.
std::string sidecar_with_image(std::uint64_t size, const std::string& sha512) {
  return R"({"device_profile": {"id": "test-phone", "match": [],
             "probe": [{"getvar": "product", "op": "equals", "value": "sdm845"}], )" +
         boot_block() + R"(},
             "image": {"size": )" +
         std::to_string(size) + R"(, "sha512": ")" + sha512 + R"("}})";
}

TEST(PushToolSidecar, MatchingImageDigestBoots) {
  Emulator emu(device_vars);
  ImageFixture img("sdm845", false);
  write_file(img.dir / "boot.img.json", sidecar_with_image(img.bytes.size(), sha512_hex(img.bytes)));
  auto out = push({"boot", img.image.string(), "-s", emu.tcp_target(), "--json"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, Not(HasSubstr("cannot be checked")));
  EXPECT_EQ(emu.commands().back(), "boot");
  // The report names the digest the image was checked against.
  auto j = nlohmann::json::parse(as_chars(out.out));
  EXPECT_TRUE(j["image_checked_against_sidecar"].get<bool>());
  EXPECT_EQ(j["image_sha512"], sha512_hex(img.bytes));
}

// The digest is computed while the device is probed and the image goes out
// (issue 16 item 19): `download` only fills the bootloader's RAM, so it may
// reach the device before a stale sidecar is noticed; `boot` never does.
void expect_never_booted(const Emulator& emu) {
  for (auto& cmd : emu.commands()) {
    EXPECT_TRUE(cmd.rfind("getvar:", 0) == 0 || cmd.rfind("download:", 0) == 0)
        << "device received '" << cmd << "'";
    EXPECT_NE(cmd, "boot");
  }
}

class PushToolStaleSidecar : public PushTool {};

TEST_P(PushToolStaleSidecar, IsNeverBootedEvenWithForceDeviceIssue16Item19) {
  Emulator emu(device_vars);
  ImageFixture img("sdm845", false);
  const auto other = random_bytes(img.bytes.size(), 7); // same size, other bytes
  write_file(img.dir / "boot.img.json", sidecar_with_image(other.size(), sha512_hex(other)));
  for (auto extra : {std::vector<std::string>{}, std::vector<std::string>{"--force-device"},
                     std::vector<std::string>{"--check"}}) {
    std::vector<std::string> args = {"boot", img.image.string(), "-s", target(emu)};
    args.insert(args.end(), extra.begin(), extra.end());
    auto out = push(args);
    EXPECT_EQ(out.exit_code, 1) << out.err;
    EXPECT_THAT(out.err, HasSubstr("does not belong to " + img.image.string()));
    EXPECT_THAT(out.err, HasSubstr(sha512_hex(other)));
    EXPECT_THAT(out.err, HasSubstr(sha512_hex(img.bytes)));
    EXPECT_THAT(std::string(as_chars(out.out)), Not(HasSubstr("check ok")));
  }
  expect_never_booted(emu);
}

// Issue 16 item 19: the digest check costs nothing on the wire. A 32 MiB
// image takes longer to hash than the probes take, so the download starts
// before the digest is known; the mismatch then stops `boot`, with a clear
// error, and the trace shows the whole image went out and nothing after it.
TEST_P(PushToolStaleSidecar, LargeImageIsDownloadedWhileHashedButNeverBootedIssue16Item19) {
  Emulator emu(device_vars);
  TempDir dir;
  const auto image = dir / "boot.img";
  auto bytes = boot_image(32u << 20, 5);
  const std::string wanted = sha512_hex(bytes);
  bytes.back() ^= 1; // inside the last (DTB) page: still a well-formed image
  write_file(image, bytes);
  write_file(dir / "boot.img.json", sidecar_with_image(bytes.size(), wanted));
  auto out = push({"boot", image.string(), "-s", target(emu)});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("not booting " + target(emu)));
  EXPECT_THAT(out.err, HasSubstr("does not belong to " + image.string()));
  expect_never_booted(emu);
  auto cmds = emu.commands();
  ASSERT_FALSE(cmds.empty());
  EXPECT_EQ(cmds.back(), "download:" + hex8(bytes.size()));
  expect_only_allowed(emu);
}

TEST_P(PushToolStaleSidecar, IsReportedOverAProbeFailure) {
  // The stale sidecar names the wrong device, so its failing probe is a
  // consequence; the digest mismatch is what the user has to fix.
  Emulator emu(device_vars);
  TempDir dir;
  const auto image = dir / "boot.img";
  const auto bytes = boot_image(4u << 20, 6);
  write_file(image, bytes);
  const auto other = random_bytes(bytes.size(), 9);
  write_file(dir / "boot.img.json",
             R"({"device_profile": {"id": "other-phone", "match": [],
                 "probe": [{"getvar": "product", "op": "equals", "value": "beryllium"}], )" +
                 boot_block() + R"(},
                 "image": {"size": )" +
                 std::to_string(other.size()) + R"(, "sha512": ")" + sha512_hex(other) + R"("}})");
  auto out = push({"boot", image.string(), "-s", target(emu)});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("does not belong to " + image.string()));
  expect_never_booted(emu);
}

INSTANTIATE_TEST_SUITE_P(Net, PushToolStaleSidecar, ::testing::Values("tcp", "udp"));

TEST(PushToolSidecar, SizeMismatchIsRefused) {
  ImageFixture img("sdm845", false);
  write_file(img.dir / "boot.img.json", sidecar_with_image(img.bytes.size() + 1, sha512_hex(img.bytes)));
  auto out = push({"boot", img.image.string(), "-s", "tcp:127.0.0.1:1", "--force-device"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr(std::to_string(img.bytes.size() + 1) + " bytes with sha512"));
  EXPECT_THAT(out.err, Not(HasSubstr("connect")));
}

TEST(PushToolSidecar, MalformedDigestNamesTheField) {
  ImageFixture img("sdm845", false);
  write_file(img.dir / "boot.img.json", sidecar_with_image(img.bytes.size(), "abc"));
  auto out = push({"boot", img.image.string(), "-s", "tcp:127.0.0.1:1"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("image.sha512: expected 128 lowercase hex digits"));
  // Uppercase is refused like everywhere else a digest is read (the sidecar
  // reader used to lowercase it; issue 22).
  write_file(img.dir / "boot.img.json", sidecar_with_image(img.bytes.size(), std::string(128, 'A')));
  out = push({"boot", img.image.string(), "-s", "tcp:127.0.0.1:1"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("image.sha512: expected 128 lowercase hex digits"));
}

TEST(PushToolSidecar, RealBootimgSidecarIsAccepted) {
  // What fastboop-bootimg writes must parse and verify; after the image
  // changes the same sidecar is refused.
  TempDir dir;
  std::filesystem::create_directories(dir / "s");
  Bytes kernel = random_bytes(6000, 11);
  kernel[0] = 0x1f; // gzip magic: the profile's kernel encoding is Image.gz
  kernel[1] = 0x8b;
  write_file(dir / "s" / "kernel", kernel);
  write_file(dir / "s" / "stage0.cpio", random_bytes(4000, 12));
  write_file(dir / "s" / "devicetree.dtb", random_bytes(900, 13));
  const auto image = dir / "boot.img";
  auto built = run({tool_path("fastboop-bootimg").string(), "--device-profile", "arrow-db410c", "--stage0",
                    (dir / "s").string(), "-o", image.string()});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  // Port 1: nothing listens, so an accepted sidecar ends at the connection.
  auto out = push({"boot", image.string(), "-s", "tcp:127.0.0.1:1"});
  EXPECT_EQ(out.exit_code, 5); // device error (cli::Exit::Device)
  EXPECT_THAT(out.err, Not(HasSubstr("does not belong")));
  EXPECT_THAT(out.err, Not(HasSubstr("cannot be checked")));
  EXPECT_THAT(out.err, HasSubstr("127.0.0.1:1"));
  auto bytes = read_file(image);
  bytes.back() ^= 1;
  write_file(image, bytes);
  out = push({"boot", image.string(), "-s", "tcp:127.0.0.1:1", "--force-device"});
  EXPECT_EQ(out.exit_code, 1);
  EXPECT_THAT(out.err, HasSubstr("does not belong"));
  EXPECT_THAT(out.err, HasSubstr(sha512_hex(bytes)));
}

// Issue 16 item 2: before any command the image is parsed (magic, header,
// every section inside the file) and checked against the device profile
// (header version, page size, limits), with or without a sidecar;
// --force-device never skips the parse.
TEST(PushToolImageCheck, RandomBytesAreNeverSentEvenWithForceDeviceIssue16Item2) {
  Emulator emu(device_vars);
  TempDir dir;
  const auto image = dir / "random.img";
  write_file(image, random_bytes(4u << 20, 3));
  for (auto extra : {std::vector<std::string>{}, std::vector<std::string>{"--force-device"}}) {
    std::vector<std::string> args = {"boot",           image.string(), "--device-profile",
                                     "oneplus-fajita", "-s",           emu.tcp_target()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto out = push(args);
    EXPECT_EQ(out.exit_code, 1) << out.err;
    EXPECT_THAT(out.err, HasSubstr("refusing " + image.string() + ": not an Android boot image"));
    EXPECT_THAT(out.err, HasSubstr("no ANDROID! or VNDRBOOT magic"));
  }
  EXPECT_TRUE(emu.commands().empty());
}

TEST(PushToolImageCheck, TruncatedImageIsRefusedBeforeAnyCommandIssue16Item2) {
  Emulator emu(device_vars);
  TempDir dir;
  auto bytes = boot_image(180000, 8);
  bytes.resize(100000); // the header promises a kernel past the end
  write_file(dir / "boot.img", bytes);
  auto out = push({"boot", (dir / "boot.img").string(), "--device-profile", "oneplus-fajita", "-s",
                   emu.tcp_target(), "--force-device"});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("runs past the end of the file"));
  EXPECT_TRUE(emu.commands().empty());
}

TEST(PushToolImageCheck, HeaderVersionAndPageSizeMustMatchTheProfileIssue16Item2) {
  Emulator emu(device_vars);
  TempDir dir;
  const auto image = dir / "boot.img";
  write_file(image, boot_image(180000, 9, 0, 2048)); // a db410c-style v0 image
  // No sidecar: the --device-profile's constraints (fajita: v2, page 4096).
  auto out =
      push({"boot", image.string(), "--device-profile", "oneplus-fajita", "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(
      out.err,
      HasSubstr("does not fit device profile 'oneplus-fajita': its header is v0, the profile's "
                "bootloader takes v2"));
  EXPECT_THAT(out.err, HasSubstr("nothing was sent"));
  EXPECT_TRUE(emu.commands().empty());
  // With a sidecar whose constraints are v2/4096, the page size is named.
  write_file(image, boot_image(180000, 9, 2, 2048));
  write_file(dir / "boot.img.json",
             R"({"device_profile": {"id": "test-phone", "match": [], "probe": [], )" +
                 boot_block(2, 4096) + "}}");
  out = push({"boot", image.string(), "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("its page size is 2048, the profile's is 4096"));
  EXPECT_TRUE(emu.commands().empty());
  // --force-device: the image parses, so the disagreement is a loud warning.
  out = push({"boot", image.string(), "-s", emu.tcp_target(), "--force-device"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("--force-device: " + image.string() + " does not fit"));
  ASSERT_FALSE(emu.commands().empty());
  EXPECT_EQ(emu.commands().back(), "boot");
}

TEST(PushToolImageCheck, LimitsOfTheProfileAreTheSameRuleAsThePackersIssue16Item2) {
  Emulator emu(device_vars);
  ImageFixture img("sdm845", false);
  write_file(img.dir / "boot.img.json",
             R"({"device_profile": {"id": "test-phone", "match": [], "probe": [], )" +
                 boot_block(2, 4096, R"({"max_total_bytes": 100000})") + "}}");
  auto out = push({"boot", img.image.string(), "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("boot image is " + std::to_string(img.bytes.size()) + " bytes"));
  EXPECT_THAT(out.err,
              HasSubstr("over the limit max_total_bytes = 100000 of device profile test-phone"));
  EXPECT_TRUE(emu.commands().empty());
}

TEST(PushToolImageCheck, OlderSidecarWithoutBootTakesThePoolsProfileIssue16Item2) {
  Emulator emu(device_vars);
  TempDir dir;
  const auto image = dir / "boot.img";
  write_file(image, boot_image(180000, 10, 0, 2048));
  // No device_profile.boot: the pool's oneplus-fajita (v2) decides.
  write_file(dir / "boot.img.json",
             R"({"device_profile": {"id": "oneplus-fajita", "match": [], "probe": []}})");
  auto out = push({"boot", image.string(), "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("its header is v0, the profile's bootloader takes v2"));
  // An id the pool does not know cannot be checked: refused, naming the way out.
  write_file(dir / "boot.img.json",
             R"({"device_profile": {"id": "unknown-phone", "match": [], "probe": []}})");
  out = push({"boot", image.string(), "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("has no device_profile.boot"));
  EXPECT_TRUE(emu.commands().empty());
}

TEST(PushToolUsage, BadSelectorIsUsageError) {
  auto out = push({"getvar", "product", "-s", "usb:abc"});
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_THAT(out.err, HasSubstr("usb:BUS-PORT"));
}

TEST(PushToolWait, WaitsForANetworkDeviceThatStartsLater) {
  // A free port, then the device starts there a second after the tool.
  std::uint16_t port = 0;
  {
    Emulator probe_port;
    port = probe_port.tcp_port();
  }
  ProcessOutput out;
  std::thread tool([&] {
    out = push({"getvar", "product", "-s", "tcp:127.0.0.1:" + std::to_string(port), "--wait", "--timeout", "20"});
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  Emulator emu(vars_with({"--tcp-port", std::to_string(port)}));
  tool.join();
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(std::string(as_chars(out.out)), "sdm845\n");
  EXPECT_THAT(out.err, HasSubstr("waiting for tcp:127.0.0.1:" + std::to_string(port)));
}

TEST(PushToolWait, NoWaitFailsAtOnce) {
  auto out = push({"getvar", "product", "-s", "tcp:127.0.0.1:1"});
  EXPECT_EQ(out.exit_code, 5); // device error (cli::Exit::Device)
  EXPECT_THAT(out.err, HasSubstr("cannot connect to 127.0.0.1:1"));
}

TEST(PushToolDetect, ListsMatchesAndAmbiguityForNetworkTargets) {
  Emulator emu(device_vars);
  TempDir profiles;
  for (const char* id : {"test-a", "test-b"})
    write_file(profiles / (std::string(id) + ".yaml"),
               std::string("id: ") + id +
                   "\ndisplay_name: Test\ndevicetree_name: x/y\nmatch:\n  - fastboot: {vid: 0x1234, pid: 0x5678}\n"
                   "probe:\n  - fastboot.getvar: serialno\n    equals: EMU0001\n"
                   "boot:\n  fastboot_boot:\n    android_bootimg:\n      header_version: 2\n      page_size: 4096\n"
                   "      kernel:\n        encoding: image.gz\n");
  auto out = run({"env", "FASTBOOP_SCHEMA_PATH=" + profiles.path().string(), tool_path("fastboop-push").string(),
                  "detect", "-s", emu.tcp_target(), "--json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto doc = nlohmann::json::parse(as_chars(out.out));
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_EQ(doc[0]["location"], emu.tcp_target());
  EXPECT_EQ(doc[0]["serial"], "EMU0001");
  auto ids = doc[0]["profiles"].get<std::vector<std::string>>();
  // The built-in oneplus-fajita probes product=sdm845 + partition-type:op2.
  EXPECT_THAT(ids, ::testing::IsSupersetOf({"oneplus-fajita", "test-a", "test-b"}));
  EXPECT_TRUE(doc[0]["ambiguous"].get<bool>());
  expect_only_allowed(emu);
  // Text form names the ambiguity.
  auto text = run({"env", "FASTBOOP_SCHEMA_PATH=" + profiles.path().string(), tool_path("fastboop-push").string(),
                   "detect", "-s", emu.udp_target()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(std::string(as_chars(text.out)), HasSubstr("AMBIGUOUS"));
}

// Issue 16 item 4: a device that matches several profiles is reported as
// such, with the reason both profiles declare; `boot` says which profile it
// uses and why (the sidecar's, or the --device-profile's).
TEST(PushToolDetect, AmbiguousBuiltinsAreExplainedIssue16Item4) {
  Emulator emu(device_vars);
  auto text = push({"detect", "-s", emu.tcp_target()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::string out(as_chars(text.out));
  EXPECT_THAT(
      out, HasSubstr("AMBIGUOUS: boot uses the profile its image's boot.img.json names, else only "
                     "--device-profile chooses"));
  EXPECT_THAT(
      out,
      HasSubstr("ambiguous: oneplus-enchilada and oneplus-fajita: cannot be told apart by probing "
                "(declared in both profiles): OnePlus 6 (enchilada) and 6T (fajita)"));
}

TEST(PushToolBoot, SaysWhichOfSeveralMatchingProfilesItUsesAndWhyIssue16Item4) {
  Emulator emu(device_vars);
  ImageFixture
      img; // sidecar: test-phone, which the device passes like the built-in OnePlus profiles
  auto out = push({"boot", img.image.string(), "-s", emu.tcp_target(), "--check"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err,
              HasSubstr("also matches device profile(s) oneplus-enchilada, oneplus-fajita; using "
                        "'test-phone' because the image's boot.img.json names it"));
  ImageFixture bare("sdm845", false);
  out = push(
      {"boot", bare.image.string(), "-s", emu.tcp_target(), "--device-profile", "oneplus-fajita"});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(
      out.err,
      HasSubstr("also matches device profile(s) oneplus-enchilada; using 'oneplus-fajita' because "
                "--device-profile chose it"));
  EXPECT_THAT(out.err,
              HasSubstr("oneplus-enchilada and oneplus-fajita: cannot be told apart by probing"));
  EXPECT_EQ(emu.commands().back(), "boot");
  expect_only_allowed(emu);
}

TEST(PushToolDetect, UnreachableTargetIsReportedNotFatal) {
  auto out = push({"detect", "-s", "tcp:127.0.0.1:1", "--json"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto doc = nlohmann::json::parse(as_chars(out.out));
  ASSERT_EQ(doc.size(), 1u);
  EXPECT_THAT(doc[0]["error"].get<std::string>(), HasSubstr("cannot connect"));
}

TEST(PushToolUdev, RulesCoverBuiltInProfilesAndTheInterfaceClass) {
  auto out = push({"udev-rules"});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const std::string rules(as_chars(out.out));
  EXPECT_THAT(rules, HasSubstr("ENV{ID_USB_INTERFACES}==\"*:ff4203:*\", TAG+=\"uaccess\""));
  EXPECT_THAT(rules, HasSubstr("ATTR{idVendor}==\"18d1\", ATTR{idProduct}==\"d00d\", TAG+=\"uaccess\""));
  // The installed file is the same generated text.
  auto installed = read_file(binary_dir() / "tools" / "push" / "70-fastboop.rules");
  EXPECT_EQ(std::string(as_chars(installed)), rules);
}

// The binary cannot send what it does not contain.
TEST(ForbiddenCommands, AbsentFromThePusherAndTheFastbootObjects) {
  const std::vector<std::string> forbidden = {"flash:", "erase:", "oem ", "set_active", "reboot", "format:",
                                              "flashing"};
  // Strings of the sanitizer runtimes linked into the instrumented CI build;
  // they are symbol names and diagnostics, not fastboot commands.
  auto sanitizer_runtime = [](std::string_view str) {
    return str.starts_with("__sanitizer_syscall_") || str.find("Provided format: ") != std::string_view::npos ||
           str.find("stack frame format:") != std::string_view::npos;
  };
  auto scan = [&](const std::filesystem::path& file) {
    auto bytes = read_file(file);
    ASSERT_GT(bytes.size(), 0u) << file;
    // Walk the printable runs, as strings(1) does.
    std::string_view hay = as_chars(bytes);
    std::size_t i = 0;
    while (i < hay.size()) {
      std::size_t j = i;
      while (j < hay.size() && hay[j] >= 0x20 && hay[j] < 0x7f)
        ++j;
      const std::string_view str = hay.substr(i, j - i);
      for (auto& word : forbidden)
        if (str.find(word) != std::string_view::npos && !sanitizer_runtime(str))
          ADD_FAILURE() << "'" << word << "' found in " << file << ": \"" << str << "\"";
      i = j + 1;
    }
  };
  scan(tool_path("fastboop-push"));
  // The fastboot objects inside libfastboop.a (other concerns of the library,
  // e.g. the on-device PID1, legitimately mention reboot).
  TempDir extract;
  const auto archive = binary_dir() / "tools" / "lib" / "libfastboop.a";
  auto listing = run({"ar", "t", archive.string()});
  ASSERT_EQ(listing.exit_code, 0);
  int scanned = 0;
  for (const char* member : {"device.cpp.o", "driver.cpp.o", "matching.cpp.o", "net.cpp.o", "push.cpp.o",
                             "sidecar.cpp.o", "tcp_transport.cpp.o", "udp_transport.cpp.o", "usb_transport.cpp.o"}) {
    auto x = sh("cd '" + extract.path().string() + "' && ar x '" + archive.string() + "' " + member);
    ASSERT_EQ(x.exit_code, 0) << member << ": " << x.err;
    scan(extract / member);
    ++scanned;
  }
  EXPECT_EQ(scanned, 9);
}

} // namespace
} // namespace fastboop::test
