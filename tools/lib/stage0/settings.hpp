// Routing of stage0 runtime settings: which cmdline tokens become
// /etc/stage0/<key> files (spec §2.11, §3.7) and which stay on the kernel
// command line.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::stage0 {

using Settings = std::map<std::string, std::string>;

// The keys the generator takes out of cmdline tokens: every key the PID1
// understands (stage0_settings/stage0_settings.hpp, known_keys()).
bool is_stage0_key(std::string_view key);

struct SplitCmdline {
  Settings settings;
  std::vector<std::string> passthrough;
  // Tokens dropped for an empty value (`stage0.serial=`): upstream dropped them
  // silently (spec §8.13); we still drop them but say so.
  std::vector<std::string> warnings;
};
// Whitespace split (no quoting, as the kernel itself does not unquote for us).
SplitCmdline split_extra_cmdline(std::string_view cmdline);

// The settings map of spec §2.11, each layer overriding the one before:
// generated values (--serial, --stage0-serial, mimic, max_io), then the
// cmdline tokens, then explicit options (--setting, --root-device, ...);
// `stage0.rootfs` is forced last so nothing can override it.
struct SettingsLayers {
  Settings generated;
  Settings tokens;
  Settings options;
  std::string rootfs;
};
Settings merge_settings(const SettingsLayers& layers);


} // namespace fastboop::stage0
