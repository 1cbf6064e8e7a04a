// The native smoo host over the kernel's real USB stack. An x86-64 QEMU guest
// (TCG) boots Debian trixie's amd64 kernel (6.12: ublk_drv, dummy_hcd,
// FunctionFS); its init (guest/init.c) loads the modules, puts the test-only
// gadget stand-in (gadget/smoo-gadget-standin.c, written from smoo.md) on a
// FunctionFS function bound to dummy_udc, and starts the host-built
// fastboop-push (copied in with its libraries) as `serve SOURCE`. The host
// finds the gadget through dummy_hcd's host side, configures the export, the
// stand-in creates /dev/ublkb0 and turns every block read into a Request; the
// guest reads the device whole and its sha512 must be the served image's.
//
// Every boot is bounded; on a timeout the guest's last console lines are in
// the failure message and the whole log stays next to the test binary
// (smoo-<test>.log).
#include "common/hash.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <gmock/gmock.h>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <thread>

namespace fs = std::filesystem;

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

fs::path guest_program(const std::string& name) {
  return fs::path(SMOO_GUEST_DIR) / name;
}
fs::path tool(const std::string& name) {
  return fs::path(SMOO_TOOL_DIR) / name;
}

struct Kernel {
  fs::path tree;
  std::string version;
  fs::path image() const { return tree / "boot" / ("vmlinuz-" + version); }
};

std::map<std::string, std::string> key_values(const std::string& text) {
  std::map<std::string, std::string> vars;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (auto eq = line.find('='); eq != std::string::npos)
      vars[line.substr(0, eq)] = line.substr(eq + 1);
  return vars;
}

// Debian trixie's amd64 kernel package, fetched once and cached on disk by
// tests/data/fetch-debian-kernel.sh.
const Kernel* trixie_kernel(std::string& error) {
  static Kernel kernel;
  static std::string fetch_error;
  static bool done = false;
  if (!done) {
    done = true;
    ProcessOutput out =
        run({(source_dir() / "tests/data/fetch-debian-kernel.sh").string(), "amd64", "trixie"});
    auto vars = key_values(std::string(as_chars(out.out)));
    if (out.exit_code == 0 && vars.count("FASTBOOP_KPKG_DIR") && vars.count("FASTBOOP_KVER"))
      kernel = {vars["FASTBOOP_KPKG_DIR"], vars["FASTBOOP_KVER"]};
    else
      fetch_error = "fetch-debian-kernel.sh amd64 trixie failed (exit " +
                    std::to_string(out.exit_code) + "): " + out.err;
  }
  error = fetch_error;
  return error.empty() ? &kernel : nullptr;
}

std::string last_lines(const std::string& log, std::size_t n) {
  std::size_t pos = log.size();
  for (std::size_t i = 0; i <= n && pos != std::string::npos && pos > 0; ++i)
    pos = log.rfind('\n', pos - 1);
  return pos == std::string::npos ? log : log.substr(pos + 1);
}

// Runs QEMU until the guest powers off, or kills it at the deadline. The log
// is kept beside the test binary; CR LF from the serial console becomes LF.
struct Boot {
  bool finished = false;
  std::string accel;
  std::string log;
};

Boot boot(const Kernel& kernel, const fs::path& initrd, const std::string& append,
          const std::string& name, std::chrono::seconds timeout,
          const std::vector<std::string>& extra_args = {}) {
  const fs::path log_path = fs::path(SMOO_TEST_BINARY_DIR) / ("smoo-" + name + ".log");
  // no_timer_check: on a loaded host TCG fails the kernel's IO-APIC timer
  // check ("IO-APIC + timer doesn't work" panic). -cpu max: erofs pulls in
  // crc32c-intel, which needs SSE4.2 (qemu64 lacks it, and PID1 fails the
  // step on a module that does not load).
  // clang-format off
  std::vector<std::string> args = {
      "-cpu", "max", "-m", "1024", "-nographic", "-no-reboot", "-nic", "none",
      "-kernel", kernel.image().string(), "-initrd", initrd.string(), "-append",
      "console=ttyS0 quiet panic=-1 no_timer_check " + append};
  // clang-format on
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  // The accelerator comes from tests/support/qemu-accel.sh (KVM only when a
  // probe guest proved it works here).
  QemuGuest qemu("qemu-system-x86_64", "pc", args, log_path);
  Boot b;
  b.finished = qemu.wait_exit(timeout);
  b.accel = qemu.accel();
  b.log = qemu.log();
  ::testing::Test::RecordProperty("serial_log", log_path.string());
  return b;
}

