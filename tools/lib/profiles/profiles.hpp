// Entry points of the profiles concern that the other concerns use. The
// profiles folder may add more; these signatures are the contract.
#pragma once

#include "common/result.hpp"
#include "profiles/boot_profile.hpp"
#include "profiles/device_profile.hpp"

#include <filesystem>
#include <optional>
#include <span>
#include <string>
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

// Additions beyond the contract above.
// The one id rule (issue 16 item 5): a Device Profile id is 1-64 characters
// of a-z, 0-9, '-', '_' and '.', starting with a letter or digit. Ids name
// files (<id>.yaml), CMake targets, stage0.json's device and environment
// values, so `Bad Id!` is refused wherever an id is read (DevPro YAML and
// FBOODEVP, boot.img.json, Boot Profile stage0.devices keys). The error says
// what is wrong with `id`; callers add where it was read.
Result<void> check_profile_id(std::string_view id);
// A DevPro's `boot:` section alone (YAML or JSON text), with every rule it
// has inside a DevPro; boot.img.json carries it so the pusher can check an
// image against the profile it was built for without the profile pool.
Result<AndroidBootImage> parse_device_profile_boot(std::string_view text,
                                                   std::string_view origin_name);
// The `boot:` section as device_profile_to_json renders it.
std::string device_profile_boot_to_json(const DeviceProfile& profile);
// True when a getvar answer counts as "missing": FAIL (nullopt), blank after
// trimming, or "unknown" in any case.
bool probe_answer_missing(const std::optional<std::string>& answer);
// Decode and report how many bytes the record used (header + payload).
Result<DeviceProfile> decode_device_profile_prefix(ByteSpan bytes, std::size_t* consumed);
// Error naming the first BootImageExtensions field set (no FBOODEVP encoding).
Result<void> check_device_profile_encodable(const DeviceProfile& profile);
// YAML / JSON that parse back to the same profile.
std::string device_profile_to_yaml(const DeviceProfile& profile);
std::string device_profile_to_json(const DeviceProfile& profile);
std::string_view kernel_encoding_name(KernelEncoding encoding);
std::string_view profile_origin_name(ProfileOrigin origin); // "builtin", "user", ...

struct DevproSearchDir {
  std::filesystem::path path;
  ProfileOrigin origin = ProfileOrigin::SystemDir;
};
// The local directories, highest precedence first (the built-ins come last).
// $FASTBOOP_DEVPRO_SYSTEM_DIRS, when set (empty included), replaces the system
// directories (install datadir, /usr/share/fastboop/devpro) with its
// ':'-separated entries, so tests do not see the host's installed profiles.
std::vector<DevproSearchDir> device_profile_search_dirs();
// The Device Profiles a channel carries join the search path for this run
// (process-wide), below every local directory and above the built-ins, as
// upstream orders them; a later channel replaces the earlier one's. Their
// source is "channel:<channel>#<id>".
void set_channel_device_profiles(const std::string& channel, const std::vector<DeviceProfile>& profiles);
// False for built-in and channel profiles, whose source names no host file.
bool device_profile_source_is_file(std::string_view source);
// The compiled-in profiles (parsed once, on first use).
Result<std::vector<LoadedDeviceProfile>> builtin_device_profiles();
// Every profile of every level, highest precedence first, shadowed ones
// included (for `list`); unreadable local files are skipped with a warning.
Result<std::vector<LoadedDeviceProfile>> load_all_device_profiles();

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

// Additions beyond the contract above.
// The one id rule (issue 16 item 5): a Device Profile id is 1-64 characters
// of a-z, 0-9, '-', '_' and '.', starting with a letter or digit. Ids name
// files (<id>.yaml), CMake targets, stage0.json's device and environment
// values, so `Bad Id!` is refused wherever an id is read (DevPro YAML and
// FBOODEVP, boot.img.json, Boot Profile stage0.devices keys). The error says
// what is wrong with `id`; callers add where it was read.
Result<void> check_profile_id(std::string_view id);
// A DevPro's `boot:` section alone (YAML or JSON text), with every rule it
// has inside a DevPro; boot.img.json carries it so the pusher can check an
// image against the profile it was built for without the profile pool.
Result<AndroidBootImage> parse_device_profile_boot(std::string_view text,
                                                   std::string_view origin_name);
// The `boot:` section as device_profile_to_json renders it.
std::string device_profile_boot_to_json(const DeviceProfile& profile);
// Spec §3.4/§3.5 checks; errors start with the field path under `path`
// (e.g. "rootfs.ext4.mbr: pipeline mbr step must specify exactly one ...").
Result<void> validate_pipeline(const PipelineSource& source, const std::string& path = {});

// Compile manifest text. Relative `file` paths and overlay files resolve
// against `base_dir` (the manifest's directory; the CWD for stdin); the
// profile keeps the literal strings as written.
// `SyntaxOnly` reads no files and runs no dtc (overlay DTS text is kept as
// bytes, bare `file` leaves stay without content, so
// validation then reports them); for fuzzing.
enum class ManifestInputs { Resolve, SyntaxOnly };
Result<BootProfile> compile_boot_profile_manifest_text(std::string_view text, std::string_view origin_name,
                                                       const std::filesystem::path& base_dir,
                                                       ManifestInputs inputs = ManifestInputs::Resolve,
                                                       std::vector<std::filesystem::path>* files_read = nullptr);
// `files_read` (when given) receives every file compile read besides the
// manifest: hashed `file` leaves and overlay files, resolved, sorted, unique
// (for depfiles, and as local artifacts when optimizing).
// Decode and report how many bytes the record used (header + payload).
Result<BootProfile> decode_boot_profile_prefix(ByteSpan bytes, std::size_t* consumed);

// Manifest YAML / JSON for a compiled profile. Overlays are decompiled to DTS
// when dtc reproduces the exact DTBO bytes from it; otherwise they are given
// as `{dtbo_base64: ...}`. Compiling the output gives the same bytes.
enum class OverlayRendering { DtsWhenExact, Base64 };
std::string boot_profile_to_yaml(const BootProfile& profile,
                                 OverlayRendering overlays = OverlayRendering::DtsWhenExact);
std::string boot_profile_to_json(const BootProfile& profile,
                                 OverlayRendering overlays = OverlayRendering::DtsWhenExact);

// Compile DTS overlay source with `dtc -@ -I dts -O dtb`.
Result<Bytes> compile_dts_overlay(std::string_view dts_source);
// True when the Boot Profile applies to that DevPro (an empty devices map
// allows every device).
bool boot_profile_matches_device(const BootProfile& profile, std::string_view device_id);

} // namespace fastboop::profiles
