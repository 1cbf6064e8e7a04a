#include "filesystems/open.hpp"

namespace fastboop::filesystems {

std::string_view fs_kind_name(FsKind kind) {
  switch (kind) {
  case FsKind::Auto: return "auto";
  case FsKind::Ext4: return "ext4";
  case FsKind::Erofs: return "erofs";
  case FsKind::Fat: return "fat";
  case FsKind::Iso9660: return "iso9660";
  }
  return "unknown";
}

Result<std::optional<FsKind>> detect_filesystem(pipeline::BlockSource& source) {
  const std::uint64_t size = source.size();
  auto probe = [&](std::uint64_t offset, std::size_t length) -> Result<std::optional<Bytes>> {
    if (offset + length > size)
      return std::optional<Bytes>{};
    Bytes buf(length);
    TRY(source.read_at(offset, buf));
    return std::optional<Bytes>{std::move(buf)};
  };
  if (auto sb = TRY(probe(1024, 64))) {
    if (load_le<std::uint32_t>(sb->data()) == 0xE0F5E1E2)
      return std::optional<FsKind>{FsKind::Erofs};
    if (load_le<std::uint16_t>(sb->data() + 56) == 0xEF53)
      return std::optional<FsKind>{FsKind::Ext4};
  }
  if (auto pvd = TRY(probe(16 * 2048, 8))) {
    if (std::string_view(reinterpret_cast<const char*>(pvd->data()) + 1, 5) == "CD001")
      return std::optional<FsKind>{FsKind::Iso9660};
  }
  if (auto boot = TRY(probe(0, 512))) {
    const auto* b = boot->data();
    std::string_view fat16(reinterpret_cast<const char*>(b) + 54, 3);
    std::string_view fat32(reinterpret_cast<const char*>(b) + 82, 5);
    if (b[510] == 0x55 && b[511] == 0xAA && (fat16 == "FAT" || fat32 == "FAT32"))
      return std::optional<FsKind>{FsKind::Fat};
  }
  return std::optional<FsKind>{};
}

Result<FilesystemPtr> open_filesystem(pipeline::BlockSourcePtr source, FsKind kind) {
  if (kind == FsKind::Auto) {
    auto detected = TRY(detect_filesystem(*source));
    if (!detected)
      return Error("no known filesystem (ext4, EROFS, FAT, ISO 9660) found in " + source->describe());
    kind = *detected;
  }
  switch (kind) {
  case FsKind::Erofs: return open_erofs(std::move(source));
  case FsKind::Ext4: return open_ext4(std::move(source));
  case FsKind::Fat: return open_fat(std::move(source));
  case FsKind::Iso9660: return open_iso9660(std::move(source));
  case FsKind::Auto: break;
  }
  return Error("unknown filesystem kind");
}

} // namespace fastboop::filesystems
