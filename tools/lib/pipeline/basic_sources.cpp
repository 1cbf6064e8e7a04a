// Terminal and trivial sources: local files (pread), memory, slices.
#include "pipeline/sources.hpp"
#include "common/fd.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop::pipeline {

Error layer_error(std::string_view layer, std::uint64_t offset, std::string_view message,
                  ErrorKind kind) {
  char off[32];
  std::snprintf(off, sizeof off, "0x%llx", static_cast<unsigned long long>(offset));
  return Error(std::string(layer) + ": offset " + off + ": " + std::string(message), kind);
}

namespace {

Result<void> check_range(const BlockSource& source, std::string_view layer, std::uint64_t offset,
                         std::size_t length) {
  if (offset > source.size() || length > source.size() - offset)
    return layer_error(layer, offset,
                       "read of " + std::to_string(length) + " bytes past the end (size " +
                           std::to_string(source.size()) + ")");
  return ok();
}

class FileSource final : public BlockSource {
public:
  FileSource(int fd, std::uint64_t size, std::filesystem::path path)
      : m_fd(fd), m_size(size), m_path(std::move(path)) {}
  ~FileSource() override { ::close(m_fd); }
  std::uint64_t size() const override { return m_size; }
  std::string describe() const override { return "file(" + m_path.string() + ")"; }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    TRY(check_range(*this, describe(), offset, out.size()));
    auto done = pread_full(m_fd, out, offset);
    if (!done)
      return layer_error(describe(), offset, done.error().message(), ErrorKind::Io);
    if (*done < out.size())
      return layer_error(describe(), offset + *done, "file shrank while reading", ErrorKind::Io);
    return ok();
  }

private:
  int m_fd;
  std::uint64_t m_size;
  std::filesystem::path m_path;
};

class MemorySource final : public BlockSource {
public:
  MemorySource(Bytes data, std::string description)
      : m_data(std::move(data)), m_description(std::move(description)) {}
  std::uint64_t size() const override { return m_data.size(); }
  std::string describe() const override { return m_description; }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    TRY(check_range(*this, m_description, offset, out.size()));
    if (!out.empty())
      std::memcpy(out.data(), m_data.data() + offset, out.size());
    return ok();
  }

private:
  Bytes m_data;
  std::string m_description;
};

class SliceSource final : public BlockSource {
public:
  SliceSource(BlockSourcePtr inner, std::uint64_t offset, std::uint64_t length,
              std::string description)
      : m_inner(std::move(inner)), m_offset(offset), m_length(length),
        m_description(std::move(description)) {}
  std::uint64_t size() const override { return m_length; }
  std::string describe() const override { return m_description + " <- " + m_inner->describe(); }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    TRY(check_range(*this, m_description, offset, out.size()));
    return m_inner->read_at(m_offset + offset, out);
  }

private:
  BlockSourcePtr m_inner;
  std::uint64_t m_offset;
  std::uint64_t m_length;
  std::string m_description;
};

} // namespace

Result<BlockSourcePtr> open_file_source(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error("file(" + path.string() + "): cannot open: " + std::strerror(errno), ErrorKind::Io);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return Error("file(" + path.string() + "): cannot stat: " + std::strerror(e), ErrorKind::Io);
  }
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
    ::close(fd);
    return Error("file(" + path.string() + "): not a regular file", ErrorKind::Invalid);
  }
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode)) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    size = end < 0 ? 0 : static_cast<std::uint64_t>(end);
  }
  return BlockSourcePtr(std::make_unique<FileSource>(fd, size, path));
}

BlockSourcePtr make_memory_source(Bytes data, std::string description) {
  return std::make_unique<MemorySource>(std::move(data), std::move(description));
}

Result<BlockSourcePtr> open_slice(BlockSourcePtr inner, std::uint64_t offset, std::uint64_t length,
                                  std::string description) {
  if (offset > inner->size() || length > inner->size() - offset)
    return layer_error(description, offset,
                       "range of " + std::to_string(length) + " bytes lies past the end of " +
                           inner->describe() + " (size " + std::to_string(inner->size()) + ")");
  return BlockSourcePtr(
      std::make_unique<SliceSource>(std::move(inner), offset, length, std::move(description)));
}

namespace {

class SharedView final : public BlockSource {
public:
  explicit SharedView(std::shared_ptr<BlockSource> shared) : m_shared(std::move(shared)) {}
  std::uint64_t size() const override { return m_shared->size(); }
  std::string describe() const override { return m_shared->describe(); }
  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    return m_shared->read_at(offset, out);
  }

private:
  std::shared_ptr<BlockSource> m_shared;
};

} // namespace

BlockSourcePtr make_shared_view(std::shared_ptr<BlockSource> shared) {
  return std::make_unique<SharedView>(std::move(shared));
}

std::filesystem::path default_cache_dir() {
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/')
    return std::filesystem::path(x) / "fastboop";
  if (const char* h = std::getenv("HOME"); h && *h == '/')
    return std::filesystem::path(h) / ".cache" / "fastboop";
  return std::filesystem::temp_directory_path() / "fastboop";
}

bool offline_from_env() {
  const char* v = std::getenv("FASTBOOP_OFFLINE");
  return v && std::string_view(v) == "1";
}

} // namespace fastboop::pipeline