#define ASSERT_BOOTED(b, timeout)                                                                  \
  ASSERT_TRUE((b).finished) << "QEMU (accel=" << (b).accel << ") did not power off within "       \
                            << (timeout).count() << " s; the guest's last console lines:\n"        \
                            << last_lines((b).log, 40)

// The guest modules of every run in this file: the dummy UDC/HCD pair, the
// gadget framework with FunctionFS, and ublk.
const std::vector<std::string> kModules = {"dummy_hcd", "libcomposite", "usb_f_fs", "ublk_drv"};

// The stand-in's flags as stage0's PID1 passes them (stage0.md §4.6) for a
// 16-deep queue and 1 MiB I/O.
const std::string kGadgetArgs =
    "--ffs-dir /dev/ffs-smoo --state-file /run/smoo/state.json --export-map-file "
    "/run/smoo/exports.json --queue-depth 16 --max-io 1048576 --mimic-fastboot";

// tests/smoo/mk-initrd.sh with the guest programs, `files` (host path ->
// guest path) and `conf` as /smoo-test.conf.
fs::path make_initrd(const TempDir& tmp, const Kernel& kernel, const std::string& conf,
                     const std::vector<std::pair<fs::path, std::string>>& files,
                     const std::vector<std::pair<fs::path, std::string>>& programs = {}) {
  write_file(tmp / "smoo-test.conf", conf);
  const fs::path out = tmp / "initrd.cpio";
  std::vector<std::string> argv = {(source_dir() / "tests/smoo/mk-initrd.sh").string(),
                                   out.string(),
                                   "--kernel",
                                   kernel.tree.string(),
                                   kernel.version,
                                   "--conf",
                                   (tmp / "smoo-test.conf").string()};
  for (const auto& m : kModules)
    argv.insert(argv.end(), {"--module", m});
  std::vector<std::pair<fs::path, std::string>> all = {
      {guest_program("smoo-test-init"), "smoo-test-init"},
      {guest_program("smoo-gadget-standin"), "smoo-gadget"},
      {guest_program("smoo-test-httpd"), "test-httpd"},
      {tool("fastboop-push"), "fastboop-push"},
      {find_program("sha512sum"), "sha512sum"}};
  all.insert(all.end(), programs.begin(), programs.end());
  for (const auto& [path, name] : all)
    argv.insert(argv.end(), {"--program", path.string(), name});
  for (const auto& [from, to] : files)
    argv.insert(argv.end(), {"--file", from.string(), to});
  ProcessOutput made = run(argv);
  EXPECT_EQ(made.exit_code, 0) << made.err;
  return out;
}

std::string file_sha512(const fs::path& path) {
  return sha512_hex(read_file(path));
}

// What every serving run must show: the device has the image's size and
// bytes, and the server stopped cleanly on SIGTERM.
void expect_served(const std::string& log, std::uint64_t size, const std::string& sha512) {
  EXPECT_THAT(log, Not(HasSubstr("SMQ-ERROR"))) << log;
  EXPECT_THAT(log, HasSubstr("SMQ-ENUMERATED usb:1-1")) << log;
  EXPECT_THAT(log, HasSubstr("SMQ-UBLK size=" + std::to_string(size) + "\n")) << log;
  EXPECT_THAT(log, HasSubstr(sha512 + "  /dev/ublkb0\n")) << log;
  EXPECT_THAT(log, HasSubstr("SMQ-SHA512SUM rc=0")) << log;
  EXPECT_THAT(log, HasSubstr("SMQ-SERVE-EXIT rc=0")) << log;
  EXPECT_THAT(log, Not(HasSubstr("Kernel panic"))) << log;
}

std::uint64_t logged_number(const std::string& log, const std::string& key) {
  std::smatch m;
  if (std::regex_search(log, m, std::regex(key + "=([0-9]+)")))
    return std::stoull(m[1]);
  return 0;
}

// True when this fastboop-push has the `serve` subcommand (issue 14's host).
bool push_can_serve() {
  // CLI11 answers --help after an unknown word with the main help, so look
  // for the subcommand in that list.
  static const bool can =
      std::regex_search(std::string(as_chars(run({tool("fastboop-push").string(), "--help"}).out)),
                        std::regex("\n +serve +"));
  return can;
}

class SmooQemu : public ::testing::Test {
protected:
  const Kernel* kernel = nullptr;

