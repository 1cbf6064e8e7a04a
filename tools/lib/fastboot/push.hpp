// What fastboop-push does, as library calls: detect devices and the profiles
// they match, read one variable, and the guarded boot flow (prove the device
// is the one the image was built for, then download + boot, then hand off).
#pragma once

#include "fastboot/device.hpp"
#include "fastboot/driver.hpp"
#include "fastboot/matching.hpp"

#include "pipeline/sources.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <stop_token>
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

// --io-timeout: each device response may take `io`; verifying a large image or
// starting the kernel twice that; UDP retransmits for as long as a USB/TCP
// read would wait (the default matches AOSP's ~1 minute).
void set_io_timeout(PushSettings& settings, std::chrono::milliseconds io);

// --- detect ---------------------------------------------------------------
struct DetectedDevice {
  Candidate candidate;
  std::string serial;
  std::vector<ProfileVerdict> verdicts; // profiles that passed the USB prefilter
  std::string error;                    // open or probe failure
  // With several matches: one line per matching pair, with the profiles'
  // known_overlaps reason when both declare it (issue 16 item 4).
  std::vector<std::string> ambiguity;
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

// --- variables (fastboop-profile draft) ------------------------------------
// Read-only: getvar:all, and when it gives no lines, each fallback name with
// getvar:<name>. Nothing else is sent.
struct DeviceVariables {
  std::string location;
  std::optional<UsbDeviceInfo> usb;
  std::vector<std::string> all_lines;                        // INFO lines of getvar:all
  std::vector<std::pair<std::string, GetvarAnswer>> singles; // asked one by one
  std::vector<std::string> sent;                             // the commands sent
};
Result<DeviceVariables> read_device_variables(const std::optional<DeviceSpec>& target,
                                              const std::vector<std::string>& fallback_names,
                                              const PushSettings& settings);

// --- boot -----------------------------------------------------------------
enum class CheckOnly { No, Yes };
enum class ForceDevice { No, Yes };

enum class ServeRoot { Auto, Never }; // --no-serve
enum class ForceRootfs { No, Yes };   // --force-rootfs
enum class StopOnSignals { Yes, No }; // No: the caller's `stop` token alone ends serving

// After boot OKAY the root is served over smoo when the sidecar says stage0
// expects it that way (`rootfs.transport` "smoo"), from the SOURCE it names
// or --rootfs (checked against the recorded size and sha512 before anything
// is sent to the device).
struct RootServing {
  ServeRoot serve = ServeRoot::Auto;
  std::optional<std::string> rootfs; // --rootfs SOURCE
  ForceRootfs force = ForceRootfs::No;
  std::optional<pipeline::NetworkMode> network;       // --offline
  std::vector<std::filesystem::path> local_artifacts; // --local-artifact
  std::uint32_t block_size = 4096;                    // --block-size
  StopOnSignals signals = StopOnSignals::Yes;
  std::stop_token stop;
};

// Progress of boot_on_device, in the order things happen. The library prints
// none of it: a tool hands each event to its printer (PushConsole in
// push_console.hpp prints what fastboop-push always printed).
struct PushEvent {
  enum class Kind {
    Waiting,          // for a device to appear or to answer
    Opening,          // the device's transport
    ProfileMatched,   // its probes passed
    AlsoMatches,      // other profiles of the pool pass too (a warning)
    Ambiguity,        // one line on why probing cannot tell two of them apart
    Forced,           // --force-device overrode a check, or nothing is checked (a warning)
    Unchecked,        // something cannot be checked (a warning)
    Note,             // a decision worth knowing (which root is served, ...)
    Debug,            // only for -v
    BootloaderInfo,   // an INFO line from the device
    BootloaderText,   // TEXT from the device, raw
    DownloadStarted,  // `total` bytes go out
    DownloadProgress, // `done` of `total` bytes sent
    Booting,
    Booted,  // boot OKAY
    HandOff, // the --then command starts
  };
  Kind kind = Kind::Note;
  std::string text; // the message as a console shows it ("" for the download events)
  std::uint64_t done = 0, total = 0;
};
using PushEventSink = std::function<void(const PushEvent&)>;

struct BootRequest {
  std::filesystem::path image;
  std::optional<std::string> device_profile_id; // --device-profile
  std::optional<DeviceSpec> target;            // -s
  CheckOnly check = CheckOnly::No;
  ForceDevice force = ForceDevice::No;
  std::optional<std::string> then_command;     // --then
  RootServing root;
  PushEventSink on_event; // progress (dropped without one: the flow prints nothing itself)
};

// What boot_on_device matched, checked and sent; the tool prints it (text, or
// --json for scripts).
struct BootReport {
  std::string location; // the device used, e.g. usb:1-2 or udp:127.0.0.1:5554
  std::string serial;   // "" when the device reports none
  std::optional<std::string>
      profile_id;               // the device profile checked against (none with --force-device)
  bool profile_matched = false; // its probes passed
  std::vector<std::string> probes; // the probe steps that passed, as describe_step writes them
  std::string probe_failure;       // why the probes failed ("" unless --force-device went on)
  std::vector<std::string> also_matches; // other profiles of the pool the device passes
  bool forced = false;          // --force-device overrode a failed check
  std::filesystem::path image;
  std::uint64_t image_bytes = 0;
  bool image_checked = false; // size and sha512 matched the sidecar
  std::optional<std::string> image_sha512; // the sidecar's digest the image matched
  std::optional<std::uint64_t> max_download_size;
  bool checked_only = false; // --check: nothing but getvar was sent
  bool booted = false;
  std::vector<std::string> sent; // every command written to the device, in order
  std::string bootloader_port;   // its USB port path ("" on the network): the gadget re-enumerates there
  std::optional<std::string> served; // the smoo serving summary, when the root was served
};
std::string format_boot_report_json(const BootReport& report);

Result<BootReport> boot_on_device(const BootRequest& request, const PushSettings& settings);

// --- udev -----------------------------------------------------------------
// uaccess rules for every VID/PID of the given profiles plus the fastboot
// interface class, sorted and de-duplicated (deterministic output).
std::string generate_udev_rules(const std::vector<profiles::DeviceProfile>& profiles);

} // namespace fastboop::fastboot
