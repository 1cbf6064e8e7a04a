// `fastboop-push serve` as a process: the exit-code table (0 ok, 1 failure,
// 2 usage) for sources that cannot be served, and a clean stop with a summary
// on SIGTERM while it waits for a gadget. Serving over real USB is the QEMU
// tests' job (dummy_hcd).
#include "test_support.hpp"

#include <chrono>
#include <csignal>
#include <gmock/gmock.h>
#include <sys/wait.h>
#include <thread>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;

ProcessOutput push(std::vector<std::string> args) {
  args.insert(args.begin(), tool_path("fastboop-push").string());
  return run(args);
}

std::filesystem::path make_ext4(const TempDir& dir) {
  const auto image = dir / "root.img";
  sh("truncate -s 4M '" + image.string() + "' && mkfs.ext4 -q -F '" + image.string() + "'");
  return image;
}

TEST(SmooServeCli, AMissingFileIsAMissingInputNamingIt) {
  TempDir dir;
  const auto missing = (dir / "nope.img").string();
  auto r = push({"serve", missing});
  EXPECT_EQ(r.exit_code, 3); // missing input (the one exit-code table)
  EXPECT_THAT(r.err, HasSubstr("SOURCE " + missing + ": no such file or directory"));
}

TEST(SmooServeCli, ADeadUrlFailsNamingIt) {
  // Port 1 on loopback: nothing listens there.
  auto r = push({"serve", "http://127.0.0.1:1/root.img"});
  EXPECT_EQ(r.exit_code, 6); // network (the one exit-code table)
  EXPECT_THAT(r.err, HasSubstr("http(http://127.0.0.1:1/root.img)"));
}

TEST(SmooServeCli, ADirectoryCannotBeServed) {
  TempDir dir;
  auto r = push({"serve", dir.path().string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("is a directory"));
}

TEST(SmooServeCli, AnImageWithoutAFilesystemIsRefused) {
  TempDir dir;
  write_file(dir / "junk.img", random_bytes(65536, 3));
  auto r = push({"serve", (dir / "junk.img").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("no filesystem found"));
}

TEST(SmooServeCli, ABadBlockSizeIsAUsageError) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  TempDir dir;
  auto r = push({"serve", make_ext4(dir).string(), "--block-size", "1000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--block-size 1000"));
}

TEST(SmooServeCli, SigtermWhileWaitingStopsCleanlyWithASummary) {
  FASTBOOP_REQUIRE_PROGRAM("mkfs.ext4");
  TempDir dir;
  const auto image = make_ext4(dir);
  const auto log = dir / "serve.log";
  // -s names a port no test machine has, so a gadget attached to this host
  // (the QEMU tests run elsewhere) cannot be picked up.
  const pid_t pid = spawn_logged(
      {tool_path("fastboop-push").string(), "serve", image.string(), "-s", "usb:250-9"}, log);
  ASSERT_GT(pid, 0);
  for (int i = 0; i < 100 && read_text(log).find("waiting for the gadget") == std::string::npos;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_THAT(read_text(log), HasSubstr("waiting for the gadget"));
  ::kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << read_text(log);
  EXPECT_EQ(WEXITSTATUS(status), 0) << read_text(log);
  EXPECT_THAT(read_text(log), HasSubstr("served 0.0 MiB in "));
  EXPECT_THAT(read_text(log), HasSubstr("0 requests"));
}

} // namespace
} // namespace fastboop::test
