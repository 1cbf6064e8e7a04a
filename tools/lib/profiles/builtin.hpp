// The built-in Device Profiles: the YAML files of devprofiles.d/, embedded at
// build time by embed_devpros.cmake (the generated source defines
// builtin_device_profile_files()).
#pragma once

#include <span>
#include <string_view>

namespace fastboop::profiles {

struct BuiltinDevproFile {
  std::string_view name; // file name, e.g. "oneplus-fajita.yaml"
  std::string_view text;
};

std::span<const BuiltinDevproFile> builtin_device_profile_files();

} // namespace fastboop::profiles
