// What fastboop-push does, as library calls: detect devices and the profiles
// they match, read one variable, and the guarded boot flow (prove the device
// is the one the image was built for, then download + boot, then hand off).
#pragma once

#include "fastboot/device.hpp"
#include "fastboot/driver.hpp"
#include "fastboot/matching.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::fastboot {

enum class WaitMode { NoWait, Wait };

struct PushSettings {
  ConnectOptions connect;
  DriverOptions driver;
  WaitMode wait = WaitMode::NoWait;
  std::chrono::seconds timeout{0}; // with Wait: 0 = forever
};

// --- detect ---------------------------------------------------------------
struct DetectedDevice {
  Candidate candidate;
  std::string serial;
  std::vector<ProfileVerdict> verdicts; // profiles that passed the USB prefilter
  std::string error;                    // open or probe failure
  std::vector<std::string> matched_ids() const;
};

Result<std::vector<DetectedDevice>> detect_devices(const std::vector<DeviceSpec>& targets,
                                                   const std::vector<profiles::DeviceProfile>& pool,
                                                   const PushSettings& settings);
std::string format_detect_text(const std::vector<DetectedDevice>& devices);
std::string format_detect_json(const std::vector<DetectedDevice>& devices);

// --- getvar ---------------------------------------------------------------
Result<std::string> getvar_on_device(const std::optional<DeviceSpec>& target, std::string_view name,
                                     const PushSettings& settings);
std::string format_getvar_json(std::string_view name, std::string_view value);

// --- boot -----------------------------------------------------------------
enum class CheckOnly { No, Yes };
enum class ForceDevice { No, Yes };

struct BootRequest {
  std::filesystem::path image;
  std::optional<std::string> device_profile_id; // --device-profile
  std::optional<DeviceSpec> target;            // -s
  CheckOnly check = CheckOnly::No;
  ForceDevice force = ForceDevice::No;
  std::optional<std::string> then_command;     // --then
};

// What boot_on_device matched, checked and sent; the tool prints it (text, or
// --json for scripts).
struct BootReport {
  std::string location; // the device used, e.g. usb:1-2 or udp:127.0.0.1:5554
  std::string serial;   // "" when the device reports none
  std::optional<std::string>
      profile_id;               // the device profile checked against (none with --force-device)
  bool profile_matched = false; // its probes passed
  bool forced = false;          // --force-device overrode a failed check
  std::filesystem::path image;
  std::uint64_t image_bytes = 0;
  bool image_checked = false; // size and sha512 matched the sidecar
  std::optional<std::uint64_t> max_download_size;
  bool checked_only = false; // --check: nothing but getvar was sent
  bool booted = false;
  std::vector<std::string> sent; // every command written to the device, in order
};
std::string format_boot_report_json(const BootReport& report);

Result<BootReport> boot_on_device(const BootRequest& request, const PushSettings& settings);

// --- udev -----------------------------------------------------------------
// uaccess rules for every VID/PID of the given profiles plus the fastboot
// interface class, sorted and de-duplicated (deterministic output).
std::string generate_udev_rules(const std::vector<profiles::DeviceProfile>& profiles);

} // namespace fastboop::fastboot
