// Opening a rootfs SOURCE for stage0: a host directory (an unpacked rootfs or
// kernel package) or a rootfs image.
#pragma once

#include "common/result.hpp"
#include "filesystems/filesystem.hpp"

#include <string>
#include <vector>

namespace fastboop::stage0 {

struct OpenedSource {
  filesystems::FilesystemPtr fs;
  std::vector<std::string> layers; // outermost first, e.g. {"directory"}
  std::string host_root;           // for a directory: files read are host files too
  std::string host_file;           // for an image: the image file
};

Result<OpenedSource> open_source(const std::string& spec);

} // namespace fastboop::stage0