  void SetUp() override {
    for (const char* program : {"qemu-system-x86_64", "cpio", "ldd", "sha512sum"})
      if (!have_program(program))
        FASTBOOP_SKIP_OR_FAIL_QEMU(std::string("smoo QEMU test needs '") + program +
                                   "' (.ci/packages)");
    for (const char* program : {"smoo-test-init", "smoo-test-httpd", "smoo-gadget-standin"})
      if (!fs::exists(guest_program(program)))
        FASTBOOP_SKIP_OR_FAIL_QEMU(
            guest_program(program).string() +
            " was not built (the stand-in needs liburing-dev's static library)");
    std::string error;
    kernel = trixie_kernel(error);
    if (!kernel)
      FASTBOOP_SKIP_OR_FAIL_QEMU(error);
  }

  // The chain mode of smoo-test-init: the stage0 in `out` boots with an extra
  // initrd in which fastboop-push serves `served` (at `guest_path`) to the
  // gadget over dummy_hcd. nullopt (with a failure recorded) when the initrd
  // cannot be made.
  std::optional<Boot> boot_served_chain(const TempDir& tmp, const fs::path& out,
                                        const fs::path& served, const std::string& guest_path,
                                        const std::string& name, std::chrono::seconds timeout) {
    write_file(tmp / "smoo-test.conf", "mode chain\nserve serve " + guest_path + "\n");
    const fs::path extra = tmp / "extra.cpio";
    ProcessOutput made =
        run({(source_dir() / "tests/smoo/mk-initrd.sh").string(), extra.string(), "--conf",
             (tmp / "smoo-test.conf").string(), "--program",
             guest_program("smoo-test-init").string(), "smoo-test-init", "--program",
             tool("fastboop-push").string(), "fastboop-push", "--file", served.string(), guest_path});
    if (made.exit_code != 0) {
      ADD_FAILURE() << "mk-initrd.sh: " << made.err;
      return std::nullopt;
    }
    const fs::path initrd = tmp / "initrd.cpio";
    ProcessOutput joined = sh("cat '" + (out / "stage0.cpio").string() + "' '" + extra.string() +
                              "' > '" + initrd.string() + "'");
    if (joined.exit_code != 0) {
      ADD_FAILURE() << "joining the initrds: " << joined.err;
      return std::nullopt;
    }
    std::string cmdline = read_text(out / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\n', ' ');
    return boot(*kernel, initrd, cmdline + " rdinit=/bin/smoo-test-init", name, timeout);
  }
};

constexpr auto kBootTimeout = std::chrono::seconds(300);

// The stand-in checked on its own against the smallest host written from the
// spec (guest/mini-host.c): if this passes and the fastboop-push runs fail,
// the fault is in fastboop's host.
TEST_F(SmooQemu, StandInServesTheSpecsMinimalHost) {
  if (!fs::exists(guest_program("smoo-mini-host")))
    FASTBOOP_SKIP_OR_FAIL_QEMU("smoo-mini-host was not built (libusb-1.0-0-dev)");
  TempDir tmp;
  write_file(tmp / "image.raw", random_bytes(3 * 1024 * 1024 + 64 * 1024, 7));
  const fs::path initrd = make_initrd(
      tmp, *kernel,
      "mode test\ngadget " + kGadgetArgs + "\nserver mini-host\nserve /image.raw 4096\n",
      {{tmp / "image.raw", "/image.raw"}}, {{guest_program("smoo-mini-host"), "mini-host"}});
  const Boot b = boot(*kernel, initrd, "rdinit=/bin/smoo-test-init", "minimal-host", kBootTimeout);
  ASSERT_BOOTED(b, kBootTimeout);
  expect_served(b.log, 3 * 1024 * 1024 + 64 * 1024, file_sha512(tmp / "image.raw"));
  EXPECT_THAT(b.log, HasSubstr("smoo-standin: export 00051a11: /dev/ublkb0 started")) << b.log;
}

#define REQUIRE_SERVE()                                                                            \
  do {                                                                                             \
    if (!push_can_serve())                                                                         \
      FASTBOOP_SKIP_OR_FAIL_QEMU("fastboop-push has no 'serve' subcommand");                       \
  } while (0)

// fastboop-push serves only what holds a filesystem: an ext4 image (mke2fs
// -d) of random files, larger than one 1 MiB request.
fs::path make_ext4(const TempDir& tmp, const std::string& name, std::size_t mib,
                   std::uint32_t seed) {
  const fs::path content = tmp / (name + ".d");
  fs::create_directories(content / "data");
  for (std::size_t i = 0; i < mib / 2 + 1; ++i)
    write_file(content / "data" / ("blob" + std::to_string(i)),
               random_bytes(700 * 1024 + i * 4099, seed + static_cast<std::uint32_t>(i)));
  write_file(content / "etc/hostname", "smooqemu\n");
  const fs::path image = tmp / name;
  ProcessOutput made = run({"mke2fs", "-q", "-F", "-t", "ext4", "-E", "root_owner=0:0", "-d",
                            content.string(), image.string(), std::to_string(mib) + "M"});
  EXPECT_EQ(made.exit_code, 0) << made.err;
  return image;
}

TEST_F(SmooQemu, ServesALocalFile) {
  REQUIRE_SERVE();
  FASTBOOP_REQUIRE_PROGRAM("mke2fs");
  TempDir tmp;
  const fs::path image = make_ext4(tmp, "root.ext4", 6, 11);
  const fs::path initrd =
      make_initrd(tmp, *kernel, "mode test\ngadget " + kGadgetArgs + "\nserve serve /root.ext4\n",
                  {{image, "/root.ext4"}});
  const Boot b = boot(*kernel, initrd, "rdinit=/bin/smoo-test-init", "local-file", kBootTimeout);
  ASSERT_BOOTED(b, kBootTimeout);
  expect_served(b.log, fs::file_size(image), file_sha512(image));
}

// The disruptions of a real session while the device is being read (the
// guest's `disrupt` directive): the read must still end with the image's
// bytes, and the disruption must have happened before it ended.
void expect_survived(const std::string& log, const fs::path& image, const std::string& event) {
  expect_served(log, fs::file_size(image), file_sha512(image));
  const auto disrupted = log.find(event);
  ASSERT_NE(disrupted, std::string::npos) << log;
  EXPECT_LT(disrupted, log.find("SMQ-SHA512SUM rc=")) << "the read ended before the disruption:\n"
                                                      << log;
}

std::size_t count_of(const std::string& log, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1))
    ++n;
  return n;
}

