// The real USB stack: an x86-64 QEMU guest running Debian's amd64 kernel
// creates a FunctionFS fastboot gadget (tests/push/usb/init.c) on dummy_udc,
// dummy_hcd enumerates it on the host side of the same kernel, and the
// fastboop-push built here (copied in with its libraries) drives it through
// libusb: detect, getvar, a refused boot, a boot, and boot --wait across an
// unplug/replug. The gadget logs every command it receives; only getvar,
// download and boot may appear.
#include "bootimg/bootimg.hpp"
#include "common/hash.hpp"
#include "emulator.hpp"
#include "fastboot/driver.hpp"

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <gmock/gmock.h>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string value_of(const std::string& text, const std::string& key) {
  auto pos = text.find(key + "=");
  if (pos == std::string::npos)
    return {};
  auto end = text.find('\n', pos);
  return text.substr(pos + key.size() + 1, end - pos - key.size() - 1);
}

// Text between "FBQ-BEGIN name" and "FBQ-STEP name rc=".
std::string step_output(const std::string& log, const std::string& name) {
  auto begin = log.find("FBQ-BEGIN " + name + "\n");
  auto end = log.find("FBQ-STEP " + name + " rc=");
  if (begin == std::string::npos || end == std::string::npos || end < begin)
    return {};
  return log.substr(begin, end - begin);
}

int step_rc(const std::string& log, const std::string& name) {
  std::smatch m;
  if (std::regex_search(log, m, std::regex("FBQ-STEP " + name + " rc=([0-9]+)")))
    return std::stoi(m[1]);
  return -1;
}

std::vector<std::string> gadget_commands(const std::string& text) {
  std::vector<std::string> cmds;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    auto pos = line.find("GADGET CMD ");
    if (pos != std::string::npos)
      cmds.push_back(line.substr(pos + 11));
  }
  return cmds;
}

std::string sidecar(const std::string& product, ByteSpan image) {
  return R"({"device_profile": {"id": "qemu-usb-gadget", "match": [{"vid": "0x18d1", "pid": "0x4ee0"}],
             "probe": [{"getvar": "product", "op": "equals", "value": ")" +
         product +
         R"("}], "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 0, "page_size": 2048,
             "kernel": {"encoding": "image"}}}}}, "image": {"size": )" +
         std::to_string(image.size()) + R"(, "sha512": ")" + sha512_hex(image) + R"("}})";
}

