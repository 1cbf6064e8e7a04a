// Shared body of the filesystem fuzzers: open the input as an in-memory
// image, walk the whole tree with tight limits, read every file and link.
#pragma once

#include "filesystems/open.hpp"
#include "filesystems/walk.hpp"
#include "sources.hpp"

#include <cstddef>
#include <cstdint>

namespace fastboop::test {

inline void fuzz_filesystem(const std::uint8_t* data, std::size_t size,
                            Result<filesystems::FilesystemPtr> (*open)(pipeline::BlockSourcePtr)) {
  auto fs = open(std::make_unique<MemorySource>(Bytes(data, data + size)));
  if (!fs.ok())
    return;
  filesystems::WalkLimits limits;
  limits.max_entries = 4096;
  limits.max_depth = 32;
  std::uint64_t budget = 8u << 20; // bytes of file data read per input
  Bytes buf(64 * 1024);
  (void)filesystems::walk_tree(
      **fs,
      [&](const filesystems::WalkItem& item) -> Result<void> {
        if (item.stat.type == filesystems::FileType::Symlink)
          (void)(*fs)->read_link(item.node);
        if (item.stat.type != filesystems::FileType::Regular)
          return ok();
        for (std::uint64_t off = 0; off < item.stat.size && budget > 0;) {
          std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>({buf.size(), item.stat.size - off, budget}));
          if (!(*fs)->read(item.node, off, {buf.data(), n}).ok())
            break;
          off += n;
          budget -= n;
        }
        return ok();
      },
      limits);
  (void)filesystems::try_resolve_path(**fs, "/boot/vmlinuz");
  (void)filesystems::try_resolve_path(**fs, "/lib/modules/../../a/b/c");
}

} // namespace fastboop::test