// The host dies (SIGKILL) mid-read and a new `fastboop-push serve` starts:
// it must configure the same export (same export_id: smoo.md §5), and the
// gadget's replayed Requests must be answered with the right bytes.
TEST_F(SmooQemu, ANewHostTakesOverWhenTheFirstIsKilledMidRead) {
  REQUIRE_SERVE();
  FASTBOOP_REQUIRE_PROGRAM("mke2fs");
  TempDir tmp;
  const fs::path image = make_ext4(tmp, "root.ext4", 16, 31);
  const fs::path initrd = make_initrd(tmp, *kernel,
                                      "mode test\ngadget " + kGadgetArgs +
                                          "\nserve serve /root.ext4\ndisrupt kill 25\n",
                                      {{image, "/root.ext4"}});
  const Boot b = boot(*kernel, initrd, "rdinit=/bin/smoo-test-init", "host-killed", kBootTimeout);
  ASSERT_BOOTED(b, kBootTimeout);
  expect_survived(b.log, image, "SMQ-DISRUPT host killed");
  // Two sessions, one export: the second CONFIG_EXPORTS names the same id,
  // so the stand-in keeps /dev/ublkb0 (no second "starting").
  std::vector<std::string> ids;
  const std::regex entry("smoo-standin:   export ([0-9a-f]{8}): block");
  for (auto it = std::sregex_iterator(b.log.begin(), b.log.end(), entry);
       it != std::sregex_iterator(); ++it)
    ids.push_back((*it)[1]);
  ASSERT_EQ(ids.size(), 2u) << b.log;
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(count_of(b.log, "/dev/ublkb0 started"), 1u) << b.log;
}

// The gadget leaves the bus mid-read (UDC unbound) and comes back 1.5 s
// later (both disruptions come once a quarter of the device was read): the host must wait for it
// and carry on, the gadget replays what was unanswered.
TEST_F(SmooQemu, AReadSurvivesAnUnplugAndReplugOfTheGadget) {
  REQUIRE_SERVE();
  FASTBOOP_REQUIRE_PROGRAM("mke2fs");
  TempDir tmp;
  const fs::path image = make_ext4(tmp, "root.ext4", 16, 41);
  const fs::path initrd = make_initrd(tmp, *kernel,
                                      "mode test\ngadget " + kGadgetArgs +
                                          "\nserve serve /root.ext4\ndisrupt replug 25\n",
                                      {{image, "/root.ext4"}});
  const Boot b = boot(*kernel, initrd, "rdinit=/bin/smoo-test-init", "replug", kBootTimeout);
  ASSERT_BOOTED(b, kBootTimeout);
  expect_survived(b.log, image, "SMQ-DISRUPT gadget plugged back");
  EXPECT_EQ(count_of(b.log, "/dev/ublkb0 started"), 1u) << b.log;
}

