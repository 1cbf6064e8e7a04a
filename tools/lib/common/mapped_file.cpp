#include "common/mapped_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace fastboop {

namespace {

// Every write and truncation bumps mtime. Not ctime: unlinking the mapped
// file (a rebuild renamed over it) changes ctime but not the mapped bytes.
bool same_contents_state(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

} // namespace

Result<MappedFile> MappedFile::open(const std::filesystem::path& path, Prefault prefault) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error("cannot open " + path.string() + ": " + std::strerror(errno),
                 errno == ENOENT ? ErrorKind::NotFound : ErrorKind::Io);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error("cannot read " + path.string() + ": not a regular file", ErrorKind::Io);
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0)
    return MappedFile(path, fd, nullptr, 0, st);
  // MAP_POPULATE maps the whole file in one call instead of a fault per page.
  const int populate = prefault == Prefault::Yes ? MAP_POPULATE : 0;
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | populate, fd, 0);
  if (data == MAP_FAILED) {
    const int err = errno;
    ::close(fd);
    return Error("cannot map " + path.string() + ": " + std::strerror(err), ErrorKind::Io);
  }
  ::madvise(data, size, MADV_SEQUENTIAL);
  return MappedFile(path, fd, static_cast<const std::uint8_t*>(data), size, st);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : m_path(std::move(other.m_path)), m_fd(other.m_fd), m_data(other.m_data), m_size(other.m_size),
      m_identity(other.m_identity) {
  other.m_fd = -1;
  other.m_data = nullptr;
  other.m_size = 0;
}

MappedFile::~MappedFile() {
  if (m_data)
    ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
  if (m_fd >= 0)
    ::close(m_fd);
}

bool MappedFile::contains(ByteSpan part) const {
  return m_data && part.data() >= m_data && part.data() + part.size() <= m_data + m_size;
}

Result<void> MappedFile::read_through(ByteSpan part, const std::function<void(ByteSpan)>& consume) const {
  if (part.empty())
    return ok();
  if (!contains(part))
    return Error("internal: a range outside " + m_path.string() + " was read through it", ErrorKind::Invalid);
  // 256 KiB stays in L2 between the copy and the consumer.
  constexpr std::size_t kChunk = 256 * 1024;
  std::vector<std::uint8_t> buffer(std::min(kChunk, part.size()));
  auto offset = static_cast<off_t>(part.data() - m_data);
  std::size_t left = part.size();
  while (left > 0) {
    const ssize_t n = ::pread(m_fd, buffer.data(), std::min(buffer.size(), left), offset);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return Error("cannot read " + m_path.string() + " at offset " + std::to_string(offset) + ": " +
                       std::strerror(errno),
                   ErrorKind::Io);
    if (n == 0)
      return Error(m_path.string() + " became shorter while it was read (offset " + std::to_string(offset) + ")",
                   ErrorKind::Invalid);
    consume(ByteSpan(buffer.data(), static_cast<std::size_t>(n)));
    offset += n;
    left -= static_cast<std::size_t>(n);
  }
  return ok();
}

Result<void> MappedFile::check_unchanged() const {
  struct stat now {};
  if (::fstat(m_fd, &now) != 0)
    return Error("cannot stat " + m_path.string() + ": " + std::strerror(errno), ErrorKind::Io);
  if (!same_contents_state(m_identity, now))
    return Error(m_path.string() + " was modified while it was in use, so the bytes read are not the ones "
                                   "checked; write it through a rename (as fastboop-bootimg does) and run again",
                 ErrorKind::Invalid);
  return ok();
}

} // namespace fastboop
