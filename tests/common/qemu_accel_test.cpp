// tests/support/qemu-accel.sh picks KVM only after a probe guest ran under it
// (issue: a /dev/kvm that exists but cannot run a guest hung every x86 QEMU
// test), and QemuGuest reports the accelerator and the console on a timeout.
#include "test_support.hpp"

#include <chrono>
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;

struct Verdict {
  int exit_code = -1;
  std::string accel;  // stdout
  std::string reason; // stderr
  double seconds = 0;
};

// Runs the helper with `env` (NAME=VALUE words) and a private verdict cache.
Verdict ask(const TempDir& dir, const std::string& qemu, const std::string& env = {}) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = sh("env FASTBOOP_TEST_CACHE='" + (dir / "cache").string() + "' " + env + " '" +
              (source_dir() / "tests/support/qemu-accel.sh").string() + "' '" + qemu + "'");
  Verdict v;
  v.exit_code = r.exit_code;
  v.accel = std::string(as_chars(r.out));
  v.reason = r.err;
  while (!v.accel.empty() && v.accel.back() == '\n')
    v.accel.pop_back();
  v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return v;
}

// A stand-in QEMU at DIR/qemu-system-x86_64 running `body` (sh).
std::string fake_qemu(const TempDir& dir, const std::string& body) {
  const auto path = dir / "bin/qemu-system-x86_64";
  write_file(path, "#!/bin/sh\n" + body + "\n");
  ::chmod(path.c_str(), 0755);
  return path.string();
}

bool x86_64_host() {
  auto r = run({"uname", "-m"});
  return std::string(as_chars(r.out)).starts_with("x86_64");
}

// A fake KVM device other than /dev/kvm is bind-mounted over it for the probe,
// which needs root (CI and the QEMU tests run as root).
#define REQUIRE_ROOT_FOR_FAKE_DEVICE()                                                             \
  do {                                                                                             \
    if (::geteuid() != 0)                                                                          \
      GTEST_SKIP() << "a fake KVM device is bind-mounted over /dev/kvm: needs root";               \
  } while (0)

TEST(QemuAccel, FakeKvmDeviceThatCannotRunAGuestFallsBackToTcg) {
  if (!have_program("qemu-system-x86_64"))
    FASTBOOP_SKIP_OR_FAIL_QEMU("qemu-system-x86_64 is not installed (see .ci/packages/push.txt)");
  if (!x86_64_host())
    GTEST_SKIP() << "the probe is for x86_64 hosts";
  REQUIRE_ROOT_FOR_FAKE_DEVICE();
  TempDir dir;
  write_file(dir / "fake-kvm", std::string_view("")); // exists, read-writable, no KVM behind it
  auto v = ask(dir, "qemu-system-x86_64",
               "FASTBOOP_QEMU_KVM_DEVICE='" + (dir / "fake-kvm").string() + "'");
  ASSERT_EQ(v.exit_code, 0) << v.reason;
  EXPECT_EQ(v.accel, "tcg");
  // The real QEMU ran the probe against the fake device and failed.
  EXPECT_THAT(v.reason,
              HasSubstr((dir / "fake-kvm").string() + " is present but QEMU with KVM failed"))
      << v.reason;
}

TEST(QemuAccel, ProbeGuestThatHangsUnderKvmFallsBackToTcgWithinTheProbeTimeout) {
  if (!x86_64_host())
    GTEST_SKIP() << "the probe is for x86_64 hosts";
  REQUIRE_ROOT_FOR_FAKE_DEVICE();
  TempDir dir;
  write_file(dir / "fake-kvm", std::string_view(""));
  // Like the broken machine: SeaBIOS prints, then nothing, forever.
  const auto qemu =
      fake_qemu(dir, "echo 'SeaBIOS (version 1.16.2-debian-1.16.2-1)'; exec sleep 60");
  auto v = ask(dir, qemu,
               "FASTBOOP_QEMU_PROBE_TIMEOUT=2 FASTBOOP_QEMU_KVM_DEVICE='" +
                   (dir / "fake-kvm").string() + "'");
  ASSERT_EQ(v.exit_code, 0) << v.reason;
  EXPECT_EQ(v.accel, "tcg");
  EXPECT_THAT(v.reason, HasSubstr("did not finish in 2.")) << v.reason;
  EXPECT_LT(v.seconds, 10) << "the probe is bounded by FASTBOOP_QEMU_PROBE_TIMEOUT";
}

