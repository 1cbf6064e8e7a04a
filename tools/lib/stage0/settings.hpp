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

// The keys the generator takes out of cmdline tokens (stage0 §3.7) plus the
// local-root and failure-policy keys of fastboop's PID1.
bool is_stage0_key(std::string_view key);
const std::vector<std::string>& stage0_keys();

struct SplitCmdline {
  Settings settings;
  std::vector<std::string> passthrough;
};
// Whitespace split (no quoting, as the kernel itself does not unquote for us).
SplitCmdline split_extra_cmdline(std::string_view cmdline);

// "<value>\n" as written to etc/stage0/<key>.
std::string setting_file_contents(std::string_view value);

} // namespace fastboop::stage0
