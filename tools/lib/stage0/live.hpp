// Live ISOs as a stage0 SOURCE (issue 21): a bare ISO detected with a live
// layout is peeled to its root image by the pipeline; here the ISO itself is
// opened too, for the kernel beside the root image, and a nested root image
// (Fedora's LiveOS/rootfs.img inside the squashfs) becomes the filesystem
// stage0 reads, while the squashfs stays what the phone mounts and is served.
#pragma once

#include "filesystems/filesystem.hpp"
#include "pipeline/pipeline.hpp"

#include <optional>
#include <string>

namespace fastboop::stage0 {

struct OpenedSource;

struct LiveRoot {
  pipeline::LiveLayoutKind kind = pipeline::LiveLayoutKind::DebianLive;
  std::string root_path;                  // the root image inside the ISO
  std::optional<std::string> kernel_path; // in the ISO (OpenedSource::kernel_fs)
  // Where root_path lies in the ISO: with the whole ISO on the phone's disk,
  // the PID1 loop-mounts this byte range of it (stage0.root_offset/_size).
  std::uint64_t root_offset = 0;
  std::uint64_t root_size = 0;
  // A nested root image: its absolute path inside the squashfs and its
  // filesystem ("ext4" or "erofs"); empty when the squashfs is the root.
  std::string nested_image;
  std::string nested_type;
};

// The squashfs path of Fedora's nested root image.
inline constexpr std::string_view kNestedRootImage = "/LiveOS/rootfs.img";

// Completes `source` (its fs already the opened root image): kernel_fs is the
// ISO, and a nested root image replaces fs.
Result<void> open_live_parts(OpenedSource& source, const pipeline::LiveLayout& layout,
                             const pipeline::OpenOptions& options);

// A regular file of a filesystem as a BlockSource (a nested root image); it
// owns the filesystem.
Result<pipeline::BlockSourcePtr> open_file_in_filesystem(filesystems::FilesystemPtr fs,
                                                         std::string_view path);

} // namespace fastboop::stage0
