// fastboop-push: find a fastboot device, prove it is the device the image was
// built for, then download + boot it. It can send getvar, download and boot —
// nothing else (see tools/lib/fastboot/driver.hpp).
#include "common/cli.hpp"
#include "common/log.hpp"
#include "fastboot/push.hpp"
#include "fastboot/push_console.hpp"
#include "profiles/profiles.hpp"
#include "smoo/rootfs.hpp"

#include <cstdio>
#include <filesystem>

using namespace fastboop;
using namespace fastboop::fastboot;

namespace {

Result<std::vector<DeviceSpec>> parse_specs(const std::vector<std::string>& texts) {
  std::vector<DeviceSpec> specs;
  for (auto& t : texts)
    specs.push_back(TRY(parse_device_spec(t)));
  return specs;
}

Result<std::vector<profiles::DeviceProfile>> profile_pool(const std::string& only_id) {
  std::vector<profiles::DeviceProfile> pool;
  if (!only_id.empty()) {
    pool.push_back(TRY(profiles::find_device_profile(only_id)).profile);
    return pool;
  }
  for (auto& loaded : TRY(profiles::load_device_profile_pool()))
    pool.push_back(loaded.profile);
  return pool;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Boot an Android boot image on a fastboot device, leaving its storage untouched.\n"
               "Only getvar, download and boot are ever sent.",
               "fastboop-push"};
  cli::add_common_options(
      app,
      {.examples = {
           {"fastboop-push detect --json",
            "List attached fastboot devices and the profiles they match"},
           {"fastboop-push boot boot.img --check",
            "Prove the device is the one boot.img was built for (getvar only), send nothing else"},
           {"fastboop-push boot boot.img -s udp:192.168.0.10",
            "Boot boot.img on a bootloader that speaks fastboot over UDP"},
           {"fastboop-push getvar product", "Print one bootloader variable"}}});
  app.require_subcommand(1);

  PushSettings settings;
  double timeout_seconds = 0;
  bool wait = false;
  auto add_wait = [&](CLI::App* sub) {
    sub->add_flag("--wait", wait, "Wait for the device to appear (libusb hotplug, or polling)");
    sub->add_option("--timeout", timeout_seconds, "With --wait: give up after S seconds (default: wait forever)")
        ->check(CLI::NonNegativeNumber);
  };

  // detect
  auto* detect = app.add_subcommand("detect", "List fastboot devices and the device profiles they match");
  std::vector<std::string> detect_targets;
  bool json = false;
  std::string detect_profile;
  detect->add_option("-s,--device", detect_targets,
                     "Also probe this device: SERIAL, usb:BUS-PORT, tcp:HOST[:PORT], udp:HOST[:PORT] (repeatable)");
  detect->add_flag("--json", json,
                   "Machine-readable output (a JSON array; [] when no device is attached)");
  detect->add_option("--device-profile", detect_profile, "Only consider this device profile");
  add_wait(detect);

  // getvar
  auto* getvar = app.add_subcommand("getvar", "Read one bootloader variable");
  std::string var_name;
  std::string getvar_target;
  getvar->add_option("NAME", var_name, "Variable name, e.g. product")->required();
  getvar->add_option("-s,--device", getvar_target, "SERIAL, usb:BUS-PORT, tcp:HOST[:PORT] or udp:HOST[:PORT]");
  getvar->add_flag("--json", json, "Print {\"name\": …, \"value\": …}");
  add_wait(getvar);

  // boot
  auto* boot = app.add_subcommand("boot", "Check the device against the image's profile, then download and boot it");
  std::string image;
  std::string boot_target;
  std::string boot_profile;
  std::string then_command;
  bool check = false;
  bool force = false;
  double io_timeout = 30;
  boot->add_option("IMAGE", image, "boot.img (its boot.img.json sidecar names the device profile)")
      ->required();
  boot->add_option("-s,--device", boot_target, "SERIAL, usb:BUS-PORT, tcp:HOST[:PORT] or udp:HOST[:PORT]");
  boot->add_option("--device-profile", boot_profile, "Device profile id (when the image has no sidecar)");
  boot->add_flag("--check", check, "Do everything except the download and boot");
  boot->add_flag("--json", json, "Print what was matched, checked and sent as JSON on stdout");
  boot->add_flag("--force-device", force, "Boot even if the device does not match the profile (dangerous)");
  boot->add_option("--then", then_command,
                   "After boot OKAY, run this shell command (FASTBOOP_SERIAL, FASTBOOP_DEVICE, "
                   "FASTBOOP_DEVICE_PROFILE in its environment)");
  boot->add_option("--io-timeout", io_timeout, "Seconds to wait for each device response (default 30)")
      ->check(CLI::PositiveNumber);
  std::string boot_rootfs;
  bool no_serve = false, force_rootfs = false, boot_offline = false;
  std::vector<std::string> boot_artifacts;
  std::uint32_t boot_block_size = 4096;
  boot->add_option("--rootfs", boot_rootfs,
                   "Serve this rootfs (path, URL or compiled Boot Profile) instead of the one the sidecar records; "
                   "refused unless it is the one stage0 was built from");
  boot->add_flag("--force-rootfs", force_rootfs, "Serve --rootfs even if it is not the one stage0 was built from");
  boot->add_flag("--no-serve", no_serve, "Stop after boot OKAY instead of serving the root over USB (smoo)");
  boot->add_flag("--offline", boot_offline, "Serving: never fetch over the network (also FASTBOOP_OFFLINE=1)");
  boot->add_option("--local-artifact", boot_artifacts,
                   "Serving: local file replacing any pipeline stage with the same sha512 and size (repeatable)");
  boot->add_option("--block-size", boot_block_size,
                   "Serving: export block size, a power of two 512-65536 (default 4096)");
  add_wait(boot);

