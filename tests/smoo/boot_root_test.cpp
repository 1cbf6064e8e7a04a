// `fastboop-push boot` and the root it serves afterwards, against the fastboot
// emulator (tests/push): the sidecar's `rootfs` record is checked before any
// byte reaches the device, --rootfs / --force-rootfs / --no-serve, and after
// boot OKAY the pusher serves (waits for the gadget) until SIGTERM. Parsing
// of the record is tested directly.
#include "common/hash.hpp"
#include "emulator.hpp"
#include "fastboot/sidecar.hpp"

#include <csignal>
#include <gmock/gmock.h>
#include <sys/wait.h>
#include <thread>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::string> device_vars = {
    "--var", "max-download-size=0x4000000", "--var", "product=sdm845", "--var", "serialno=EMU0001"};

ProcessOutput push(std::vector<std::string> args) {
  args.insert(args.begin(), tool_path("fastboop-push").string());
  return run(args);
}

// A boot.img with a sidecar whose `rootfs` block records `root`.
struct Fixture {
  TempDir dir;
  std::filesystem::path image = dir / "boot.img";
  std::filesystem::path root = dir / "root.img";
  Bytes image_bytes;
  Bytes root_bytes;

  Fixture() {
    // A real v0 image: the pusher parses it and checks it against the
    // profile before any command (issue 16 item 2).
    write_file(dir / "kernel", random_bytes(100000, 7));
    run({tool_path("fastboop-bootimg").string(), "--header_version", "0", "--pagesize", "2048", "--kernel",
         (dir / "kernel").string(), "-o", image.string()});
    image_bytes = read_file(image);
    sh("truncate -s 4M '" + root.string() + "' && mkfs.ext4 -q -F '" + root.string() + "'");
    root_bytes = read_file(root);
  }
  // `rootfs` JSON for the sidecar; defaults describe `root` exactly.
  std::string record(std::optional<std::string> sha512 = std::nullopt,
                     std::optional<std::uint64_t> size = {}, std::string transport = "smoo") const {
    return R"({"transport": ")" + transport + R"(", "source": ")" + root.string() +
           R"(", "pipeline": "file{path=len:1:x;}", "size": )" +
           std::to_string(size.value_or(root_bytes.size())) + R"(, "sha512": ")" +
           sha512.value_or(sha512_hex(root_bytes)) + R"("})";
  }
  void write_sidecar(const std::string& rootfs) const {
    write_file(dir / "boot.img.json",
               R"({"device_profile": {"id": "test-phone", "match": [],
                   "probe": [{"getvar": "product", "op": "equals", "value": "sdm845"}],
                   "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 0, "page_size": 2048,
                                                                  "kernel": {"encoding": "image"}}}}},
                   "image": {"size": )" +
                   std::to_string(image_bytes.size()) + R"(, "sha512": ")" +
                   sha512_hex(image_bytes) + R"("}, "rootfs": )" + rootfs + "}");
  }
};

void expect_nothing_sent(const Emulator& emu) {
  for (auto& cmd : emu.commands())
    EXPECT_EQ(cmd.rfind("getvar:", 0), 0u) << "device received '" << cmd << "'";
}

TEST(SmooBootRoot, ARootfsWhoseDigestIsNotTheRecordedOneIsRefusedBeforeTheDevice) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Emulator emu(device_vars);
  Fixture f;
  f.write_sidecar(f.record(std::string(128, 'a')));
  auto out = push({"boot", f.image.string(), "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("refusing serving " + f.root.string()));
  EXPECT_THAT(out.err, HasSubstr("--force-rootfs"));
  EXPECT_TRUE(emu.commands().empty()) << "the device must not be touched";
}

TEST(SmooBootRoot, ARootfsOfAnotherSizeIsRefused) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Fixture f;
  f.write_sidecar(f.record(std::nullopt, f.root_bytes.size() + 4096));
  auto out = push({"boot", f.image.string(), "--rootfs", f.root.string(), "-s", "tcp:127.0.0.1:1"});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  EXPECT_THAT(out.err, HasSubstr("bytes, stage0 was built from"));
}

TEST(SmooBootRoot, ForceRootfsServesAMismatchAnyway) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Emulator emu(device_vars);
  Fixture f;
  f.write_sidecar(f.record(std::string(128, 'a')));
  auto out = push({"boot", f.image.string(), "--check", "--force-rootfs", "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("--force-rootfs: serving"));
  expect_nothing_sent(emu);
}

TEST(SmooBootRoot, TheRecordedRootfsPassesTheCheck) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Emulator emu(device_vars);
  Fixture f;
  f.write_sidecar(f.record());
  auto out = push({"boot", f.image.string(), "--check", "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(std::string(as_chars(out.out)), HasSubstr("check ok"));
  EXPECT_THAT(out.err, Not(HasSubstr("refusing")));
}

TEST(SmooBootRoot, AMissingRecordedRootfsIsNamed) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Fixture f;
  f.write_sidecar(f.record());
  std::filesystem::remove(f.root);
  auto out = push({"boot", f.image.string(), "-s", "tcp:127.0.0.1:1"});
  EXPECT_NE(out.exit_code, 0);
  EXPECT_THAT(out.err, HasSubstr("the rootfs " + (f.dir / "boot.img.json").string() + " names"));
  EXPECT_THAT(out.err, HasSubstr(f.root.string()));
}

TEST(SmooBootRoot, RootfsAndNoServeExcludeEachOther) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Fixture f;
  f.write_sidecar(f.record());
  auto out = push({"boot", f.image.string(), "--no-serve", "--rootfs", f.root.string(), "-s",
                   "tcp:127.0.0.1:1"});
  EXPECT_EQ(out.exit_code, 2) << out.err;
}

