// Small helpers shared by the image readers in this folder (not a public API).
#pragma once

#include "filesystems/filesystem.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fastboop::filesystems::detail {

// POSIX S_IFMT bits, which ext4 and EROFS store verbatim.
inline FileType file_type_from_mode(std::uint32_t mode) {
  switch (mode & 0170000) {
  case 0100000: return FileType::Regular;
  case 0040000: return FileType::Directory;
  case 0120000: return FileType::Symlink;
  case 0020000: return FileType::CharDevice;
  case 0060000: return FileType::BlockDevice;
  case 0010000: return FileType::Fifo;
  case 0140000: return FileType::Socket;
  default: return FileType::Unknown;
  }
}

// A directory entry name from an image must be usable as one path component.
inline bool valid_entry_name(std::string_view name) {
  return !name.empty() && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// Longest symlink target we accept (Linux PATH_MAX).
constexpr std::uint64_t max_link_target = 4096;

// A map that forgets everything when it grows past its bound: enough to keep
// repeated lookups cheap while keeping memory bounded on hostile images.
template <typename K, typename V> class BoundedCache {
public:
  explicit BoundedCache(std::size_t limit) : m_limit(limit) {}
  const V* find(const K& key) const {
    auto it = m_map.find(key);
    return it == m_map.end() ? nullptr : &it->second;
  }
  const V& insert(const K& key, V value) {
    if (m_map.size() >= m_limit)
      m_map.clear();
    return m_map.insert_or_assign(key, std::move(value)).first->second;
  }

private:
  std::size_t m_limit;
  std::unordered_map<K, V> m_map;
};

// The entry called `name` in a directory listing sorted by name (what the
// readers that cache a directory's entries look names up in).
inline std::optional<DirEntry> find_in_sorted(const std::vector<DirEntry>& entries, std::string_view name) {
  auto it = std::lower_bound(entries.begin(), entries.end(), name,
                             [](const DirEntry& e, std::string_view n) { return e.name < n; });
  if (it == entries.end() || it->name != name)
    return std::nullopt;
  return *it;
}

// stat's size: the byte size of what has one (regular files, directories,
// symlinks), 0 for device nodes, fifos and sockets.
inline std::uint64_t stat_size(FileType type, std::uint64_t size) {
  return type == FileType::Regular || type == FileType::Directory || type == FileType::Symlink ? size : 0;
}

} // namespace fastboop::filesystems::detail
