// Depth-first walk over a whole Filesystem, bounded for hostile images: a
// directory reached twice (a cycle or a hard-linked directory), too deep a
// tree or too many entries is an error, never a hang.
#pragma once

#include "filesystems/filesystem.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace fastboop::filesystems {

struct WalkLimits {
  std::uint64_t max_entries = 10'000'000;
  unsigned max_depth = 256;
};

struct WalkItem {
  std::string path; // "/a/b", root is "/"
  NodeId node = 0;
  FileStat stat;
};

// Calls `visit` for every node below the root (not the root itself): a
// directory's entries in name order, then its subdirectories depth-first.
// A visitor error stops the walk.
Result<void> walk_tree(Filesystem& fs, const std::function<Result<void>(const WalkItem&)>& visit,
                       const WalkLimits& limits = {});

} // namespace fastboop::filesystems