TEST(UsbQemu, LibusbTransportAgainstFunctionFsGadgetOnDummyHcd) {
  // modprobe/depmod live in /usr/sbin, which a normal user's PATH lacks: the
  // scripts add it themselves.
  for (const char* program : {"qemu-system-x86_64", "cc", "cpio", "gzip", "ldd"})
    if (!have_program(program))
      FASTBOOP_SKIP_OR_FAIL_QEMU(std::string("USB QEMU test needs '") + program + "' (see .ci/packages/push.txt)");

  auto kernel = sh("'" + (source_dir() / "tests/data/fetch-debian-kernel.sh").string() + "' amd64");
  if (kernel.exit_code != 0)
    FASTBOOP_SKIP_OR_FAIL_QEMU("cannot fetch the Debian amd64 kernel: " + kernel.err);
  const std::string kout(as_chars(kernel.out));
  const std::string kver = value_of(kout, "FASTBOOP_KVER");
  const std::filesystem::path tree = value_of(kout, "FASTBOOP_KPKG_DIR");
  const auto vmlinuz = tree / "boot" / ("vmlinuz-" + kver);
  ASSERT_TRUE(std::filesystem::exists(vmlinuz)) << vmlinuz;

  TempDir dir;
  std::filesystem::create_directories(dir / "extra");
  // A v0 boot image (fastboop-push parses it before any command): several
  // 1 MiB transfers and a short tail.
  const Bytes payload = random_bytes(3 * 1024 * 1024 + 1000, 21);
  bootimg::BootImageArgs args;
  args.kernel = payload;
  const Bytes image = *bootimg::build_boot_image(args);
  write_file(dir / "extra/boot.img", image);
  write_file(dir / "extra/boot.img.json", sidecar("fbqemu", image));
  write_file(dir / "extra/wrong.img", image);
  write_file(dir / "extra/wrong.img.json", sidecar("sdm845", image));
  const auto initrd = dir / "initrd.gz";
  auto mk = run({(source_dir() / "tests/push/usb/mk-initrd.sh").string(), tree.string(), kver,
                 tool_path("fastboop-push").string(), (dir / "extra").string(), initrd.string()});
  ASSERT_EQ(mk.exit_code, 0) << mk.err;

  const auto log_path = dir / "console.log";
  QemuGuest qemu("qemu-system-x86_64", "pc",
                 {"-m", "1024", "-nographic", "-no-reboot", "-nic", "none", "-kernel", vmlinuz.string(), "-initrd",
                  initrd.string(), "-append",
                  // no_timer_check: on a loaded host TCG fails the kernel's
                  // IO-APIC timer check ("IO-APIC + timer doesn't work" panic).
                  "console=ttyS0 quiet panic=-1 no_timer_check"},
                 log_path);
  const bool finished = qemu.wait_exit(std::chrono::seconds(240));
  const std::string log = qemu.log();
  ASSERT_TRUE(finished) << qemu.describe_timeout();
  ASSERT_THAT(log, HasSubstr("FBQ-DONE")) << log;
  ASSERT_THAT(log, Not(HasSubstr("FBQ-ERROR"))) << log;
  ASSERT_THAT(log, HasSubstr("FBQ-ENUMERATED usb:1-1")) << log;

  // detect: the gadget is listed with its USB serial and port.
  EXPECT_EQ(step_rc(log, "detect"), 0) << log;
  const auto detect = step_output(log, "detect");
  EXPECT_THAT(detect, HasSubstr("FBQEMU01")) << log;
  EXPECT_THAT(detect, HasSubstr("usb:1-1")) << log;
  for (auto& cmd : gadget_commands(detect)) // probes of built-in profiles, if any match 18d1:4ee0
    EXPECT_EQ(cmd.rfind("getvar:", 0), 0u) << cmd;

  EXPECT_EQ(step_rc(log, "getvar"), 0) << log;
  const auto getvar = step_output(log, "getvar");
  EXPECT_THAT(getvar, HasSubstr("\nfbqemu")) << log;
  EXPECT_EQ(gadget_commands(getvar), std::vector<std::string>{"getvar:product"});

  // An image for another device: refused after getvar only.
  EXPECT_EQ(step_rc(log, "refuse"), 1) << log;
  const auto refuse = step_output(log, "refuse");
  EXPECT_THAT(refuse, HasSubstr("refusing usb:1-1")) << log;
  for (auto& cmd : gadget_commands(refuse))
    EXPECT_EQ(cmd.rfind("getvar:", 0), 0u) << cmd;

  // The boot: the gadget counted exactly the image's bytes, then saw boot.
  const std::string data_line = "GADGET DATA " + std::to_string(image.size()) + " fnv1a=" + fnv1a_hex(image);
  for (const char* name : {"boot", "wait"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(step_rc(log, name), 0) << log;
    const auto out = step_output(log, name);
    EXPECT_THAT(out, HasSubstr(data_line)) << log;
    EXPECT_THAT(out, HasSubstr("boot OKAY")) << log;
    const auto cmds = gadget_commands(out);
    ASSERT_GE(cmds.size(), 3u) << out;
    char download[32];
    std::snprintf(download, sizeof download, "download:%08zx", image.size());
    EXPECT_EQ(cmds[cmds.size() - 2], download);
    EXPECT_EQ(cmds.back(), "boot");
  }
  // --wait really waited for the replug (it started while unplugged).
  EXPECT_LT(log.find("FBQ-UNPLUGGED"), log.find("FBQ-REPLUG"));
  EXPECT_LT(log.find("FBQ-REPLUG"), log.find(data_line, log.find("FBQ-BEGIN wait")));

  // Over the whole run the gadget saw nothing but the allow-list.
  const auto all = gadget_commands(log);
  EXPECT_FALSE(all.empty());
  for (auto& cmd : all)
    EXPECT_TRUE(fastboot::command_is_allowed(cmd)) << "gadget received '" << cmd << "'";
}

} // namespace
} // namespace fastboop::test