// The root a distro publishes: an ext4 partition (mke2fs -d) in a GPT disk
// image (sgdisk), as an Android sparse image (img2simg), xz-compressed in
// 1 MiB blocks; a Boot Profile names it by URL. The guest serves the file
// with its own HTTP server on loopback; fastboop-push reads it through http
// -> xz -> sparse -> gpt and the device gets exactly the partition's bytes.
TEST_F(SmooQemu, ServesAGptPartitionOfASparseXzImageOverHttp) {
  REQUIRE_SERVE();
  for (const char* program : {"mke2fs", "sgdisk", "img2simg", "xz"})
    FASTBOOP_REQUIRE_PROGRAM(program);
  TempDir tmp;
  const fs::path content = tmp / "content";
  fs::create_directories(content / "data");
  for (int i = 0; i < 6; ++i)
    write_file(content / "data" / ("blob" + std::to_string(i)),
               random_bytes(400 * 1024 + i * 1000, 100 + i));
  write_file(content / "etc/hostname", "smooqemu\n");
  const std::string url = "http://127.0.0.1:8080/disk.simg.xz";
  ProcessOutput made =
      sh("set -e; cd '" + tmp.path().string() +
         "'; mke2fs -q -F -t ext4 -E root_owner=0:0 -d content root.ext4 8M;"
         " truncate -s 12M disk.img;"
         " sgdisk -o -n1:2048:+2M -c1:boot -n2:0:+8M -c2:root disk.img >/dev/null;"
         " dd if=root.ext4 of=disk.img bs=512 seek=$((2048 + 4096)) conv=notrunc status=none;"
         " img2simg disk.img disk.simg; mkdir www;"
         " xz -T1 --block-size=1MiB -c disk.simg > www/disk.simg.xz");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const fs::path xz = tmp / "www/disk.simg.xz";
  write_file(tmp / "root.yaml", "id: smoo-http\nrootfs:\n  ext4:\n    gpt:\n      partlabel: root\n"
                                "      android_sparseimg:\n        xz:\n          http: " +
                                    url +
                                    "\n          content: {digest: \"sha512:" + file_sha512(xz) +
                                    "\", size_bytes: " + std::to_string(fs::file_size(xz)) + "}\n");
  ProcessOutput compiled = run({tool("fastboop-profile").string(), "compile",
                                (tmp / "root.yaml").string(), "-o", (tmp / "root.fbp").string()});
  ASSERT_EQ(compiled.exit_code, 0) << compiled.err;

  const fs::path initrd =
      make_initrd(tmp, *kernel,
                  "mode test\ngadget " + kGadgetArgs + "\nhttp /www 8080\nserve serve /root.fbp\n",
                  {{xz, "/www/disk.simg.xz"}, {tmp / "root.fbp", "/root.fbp"}});
  const Boot b = boot(*kernel, initrd, "rdinit=/bin/smoo-test-init", "http-gpt", kBootTimeout);
  ASSERT_BOOTED(b, kBootTimeout);
  expect_served(b.log, fs::file_size(tmp / "root.ext4"), file_sha512(tmp / "root.ext4"));
  // Something came over HTTP, and reading the device whole fetched the
  // artifact about once (measured: exactly once; 1.4x before the host kept a
  // sequential stream on one pipeline instance; 10 % slack for a page two
  // readers fetch at the same time).
  const std::uint64_t fetched = logged_number(b.log, "SMQ-HTTP-FETCHED bytes");
  RecordProperty("http_fetched_bytes", std::to_string(fetched));
  RecordProperty("artifact_bytes", std::to_string(fs::file_size(xz)));
  EXPECT_GT(fetched, 0u) << b.log;
  EXPECT_LE(fetched, fs::file_size(xz) * 11 / 10) << b.log;
}

