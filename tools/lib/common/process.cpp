#include "common/process.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace fastboop {

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos)
    return ::access(name.c_str(), X_OK) == 0 ? name : std::string();
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty())
      continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return {};
}

namespace {

Error missing_program(const std::string& name, const std::string& debian_package) {
  std::string msg = "program '" + name + "' not found on PATH";
  if (!debian_package.empty())
    msg += " (apt-get install " + debian_package + ")";
  return Error(msg, ErrorKind::Io);
}

// The parent's ends of the child's stdin, stdout and stderr; -1 once closed.
struct ChildPipes {
  int in = -1, out = -1, err = -1;
};

// Starts `exe` with its standard streams on fresh pipes, whose parent ends
// are left in `pipes`.
Result<pid_t> spawn_child(const std::string& exe, const std::vector<std::string>& argv,
                          ChildPipes& pipes) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) || ::pipe2(err_pipe, O_CLOEXEC))
    return Error(std::string("pipe: ") + std::strerror(errno), ErrorKind::Io);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> cargv;
  for (const auto& a : argv)
    cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return Error("cannot run " + exe + ": " + std::strerror(rc), ErrorKind::Io);
  }
  pipes = {in_pipe[1], out_pipe[0], err_pipe[0]};
  return pid;
}

// Writes what the child's stdin takes now; closes it when all is written or
// the child stopped reading.
void feed_stdin(int& in_fd, ByteSpan data, std::size_t& written) {
  ssize_t w = ::write(in_fd, data.data() + written, data.size() - written);
  if (w > 0)
    written += static_cast<std::size_t>(w);
  bool again = w < 0 && (errno == EAGAIN || errno == EINTR);
  if ((w < 0 && !again) || written == data.size()) {
    ::close(in_fd);
    in_fd = -1;
  }
}

// One read into `sink`; false at end of file or on error.
template <typename Sink> bool drain_once(int fd, Sink&& sink) {
  char buf[65536];
  ssize_t r = ::read(fd, buf, sizeof buf);
  if (r <= 0)
    return false;
  sink(buf, static_cast<std::size_t>(r));
  return true;
}

// Feeds stdin and drains both outputs together so neither side blocks.
void exchange(int& in_fd, const ChildPipes& pipes, ByteSpan stdin_data, ProcessOutput& result) {
  std::size_t written = 0;
  bool out_open = true, err_open = true;
  while (out_open || err_open || in_fd >= 0) {
    pollfd fds[3];
    int n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in_fd >= 0) {
      idx_in = n;
      fds[n++] = {in_fd, POLLOUT, 0};
    }
    if (out_open) {
      idx_out = n;
      fds[n++] = {pipes.out, POLLIN, 0};
    }
    if (err_open) {
      idx_err = n;
      fds[n++] = {pipes.err, POLLIN, 0};
    }
    if (::poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (idx_in >= 0 && fds[idx_in].revents)
      feed_stdin(in_fd, stdin_data, written);
    if (idx_out >= 0 && fds[idx_out].revents)
      out_open = drain_once(pipes.out, [&](const char* b, std::size_t len) {
        result.out.insert(result.out.end(), b, b + len);
      });
    if (idx_err >= 0 && fds[idx_err].revents)
      err_open =
          drain_once(pipes.err, [&](const char* b, std::size_t len) { result.err.append(b, len); });
  }
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace

Result<ProcessOutput> run_process(const std::vector<std::string>& argv, ByteSpan stdin_data,
                                  const std::string& debian_package) {
  if (argv.empty())
    return Error("run_process: empty command", ErrorKind::Usage);
  std::string exe = find_program(argv[0]);
  if (exe.empty())
    return missing_program(argv[0], debian_package);
  ChildPipes pipes;
  const pid_t pid = TRY(spawn_child(exe, argv, pipes));

  ProcessOutput result;
  int in_fd = pipes.in;
  // Non-blocking, so a large write cannot block while the child waits for us
  // to drain its stdout.
  ::fcntl(in_fd, F_SETFL, ::fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  if (stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
  exchange(in_fd, pipes, stdin_data, result);
  ::sigaction(SIGPIPE, &old, nullptr);
  if (in_fd >= 0)
    ::close(in_fd);
  ::close(pipes.out);
  ::close(pipes.err);
  result.exit_code = wait_exit_code(pid);
  return result;
}

} // namespace fastboop
