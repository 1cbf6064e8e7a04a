// File input and atomic output. Every artifact we write goes through
// AtomicFile: data lands in a temporary file beside the target and is renamed
// over it only on commit(), so a failure never leaves a half-written output.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop {

// Read a whole file; the error names the path. `max_bytes` bounds memory for
// inputs that may be hostile.
Result<Bytes> read_file(const std::filesystem::path& path,
                        std::uint64_t max_bytes = std::uint64_t{1} << 32);
Result<std::string> read_text_file(const std::filesystem::path& path,
                                   std::uint64_t max_bytes = std::uint64_t{1} << 28);

// The one output-path policy of every tool (issue 16 item 9): an output's
// directory must already exist. Tools never create parent directories, so a
// typo in -o cannot create /nonexistent (as root) or scatter a tree elsewhere;
// the error names the output path, never the input that happens to be open.
// A file output must not be an existing directory; a directory output may be
// one (AtomicDirectory decides whether it may replace it).
enum class OutputKind { File, Directory };
Result<void> check_output_path(const std::filesystem::path& output,
                               OutputKind kind = OutputKind::File);

class AtomicFile {
public:
  // Checks the output path (check_output_path), then creates
  // "<dir>/.<name>.tmp.XXXXXX". Use create() to get a Result.
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

// A directory output written as a whole: files go into a private staging
// directory beside the target, and commit() swaps it in with one
// rename(2)-level step (renameat2 RENAME_EXCHANGE, else rename aside then
// into place), then removes the previous directory. Readers see the old set
// of files or the new one, never a mix (no stale stage0.cpio next to a new
// stage0.cpio.xz).
class AtomicDirectory {
public:
  // The target may be missing, an empty directory, or a directory holding
  // `marker` (a previous output of the same tool); anything else is not the
  // tool's to replace and is refused, naming it.
  static Result<AtomicDirectory> create(const std::filesystem::path& target,
                                        std::string_view marker);
  AtomicDirectory(AtomicDirectory&& other) noexcept;
  AtomicDirectory& operator=(AtomicDirectory&&) = delete;
  AtomicDirectory(const AtomicDirectory&) = delete;
  ~AtomicDirectory(); // removes the staging directory unless committed

  // Where to write the files (write_file_atomic into it is fine).
  const std::filesystem::path& staging() const { return m_staging; }
  const std::filesystem::path& target() const { return m_target; }
  Result<void> commit();

private:
  AtomicDirectory(std::filesystem::path target, std::filesystem::path staging);
  std::filesystem::path m_target;
  std::filesystem::path m_staging;
  bool m_committed = false;
};

// Convenience: write all bytes atomically.
Result<void> write_file_atomic(const std::filesystem::path& target, ByteSpan data);
inline Result<void> write_file_atomic(const std::filesystem::path& target, std::string_view text) {
  return write_file_atomic(target, as_bytes(text));
}

// A path as a Make/Ninja depfile spells it (space, # and \ escaped, $ doubled).
std::string escape_make(const std::string& path);

// Make/Ninja depfile: "<target>: dep1 dep2 ..." with spaces escaped; written atomically.
Result<void> write_depfile(const std::filesystem::path& depfile, const std::string& target,
                           const std::vector<std::string>& deps);

} // namespace fastboop