TEST(QemuAccel, ProbeGuestThatReachesItsMarkerChoosesKvmAndTheVerdictIsCached) {
  if (!x86_64_host())
    GTEST_SKIP() << "the probe is for x86_64 hosts";
  REQUIRE_ROOT_FOR_FAKE_DEVICE();
  TempDir dir;
  write_file(dir / "fake-kvm", std::string_view(""));
  // A QEMU whose KVM works: writes the marker to the -serial file and leaves
  // through isa-debug-exit's status 99 — but only when asked for accel=kvm.
  const std::string body = R"(case "$*" in *accel=kvm*) ;; *) exit 1;; esac
for a in "$@"; do case "$a" in file:*) printf 'FBQ-ACCEL-OK\r\n' > "${a#file:}";; esac; done
exit 99)";
  const auto qemu = fake_qemu(dir, body);
  const std::string env = "FASTBOOP_QEMU_KVM_DEVICE='" + (dir / "fake-kvm").string() + "'";
  auto first = ask(dir, qemu, env);
  ASSERT_EQ(first.exit_code, 0) << first.reason;
  EXPECT_EQ(first.accel, "kvm") << first.reason;
  EXPECT_THAT(first.reason, HasSubstr("a probe guest ran under KVM")) << first.reason;

  // Same boot, binary and device: the cached verdict, no second probe (the
  // binary now fails if run, but keeps its size and mtime).
  auto t = std::filesystem::last_write_time(qemu);
  fake_qemu(dir, std::string(body.size() - 7, '#') + "\nexit 1");
  std::filesystem::last_write_time(qemu, t);
  auto second = ask(dir, qemu, env);
  EXPECT_EQ(second.accel, "kvm");
  EXPECT_THAT(second.reason, HasSubstr("cached: a probe guest ran under KVM")) << second.reason;
}

TEST(QemuAccel, MissingDeviceForeignGuestAndForcedChoiceNeedNoProbe) {
  TempDir dir;
  auto missing = ask(dir, "qemu-system-x86_64", "FASTBOOP_QEMU_KVM_DEVICE=/nonexistent/kvm");
  EXPECT_EQ(missing.accel, "tcg");
  EXPECT_THAT(missing.reason, HasSubstr("/nonexistent/kvm does not exist"));

  auto foreign = ask(dir, "qemu-system-aarch64");
  if (x86_64_host()) {
    EXPECT_EQ(foreign.accel, "tcg");
    EXPECT_THAT(foreign.reason, HasSubstr("aarch64 guest on an x86_64 host"));
  }

  EXPECT_EQ(ask(dir, "qemu-system-x86_64", "FASTBOOP_QEMU_ACCEL=tcg").accel, "tcg");
  auto bad = ask(dir, "qemu-system-x86_64", "FASTBOOP_QEMU_ACCEL=fast");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.reason, HasSubstr("FASTBOOP_QEMU_ACCEL must be tcg or kvm"));
}

TEST(QemuGuest, TimeoutNamesTheAcceleratorAndShowsTheLastConsoleLines) {
  TempDir dir;
  const auto qemu =
      fake_qemu(dir, "i=0; while [ $i -lt 100 ]; do echo \"console line $i\"; i=$((i+1)); done\n"
                     "printf 'Booting from ROM...\\r\\n'; exec sleep 60");
  ::setenv("FASTBOOP_QEMU_ACCEL", "tcg", 1);
  QemuGuest guest(qemu, "pc", {"-nographic"}, dir / "console.log");
  ::unsetenv("FASTBOOP_QEMU_ACCEL");
  EXPECT_EQ(guest.accel(), "tcg");
  EXPECT_TRUE(guest.wait_for("Booting from ROM", std::chrono::seconds(20)))
      << guest.describe_timeout();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(guest.wait_exit(std::chrono::seconds(1)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  const auto message = guest.describe_timeout(5);
  EXPECT_THAT(message, HasSubstr("QEMU (accel=tcg) did not finish within 1 s"));
  EXPECT_THAT(message, HasSubstr("console line 99\nBooting from ROM...\n"));
  EXPECT_THAT(message, ::testing::Not(HasSubstr("console line 90\n")));
}

} // namespace
} // namespace fastboop::test
