// Which device profiles a device is: the VID/PID prefilter (USB only; network
// devices have no USB identity) and then the profile's getvar probes, run
// through the driver's per-device cache. Only getvar is ever sent here.
#pragma once

#include "fastboot/device.hpp"
#include "fastboot/driver.hpp"
#include "profiles/device_profile.hpp"

#include <string>
#include <vector>

namespace fastboop::fastboot {

struct ProfileVerdict {
  std::string profile_id;
  std::string display_name;
  bool passed = false;
  std::string detail; // why it failed, e.g. "getvar:product is 'x', expected equals 'sdm845'"
};

// True when the profile has a match rule for this USB identity. Network
// candidates always pass the prefilter (the probes decide).
bool usb_prefilter_passes(const profiles::DeviceProfile& profile, const Candidate& candidate);

// Runs the profile's probe steps in order, stopping at the first failure.
// Transport errors are errors; a FAIL answer is "missing" (fixes upstream's
// FAIL-as-transport-error, so not_exists can pass on modern bootloaders).
Result<ProfileVerdict> evaluate_profile(Driver& driver, const profiles::DeviceProfile& profile);

// Every profile of the pool that passes the prefilter, evaluated.
Result<std::vector<ProfileVerdict>> match_profiles(Driver& driver, const Candidate& candidate,
                                                   const std::vector<profiles::DeviceProfile>& pool);

std::string describe_step(const profiles::ProbeStep& step);

} // namespace fastboop::fastboot
