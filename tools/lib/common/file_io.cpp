#include "common/file_io.hpp"

#include <cerrno>
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
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      ::close(fd);
      return os_error("cannot read", path, e);
    }
    if (n == 0)
      break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
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

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& target) {
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
  const std::uint8_t* p = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(m_fd, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return os_error("cannot write", m_temp, errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
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

namespace {
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
} // namespace

Result<void> write_depfile(const std::filesystem::path& depfile, const std::string& target,
                           const std::vector<std::string>& deps) {
  std::string text = escape_make(target) + ":";
  for (const auto& d : deps)
    text += " \\\n  " + escape_make(d);
  text += "\n";
  return write_file_atomic(depfile, text);
}

} // namespace fastboop
