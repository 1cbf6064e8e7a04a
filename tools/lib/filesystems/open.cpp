#include "filesystems/open.hpp"
#include "pipeline/pipeline.hpp"

namespace fastboop::filesystems {

std::string_view fs_kind_name(FsKind kind) {
  switch (kind) {
  case FsKind::Auto: return "auto";
  case FsKind::Ext4: return "ext4";
  case FsKind::Erofs: return "erofs";
  case FsKind::Fat: return "fat";
  case FsKind::Iso9660: return "iso9660";
  case FsKind::Squashfs: return "squashfs";
  }
  return "unknown";
}

Result<std::optional<FsKind>> detect_filesystem(pipeline::BlockSource& source) {
  // The magic numbers live once, in the pipeline's detection.
  auto type = TRY(pipeline::probe_filesystem(source));
  if (!type)
    return std::optional<FsKind>{};
  switch (*type) {
  case pipeline::FilesystemType::Erofs: return std::optional<FsKind>{FsKind::Erofs};
  case pipeline::FilesystemType::Ext4: return std::optional<FsKind>{FsKind::Ext4};
  case pipeline::FilesystemType::Fat: return std::optional<FsKind>{FsKind::Fat};
  case pipeline::FilesystemType::Iso9660: return std::optional<FsKind>{FsKind::Iso9660};
  case pipeline::FilesystemType::Squashfs: return std::optional<FsKind>{FsKind::Squashfs};
  }
  return std::optional<FsKind>{};
}

Result<FilesystemPtr> open_filesystem(pipeline::BlockSourcePtr source, FsKind kind) {
  if (kind == FsKind::Auto) {
    auto detected = TRY(detect_filesystem(*source));
    if (!detected)
      return Error("no known filesystem (ext4, EROFS, FAT, ISO 9660, squashfs) found in " + source->describe());
    kind = *detected;
  }
  switch (kind) {
  case FsKind::Erofs: return open_erofs(std::move(source));
  case FsKind::Ext4: return open_ext4(std::move(source));
  case FsKind::Fat: return open_fat(std::move(source));
  case FsKind::Iso9660: return open_iso9660(std::move(source));
  case FsKind::Squashfs: return open_squashfs(std::move(source));
  case FsKind::Auto: break;
  }
  return Error("unknown filesystem kind");
}

} // namespace fastboop::filesystems
