// Fixture trees for the filesystem tests and their comparison with what a
// Filesystem reader returns.
#pragma once

#include "filesystems/filesystem.hpp"

#include <filesystem>
#include <string>

namespace fastboop::test {

enum class TreeFlavor {
  Posix, // symlinks, hard links, modes, owners, devices-free
  Fat,   // names and contents only (long names, mixed case, 8.3)
};

// Builds a deterministic tree under `root` (which must not exist).
void make_tree(const std::filesystem::path& root, TreeFlavor flavor);

// Built once per test binary in a scratch directory: the POSIX tree (with a
// few extended attributes) and that directory for images made from it.
const std::filesystem::path& shared_dir();
const std::filesystem::path& posix_tree();
const std::filesystem::path& fat_tree();

enum class CompareMeta { All, ContentsOnly };

// Walks both filesystems; any difference (listing, type, size, contents,
// link target, and with CompareMeta::All mode/uid/gid) is a gtest failure.
// Returns the number of nodes compared.
std::size_t expect_same_tree(filesystems::Filesystem& expected, filesystems::Filesystem& actual,
                             CompareMeta meta);

} // namespace fastboop::test
