// The real Sys: thin wrappers over Linux system calls.
#include "sys_linux.hpp"

#include "plan.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

namespace fastboop::stage0_init {

namespace {

const char* c_or_null(const std::string& s) {
  return s.empty() ? nullptr : s.c_str();
}

FileType type_of(mode_t mode) {
  switch (mode & S_IFMT) {
  case S_IFREG:
    return FileType::Regular;
  case S_IFDIR:
    return FileType::Directory;
  case S_IFLNK:
    return FileType::Symlink;
  case S_IFBLK:
    return FileType::BlockDevice;
  case S_IFCHR:
    return FileType::CharDevice;
  default:
    return FileType::Other;
  }
}

int write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return 0;
}

std::vector<char*> c_argv(const std::vector<std::string>& args) {
  std::vector<char*> out;
  for (const std::string& a : args)
    out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

} // namespace

int LinuxSys::mount(const std::string& source, const std::string& target, const std::string& fstype,
                    unsigned long flags, const std::string& data) {
  return ::mount(c_or_null(source), target.c_str(), c_or_null(fstype), flags, c_or_null(data)) == 0
             ? 0
             : errno;
}

int LinuxSys::mkdir(const std::string& path, unsigned mode) {
  return ::mkdir(path.c_str(), mode) == 0 ? 0 : errno;
}

int LinuxSys::symlink(const std::string& target, const std::string& link) {
  return ::symlink(target.c_str(), link.c_str()) == 0 ? 0 : errno;
}

int LinuxSys::unlink(const std::string& path) {
  return ::unlink(path.c_str()) == 0 ? 0 : errno;
}

int LinuxSys::chmod(const std::string& path, unsigned mode) {
  return ::chmod(path.c_str(), mode) == 0 ? 0 : errno;
}

int LinuxSys::write_file(const std::string& path, std::string_view data, Create create,
                         unsigned mode) {
  const int flags = O_WRONLY | O_CLOEXEC | (create == Create::Yes ? O_CREAT | O_TRUNC : 0);
  const int fd = ::open(path.c_str(), flags, mode);
  if (fd < 0)
    return errno;
  int err = write_all(fd, data);
  if (::close(fd) != 0 && err == 0)
    err = errno;
  return err;
}

int LinuxSys::read_file(const std::string& path, std::string& out, std::size_t limit) {
  out.clear();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  char buf[4096];
  int err = 0;
  while (out.size() < limit) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, limit - out.size()));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = errno;
      break;
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return err;
}

int LinuxSys::list_dir(const std::string& path, std::vector<DirEntry>& out) {
  out.clear();
  DIR* dir = ::opendir(path.c_str());
  if (!dir)
    return errno;
  while (dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..")
      continue;
    out.push_back({name, lstat(path + "/" + name)});
  }
  ::closedir(dir);
  return 0;
}

FileType LinuxSys::stat(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? type_of(st.st_mode) : FileType::Missing;
}

FileType LinuxSys::lstat(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? type_of(st.st_mode) : FileType::Missing;
}

int LinuxSys::block_device_size(const std::string& path, std::uint64_t& bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return errno;
  const int rc = ::ioctl(fd, BLKGETSIZE64, &bytes);
  const int err = rc == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

int LinuxSys::loop_attach(const std::string& path, std::uint64_t offset, std::uint64_t size,
                          std::string& device) {
  const int file = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file < 0)
    return errno;
  const int control = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) {
    const int err = errno;
    ::close(file);
    return err;
  }
  int err = 0;
  // A free device can be taken by someone else between GET_FREE and the
  // attach (EBUSY): ask again, a bounded number of times.
  for (int attempt = 0; attempt < 16; ++attempt) {
    const int n = ::ioctl(control, LOOP_CTL_GET_FREE);
    if (n < 0) {
      err = errno;
      break;
    }
    const std::string node = "/dev/loop" + std::to_string(n);
    const int loop = ::open(node.c_str(), O_RDONLY | O_CLOEXEC);
    if (loop < 0) {
      err = errno;
      break;
    }
    // No LO_FLAGS_AUTOCLEAR: it detaches the device on the last close, which
    // is the close below, before anything has mounted it. The root is never
    // detached anyway.
    loop_config config{};
    config.fd = static_cast<__u32>(file);
    config.info.lo_flags = LO_FLAGS_READ_ONLY;
    config.info.lo_offset = offset;
    config.info.lo_sizelimit = size;
    int rc = ::ioctl(loop, LOOP_CONFIGURE, &config);
    if (rc != 0 && errno == EINVAL) { // before Linux 5.8
      rc = ::ioctl(loop, LOOP_SET_FD, file);
      if (rc == 0) {
        loop_info64 info{};
        info.lo_offset = offset;
        info.lo_sizelimit = size;
        rc = ::ioctl(loop, LOOP_SET_STATUS64, &info);
      }
    }
    err = rc == 0 ? 0 : errno;
    ::close(loop);
    if (err == EBUSY)
      continue;
    if (err == 0)
      device = node;
    break;
  }
  ::close(control);
  ::close(file);
  return err;
}

int LinuxSys::realpath(const std::string& path, std::string& out) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf))
    return errno;
  out = buf;
  return 0;
}

