// The initramfs image: a set of entries keyed by path, serialised as a
// byte-reproducible SVR4 newc archive through libarchive (owner 0, mtime 0,
// inode 0, nlink 1, directories first then files, each group in byte order,
// missing parents created 040755).
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace fastboop::stage0 {

struct CpioEntry {
  std::uint32_t mode = 0;    // full st_mode: type and permission bits
  Bytes data;                // file contents, or the link target of a symlink
  std::uint32_t rdev_major = 0;
  std::uint32_t rdev_minor = 0;
};

enum class Overwrite { No, Yes };

class CpioImage {
public:
  // Normalise an archive path: strip leading "/" and "./", collapse "//";
  // empty names, "." and ".." components are errors.
  static Result<std::string> normalise_path(std::string_view path);

  // Add an entry. With Overwrite::No an existing path is left alone, which is
  // how augment entries win over generated ones.
  Result<void> add(std::string_view path, CpioEntry entry, Overwrite overwrite = Overwrite::No);
  Result<void> add_directory(std::string_view path);
  Result<void> add_file(std::string_view path, Bytes data, std::uint32_t perm = 0644,
                        Overwrite overwrite = Overwrite::No);

  bool contains(std::string_view path) const;
  const CpioEntry* find(std::string_view path) const;
  const std::map<std::string, CpioEntry>& entries() const { return m_entries; }

  // Merge the entries of an existing initramfs (newc, as the kernel reads it:
  // plain or gzip/zstd/lz4/xz-compressed, several archives back to back). Its entries win over anything added
  // later. The expanded archive may be at most `limit` bytes, and every header
  // is checked against the bytes present before libarchive sees it, so a
  // hostile header cannot make anything allocate more than the input holds.
  Result<void> merge_archive(ByteSpan archive, std::string_view origin,
                             std::uint64_t limit = default_augment_limit);

  static constexpr std::uint64_t default_augment_limit = std::uint64_t{512} << 20;

  // Serialise as newc; parents are created, order as described above.
  Result<Bytes> serialise() const;

private:
  // One newc archive whose layout check_newc_layout has proven sane.
  Result<void> merge_newc(ByteSpan data, std::string_view origin);

  std::map<std::string, CpioEntry> m_entries;
};

} // namespace fastboop::stage0
