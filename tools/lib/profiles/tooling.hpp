// What fastboop-profile does, as library calls: recognise a file (compiled
// records or YAML/JSON sources), render it, check it, and find Device
// Profiles that probing cannot tell apart.
#pragma once

#include "common/result.hpp"
#include "pipeline/block_table.hpp"
#include "profiles/profiles.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace fastboop::profiles {

enum class SourceKind { DeviceProfileYaml, BootProfileManifest };
// A YAML/JSON map with `rootfs`, or with other manifest-only keys (kernel,
// dtbs, dt_overlays, extra_cmdline, stage0) and no DevPro-only key
// (devicetree_name, match, probe, boot), is a Boot Profile manifest; one with
// a DevPro-only key is a Device Profile; a map with neither is an error naming
// both. A non-map is read as a Device Profile (whose parser rejects it).
Result<SourceKind> classify_source(std::string_view text, std::string_view origin);

enum class ShowFormat { Yaml, Json };
// Renders every record of a compiled file (FBOODEVP, FBOOPROF, FBPHINT0,
// concatenated in any order), or a YAML/JSON source in normalised form. One
// record renders as exactly the document that compiles back to it.
Result<std::string> show_bytes(ByteSpan bytes, std::string_view origin, ShowFormat format);

struct OptimizeOptions {
  std::filesystem::path cache_dir;                     // empty: the pipeline default
  std::vector<std::filesystem::path> local_artifacts; // --local-artifact
  std::uint32_t hash_block_size = pipeline::kDefaultHashBlockSize; // block-hash tables (issue 17)
};
// `optimize` (spec §3.8): validate, collect hints for the rootfs, kernel and
// dtbs pipelines, merge them by identity and encode one FBPHINT0 record;
// then a FBBLKTB0 record with the block-hash table of every http, file and
// casync artifact (issue 17).
// Reads (and may download) whole stage outputs.
Result<Bytes> optimize_boot_profile(const BootProfile& profile, const OptimizeOptions& options);

struct Ambiguity {
  std::string first;  // profile ids, first < second
  std::string second;
  std::string reason;
  // Both profiles list each other under known_overlaps: why probing cannot
  // tell them apart (their reasons, once when they agree). Empty otherwise.
  std::string known;
};
// The known_overlaps reason for a pair when both profiles list each other.
std::string known_overlap(const DeviceProfile& a, const DeviceProfile& b);
// Pairs whose match rules share a VID:PID and where some device (some set of
// getvar answers) passes both profiles' probes, so probing cannot pick one for
// it. The reason names the USB ids, whether one profile's probes imply the
// other's, and an example answer for every getvar involved.
std::vector<Ambiguity> find_ambiguities(const std::vector<DeviceProfile>& profiles);

} // namespace fastboop::profiles
