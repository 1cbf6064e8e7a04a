// A real bootloader: U-Boot (built from Debian's source with fastboot over
// UDP) runs in QEMU; fastboop-push reads variables, refuses an image built for
// another device, then downloads and boots a boot.img whose Debian arm64
// kernel really starts and runs our /init. The image is packed by
// fastboop-bootimg.
#include "emulator.hpp"

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;

std::uint16_t free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string value_of(const std::string& text, const std::string& key) {
  auto pos = text.find(key + "=");
  if (pos == std::string::npos)
    return {};
  auto end = text.find('\n', pos);
  return text.substr(pos + key.size() + 1, end - pos - key.size() - 1);
}

TEST(UbootQemu, GetvarRefuseAndBootOverUdp) {
  for (const char* program : {"qemu-system-aarch64", "aarch64-linux-gnu-gcc", "cpio", "gzip", "make",
                              "bison", "flex", "bc", "dpkg-source"})
    if (!have_program(program))
      FASTBOOP_SKIP_OR_FAIL_QEMU(std::string("U-Boot QEMU test needs '") + program + "' (see .ci/packages/push.txt)");

  // U-Boot with fastboot-over-UDP, cached by source version + config hash.
  auto uboot = sh("'" + (source_dir() / "tests/push/uboot/build-uboot.sh").string() + "'");
  if (uboot.exit_code != 0)
    FASTBOOP_SKIP_OR_FAIL_QEMU("cannot build U-Boot: " + uboot.err);
  std::string bios(as_chars(uboot.out));
  bios.erase(bios.find_last_not_of("\n") + 1);

  auto kernel = sh("'" + (source_dir() / "tests/data/fetch-debian-kernel.sh").string() + "'");
  if (kernel.exit_code != 0)
    FASTBOOP_SKIP_OR_FAIL_QEMU("cannot fetch the Debian arm64 kernel: " + kernel.err);
  const std::string kout(as_chars(kernel.out));
  const std::string kver = value_of(kout, "FASTBOOP_KVER");
  const std::filesystem::path vmlinuz = std::filesystem::path(value_of(kout, "FASTBOOP_KPKG_DIR")) / "boot" /
                                        ("vmlinuz-" + kver);
  ASSERT_TRUE(std::filesystem::exists(vmlinuz)) << vmlinuz;

  // boot.img: gzip kernel (U-Boot inflates it), a cpio with a static /init,
  // addresses inside virt's RAM (mkbootimg's defaults make U-Boot XIP it).
  TempDir dir;
  const auto cache = std::filesystem::path(std::getenv("FASTBOOP_TEST_CACHE") ? std::getenv("FASTBOOP_TEST_CACHE")
                                                                              : std::string(std::getenv("HOME")) +
                                                                                    "/.cache/fastboop-test") /
                     "uboot";
  const auto image_gz = cache / ("Image-" + kver + ".gz");
  auto prep = sh("set -e; [ -f '" + image_gz.string() + "' ] || { gzip -1 -n -c '" + vmlinuz.string() + "' > '" +
                 image_gz.string() + ".tmp' && mv '" + image_gz.string() + ".tmp' '" + image_gz.string() + "'; }; " +
                 "mkdir -p '" + (dir / "root/dev").string() + "'; " + "aarch64-linux-gnu-gcc -static -Os -o '" +
                 (dir / "root/init").string() + "' '" + (source_dir() / "tests/push/uboot/init.c").string() + "'; " +
                 "(cd '" + (dir / "root").string() + "' && find . | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -n > '" +
                 (dir / "initrd.gz").string() + "'; " + "'" + tool_path("fastboop-bootimg").string() + "' --header_version 0 --kernel '" + image_gz.string() +
                 "' --ramdisk '" + (dir / "initrd.gz").string() +
                 "' --cmdline 'console=ttyAMA0' --base 0x40000000 --kernel_offset 0x00400000 "
                 "--ramdisk_offset 0x04000000 --tags_offset 0x00000100 -o '" +
                 (dir / "boot.img").string() + "'");
  ASSERT_EQ(prep.exit_code, 0) << prep.err;
  const auto image = dir / "boot.img";
  write_file(dir / "boot.img.json",
             R"({"device_profile": {"id": "qemu-virt-uboot", "match": [],
                 "probe": [{"getvar": "product", "op": "equals", "value": "qemu-arm"},
                           {"getvar": "version-bootloader", "op": "starts_with", "value": "U-Boot"}],
                 "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 0, "page_size": 2048,
                                                                "kernel": {"encoding": "image.gz"}}}}}})");
  const auto wrong = dir / "wrong.img";
  std::filesystem::copy_file(image, wrong);
  write_file(dir / "wrong.img.json",
             R"({"device_profile": {"id": "oneplus-fajita", "match": [],
                 "probe": [{"getvar": "product", "op": "equals", "value": "sdm845"}],
                 "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 0, "page_size": 2048,
                                                                "kernel": {"encoding": "image.gz"}}}}}})");

  const auto port = free_udp_port();
  // U-Boot's UDP fastboot port forwarded to 127.0.0.1:port.
  const std::string fwd = "user,id=n0,hostfwd=udp:127.0.0.1:" + std::to_string(port) + "-:5554";
  QemuGuest qemu("qemu-system-aarch64", "virt",
                 {"-cpu", "cortex-a57", "-m", "1024", "-nographic", "-no-reboot", "-bios", bios, "-netdev", fwd,
                  "-device", "virtio-net-pci,netdev=n0,romfile="},
                 dir / "console.log");
  ASSERT_TRUE(qemu.wait_for("Listening for fastboot", std::chrono::seconds(120))) << qemu.describe_timeout();
  const std::string target = "udp:127.0.0.1:" + std::to_string(port);
  const std::string push = tool_path("fastboop-push").string();

  auto getvar = run({push, "getvar", "product", "-s", target});
  ASSERT_EQ(getvar.exit_code, 0) << getvar.err;
  EXPECT_EQ(std::string(as_chars(getvar.out)), "qemu-arm\n");

  // An image built for another device is refused after getvar only: U-Boot
  // logs every download, so none must appear.
  auto refused = run({push, "boot", wrong.string(), "-s", target});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("refusing"));
  EXPECT_THAT(qemu.log(), ::testing::Not(HasSubstr("Starting download")));

  auto boot = run({push, "boot", image.string(), "-s", target, "--io-timeout", "60"});
  ASSERT_EQ(boot.exit_code, 0) << boot.err << "\n" << qemu.log();
  EXPECT_TRUE(qemu.wait_for("FASTBOOP-PUSH-E2E: init reached", std::chrono::seconds(240)))
      << qemu.describe_timeout();
  const auto log = qemu.log();
  EXPECT_THAT(log, HasSubstr("Starting download of " + std::to_string(std::filesystem::file_size(image)) + " bytes"));
  EXPECT_THAT(log, HasSubstr("Booting Linux on physical CPU"));
  EXPECT_THAT(log, HasSubstr("Linux version " + kver.substr(0, kver.find('-'))));
}

} // namespace
} // namespace fastboop::test
