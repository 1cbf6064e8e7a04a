// Filesystem: a read-only view of a filesystem image (ext4, EROFS, FAT, ISO)
// or a host directory, through node-level primitives. Path resolution,
// including symlinks, is done once for all of them by resolve_path() below,
// bounded and never escaping the filesystem root.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::filesystems {

using NodeId = std::uint64_t;

enum class FileType { Regular, Directory, Symlink, CharDevice, BlockDevice, Fifo, Socket, Unknown };

struct FileStat {
  FileType type = FileType::Unknown;
  std::uint64_t size = 0;
  std::uint32_t mode = 0; // permission bits (07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
};

struct DirEntry {
  std::string name; // never "." or ".."
  NodeId node = 0;
  FileType type = FileType::Unknown;
};

class Filesystem {
public:
  virtual ~Filesystem() = default;
  virtual std::string_view kind() const = 0; // "ext4", "erofs", "fat", "iso9660", "dir"
  virtual NodeId root() const = 0;
  virtual Result<FileStat> stat(NodeId node) = 0;
  // Entry `name` in directory `dir`, or nullopt when absent.
  virtual Result<std::optional<DirEntry>> lookup(NodeId dir, std::string_view name) = 0;
  // All entries of a directory, sorted by name.
  virtual Result<std::vector<DirEntry>> list(NodeId dir) = 0;
  // Read from a regular file; a read past the end is an error.
  virtual Result<void> read(NodeId file, std::uint64_t offset, std::span<std::uint8_t> out) = 0;
  virtual Result<std::string> read_link(NodeId symlink) = 0;
};

using FilesystemPtr = std::unique_ptr<Filesystem>;

enum class FollowFinal { Yes, No };

// Resolve an absolute or root-relative path. Symlinks in intermediate
// components are followed (and the final one when FollowFinal::Yes); ".."
// never climbs above the root; at most 40 links are followed.
Result<NodeId> resolve_path(Filesystem& fs, std::string_view path,
                            FollowFinal follow = FollowFinal::Yes);
// Same, but a missing final component gives nullopt instead of an error.
Result<std::optional<NodeId>> try_resolve_path(Filesystem& fs, std::string_view path,
                                               FollowFinal follow = FollowFinal::Yes);

// Read a whole regular file by path (following symlinks), bounded by max_bytes.
Result<Bytes> read_file(Filesystem& fs, std::string_view path,
                        std::uint64_t max_bytes = std::uint64_t{1} << 31);

// A host directory as a Filesystem (for unpacked trees and tests). Symlinks
// are resolved inside the directory, never on the host.
Result<FilesystemPtr> open_host_directory(const std::string& path);

} // namespace fastboop::filesystems
