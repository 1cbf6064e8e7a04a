// The host-architecture payload with the real LinuxSys: run as PID 1 of a new
// PID + mount namespace, chrooted into a staged initramfs tree. The real
// mount(2)s happen inside the private namespace; the run ends at a deliberate,
// bounded root-wait failure, which must be the one FATAL line and exit 1.
#include "pid1.hpp"
#include "stage0_settings/stage0_settings.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <gtest/gtest.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace fastboop;
using namespace fastboop::test;

namespace {

const fs::path kPayload = STAGE0_HOST_PAYLOAD;

std::string text(const Bytes& bytes) {
  return std::string(bytes.begin(), bytes.end());
}

} // namespace

TEST(HostPayload, HelpAndRefusesToRunAsNonPid1) {
  ASSERT_TRUE(fs::exists(kPayload)) << kPayload;
  ProcessOutput help = run({kPayload.string(), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.err.find("Usage: /init"), std::string::npos);
  ProcessOutput plain = run({kPayload.string()});
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_NE(plain.err.find("must run as PID 1"), std::string::npos);
}

TEST(HostPayload, IsStaticallyLinked) {
  ASSERT_TRUE(fs::exists(kPayload)) << kPayload;
  // No PT_INTERP: the initramfs has no dynamic loader.
  ProcessOutput headers = run({"readelf", "-l", kPayload.string()});
  ASSERT_EQ(headers.exit_code, 0) << headers.err;
  EXPECT_EQ(text(headers.out).find("INTERP"), std::string::npos);
}

TEST(HostPayload, RunsAsPid1InNamespaceAndFailsLoudly) {
  ASSERT_TRUE(fs::exists(kPayload)) << kPayload;
  if (::geteuid() != 0 || !have_program("unshare") || !have_program("chroot"))
    GTEST_SKIP() << "needs root and util-linux unshare for a PID + mount namespace";
  TempDir tmp;
  const fs::path root = tmp / "initramfs";
  fs::create_directories(root / "etc/stage0");
  fs::copy_file(kPayload, root / "init");
  stage0::Stage0Settings settings;
  settings.rootfs = stage0::RootFsType::Erofs;
  settings.root_device = "/dev/stage0-test-missing";
  settings.root_device_timeout_s = 1;
  settings.on_failure = stage0::OnFailure::Panic;
  auto files = stage0::render_settings_files(settings);
  ASSERT_TRUE(files.ok());
  for (const stage0::SettingsFile& f : *files)
    write_file(root / "etc/stage0" / f.name, f.content);

  ProcessOutput out = run({"timeout", "-k", "5", "60", "unshare", "--mount", "--pid", "--fork",
                           "--propagation", "private", "chroot", root.string(), "/init"});
  if (out.err.find("unshare failed") != std::string::npos ||
      out.err.find("Operation not permitted") != std::string::npos)
    GTEST_SKIP() << "namespaces not available here: " << out.err;
  EXPECT_EQ(out.exit_code, 1) << out.err;
  for (const char* line :
       {"stage0: step mounts ok: /proc /sys /dev /run",
        "stage0: step settings ok: 3 files, rootfs erofs",
        "stage0: step modules skipped: no /etc/modules-load.d/fastboop-stage0.conf",
        "stage0: step gadget skipped: no /bin/smoo-gadget in the initramfs",
        "stage0: step smoo skipped: no /bin/smoo-gadget in the initramfs",
        "stage0: step root-wait\n"})
    EXPECT_NE(out.err.find(line), std::string::npos) << "missing: " << line << "\n" << out.err;
  const std::string fatal = "stage0: FATAL: step root-wait failed: block device "
                            "/dev/stage0-test-missing not ready after 1 s: no such node "
                            "(on_failure=panic)\n";
  EXPECT_NE(out.err.find(fatal), std::string::npos) << out.err;
  EXPECT_EQ(out.err.find("FATAL"), out.err.rfind("FATAL")) << "exactly one failure line";
  // The payload's mounts stayed inside its namespace.
  ProcessOutput mounts = run({"cat", "/proc/self/mountinfo"});
  EXPECT_EQ(text(mounts.out).find(root.string()), std::string::npos);
}