// The rootfs of the whole-chain tests, as tmp/rootfs.erofs: the trixie kernel
// package's boot/ and the module directories stage0 draws from, /sbin/init
// (guest/root-init.c) and /etc/smoo-root-marker holding `marker`; and
// tmp/none.dtb, the placeholder DTB the generator insists on.
void make_chain_rootfs(const TempDir& tmp, const Kernel& kernel, const std::string& marker) {
  const std::string kver = kernel.version;
  const fs::path root = tmp / "rootdir";
  ProcessOutput tree =
      sh("set -e; R='" + root.string() + "'; T='" + kernel.tree.string() + "'; K='" + kver +
         "'; mkdir -p $R/sbin $R/etc $R/boot $R/proc $R/sys $R/dev $R/run "
         "$R/lib/modules/$K/kernel/drivers;"
         " cp $T/boot/vmlinuz-$K $T/boot/config-$K $R/boot/; cp $T/lib/modules/$K/modules.* "
         "$R/lib/modules/$K/;"
         " for d in drivers/usb drivers/block fs crypto lib arch; do cp -a "
         "$T/lib/modules/$K/kernel/$d "
         "$R/lib/modules/$K/kernel/$d; done");
  ASSERT_EQ(tree.exit_code, 0) << tree.err;
  fs::copy_file(guest_program("smoo-root-init"), root / "sbin/init");
  write_file(root / "etc/smoo-root-marker", marker + "\n");
  ProcessOutput erofs = run({"mkfs.erofs", "--quiet", "--all-root", "-T0",
                             (tmp / "rootfs.erofs").string(), root.string()});
  ASSERT_EQ(erofs.exit_code, 0) << erofs.err;
  write_file(tmp / "none.dts", "/dts-v1/;\n/ { model = \"none\"; compatible = \"none\"; };\n");
  ProcessOutput dtb = run({"dtc", "-q", "-I", "dts", "-O", "dtb", "-o", (tmp / "none.dtb").string(),
                           (tmp / "none.dts").string()});
  ASSERT_EQ(dtb.exit_code, 0) << dtb.err;
}

// The end of every whole-chain boot: PID1 mounted /dev/ublkb0, switched root,
// and the rootfs's init read `marker` through it.
void expect_root_reached(const std::string& log, const std::string& marker) {
  EXPECT_TRUE(std::regex_search(log, std::regex("stage0: step root-mount ok: /dev/ublkb0"))) << log;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m,
                                std::regex("SMOO-ROOT-INIT: pid=1 root=overlay marker=" + marker +
                                           " ublkb0-read-bytes=([0-9]+)")))
      << log;
  EXPECT_GT(std::stoull(m[1]), 0u);
  EXPECT_THAT(log, Not(HasSubstr("FATAL"))) << log;
  EXPECT_THAT(log, Not(HasSubstr("Kernel panic"))) << log;
  EXPECT_THAT(log, Not(HasSubstr("SMQ-ERROR"))) << log;
}

// The whole chain. The rootfs is the trixie kernel package (boot/ and the
// module directories stage0 draws from) plus /sbin/init (guest/root-init.c)
// and a marker file, as EROFS. fastboop-stage0 builds its stage0 with our
// x86_64 PID1 and the stand-in as --smoo-gadget, the root to come over smoo.
// The guest's initrd is stage0.cpio unchanged with a second archive appended:
// fastboop-push with its libraries, the rootfs image, and guest/init.c in
// chain mode as rdinit, which starts `fastboop-push serve` in the background
// and execs stage0's /init (still pid 1). PID1 loads the modules, brings up
// the gadget, waits for /dev/ublkb0, mounts it as the lower root, switches
// root and execs the rootfs's init, which prints the marker it read.
TEST_F(SmooQemu, Stage0BootsARootServedOverUsbByFastboopPush) {
  REQUIRE_SERVE();
  const fs::path payload = fs::path(SMOO_PAYLOAD_DIR) / "stage0-x86_64";
  if (!fs::exists(tool("fastboop-stage0")) || !fs::exists(payload))
    FASTBOOP_SKIP_OR_FAIL_QEMU("fastboop-stage0 and the x86_64 PID1 payload must be built (" +
                               payload.string() + ")");
  for (const char* program : {"mkfs.erofs", "dtc"})
    FASTBOOP_REQUIRE_PROGRAM(program);
  TempDir tmp;
  make_chain_rootfs(tmp, *kernel, "served-over-usb-by-fastboop-push");
  if (::testing::Test::HasFatalFailure())
    return;
  const fs::path rootfs = tmp / "rootfs.erofs";

  const fs::path out = tmp / "stage0";
  ProcessOutput built = sh(
      "FASTBOOP_SCHEMA_PATH='" + (source_dir() / "tests/smoo/devpro").string() + "' '" +
      tool("fastboop-stage0").string() + "' build '" + rootfs.string() +
      "' --device-profile qemu-x86-dummy-hcd -o '" + out.string() + "' --dtb '" +
      (tmp / "none.dtb").string() + "' --stage0-init '" + payload.string() + "' --smoo-gadget '" +
      guest_program("smoo-gadget-standin").string() +
      "' --require-module dummy_hcd --compress none --rootfs-type erofs --stage0-serial SMOOQEMU1"
      " --usb-vendor 0x18d1 --usb-product 0x4ee0 --smoo-queue-depth 16 --udc-timeout 60 "
      "--ep1-timeout 60"
      " --ublk-timeout 180");
  ASSERT_EQ(built.exit_code, 0) << built.err;

  const auto timeout = std::chrono::seconds(400);
  const std::optional<Boot> chained =
      boot_served_chain(tmp, out, rootfs, "/srv/rootfs.erofs", "stage0-chain", timeout);
  ASSERT_TRUE(chained);
  const Boot& b = *chained;
  ASSERT_BOOTED(b, timeout);
  const std::string& log = b.log;
  EXPECT_THAT(log, HasSubstr("SMQ-CHAIN server starting")) << log;
  EXPECT_THAT(log, HasSubstr("stage0: step smoo ok")) << log;
  EXPECT_THAT(log, HasSubstr("smoo-standin: export ")) << log;
  expect_root_reached(log, "served-over-usb-by-fastboop-push");
}

