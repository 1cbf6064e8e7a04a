#include "common/file_io.hpp"
#include "common/fd.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop {

namespace {
Error os_error(std::string_view what, const std::filesystem::path& path, int err) {
  return Error(std::string(what) + " " + path.string() + ": " + std::strerror(err), ErrorKind::Io);
}
// Reading: a missing input has its own exit code (cli::Exit::MissingInput);
// a missing output directory is not that.
Error input_error(std::string_view what, const std::filesystem::path& path, int err) {
  return Error(std::string(what) + " " + path.string() + ": " + std::strerror(err),
               err == ENOENT ? ErrorKind::NotFound : ErrorKind::Io);
}
} // namespace

Result<Bytes> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return input_error("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return os_error("cannot stat", path, e);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error("cannot read " + path.string() + ": is a directory", ErrorKind::Io);
  }
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return Error("cannot read " + path.string() + ": " + std::to_string(st.st_size) +
                 " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  Bytes out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  std::uint8_t buf[1 << 16];
  for (;;) {
    auto read = read_full(fd, buf);
    if (!read) {
      ::close(fd);
      return Error("cannot read " + path.string() + ": " + read.error().message(), ErrorKind::Io);
    }
    const std::size_t n = *read;
    if (n == 0)
      break;
    if (out.size() + n > max_bytes) {
      ::close(fd);
      return Error("cannot read " + path.string() + ": exceeds the limit of " +
                   std::to_string(max_bytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

Result<std::string> read_text_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  auto bytes = TRY(read_file(path, max_bytes));
  return std::string(bytes.begin(), bytes.end());
}

AtomicFile::AtomicFile(std::filesystem::path target, std::filesystem::path temp, int fd)
    : m_target(std::move(target)), m_temp(std::move(temp)), m_fd(fd) {}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : m_target(std::move(other.m_target)), m_temp(std::move(other.m_temp)), m_fd(other.m_fd),
      m_committed(other.m_committed) {
  other.m_fd = -1;
  other.m_committed = true;
}

AtomicFile::~AtomicFile() {
  if (m_fd >= 0)
    ::close(m_fd);
  if (!m_committed && !m_temp.empty())
    ::unlink(m_temp.c_str());
}

Result<void> check_output_path(const std::filesystem::path& output, OutputKind kind) {
  if (output.empty())
    return Error("output path is empty", ErrorKind::Usage);
  auto dir = output.parent_path();
  if (dir.empty())
    dir = ".";
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return Error("output " + output.string() + ": directory " + dir.string() +
                       " does not exist (create it first; tools never create parent directories)",
                   ErrorKind::Io);
    return os_error("output " + output.string() + ": cannot reach directory", dir, errno);
  }
  if (!S_ISDIR(st.st_mode))
    return Error("output " + output.string() + ": " + dir.string() + " is not a directory",
                 ErrorKind::Io);
  if (kind == OutputKind::File && ::stat(output.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Error("output " + output.string() + " is a directory; name a file", ErrorKind::Io);
  return ok();
}

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& target) {
  TRY(check_output_path(target, OutputKind::File));
  auto dir = target.parent_path();
  if (dir.empty())
    dir = ".";
  std::string templ = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  int fd = ::mkostemp(templ.data(), O_CLOEXEC);
  if (fd < 0)
    return os_error("cannot create temporary file for", target, errno);
  return AtomicFile(target, templ, fd);
}

Result<void> AtomicFile::write(ByteSpan data) {
  if (auto written = write_full(m_fd, data); !written)
    return Error("cannot write " + m_temp.string() + ": " + written.error().message(), ErrorKind::Io);
  return ok();
}

Result<void> AtomicFile::commit() {
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (::fchmod(m_fd, 0666 & ~mask) != 0)
    return os_error("cannot chmod", m_temp, errno);
  // No fsync, like LLVM's tools and ninja: outputs are regenerable build
  // artifacts (the CMake cache re-hashes what it serves), and the rename alone
  // means no reader ever sees a partial file. fsync was 60-70 ms of a 60 MB
  // boot.img (tests/bench/bootimg.sh).
  if (::close(m_fd) != 0) {
    m_fd = -1;
    return os_error("cannot close", m_temp, errno);
  }
  m_fd = -1;
  if (::rename(m_temp.c_str(), m_target.c_str()) != 0)
    return os_error("cannot rename temporary file onto", m_target, errno);
  m_committed = true;
  return ok();
}

Result<void> write_file_atomic(const std::filesystem::path& target, ByteSpan data) {
  auto file = TRY(AtomicFile::create(target));
  TRY(file.write(data));
  return file.commit();
}

AtomicDirectory::AtomicDirectory(std::filesystem::path target, std::filesystem::path staging)
    : m_target(std::move(target)), m_staging(std::move(staging)) {}

AtomicDirectory::AtomicDirectory(AtomicDirectory&& other) noexcept
    : m_target(std::move(other.m_target)), m_staging(std::move(other.m_staging)),
      m_committed(other.m_committed) {
  other.m_committed = true;
}

AtomicDirectory::~AtomicDirectory() {
  if (!m_committed && !m_staging.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(m_staging, ec);
  }
}

Result<AtomicDirectory> AtomicDirectory::create(const std::filesystem::path& target,
                                                std::string_view marker) {
  TRY(check_output_path(target, OutputKind::Directory));
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode))
      return Error("output " + target.string() + " exists and is not a directory", ErrorKind::Io);
    std::error_code ec;
    const bool empty = std::filesystem::is_empty(target, ec);
    if (ec)
      return Error("output " + target.string() + ": " + ec.message(), ErrorKind::Io);
    // Replacing the whole directory is only safe for one this tool wrote: a
    // mistyped -o naming a home or source directory must not be wiped.
    if (!empty && ::lstat((target / marker).c_str(), &st) != 0)
      return Error(
          "output " + target.string() + " is a non-empty directory without " + std::string(marker) +
              ", so not a previous output of this tool; remove it or choose another directory",
          ErrorKind::Io);
  } else if (errno != ENOENT) {
    return os_error("cannot stat output", target, errno);
  }
  auto dir = target.parent_path();
  if (dir.empty())
    dir = ".";
  std::string name = target.filename().string();
  if (name.empty() || name == "." || name == "..")
    return Error("output " + target.string() + ": name the directory itself (not . or ..)",
                 ErrorKind::Usage);
  std::string templ = (dir / ("." + name + ".tmp.XXXXXX")).string();
  if (!::mkdtemp(templ.data()))
    return os_error("cannot create a staging directory for", target, errno);
  return AtomicDirectory(target, templ);
}

Result<void> AtomicDirectory::commit() {
  // The staging directory was made 0700 by mkdtemp; outputs are 0755 like mkdir's default (minus
  // umask).
  mode_t mask = ::umask(0);
  ::umask(mask);
  if (::chmod(m_staging.c_str(), 0777 & ~mask) != 0)
    return os_error("cannot chmod", m_staging, errno);
  if (::rename(m_staging.c_str(), m_target.c_str()) == 0) {
    m_committed = true; // the target did not exist, or was an empty directory
    return ok();
  }
  if (errno != EEXIST && errno != ENOTEMPTY)
    return os_error("cannot rename the staging directory onto", m_target, errno);
  // One atomic step where the filesystem supports it: the staging directory
  // and the old output trade places, and the old one is removed from there.
  if (::renameat2(AT_FDCWD, m_staging.c_str(), AT_FDCWD, m_target.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS)
      return os_error("cannot exchange the staging directory with", m_target, errno);
    // No RENAME_EXCHANGE here: move the old output aside, then the new one in
    // (readers may briefly find no directory, never a mixed one).
    std::string aside =
        (m_target.parent_path() / ("." + m_target.filename().string() + ".old.XXXXXX")).string();
    if (!::mkdtemp(aside.data()))
      return os_error("cannot create a directory beside", m_target, errno);
    if (::rename(m_target.c_str(), aside.c_str()) != 0)
      return os_error("cannot move the previous output aside:", m_target, errno);
    if (::rename(m_staging.c_str(), m_target.c_str()) != 0) {
      const int e = errno;
      (void)::rename(aside.c_str(), m_target.c_str());
      return os_error("cannot rename the staging directory onto", m_target, e);
    }
    m_staging = aside;
  }
  m_committed = true;
  std::error_code ec;
  std::filesystem::remove_all(m_staging, ec); // the previous output now
  return ok();
}

std::string escape_make(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ' ' || c == '#' || c == '\\')
      out.push_back('\\');
    if (c == '$')
      out.push_back('$');
    out.push_back(c);
  }
  return out;
}

Result<void> write_depfile(const std::filesystem::path& depfile, const std::string& target,
                           const std::vector<std::string>& deps) {
  std::string text = escape_make(target) + ":";
  for (const auto& d : deps)
    text += " \\\n  " + escape_make(d);
  text += "\n";
  return write_file_atomic(depfile, text);
}

} // namespace fastboop
