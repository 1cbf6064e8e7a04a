#include "filesystems/iso9660_check.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <utility>

namespace fastboop::filesystems {

namespace {

constexpr std::uint64_t sector = 2048;
constexpr int max_descriptors = 64;           // sectors 16.. until the terminator
constexpr std::size_t max_directories = 1'000'000; // as the reader's entry limit
constexpr std::uint64_t max_directory_bytes = 256ull << 20; // all directories together
constexpr int max_depth = 64;

std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}

struct Directory {
  std::uint32_t extent;
  std::uint32_t size;
  int depth;
};

// A directory record's extent and size, checked against the image.
Result<void> check_extent(const Directory& d, std::uint64_t image_size, const std::string& what) {
  const std::uint64_t start = std::uint64_t(d.extent) * sector;
  if (start > image_size || d.size > image_size - start)
    return Error("iso9660: " + what + " at block " + std::to_string(d.extent) + " claims " +
                 std::to_string(d.size) + " bytes, past the end of the image (" +
                 std::to_string(image_size) + " bytes)");
  return ok();
}

} // namespace

Result<void> check_iso9660_directories(pipeline::BlockSource& image) {
  const std::uint64_t image_size = image.size();
  std::deque<Directory> queue;
  std::array<std::uint8_t, sector> buf{};
  // The primary and supplementary (Joliet) descriptors each root a tree.
  for (int i = 0; i < max_descriptors; ++i) {
    const std::uint64_t at = (16 + std::uint64_t(i)) * sector;
    if (at + sector > image_size)
      break;
    TRY(image.read_at(at, buf));
    if (std::string_view(reinterpret_cast<const char*>(buf.data() + 1), 5) != "CD001")
      break;
    if (buf[0] == 255)
      break;
    if (buf[0] == 1 || buf[0] == 2) {
      const std::uint8_t* root = buf.data() + 156;
      queue.push_back({le32(root + 2), le32(root + 10), 0});
    }
  }
  std::set<std::uint32_t> seen;
  std::uint64_t scanned = 0;
  while (!queue.empty()) {
    const Directory d = queue.front();
    queue.pop_front();
    if (!seen.insert(d.extent).second)
      continue; // Joliet and the primary tree may share extents; loops end here too
    TRY(check_extent(d, image_size, "a directory"));
    if (seen.size() > max_directories)
      return Error("iso9660: more than " + std::to_string(max_directories) + " directories");
    if (d.depth > max_depth)
      return Error("iso9660: directories nested deeper than " + std::to_string(max_depth));
    scanned += d.size;
    if (scanned > max_directory_bytes)
      return Error("iso9660: directory records take more than " +
                   std::to_string(max_directory_bytes >> 20) + " MiB");
    // Records never cross a sector, so one sector at a time is enough.
    for (std::uint64_t off = 0; off < d.size; off += sector) {
      TRY(image.read_at(std::uint64_t(d.extent) * sector + off, buf));
      const std::size_t in_sector =
          static_cast<std::size_t>(std::min<std::uint64_t>(sector, d.size - off));
      for (std::size_t p = 0; p + 34 <= in_sector;) {
        const std::uint8_t len = buf[p];
        if (len == 0)
          break; // the rest of the sector is padding
        if (len < 34 || p + len > in_sector)
          return Error("iso9660: a directory record at byte " +
                       std::to_string(std::uint64_t(d.extent) * sector + off + p) + " is " +
                       std::to_string(len) + " bytes long");
        const std::uint8_t name_len = buf[p + 32];
        const bool self_or_parent = name_len == 1 && buf[p + 33] <= 1;
        if ((buf[p + 25] & 0x02) && !self_or_parent)
          queue.push_back({le32(buf.data() + p + 2), le32(buf.data() + p + 10), d.depth + 1});
        p += len;
      }
    }
  }
  return ok();
}

} // namespace fastboop::filesystems
