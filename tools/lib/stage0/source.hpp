// Opening a rootfs SOURCE for stage0: a host directory (an unpacked rootfs or
// kernel package), a rootfs image path or http(s) URL (xz / Android sparse /
// GPT / MBR layers peeled by magic, then ext4, EROFS or FAT), or a compiled
// Boot Profile (FBOOPROF), whose rootfs, kernel and dtbs pipelines are opened.
#pragma once

#include "common/result.hpp"
#include "filesystems/filesystem.hpp"
#include "profiles/boot_profile.hpp"

#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0 {

enum class SourcePart { Rootfs, Kernel, Dtbs };
Result<SourcePart> parse_source_part(std::string_view name);

struct OpenedSource {
  filesystems::FilesystemPtr fs; // the rootfs
  std::vector<std::string> layers; // outermost first
  std::string host_root;           // a directory source: rootfs files are host files
  std::string host_file;           // an image or Boot Profile file source
  std::optional<profiles::BootProfile> boot_profile;
  filesystems::FilesystemPtr kernel_fs; // Boot Profile `kernel` pipeline, when given
  filesystems::FilesystemPtr dtbs_fs;   // Boot Profile `dtbs` pipeline, when given
  std::vector<std::string> kernel_layers, dtbs_layers;

  filesystems::Filesystem* part(SourcePart p) const;
};

struct SourceOptions {
  bool offline = false; // never fetch over the network
};

Result<OpenedSource> open_source(const std::string& spec, const SourceOptions& options = {});

// The DTB of a Boot Profile `dtbs: {path: P}` for `devicetree_name`: P if it
// ends in .dtb, else P/<name>.dtb, P/<name>, P (spec profiles §1.5).
Result<std::pair<std::string, Bytes>> read_profile_dtb(filesystems::Filesystem& fs, const std::string& path,
                                                       const std::string& devicetree_name);

} // namespace fastboop::stage0