// Issue 21 over USB: the chain above with a distro live ISO as SOURCE. The
// rootfs tree is laid out as Debian live does (live/filesystem.squashfs by
// mksquashfs, live/vmlinuz beside it, xorriso); fastboop-stage0 takes the
// kernel from the ISO and the modules from inside the squashfs, and
// `fastboop-push serve live.iso` serves exactly the squashfs's byte range of
// the ISO, which PID1 mounts from /dev/ublkb0 as a squashfs lower root.
TEST_F(SmooQemu, Stage0BootsALiveIsoWhoseSquashfsIsServedOverUsb) {
  REQUIRE_SERVE();
  const fs::path payload = fs::path(SMOO_PAYLOAD_DIR) / "stage0-x86_64";
  if (!fs::exists(tool("fastboop-stage0")) || !fs::exists(payload))
    FASTBOOP_SKIP_OR_FAIL_QEMU("fastboop-stage0 and the x86_64 PID1 payload must be built (" +
                               payload.string() + ")");
  for (const char* program : {"mkfs.erofs", "dtc", "mksquashfs", "xorriso"})
    FASTBOOP_REQUIRE_PROGRAM(program);
  TempDir tmp;
  const std::string marker = "live-iso-squashfs-served-over-usb";
  make_chain_rootfs(tmp, *kernel, marker);
  if (::testing::Test::HasFatalFailure())
    return;
  const fs::path iso = tmp / "live.iso";
  ProcessOutput made_iso =
      sh("set -e; cd '" + tmp.path().string() + "'; mkdir -p iso/live; cp rootdir/boot/vmlinuz-" +
         kernel->version +
         " iso/live/vmlinuz; mksquashfs rootdir iso/live/filesystem.squashfs -comp gzip -noappend"
         " -no-progress -quiet -all-root -no-xattrs >/dev/null;"
         " xorriso -as mkisofs -quiet -R -J -V LIVE -o live.iso iso 2>/dev/null");
  ASSERT_EQ(made_iso.exit_code, 0) << made_iso.err;

  const fs::path out = tmp / "stage0";
  ProcessOutput built =
      sh("FASTBOOP_SCHEMA_PATH='" + (source_dir() / "tests/smoo/devpro").string() + "' '" +
         tool("fastboop-stage0").string() + "' build '" + iso.string() +
         "' --device-profile qemu-x86-dummy-hcd -o '" + out.string() + "' --dtb '" +
         (tmp / "none.dtb").string() + "' --stage0-init '" + payload.string() +
         "' --smoo-gadget '" + guest_program("smoo-gadget-standin").string() +
         "' --require-module dummy_hcd --compress none --stage0-serial SMOOQEMU1"
         " --usb-vendor 0x18d1 --usb-product 0x4ee0 --smoo-queue-depth 16 --udc-timeout 60 "
         "--ep1-timeout 60 --ublk-timeout 180");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_THAT(read_text(out / "stage0.json"), HasSubstr("live ISO kernel live/vmlinuz"));

  const auto timeout = std::chrono::seconds(400);
  const std::optional<Boot> chained =
      boot_served_chain(tmp, out, iso, "/srv/live.iso", "live-iso-chain", timeout);
  ASSERT_TRUE(chained);
  const Boot& b = *chained;
  ASSERT_BOOTED(b, timeout);
  const std::string& log = b.log;
  EXPECT_THAT(log, HasSubstr("stage0: modules: loaded squashfs")) << log;
  EXPECT_THAT(log, HasSubstr("stage0: step root-mount ok: /dev/ublkb0 (squashfs)")) << log;
  expect_root_reached(log, marker);
}

