// Small lookups over a Filesystem used throughout stage0.
#pragma once

#include "common/result.hpp"
#include "filesystems/filesystem.hpp"

#include <optional>
#include <string>

namespace fastboop::stage0 {

// Resolve `path` (symlinks followed); nullopt when any component is absent,
// so probing many candidate layouts is not an error.
Result<std::optional<filesystems::NodeId>> find_path(filesystems::Filesystem& fs, const std::string& path);
// Type of the node at `path`, following symlinks; nullopt when absent.
Result<std::optional<filesystems::FileType>> path_type(filesystems::Filesystem& fs, const std::string& path);

} // namespace fastboop::stage0
