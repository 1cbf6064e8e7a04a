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

Result<ProcessOutput> run_process(const std::vector<std::string>& argv, ByteSpan stdin_data,
                                  const std::string& debian_package) {
  if (argv.empty())
    return Error("run_process: empty command", ErrorKind::Usage);
  std::string exe = find_program(argv[0]);
  if (exe.empty()) {
    std::string msg = "program '" + argv[0] + "' not found on PATH";
    if (!debian_package.empty())
      msg += " (apt-get install " + debian_package + ")";
    return Error(msg, ErrorKind::Io);
  }
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

  // Feed stdin and drain both outputs together so neither side blocks.
  ProcessOutput result;
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  // Non-blocking, so a large write cannot block while the child waits for us
  // to drain its stdout.
  ::fcntl(in_fd, F_SETFL, ::fcntl(in_fd, F_GETFL) | O_NONBLOCK);
  if (stdin_data.empty()) {
    ::close(in_fd);
    in_fd = -1;
  }
  struct sigaction ign {}, old {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);
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
      fds[n++] = {out_pipe[0], POLLIN, 0};
    }
    if (err_open) {
      idx_err = n;
      fds[n++] = {err_pipe[0], POLLIN, 0};
    }
    if (::poll(fds, static_cast<nfds_t>(n), -1) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (idx_in >= 0 && fds[idx_in].revents) {
      ssize_t w = ::write(in_fd, stdin_data.data() + written, stdin_data.size() - written);
      if (w > 0)
        written += static_cast<std::size_t>(w);
      bool again = w < 0 && (errno == EAGAIN || errno == EINTR);
      if ((w < 0 && !again) || written == stdin_data.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
    char buf[65536];
    if (idx_out >= 0 && fds[idx_out].revents) {
      ssize_t r = ::read(out_pipe[0], buf, sizeof buf);
      if (r > 0)
        result.out.insert(result.out.end(), buf, buf + r);
      else
        out_open = false;
    }
    if (idx_err >= 0 && fds[idx_err].revents) {
      ssize_t r = ::read(err_pipe[0], buf, sizeof buf);
      if (r > 0)
        result.err.append(buf, static_cast<std::size_t>(r));
      else
        err_open = false;
    }
  }
  ::sigaction(SIGPIPE, &old, nullptr);
  if (in_fd >= 0)
    ::close(in_fd);
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

} // namespace fastboop