  // serve
  auto* serve =
      app.add_subcommand("serve", "Serve a rootfs to a booted stage0's smoo gadget over USB until "
                                  "interrupted (Ctrl-C)");
  std::string serve_source;
  std::string serve_target;
  std::vector<std::string> serve_artifacts;
  bool serve_offline = false;
  std::optional<std::string> serve_sha512;
  std::uint32_t block_size = 4096;
  serve
      ->add_option("SOURCE", serve_source,
                   "Rootfs image path, http(s) URL or compiled Boot Profile")
      ->required();
  serve->add_option("-s,--device", serve_target,
                    "The gadget: usb:BUS-PORT or its USB serial (default: any)");
  serve->add_flag("--offline", serve_offline,
                  "Never fetch over the network (also FASTBOOP_OFFLINE=1)");
  serve->add_option(
      "--local-artifact", serve_artifacts,
      "Local file replacing any pipeline stage with the same sha512 and size (repeatable)");
  serve->add_option("--expect-sha512", serve_sha512,
                    "SHA-512 of a bare path/URL SOURCE: verified, and keys the download cache");
  serve->add_option("--block-size", block_size,
                    "Export block size: a power of two, 512-65536 (default 4096)");

  // udev-rules
  auto* udev = app.add_subcommand("udev-rules", "Print udev rules granting access to fastboot devices");

  return cli::run(app, argc, argv, [&]() -> Result<void> {
    settings.wait = wait ? WaitMode::Wait : WaitMode::NoWait;
    settings.timeout = std::chrono::seconds(static_cast<long>(timeout_seconds));
    if (*detect) {
      auto specs = TRY(parse_specs(detect_targets));
      auto pool = TRY(profile_pool(detect_profile));
      auto devices = TRY(detect_devices(specs, pool, settings));
      if (devices.empty() && !json)
        return Error("No fastboot devices detected.", ErrorKind::Device);
      std::fputs((json ? format_detect_json(devices) : format_detect_text(devices)).c_str(), stdout);
      return ok();
    }
    if (*getvar) {
      std::optional<DeviceSpec> target;
      if (!getvar_target.empty())
        target = TRY(parse_device_spec(getvar_target));
      auto value = TRY(getvar_on_device(target, var_name, settings));
      std::fputs(json ? format_getvar_json(var_name, value).c_str() : (value + "\n").c_str(),
                 stdout);
      return ok();
    }
    if (*boot) {
      if (!std::filesystem::exists(image))
        return Error("IMAGE " + image + ": no such file", ErrorKind::NotFound);
      BootRequest request;
      request.image = image;
      if (!boot_profile.empty())
        request.device_profile_id = boot_profile;
      if (!boot_target.empty())
        request.target = TRY(parse_device_spec(boot_target));
      request.check = check ? CheckOnly::Yes : CheckOnly::No;
      request.force = force ? ForceDevice::Yes : ForceDevice::No;
      if (!then_command.empty())
        request.then_command = then_command;
      request.root.serve = no_serve ? ServeRoot::Never : ServeRoot::Auto;
      if (!boot_rootfs.empty())
        request.root.rootfs = boot_rootfs;
      request.root.force = force_rootfs ? ForceRootfs::Yes : ForceRootfs::No;
      if (boot_offline)
        request.root.network = pipeline::NetworkMode::Offline;
      for (const auto& a : boot_artifacts)
        request.root.local_artifacts.emplace_back(a);
      request.root.block_size = boot_block_size;
      set_io_timeout(settings, std::chrono::milliseconds(static_cast<long>(io_timeout * 1000)));
      PushConsole console;
      request.on_event = console.sink();
      auto report = TRY(boot_on_device(request, settings));
      if (report.served)
        std::printf("%s\n", report.served->c_str());
      if (json)
        std::fputs(format_boot_report_json(report).c_str(), stdout);
      else if (report.checked_only)
        std::printf("check ok: %s serial=%s profile=%s image=%llu bytes max-download-size=%s\n",
                    report.location.c_str(), report.serial.empty() ? "?" : report.serial.c_str(),
                    report.profile_id ? report.profile_id->c_str() : "(none)",
                    static_cast<unsigned long long>(report.image_bytes),
                    report.max_download_size ? std::to_string(*report.max_download_size).c_str()
                                             : "unreported");
      return ok();
    }
    if (*serve) {
      smoo::SignalStop stop; // before any thread or USB context exists
      stage0::SourceOptions source_options;
      if (serve_offline)
        source_options.network = pipeline::NetworkMode::Offline;
      for (const auto& a : serve_artifacts)
        source_options.local_artifacts.emplace_back(a);
      if (serve_sha512)
        source_options.expect_digest = TRY(stage0::parse_expected_sha512(*serve_sha512));
      auto rootfs = TRY(smoo::ServedRootfs::open(serve_source, source_options));
      auto options = rootfs.serve_options();
      options.block_size = block_size;
      if (!serve_target.empty())
        options.device = serve_target;
      auto stats = TRY(smoo::serve_rootfs(rootfs, options, stop.token()));
      std::printf("%s\n", stats.summary().c_str());
      return ok();
    }
    if (*udev) {
      std::vector<profiles::DeviceProfile> builtins;
      for (auto& loaded : TRY(profiles::load_device_profile_pool()))
        if (loaded.origin == profiles::ProfileOrigin::BuiltIn)
          builtins.push_back(loaded.profile);
      std::fputs(generate_udev_rules(builtins).c_str(), stdout);
      return ok();
    }
    return ok();
  });
}
