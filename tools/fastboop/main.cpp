// fastboop: from a distro image to a running phone in one command. `boot`
// composes the library (tools/lib/boot/flow.hpp); `url-handler` turns a
// fastboop://boot link into the same `boot` arguments (tools/lib/boot/url.hpp).
// The four tools (profile, stage0, bootimg, push) stay for CI and scripting.
#include "artifact_cache/store.hpp"
#include "boot/flow.hpp"
#include "boot/url.hpp"
#include "common/cli.hpp"
#include "common/log.hpp"

#include <cstdio>
#include <iostream>
#include <unistd.h>

using namespace fastboop;

namespace {

struct BootArgs {
  std::string source, device, output, cmdline_append;
  std::optional<std::string> device_profile, boot_profile, expect_sha512, dtb, augment, stage0,
      smoo_gadget, root_device;
  std::vector<std::string> modules, dtbos, local_artifacts, settings;
  double timeout = 0, io_timeout = 30;
  bool wait = false, serial = false, offline = false, no_clock = false, no_firstboot = false,
       no_serve = false, no_cache = false, unverified_ranged_reads = false;
};

void add_boot_options(CLI::App* boot, BootArgs& a) {
  boot->add_option("SOURCE", a.source,
                   "Rootfs image path or http(s) URL, rootfs directory, compiled Boot Profile "
                   "(.fbp), channel (path or URL: profiles, optionally followed by the image) or Boot "
                   "Profile manifest (.yaml)")
      ->required();
  boot->add_option("--device-profile", a.device_profile,
                   "Device Profile id (default: identify the device by probes)");
  boot->add_option("--boot-profile", a.boot_profile,
                   "The Boot Profile id SOURCE must hold; chooses among a channel's (default: its only one)");
  boot->add_option("-s,--device", a.device,
                   "SERIAL, usb:BUS-PORT, tcp:HOST[:PORT] or udp:HOST[:PORT]");
  boot->add_flag("--wait", a.wait, "Wait for the device to appear");
  boot->add_option("--timeout", a.timeout,
                   "With --wait: give up after S seconds (default: wait forever)")
      ->check(CLI::NonNegativeNumber);
  boot->add_option("--io-timeout", a.io_timeout,
                   "Seconds to wait for each device response (default 30)")
      ->check(CLI::PositiveNumber);
  boot->add_option("-o,--output", a.output,
                   "Write the boot image (and OUTPUT.json) for the device or --device-profile "
                   "instead of booting");
  boot->add_flag("--serial", a.serial, "USB CDC-ACM console on the device (smoo.acm)");
  boot->add_option("--cmdline-append", a.cmdline_append,
                   "Appended to the boot image's kernel command line");
  boot->add_option("--require-module", a.modules, "Extra kernel module in stage0 (repeatable)");
  boot->add_option("--dtb", a.dtb, "DTB from the host instead of the rootfs or Boot Profile");
  boot->add_option("--dtbo", a.dtbos, "DT overlay applied after the Boot Profile's (repeatable)");
  boot->add_option("--augment", a.augment,
                   "Existing initramfs whose entries win (newc, any compression)");
  boot->add_option("--stage0", a.stage0,
                   "PID1 payload (default: $FASTBOOP_STAGE0_PATH, next to this program, "
                   "${libdir}/fastboop/stage0/stage0-aarch64)");
  boot->add_option(
      "--smoo-gadget", a.smoo_gadget,
      "smoo-gadget program for the device (default: $FASTBOOP_SMOO_GADGET_PATH, next to this "
      "program, ${libdir}/fastboop/smoo/smoo-gadget-aarch64)");
  boot->add_option("--root-device", a.root_device,
                   "Root on the device's own storage (e.g. /dev/mmcblk0p20): no smoo");
  boot->add_option("--setting", a.settings, "Any /etc/stage0 KEY=VALUE (repeatable)");
  boot->add_option(
      "--local-artifact", a.local_artifacts,
      "Local file replacing any pipeline stage with the same sha512 and size (repeatable)");
  boot->add_option("--expect-sha512", a.expect_sha512,
                                  "SHA-512 of a bare image path or URL SOURCE (a URL is fetched whole "
                                  "and checked before use)");
  boot->add_flag("--unverified-ranged-reads", a.unverified_ranged_reads,
                 "Read only the needed ranges of a URL SOURCE with --expect-sha512, or of a Boot Profile's http "
                 "artifacts that have no block-hash table, before their SHA-512 can be checked: the image and "
                 "the served root are then unverified (said in a warning)");
  boot->add_flag("--offline", a.offline, "Never fetch over the network (also FASTBOOP_OFFLINE=1)");
  boot->add_flag("--no-system-time", a.no_clock, "Do not pass the host clock (systemd.clock_usec)");
  boot->add_flag("--no-firstboot", a.no_firstboot,
                 "Do not pass the host locale, keymap and timezone as first-boot settings");
  boot->add_flag("--no-serve", a.no_serve,
                 "Return after boot instead of serving the root over smoo");
  boot->add_flag("--no-cache", a.no_cache, "Do not use the artifact cache ($FASTBOOP_CACHE_DIR)");
}

Result<boot::BootRequest> boot_request(const BootArgs& a) {
  boot::BootRequest r;
  r.source = a.source;
  r.device_profile = a.device_profile;
  r.boot_profile = a.boot_profile;
  if (!a.device.empty())
    r.target = TRY(fastboot::parse_device_spec(a.device));
  if (!a.output.empty())
    r.output = a.output;
  r.local_artifacts = a.local_artifacts;
  r.expect_sha512 = a.expect_sha512;
  r.unverified_ranged_reads = a.unverified_ranged_reads;
  r.offline = a.offline;
  r.stage0.modules = a.modules;
  r.stage0.dtb = a.dtb;
  r.stage0.dtbos = a.dtbos;
  r.stage0.augment = a.augment;
  r.stage0.root_device = a.root_device;
  r.stage0.settings = a.settings;
  r.stage0.serial = a.serial ? stage0::SerialConsole::On : stage0::SerialConsole::Off;
  r.stage0_payload = a.stage0;
  r.smoo_gadget = a.smoo_gadget;
  r.cmdline_append = a.cmdline_append;
  r.clock = a.no_clock ? boot::HostClock::Off : boot::HostClock::On;
  r.firstboot = a.no_firstboot ? boot::FirstBootSettings::Off : boot::FirstBootSettings::On;
  r.serve = a.no_serve ? boot::Serve::Off : boot::Serve::On;
  r.cache_dir = a.no_cache ? std::string() : artifact_cache::default_cache_dir();
  r.push.wait = a.wait ? fastboot::WaitMode::Wait : fastboot::WaitMode::NoWait;
  r.push.timeout = std::chrono::seconds(static_cast<long>(a.timeout));
  fastboot::set_io_timeout(r.push,
                           std::chrono::milliseconds(static_cast<long>(a.io_timeout * 1000)));
  return r;
}

// The link becomes `fastboop boot …` arguments, run by this program again
// (exec, no shell), so a link gets exactly `boot`'s parsing.
Result<void> run_url_handler(const std::string& url, bool print_only) {
  const auto link = TRY(boot::parse_boot_link(url));
  const auto args = boot::boot_arguments(link);
  std::string shown = "fastboop";
  for (const auto& a : args)
    shown += " '" + a + "'";
  if (print_only) {
    for (const auto& a : args)
      std::cout << a << "\n";
    return ok();
  }
  std::cerr << "This link asks to run:\n  " << shown << "\n";
  if (::isatty(STDIN_FILENO) == 1) {
    std::cerr << "Boot it on the phone attached in fastboot mode? [y/N] " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "y" && answer != "Y" && answer != "yes")
      return Error("not confirmed; nothing was done", ErrorKind::Usage);
  }
  std::vector<char*> argv;
  std::string self = "fastboop";
  argv.push_back(self.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv("/proc/self/exe", argv.data());
  return Error("cannot run fastboop boot again: exec /proc/self/exe failed", ErrorKind::Io);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fastboop: boot a distro image on a phone in fastboot mode, without flashing anything.\n"
      "Identifies the device, builds stage0 and the boot image for it (cached), boots it and "
      "serves "
      "the root.",
      "fastboop"};
  cli::add_common_options(
      app, {.examples = {{"fastboop boot <rootfs image> --device-profile arrow-db410c --root-device /dev/mmcblk1 -o boot.img",
                          "Build the boot image (and boot.img.json) for a device without booting it; a second run is a "
                          "cache hit"}}});
  app.require_subcommand(1);

  BootArgs b;
  auto* boot = app.add_subcommand("boot", "Boot SOURCE on the attached fastboot device");
  add_boot_options(boot, b);

  std::string url;
  bool print_only = false;
  auto* handler = app.add_subcommand(
      "url-handler", "Run a fastboop://boot?source=… link (the desktop entry's handler)");
  handler
      ->add_option("URL", url,
                   "fastboop://boot?source=<url>[&sha512=…][&device-profile=…][&boot-profile=…]")
      ->required();
  handler->add_flag("--print", print_only,
                    "Print the `fastboop boot` arguments, one a line, and do nothing");

  return cli::run(app, argc, argv, [&]() -> Result<void> {
    if (*handler)
      return run_url_handler(url, print_only);
    return boot::run_boot(TRY(boot_request(b)));
  });
}
