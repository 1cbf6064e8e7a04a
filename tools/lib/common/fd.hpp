// The one home for file-descriptor lifetime and the EINTR rule: an owning
// descriptor, and whole-buffer read/write that retry on EINTR and on short
// transfers. Errors carry strerror(errno) and ErrorKind::Io; callers add the
// file name (TRY_CTX(read_full(fd, buf), "cannot read " + path)).
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <span>
#include <utility>

namespace fastboop {

class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other)
      reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return m_fd; }
  explicit operator bool() const { return m_fd >= 0; }
  int release() { return std::exchange(m_fd, -1); }
  // Closes the descriptor held (a close error is ignored: for the files we
  // read nothing is lost; writers that care call close_checked()).
  void reset(int fd = -1);
  // Closes and reports close(2)'s error: a write-back failure on NFS shows here.
  Result<void> close_checked();

private:
  int m_fd = -1;
};

// Reads until `out` is full or the end of the file; returns the bytes read
// (fewer than out.size() only at the end).
Result<std::size_t> read_full(int fd, std::span<std::uint8_t> out);
Result<std::size_t> pread_full(int fd, std::span<std::uint8_t> out, std::uint64_t offset);
// Writes all of `data`.
Result<void> write_full(int fd, ByteSpan data);
Result<void> pwrite_full(int fd, ByteSpan data, std::uint64_t offset);

} // namespace fastboop
