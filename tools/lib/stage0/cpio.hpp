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

  // Merge the entries of an existing initramfs (newc, possibly compressed with
  // any codec libarchive reads). Its entries win over anything added later.
  Result<void> merge_archive(ByteSpan archive, std::string_view origin);

  // Serialise as newc; parents are created, order as described above.
  Result<Bytes> serialise() const;

private:
  std::map<std::string, CpioEntry> m_entries;
};

} // namespace fastboop::stage0
