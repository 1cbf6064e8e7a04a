#include "common/fd.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace fastboop {

namespace {

Error io_error(int e) { return Error(std::strerror(e), ErrorKind::Io); }

// The one EINTR loop: `op(done)` transfers from position `done` and returns
// what read(2)/write(2) return.
template <typename Op> Result<std::size_t> transfer(std::size_t size, Op op, bool stop_at_zero) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = op(done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return io_error(errno);
    if (n == 0) {
      if (stop_at_zero)
        break;
      return io_error(EIO); // write(2) of a non-empty buffer returned 0
    }
    done += static_cast<std::size_t>(n);
  }
  return done;
}

} // namespace

void UniqueFd::reset(int fd) {
  if (m_fd >= 0)
    ::close(m_fd);
  m_fd = fd;
}

Result<void> UniqueFd::close_checked() {
  const int fd = release();
  if (fd >= 0 && ::close(fd) != 0 && errno != EINTR)
    return io_error(errno);
  return ok();
}

Result<std::size_t> read_full(int fd, std::span<std::uint8_t> out) {
  return transfer(out.size(), [&](std::size_t done) { return ::read(fd, out.data() + done, out.size() - done); },
                  true);
}

Result<std::size_t> pread_full(int fd, std::span<std::uint8_t> out, std::uint64_t offset) {
  return transfer(
      out.size(),
      [&](std::size_t done) {
        return ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      },
      true);
}

Result<void> write_full(int fd, ByteSpan data) {
  TRY(transfer(data.size(), [&](std::size_t done) { return ::write(fd, data.data() + done, data.size() - done); },
               false));
  return ok();
}

Result<void> pwrite_full(int fd, ByteSpan data, std::uint64_t offset) {
  TRY(transfer(
      data.size(),
      [&](std::size_t done) {
        return ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
      },
      false));
  return ok();
}

} // namespace fastboop
