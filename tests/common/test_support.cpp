#include "test_support.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fastboop::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/fastboop-test-XXXXXX";
  if (!::mkdtemp(templ.data()))
    std::abort();
  m_path = templ;
}

TempDir::~TempDir() {
  const char* keep = std::getenv("FASTBOOP_KEEP_TMP");
  if (keep && std::string(keep) == "1")
    return;
  std::error_code ec;
  std::filesystem::remove_all(m_path, ec);
}

std::filesystem::path source_dir() {
  const char* v = std::getenv("FASTBOOP_SOURCE_DIR");
  return v && *v ? v : FASTBOOP_TEST_SOURCE_DIR;
}
std::filesystem::path binary_dir() {
  const char* v = std::getenv("FASTBOOP_BINARY_DIR");
  return v && *v ? v : FASTBOOP_TEST_BINARY_DIR;
}
std::filesystem::path tool_path(const std::string& name) {
  return binary_dir() / "bin" / name;
}

ProcessOutput run(const std::vector<std::string>& argv, ByteSpan stdin_data) {
  auto r = run_process(argv, stdin_data);
  if (!r) {
    ADD_FAILURE() << r.error().message();
    return ProcessOutput{};
  }
  return std::move(r).value();
}

ProcessOutput sh(const std::string& script) {
  return run({"/bin/sh", "-c", script});
}

void write_file(const std::filesystem::path& path, std::string_view content) {
  write_file(path, as_bytes(content));
}
void write_file(const std::filesystem::path& path, ByteSpan content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(content.data()),
          static_cast<std::streamsize>(content.size()));
}
Bytes read_file(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
Bytes random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  Bytes out(n);
  for (auto& b : out)
    b = static_cast<std::uint8_t>(gen());
  return out;
}
bool have_program(const std::string& program) {
  return !find_program(program).empty();
}

bool qemu_required() {
  const char* v = std::getenv("FASTBOOP_REQUIRE_QEMU");
  return v && std::string(v) == "1";
}

pid_t spawn_logged(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int in = ::open("/dev/null", O_RDONLY);
    int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    std::vector<char*> c;
    for (const auto& a : argv)
      c.push_back(const_cast<char*>(a.c_str()));
    c.push_back(nullptr);
    ::execvp(c[0], c.data());
    ::_exit(127);
  }
  return pid;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string qemu_accel(const std::string& qemu_binary) {
  // The script logs its verdict and reason on stderr; pass that on so a
  // test's output says which accelerator its guest had.
  auto r = run({(source_dir() / "tests/support/qemu-accel.sh").string(), qemu_binary});
  std::string accel(as_chars(r.out));
  while (!accel.empty() && (accel.back() == '\n' || accel.back() == '\r'))
    accel.pop_back();
  std::fputs(r.err.c_str(), stderr);
  if (r.exit_code != 0 || (accel != "kvm" && accel != "tcg")) {
    ADD_FAILURE() << "tests/support/qemu-accel.sh " << qemu_binary << " failed: " << r.err;
    return "tcg";
  }
  return accel;
}

QemuGuest::QemuGuest(const std::string& binary, const std::string& machine,
                     const std::vector<std::string>& args, std::filesystem::path log)
    : m_log(std::move(log)), m_accel(qemu_accel(binary)) {
  std::vector<std::string> argv = {binary, "-M", machine + ",accel=" + m_accel};
  argv.insert(argv.end(), args.begin(), args.end());
  m_pid = spawn_logged(argv, m_log);
}

QemuGuest::~QemuGuest() {
  kill_now();
}

void QemuGuest::kill_now() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
  }
}

bool QemuGuest::wait_exit(std::chrono::seconds timeout) {
  m_waited = timeout;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (m_pid > 0 && std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(m_pid, nullptr, WNOHANG) == m_pid) {
      m_pid = -1;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const bool exited = m_pid <= 0;
  kill_now();
  return exited;
}

bool QemuGuest::wait_for(const std::string& text, std::chrono::seconds timeout) {
  m_waited = timeout;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (log().find(text) != std::string::npos)
      return true;
    if (m_pid > 0 && ::waitpid(m_pid, nullptr, WNOHANG) == m_pid)
      m_pid = -1;
    if (m_pid <= 0)
      return log().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string QemuGuest::log() const {
  std::string text = read_text(m_log);
  std::erase(text, '\r');
  return text;
}

std::string QemuGuest::describe_timeout(std::size_t lines) const {
  const std::string text = log();
  std::size_t start = text.size();
  for (std::size_t n = 0; start > 0 && n <= lines;)
    if (text[--start] == '\n')
      ++n;
  return "QEMU (accel=" + m_accel + ") did not finish within " + std::to_string(m_waited.count()) +
         " s; last console lines (" + m_log.string() + "):\n" + text.substr(start);
}

Bytes hex_bytes(std::string_view text) {
  Bytes out;
  int nibble = -1;
  for (char c : text) {
    const int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0)
      continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(nibble * 16 + v));
      nibble = -1;
    }
  }
  return out;
}

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

} // namespace fastboop::test
