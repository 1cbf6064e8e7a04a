// Helpers shared by every test binary: scratch directories, running the real
// peer tools, locating the source/build trees, and skip-vs-fail policy.
#pragma once

#include "common/bytes.hpp"
#include "common/process.hpp"

#include <chrono>
#include <filesystem>
#include <gtest/gtest.h>
#include <string>
#include <sys/types.h>
#include <vector>

namespace fastboop::test {

// A fresh directory under $TMPDIR, removed at destruction (kept when
// FASTBOOP_KEEP_TMP=1, for debugging).
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }
  std::filesystem::path operator/(const std::string& name) const { return m_path / name; }

private:
  std::filesystem::path m_path;
};

std::filesystem::path source_dir(); // $FASTBOOP_SOURCE_DIR
std::filesystem::path binary_dir(); // $FASTBOOP_BINARY_DIR
// Path to a built tool in the build tree, e.g. tool_path("fastboop-profile").
std::filesystem::path tool_path(const std::string& name);

// Run argv; fails the test (returns exit -1) if the program cannot start.
ProcessOutput run(const std::vector<std::string>& argv, ByteSpan stdin_data = {});
// Run through /bin/sh -c.
ProcessOutput sh(const std::string& script);

void write_file(const std::filesystem::path& path, std::string_view content);
void write_file(const std::filesystem::path& path, ByteSpan content);
Bytes read_file(const std::filesystem::path& path);
Bytes random_bytes(std::size_t n, std::uint32_t seed);
// Bytes from lowercase hex, anything else (spaces, newlines, offsets' colons)
// skipped: the spec's byte examples pasted as they are printed.
Bytes hex_bytes(std::string_view text);
// The bytes of a string, and parts joined: record fixtures.
Bytes bytes_of(std::string_view text);
Bytes concat(std::initializer_list<Bytes> parts);

// True when `program` is on PATH.
bool have_program(const std::string& program);

// QEMU tests skip on a machine without QEMU (or its kernel, payloads), and
// fail instead under FASTBOOP_REQUIRE_QEMU=1 (.ci/run).
bool qemu_required();

// Starts argv[0] (PATH lookup) with stdin from /dev/null and stdout+stderr
// into `log`; returns the child's pid (QEMU runs in the background this way).
pid_t spawn_logged(const std::vector<std::string>& argv, const std::filesystem::path& log);

// A whole file as text ("" when it cannot be read: logs that may not exist).
std::string read_text(const std::filesystem::path& path);

// The accelerator a guest of `qemu_binary` may use here ("kvm" or "tcg"), as
// tests/support/qemu-accel.sh decides it: KVM only after a probe guest proved
// it runs. Every QEMU launch in the tests goes through this (or the script).
std::string qemu_accel(const std::string& qemu_binary);

// A QEMU guest in the background: `binary -M machine,accel=<qemu_accel()>
// args…`, its console (stdout + stderr) in `log`; killed at destruction.
// Every wait is bounded; on a timeout, describe_timeout() says which
// accelerator ran and shows the guest's last console lines.
class QemuGuest {
public:
  QemuGuest(const std::string& binary, const std::string& machine,
            const std::vector<std::string>& args, std::filesystem::path log);
  ~QemuGuest();
  QemuGuest(const QemuGuest&) = delete;
  QemuGuest& operator=(const QemuGuest&) = delete;

  // True when QEMU exited by itself within `timeout`; otherwise it is killed.
  bool wait_exit(std::chrono::seconds timeout);
  // True when the console log contains `text` within `timeout` (or already
  // did when QEMU exited). QEMU keeps running.
  bool wait_for(const std::string& text, std::chrono::seconds timeout);
  std::string log() const; // the console so far, CR LF folded to LF
  const std::string& accel() const { return m_accel; }
  // "QEMU (accel=tcg) did not finish within 240 s; last console lines: …"
  std::string describe_timeout(std::size_t lines = 40) const;

private:
  void kill_now();
  std::filesystem::path m_log;
  std::string m_accel;
  std::chrono::seconds m_waited{0};
  pid_t m_pid = -1;
};

} // namespace fastboop::test

#define FASTBOOP_SKIP_OR_FAIL_QEMU(message)                                                        \
  do {                                                                                             \
    if (::fastboop::test::qemu_required())                                                         \
      FAIL() << (message) << " (FASTBOOP_REQUIRE_QEMU=1)";                                         \
    GTEST_SKIP() << (message);                                                                     \
  } while (0)

// Skip when a peer tool is missing — unless FASTBOOP_REQUIRE_TOOLS=1 (set by
// .ci/run), where a missing tool is a failure, so CI can never pass by skipping.
#define FASTBOOP_REQUIRE_PROGRAM(program)                                                          \
  do {                                                                                             \
    if (!::fastboop::test::have_program(program)) {                                                \
      const char* strict = std::getenv("FASTBOOP_REQUIRE_TOOLS");                                  \
      if (strict && std::string(strict) == "1")                                                    \
        FAIL() << "required program '" << (program) << "' is missing (FASTBOOP_REQUIRE_TOOLS=1)";  \
      GTEST_SKIP() << "program '" << (program) << "' not installed";                               \
    }                                                                                              \
  } while (0)