TEST(SmooBootRoot, NoServeStopsAfterBootOkay) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Emulator emu(device_vars);
  Fixture f;
  f.write_sidecar(f.record());
  auto out = push({"boot", f.image.string(), "--no-serve", "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(emu.commands().back(), "boot");
  EXPECT_THAT(out.err, Not(HasSubstr("serving")));
}

TEST(SmooBootRoot, ALocalRootIsNotServed) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Emulator emu(device_vars);
  Fixture f;
  f.write_sidecar(R"({"transport": "local", "device": "/dev/mmcblk1p2"})");
  auto out = push({"boot", f.image.string(), "-s", emu.tcp_target()});
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_THAT(out.err, HasSubstr("from /dev/mmcblk1p2 on the device; nothing to serve"));
}

TEST(SmooBootRoot, ADirectoryRootNeedsAnImage) {
  Fixture f;
  f.write_sidecar(R"({"transport": "smoo", "source": "/some/dir"})");
  auto out = push({"boot", f.image.string(), "-s", "tcp:127.0.0.1:1"});
  EXPECT_EQ(out.exit_code, 2) << out.err;
  EXPECT_THAT(out.err, HasSubstr("built from the directory /some/dir"));
}

TEST(SmooBootRoot, AfterBootOkayTheRootIsServedUntilSigterm) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  Emulator emu(device_vars);
  Fixture f;
  f.write_sidecar(f.record());
  const auto log = f.dir / "boot.log";
  const pid_t pid = spawn_logged(
      {tool_path("fastboop-push").string(), "boot", f.image.string(), "-s", emu.tcp_target()}, log);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 200 && read_text(log).find("waiting for the gadget") == std::string::npos;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_THAT(read_text(log), HasSubstr("boot OKAY"));
  EXPECT_THAT(read_text(log), HasSubstr("waiting for the gadget"));
  EXPECT_EQ(emu.commands().back(), "boot");
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << read_text(log);
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_text(log);
  EXPECT_THAT(read_text(log), HasSubstr("served 0.0 MiB in"));
}

TEST(SmooSidecarRootfs, RecordIsParsed) {
  const std::string sha(128, 'b');
  auto s =
      fastboot::parse_sidecar(R"({"device_profile": {"id": "p"}, "rootfs": {"transport": "smoo",
      "source": "https://x/root.img.xz", "pipeline": "xz{source=http{…}}", "size": 4096, "sha512": ")" +
                                  sha + R"("}})",
                              "t.json");
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE(s->rootfs);
  EXPECT_EQ(s->rootfs->transport, fastboot::SidecarRootfs::Transport::Smoo);
  EXPECT_EQ(s->rootfs->source, "https://x/root.img.xz");
  EXPECT_EQ(s->rootfs->size, 4096u);
  EXPECT_EQ(s->rootfs->sha512, sha);
  auto unknown =
      fastboot::parse_sidecar(R"({"device_profile": {"id": "p"}, "rootfs": {"transport": "smoo",
      "source": "u", "pipeline": "p", "size": 1, "sha512": null}})",
                              "t.json");
  ASSERT_TRUE(unknown) << unknown.error().message();
  EXPECT_FALSE(unknown->rootfs->sha512);
}

TEST(SmooSidecarRootfs, BadRecordsNameTheField) {
  auto bad_transport = fastboot::parse_sidecar(
      R"({"device_profile": {"id": "p"}, "rootfs": {"transport": "nbd"}})", "t.json");
  ASSERT_FALSE(bad_transport);
  EXPECT_THAT(bad_transport.error().message(), HasSubstr("t.json: rootfs.transport"));
  auto bad_sha =
      fastboot::parse_sidecar(R"({"device_profile": {"id": "p"}, "rootfs": {"transport": "smoo",
      "source": "u", "pipeline": "p", "size": 1, "sha512": "ABC"}})",
                              "t.json");
  ASSERT_FALSE(bad_sha);
  EXPECT_THAT(bad_sha.error().message(), HasSubstr("rootfs.sha512"));
  auto no_size = fastboot::parse_sidecar(
      R"({"device_profile": {"id": "p"}, "rootfs": {"transport": "smoo", "source": "u", "pipeline": "p"}})",
      "t.json");
  ASSERT_FALSE(no_size);
  EXPECT_THAT(no_size.error().message(), HasSubstr("rootfs.size"));
}

} // namespace
} // namespace fastboop::test