// Issue 15's chain: `fastboop boot` itself, as a person would run it, with the
// rootfs as SOURCE. In the guest a FunctionFS fastboot device on dummy_hcd is
// the phone's bootloader (guest/init.c, mode boot); fastboop finds it over
// USB, identifies it by the test Device Profile's getvar probe (no
// --device-profile), builds stage0 and the boot image through its cache,
// downloads and boots. The "bootloader" unpacks the image's ramdisk as the new
// root and execs its /init (our PID1), which brings up the smoo gadget; the
// same fastboop process serves the rootfs over USB; PID1 mounts /dev/ublkb0,
// switches root, and the rootfs's init prints the marker it read.
TEST_F(SmooQemu, FastboopBootFindsTheDeviceBuildsBootsAndServesTheRoot) {
  REQUIRE_SERVE();
  const fs::path payload = fs::path(SMOO_PAYLOAD_DIR) / "stage0-x86_64";
  if (!fs::exists(tool("fastboop")) || !fs::exists(payload))
    FASTBOOP_SKIP_OR_FAIL_QEMU("fastboop and the x86_64 PID1 payload must be built (" +
                               payload.string() + ")");
  for (const char* program : {"mkfs.erofs", "dtc"})
    FASTBOOP_REQUIRE_PROGRAM(program);
  TempDir tmp;
  make_chain_rootfs(tmp, *kernel, "served-over-usb-by-fastboop-boot");
  if (::testing::Test::HasFatalFailure())
    return;
  const std::string options =
      " --stage0 /srv/stage0-x86_64 --smoo-gadget /srv/smoo-gadget"
      " --dtb /srv/none.dtb --require-module dummy_hcd --setting stage0.serial=SMOOQEMU1"
      " --setting smoo.vendor=0x18d1 --setting smoo.product=0x4ee0 --setting smoo.queue_depth=16"
      " --setting stage0.udc_timeout=60 --setting stage0.ep1_timeout=60"
      " --setting stage0.ublk_timeout=180 --wait --timeout 120"; // the gadget enumerates after init binds it
  // First `-o` (getvar only: identify, build, write), then the real boot,
  // whose stage0 and boot.img must both come from the cache.
  const std::string conf = "mode boot\nprepare boot /srv/rootfs.erofs -o /root/prepared.img" +
                           options + "\nfastboop boot /srv/rootfs.erofs" + options + "\n";
  const fs::path initrd = make_initrd(
      tmp, *kernel, conf,
      {{tmp / "rootfs.erofs", "/srv/rootfs.erofs"},
       {tmp / "none.dtb", "/srv/none.dtb"},
       {payload, "/srv/stage0-x86_64"},
       {guest_program("smoo-gadget-standin"), "/srv/smoo-gadget"},
       {source_dir() / "tests/smoo/devpro/qemu-x86-dummy-hcd.yaml",
        "/srv/devpro/qemu-x86-dummy-hcd.yaml"}},
      {{tool("fastboop"), "fastboop"}});
  if (::testing::Test::HasFailure())
    return;
  const auto timeout = std::chrono::seconds(600);
  const Boot b = boot(*kernel, initrd, "rdinit=/bin/smoo-test-init", "fastboop-boot", timeout);
  ASSERT_BOOTED(b, timeout);
  const std::string& log = b.log;
  // Identified by its probe among the pool (built-ins included), not named.
  EXPECT_THAT(log, HasSubstr("qemu-x86-dummy-hcd")) << log;
  EXPECT_THAT(log, HasSubstr("SMQ-PREPARE rc=0")) << log;
  const std::size_t booting = log.find("SMQ-PREPARE rc=0");
  ASSERT_NE(booting, std::string::npos);
  // The prepare run generated both; the boot run generated nothing.
  EXPECT_EQ(count_of(log, "generating stage0 for qemu-x86-dummy-hcd"), 1u) << log;
  EXPECT_EQ(count_of(log, "generating boot.img for qemu-x86-dummy-hcd"), 1u) << log;
  EXPECT_LT(log.find("generating boot.img"), booting) << log;
  EXPECT_NE(log.find("cache hit: stage0 for qemu-x86-dummy-hcd", booting), std::string::npos) << log;
  EXPECT_NE(log.find("cache hit: boot.img for qemu-x86-dummy-hcd", booting), std::string::npos)
      << log;
  EXPECT_THAT(log, HasSubstr("SMQ-FASTBOOT-BOOT ")) << log;
  EXPECT_THAT(log, HasSubstr("SMQ-BOOT exec /init of the booted image")) << log;
  EXPECT_THAT(log, HasSubstr("stage0: step smoo ok")) << log;
  expect_root_reached(log, "served-over-usb-by-fastboop-boot");
}

} // namespace
} // namespace fastboop::test
