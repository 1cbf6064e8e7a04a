// What fastboop-profile does, as library calls: recognise a file (compiled
// records or YAML/JSON sources), render it, check it, and find Device
// Profiles that probing cannot tell apart.
#pragma once

#include "common/result.hpp"
#include "profiles/profiles.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace fastboop::profiles {

enum class SourceKind { DeviceProfileYaml, BootProfileManifest };
// A YAML/JSON document with a top-level `rootfs` key is a Boot Profile
// manifest; anything else is read as a Device Profile.
Result<SourceKind> classify_source(std::string_view text, std::string_view origin);

enum class ShowFormat { Yaml, Json };
// Renders every record of a compiled file (FBOODEVP, FBOOPROF, FBPHINT0,
// concatenated in any order), or a YAML/JSON source in normalised form. One
// record renders as exactly the document that compiles back to it.
Result<std::string> show_bytes(ByteSpan bytes, std::string_view origin, ShowFormat format);

struct Ambiguity {
  std::string first;  // profile ids, first < second
  std::string second;
  std::string reason;
};
// Pairs whose match rules share a VID:PID and where every device passing one
// profile's probes also passes the other's, so probing cannot pick one.
std::vector<Ambiguity> find_ambiguities(const std::vector<DeviceProfile>& profiles);

} // namespace fastboop::profiles
