// A recording, in-memory Sys for the PID1 host tests. Paths live in one map;
// MS_MOVE onto "/" and chroot move a path prefix, which is all the PID1's
// switch-root needs. Every call is appended to `calls` as one text line, and
// hooks let a test make the kernel react (a UDC appears after a module loads,
// ep1 appears after the gadget starts, ...).
#pragma once

#include "sys.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0_init::test {

struct FakeNode {
  FileType type = FileType::Regular;
  std::string content; // file data, or symlink target
};

class FakeSys : public Sys {
public:
  FakeSys();

  // Setup helpers (paths as the PID1 sees them before any chroot).
  void add_dir(const std::string& path);
  void add_file(const std::string& path, std::string content);
  void add_node(const std::string& path, FileType type, std::string content = {});
  void remove(const std::string& path);
  bool has(const std::string& path) const; // in the raw (un-chrooted) namespace
  const FakeNode* node(const std::string& raw_path) const;

  // What happened.
  std::vector<std::string> calls;
  std::vector<std::string> log_lines;
  std::vector<std::string> error_lines;
  std::optional<stage0::OnFailure> terminated;
  std::uint64_t clock_ms = 0;
  std::string root = ""; // raw prefix of the current "/"

  // Behaviour.
  std::function<int(const std::string& path, int flags)> on_finit_module;
  std::function<void(const std::vector<std::string>& argv)> on_spawn;
  std::function<void(const std::string& path, const std::string& value)> on_write;
  std::function<void(std::uint64_t now_ms)> on_sleep;
  std::map<std::string, int> mount_errors;                    // target -> errno
  // A block device's open: errno (e.g. ENXIO while a ublk disk starts), else
  // its size from block_sizes (default 64 MiB).
  std::function<int(const std::string& path)> on_block_open;
  std::map<std::string, std::uint64_t> block_sizes;
  std::function<int(const std::string& path)> on_write_error; // errno for a write, or 0
  std::optional<ChildStatus> child_status;                    // what poll_child reports
  int exec_result = 0;
  int fail_loop_attach = 0; // errno every loop_attach returns, or 0

  int mount(const std::string& source, const std::string& target, const std::string& fstype,
            unsigned long flags, const std::string& data) override;
  int mkdir(const std::string& path, unsigned mode) override;
  int symlink(const std::string& target, const std::string& link) override;
  int unlink(const std::string& path) override;
  int chmod(const std::string& path, unsigned mode) override;
  int write_file(const std::string& path, std::string_view data, Create create,
                 unsigned mode) override;
  int read_file(const std::string& path, std::string& out, std::size_t limit) override;
  int list_dir(const std::string& path, std::vector<DirEntry>& out) override;
  FileType stat(const std::string& path) override;
  FileType lstat(const std::string& path) override;
  int block_device_size(const std::string& path, std::uint64_t& bytes) override;
  // Records the call; a regular file gets /dev/loop<n> (a block device node).
  int loop_attach(const std::string& path, std::uint64_t offset, std::uint64_t size,
                  std::string& device) override;
  int realpath(const std::string& path, std::string& out) override;
  int finit_module(const std::string& path, int flags) override;
  int spawn(const std::string& path, const std::vector<std::string>& argv,
            const std::vector<std::string>& extra_env, int& pid) override;
  ChildStatus poll_child(int pid) override;
  int start_kmsg_forwarder(int& pid) override;
  int chdir(const std::string& path) override;
  int chroot(const std::string& path) override;
  int exec(const std::string& path, const std::vector<std::string>& argv) override;
  int random_bytes(std::uint8_t* out, std::size_t n) override;
  void sleep_ms(unsigned ms) override;
  std::uint64_t now_ms() override;
  void attach_console() override;
  void log(std::string_view line, bool error) override;
  void terminate(stage0::OnFailure action) override;

private:
  std::string raw(const std::string& path) const; // apply the root prefix
  std::string parent(const std::string& raw_path) const;
  const FakeNode* follow(const std::string& raw_path) const;

  std::map<std::string, FakeNode> m_nodes;    // raw path -> node
  std::string m_cwd = "/";                    // raw
  std::map<std::string, std::string> m_binds; // raw target -> raw source
  int m_loops = 0;                            // loop devices attached so far
};

} // namespace fastboop::stage0_init::test
