// Opening filesystem images that sit on a BlockSource. Each opener takes
// ownership of its source; the returned Filesystem reads through it lazily
// (nothing is loaded up front beyond the superblock and what a call needs).
#pragma once

#include "filesystems/filesystem.hpp"
#include "pipeline/block_source.hpp"

#include <optional>
#include <string_view>

namespace fastboop::filesystems {

enum class FsKind { Auto, Ext4, Erofs, Fat, Iso9660, Squashfs };

std::string_view fs_kind_name(FsKind kind);

Result<FilesystemPtr> open_ext4(pipeline::BlockSourcePtr source);
Result<FilesystemPtr> open_erofs(pipeline::BlockSourcePtr source);
Result<FilesystemPtr> open_fat(pipeline::BlockSourcePtr source);
Result<FilesystemPtr> open_iso9660(pipeline::BlockSourcePtr source);
// libsquashfs over the source (live media keep their root in squashfs).
Result<FilesystemPtr> open_squashfs(pipeline::BlockSourcePtr source);

// The filesystem whose superblock magic the source carries, or nullopt.
Result<std::optional<FsKind>> detect_filesystem(pipeline::BlockSource& source);

// Open as `kind`; FsKind::Auto detects it by superblock magic first.
Result<FilesystemPtr> open_filesystem(pipeline::BlockSourcePtr source, FsKind kind = FsKind::Auto);

} // namespace fastboop::filesystems
