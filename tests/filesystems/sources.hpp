// Test-only BlockSources: a pread-backed file and an in-memory buffer. The
// real file source lives with the pipeline stages; these keep the filesystem
// tests independent of them.
#pragma once

#include "pipeline/block_source.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop::test {

class FileSource final : public pipeline::BlockSource {
public:
  static Result<pipeline::BlockSourcePtr> open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return Error("cannot open " + path + ": " + std::strerror(errno), ErrorKind::Io);
    struct stat st {};
    ::fstat(fd, &st);
    return pipeline::BlockSourcePtr(new FileSource(fd, static_cast<std::uint64_t>(st.st_size), path));
  }
  ~FileSource() override { ::close(m_fd); }
  std::uint64_t size() const override { return m_size; }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > m_size || out.size() > m_size - offset)
      return Error("file " + m_path + ": read past the end at offset " + std::to_string(offset));
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(m_fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return Error("file " + m_path + ": short read at offset " + std::to_string(offset + done), ErrorKind::Io);
      done += static_cast<std::size_t>(n);
    }
    return ok();
  }
  std::string describe() const override { return "file(" + m_path + ")"; }

private:
  FileSource(int fd, std::uint64_t size, std::string path) : m_fd(fd), m_size(size), m_path(std::move(path)) {}
  int m_fd;
  std::uint64_t m_size;
  std::string m_path;
};

class MemorySource final : public pipeline::BlockSource {
public:
  explicit MemorySource(Bytes data) : m_data(std::move(data)) {}
  std::uint64_t size() const override { return m_data.size(); }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > m_data.size() || out.size() > m_data.size() - offset)
      return Error("memory: read of " + std::to_string(out.size()) + " bytes past the end at offset " +
                   std::to_string(offset));
    std::memcpy(out.data(), m_data.data() + offset, out.size());
    return ok();
  }
  std::string describe() const override { return "memory"; }

private:
  Bytes m_data;
};

} // namespace fastboop::test
