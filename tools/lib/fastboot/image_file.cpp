#include "fastboot/image_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace fastboop::fastboot {

namespace {

bool same_timespec(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// Every write and truncation bumps mtime. Not ctime: unlinking the mapped file
// (a rebuild renamed over it) changes ctime but not the mapped bytes.
bool same_contents_state(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && same_timespec(a.st_mtim, b.st_mtim);
}

} // namespace

Result<ImageFile> ImageFile::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error("cannot open " + path.string() + ": " + std::strerror(errno), ErrorKind::Io);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error("cannot read " + path.string() + ": not a regular file", ErrorKind::Io);
  }
  if (st.st_size == 0) {
    ::close(fd);
    return Error(path.string() + ": the image is empty", ErrorKind::Invalid);
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  // MAP_POPULATE maps the whole file in one call instead of a fault per page.
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  if (data == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    return Error("cannot map " + path.string() + ": " + std::strerror(err), ErrorKind::Io);
  }
  return ImageFile(path, fd, static_cast<const std::uint8_t*>(data), size, st);
}

ImageFile::ImageFile(ImageFile&& other) noexcept
    : m_path(std::move(other.m_path)), m_fd(other.m_fd), m_data(other.m_data), m_size(other.m_size),
      m_identity(other.m_identity) {
  other.m_fd = -1;
  other.m_data = nullptr;
  other.m_size = 0;
}

ImageFile::~ImageFile() {
  if (m_data)
    ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
  if (m_fd >= 0)
    ::close(m_fd);
}

Result<void> ImageFile::check_unchanged() const {
  struct stat now {};
  if (::fstat(m_fd, &now) != 0)
    return Error("cannot stat " + m_path.string() + ": " + std::strerror(errno), ErrorKind::Io);
  if (!same_contents_state(m_identity, now))
    return Error(m_path.string() +
                     " was modified while fastboop-push was using it, so the bytes sent are not "
                     "the ones checked against its sidecar; write images through a rename (as "
                     "fastboop-bootimg does) and push again",
                 ErrorKind::Invalid);
  return ok();
}

} // namespace fastboop::fastboot
