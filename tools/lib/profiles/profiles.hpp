// Entry points of the profiles concern that the other concerns use. The
// profiles folder may add more; these signatures are the contract.
#pragma once

#include "common/result.hpp"
#include "profiles/boot_profile.hpp"
#include "profiles/device_profile.hpp"

#include <filesystem>
#include <string_view>
#include <vector>

namespace fastboop::profiles {

// --- Device Profiles -------------------------------------------------------
// Parse one DevPro from YAML or JSON text; `origin_name` is used in errors
// ("<origin_name>: line 4, column 3: ...").
Result<DeviceProfile> parse_device_profile(std::string_view text, std::string_view origin_name);
Result<DeviceProfile> load_device_profile_file(const std::filesystem::path& path);

// FBOODEVP v0 codec.
Result<Bytes> encode_device_profile(const DeviceProfile& profile);
Result<DeviceProfile> decode_device_profile(ByteSpan bytes);

// Every DevPro on the search path ($FASTBOOP_SCHEMA_PATH, XDG config dir,
// /usr/share/fastboop/devpro, then the built-ins), highest precedence first
// wins by id; sorted by id.
Result<std::vector<LoadedDeviceProfile>> load_device_profile_pool();
// Look one up by id in the pool; the error lists the ids available.
Result<LoadedDeviceProfile> find_device_profile(std::string_view id);

// Evaluate a probe step against a getvar answer; `answer` is nullopt when the
// bootloader answered FAIL (treated as "missing", fixing upstream bug B2).
bool probe_step_passes(const ProbeStep& step, const std::optional<std::string>& answer);

// --- Boot Profiles ---------------------------------------------------------
// Compile a manifest (YAML/JSON): overlays through dtc, bare `file` leaves
// hashed, validated. Relative paths resolve as the spec says.
Result<BootProfile> compile_boot_profile_manifest(const std::filesystem::path& manifest_path);
Result<void> validate_boot_profile(const BootProfile& profile);

// FBOOPROF v0 codec (trailing bytes are ignored by decode).
Result<Bytes> encode_boot_profile(const BootProfile& profile);
Result<BootProfile> decode_boot_profile(ByteSpan bytes);
Result<BootProfile> load_boot_profile_file(const std::filesystem::path& path);

// Effective stage0 for one DevPro id (global + device-scoped settings).
EffectiveStage0 effective_stage0(const BootProfile& profile, std::string_view device_id);

// Canonical identity string of a stage and everything beneath it (spec §3.6).
std::string pipeline_identity(const PipelineSource& source);

} // namespace fastboop::profiles
