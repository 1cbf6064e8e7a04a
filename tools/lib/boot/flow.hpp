// `fastboop boot SOURCE`: from a distro image to a running phone, as the
// library's steps in order. Nothing here that the four tools lack: the
// device is identified by fastboot/ (getvar only), stage0 is built by
// stage0/ and the boot image by bootimg/, both through the artifact cache
// with the CMake functions' keys (artifact_cache/), and the image goes out
// through fastboot/'s guarded boot flow, which proves the device again from
// the sidecar before any download byte.
//
//   1. locate the PID1 payload and the smoo-gadget program (stage0/payloads)
//   2. wait for a fastboot device and identify it by its Device Profile
//   3. open SOURCE (image, URL, directory, Boot Profile, manifest)
//   4. stage0 for that device kind: cache hit, or build + insert
//   5. boot.img for it: cache hit, or pack + insert (the device's limits)
//   6. -o: write the image and sidecar; else append the per-boot tokens
//      (host clock, first-boot settings) and download + boot
#pragma once

#include "common/result.hpp"
#include "fastboot/push.hpp"
#include "stage0/request.hpp"

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::boot {

enum class HostClock { On, Off };
enum class FirstBootSettings { On, Off };
enum class Serve { On, Off };

struct BootRequest {
  std::string source;
  std::optional<std::string> device_profile;   // skip identification by probes
  std::optional<std::string> boot_profile;     // which Boot Profile SOURCE must hold
  std::optional<fastboot::DeviceSpec> target;  // -s
  std::optional<std::filesystem::path> output; // -o: write boot.img + sidecar, no boot
  // Source options.
  std::vector<std::string> local_artifacts;
  std::optional<std::string> expect_sha512;
  bool unverified_ranged_reads = false; // --unverified-ranged-reads
  bool offline = false;
  // stage0 options (paths and values as the stage0 tool takes them); its
  // stage0_init and smoo_gadget are filled from the payload lookup.
  stage0::BuildRequest stage0;
  std::optional<std::string> stage0_payload; // --stage0
  std::optional<std::string> smoo_gadget;    // --smoo-gadget
  // Appended to the boot image's command line (as add_fastboop_boot_image's CMDLINE).
  std::string cmdline_append;
  HostClock clock = HostClock::On;
  FirstBootSettings firstboot = FirstBootSettings::On;
  Serve serve = Serve::On;
  std::string cache_dir; // empty: no artifact cache
  fastboot::PushSettings push;
};

// What step 2 found.
struct IdentifiedDevice {
  profiles::DeviceProfile profile;
  std::string profile_source; // file path, or "builtin:<id>"
  std::optional<fastboot::DeviceSpec>
      target;              // how to reach it again (none with -o and --device-profile)
  std::string description; // "tcp:127.0.0.1:5554 serial=EMU0001"
};

// Step 2 alone (also what `-o` without --device-profile uses). Exactly one
// profile must pass its probes; none or several is an error naming each
// profile and why, before anything is fetched or built.
Result<IdentifiedDevice> identify_device(const BootRequest& request);

Result<void> run_boot(const BootRequest& request);

} // namespace fastboop::boot
