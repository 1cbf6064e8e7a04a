// File input and atomic output. Every artifact we write goes through
// AtomicFile: data lands in a temporary file beside the target and is renamed
// over it only on commit(), so a failure never leaves a half-written output.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace fastboop {

// Read a whole file; the error names the path. `max_bytes` bounds memory for
// inputs that may be hostile.
Result<Bytes> read_file(const std::filesystem::path& path,
                        std::uint64_t max_bytes = std::uint64_t{1} << 32);
Result<std::string> read_text_file(const std::filesystem::path& path,
                                   std::uint64_t max_bytes = std::uint64_t{1} << 28);

class AtomicFile {
public:
  // Creates "<dir>/.<name>.tmp.XXXXXX". Use create() to get a Result.
  static Result<AtomicFile> create(const std::filesystem::path& target);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile(); // removes the temporary unless committed

  Result<void> write(ByteSpan data);
  Result<void> write(std::string_view text) { return write(as_bytes(text)); }
  // fsync, set mode 0644 (minus umask), rename over the target.
  Result<void> commit();
  const std::filesystem::path& target() const { return m_target; }
  int fd() const { return m_fd; }

private:
  AtomicFile(std::filesystem::path target, std::filesystem::path temp, int fd);
  std::filesystem::path m_target;
  std::filesystem::path m_temp;
  int m_fd = -1;
  bool m_committed = false;
};

// Convenience: write all bytes atomically.
Result<void> write_file_atomic(const std::filesystem::path& target, ByteSpan data);
inline Result<void> write_file_atomic(const std::filesystem::path& target, std::string_view text) {
  return write_file_atomic(target, as_bytes(text));
}

// Make/Ninja depfile: "<target>: dep1 dep2 ..." with spaces escaped; written atomically.
Result<void> write_depfile(const std::filesystem::path& depfile, const std::string& target,
                           const std::vector<std::string>& deps);

} // namespace fastboop
