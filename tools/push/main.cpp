// fastboop-push: find a fastboot device, prove it is the device the image was
// built for, then download + boot it. It can send getvar, download and boot —
// nothing else (see tools/lib/fastboot/driver.hpp).
#include "common/cli.hpp"
#include "common/log.hpp"
#include "fastboot/push.hpp"
#include "profiles/profiles.hpp"

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
  add_wait(boot);

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
      const auto io = std::chrono::milliseconds(static_cast<long>(io_timeout * 1000));
      settings.driver.response_timeout = io;
      // Verifying a large image or starting the kernel may take longer than
      // answering a command.
      settings.driver.slow_response_timeout = io * 2;
      // UDP: retransmit for as long as a USB/TCP read would wait (twice the
      // I/O timeout; the default matches AOSP's ~1 minute).
      settings.connect.udp.max_attempts = std::max<unsigned>(
          4, static_cast<unsigned>(io * 2 / settings.connect.udp.retransmit_interval));
      settings.connect.tcp.io_timeout = io;
      settings.connect.usb.transfer_timeout = io;
      auto report = TRY(boot_on_device(request, settings));
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
