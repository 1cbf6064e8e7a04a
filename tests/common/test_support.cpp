#include "test_support.hpp"

#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <sstream>
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
std::filesystem::path tool_path(const std::string& name) { return binary_dir() / "bin" / name; }

ProcessOutput run(const std::vector<std::string>& argv, ByteSpan stdin_data) {
  auto r = run_process(argv, stdin_data);
  if (!r) {
    ADD_FAILURE() << r.error().message();
    return ProcessOutput{};
  }
  return std::move(r).value();
}

ProcessOutput sh(const std::string& script) { return run({"/bin/sh", "-c", script}); }

void write_file(const std::filesystem::path& path, std::string_view content) {
  write_file(path, as_bytes(content));
}
void write_file(const std::filesystem::path& path, ByteSpan content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
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
bool have_program(const std::string& program) { return !find_program(program).empty(); }

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

} // namespace fastboop::test