int LinuxSys::finit_module(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  const long r = ::syscall(SYS_finit_module, fd, "", flags);
  const int err = r == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

int LinuxSys::spawn(const std::string& path, const std::vector<std::string>& argv,
                    const std::vector<std::string>& extra_env, int& pid) {
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e)
    env_strings.emplace_back(*e);
  for (const std::string& e : extra_env)
    env_strings.push_back(e);
  std::vector<char*> c_args = c_argv(argv);
  std::vector<char*> c_env = c_argv(env_strings);
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  const pid_t child = ::fork();
  if (child < 0)
    return errno;
  if (child == 0) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0 && null_fd != 0) {
      ::dup2(null_fd, 0);
      ::close(null_fd);
    }
    ::execve(path.c_str(), c_args.data(), c_env.data());
    ::_exit(127);
  }
  pid = child;
  return 0;
}

ChildStatus LinuxSys::poll_child(int pid) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r != pid)
    return {};
  if (WIFEXITED(status))
    return {true, WEXITSTATUS(status)};
  return {true, 128 + WTERMSIG(status)};
}

namespace {

// The forwarder child's whole life: reopen both ends every second until they
// open, then copy records; the host closing the tty (EIO) ends it.
[[noreturn]] void forward_kmsg() {
  for (;;) {
    const int kmsg = ::open("/dev/kmsg", O_RDONLY | O_CLOEXEC);
    const int tty = ::open("/dev/ttyGS0", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (kmsg >= 0 && tty >= 0) {
      // Raw: no echo of what the host sends (an echoing host terminal would
      // otherwise bounce the log back and forth), no output rewriting.
      termios mode{};
      if (::tcgetattr(tty, &mode) == 0) {
        ::cfmakeraw(&mode);
        ::tcsetattr(tty, TCSANOW, &mode);
      }
      char record[8192];
      for (;;) {
        const ssize_t n = ::read(kmsg, record, sizeof record);
        if (n < 0) {
          if (errno == EINTR || errno == EPIPE) // EPIPE: older records were overwritten
            continue;
          break;
        }
        std::optional<std::string> line =
            format_kmsg_record(std::string_view(record, static_cast<std::size_t>(n)));
        if (!line)
          continue;
        const int err = write_all(tty, *line);
        if (err == EIO)
          ::_exit(0);
        if (err != 0)
          break;
      }
    }
    if (kmsg >= 0)
      ::close(kmsg);
    if (tty >= 0)
      ::close(tty);
    ::sleep(1);
  }
}

} // namespace

int LinuxSys::start_kmsg_forwarder(int& pid) {
  const pid_t child = ::fork();
  if (child < 0)
    return errno;
  if (child == 0) {
    const int null_fd = ::open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
      for (int fd = 0; fd <= 2; ++fd)
        ::dup2(null_fd, fd);
      if (null_fd > 2)
        ::close(null_fd);
    }
    forward_kmsg();
  }
  pid = child;
  return 0;
}

int LinuxSys::chdir(const std::string& path) {
  return ::chdir(path.c_str()) == 0 ? 0 : errno;
}

int LinuxSys::chroot(const std::string& path) {
  return ::chroot(path.c_str()) == 0 ? 0 : errno;
}

int LinuxSys::exec(const std::string& path, const std::vector<std::string>& argv) {
  std::vector<char*> c_args = c_argv(argv);
  ::execve(path.c_str(), c_args.data(), environ);
  return errno;
}

int LinuxSys::random_bytes(std::uint8_t* out, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::getrandom(out, n, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    out += r;
    n -= static_cast<std::size_t>(r);
  }
  return 0;
}

void LinuxSys::sleep_ms(unsigned ms) {
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

std::uint64_t LinuxSys::now_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000 +
         static_cast<std::uint64_t>(ts.tv_nsec) / 1000000;
}

void LinuxSys::attach_console() {
  // The kernel opens /dev/console for init only if the node existed when it
  // started; with devtmpfs mounted now, make sure stdio reaches the console.
  if (::fcntl(1, F_GETFD) < 0 || ::fcntl(2, F_GETFD) < 0) {
    const int fd = ::open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd >= 0) {
      for (int target = 0; target <= 2; ++target)
        if (::fcntl(target, F_GETFD) < 0)
          ::dup2(fd, target);
      if (fd > 2)
        ::close(fd);
    }
  }
  m_kmsg_ready = true;
}

void LinuxSys::log(std::string_view line, bool error) {
  std::string text(line);
  text += '\n';
  write_all(2, text);
  if (!m_kmsg_ready)
    return;
  // One open per line, like upstream: the kernel rate-limits writes per open
  // file (10 lines per 5 s), which would drop most of the step log.
  const int kmsg = ::open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (kmsg < 0)
    return;
  write_all(kmsg, (error ? "<2>" : "<6>") + text); // <2> critical: the failure line
  ::close(kmsg);
}

void LinuxSys::terminate(stage0::OnFailure action) {
  ::sync();
  if (action == stage0::OnFailure::Reboot)
    ::reboot(RB_AUTOBOOT);
  else if (action == stage0::OnFailure::Halt)
    ::reboot(RB_HALT_SYSTEM);
  // Panic (and a reboot/halt the kernel refused): PID1 exiting panics the kernel.
  ::_exit(1);
}

} // namespace fastboop::stage0_init
