// The boot image as fastboop-push sends it: mapped read-only instead of read
// into a heap buffer (a copy plus a page fault per 4 KiB page cost more than
// the transfer on some hosts), with the file's identity remembered so that a
// rewrite after the digest was checked is noticed before the device boots it.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <sys/stat.h>

namespace fastboop::fastboot {

class ImageFile {
public:
  // An empty or non-regular file is an error naming the path.
  static Result<ImageFile> open(const std::filesystem::path& path);
  ImageFile(ImageFile&& other) noexcept;
  ImageFile& operator=(ImageFile&&) = delete;
  ImageFile(const ImageFile&) = delete;
  ~ImageFile();

  ByteSpan bytes() const { return {m_data, m_size}; }
  std::size_t size() const { return m_size; }
  const std::filesystem::path& path() const { return m_path; }

  // An error when the file was written or truncated since open(): the mapping
  // would then no longer hold the bytes that were verified. (A rebuild that
  // renames a new file over it leaves the mapped one intact.)
  Result<void> check_unchanged() const;

private:
  ImageFile(std::filesystem::path path, int fd, const std::uint8_t* data, std::size_t size,
            struct stat identity)
      : m_path(std::move(path)), m_fd(fd), m_data(data), m_size(size), m_identity(identity) {}

  std::filesystem::path m_path;
  int m_fd = -1;
  const std::uint8_t* m_data = nullptr;
  std::size_t m_size = 0;
  struct stat m_identity {};
};

} // namespace fastboop::fastboot
