// Sys over the real Linux system calls (used by the PID1 binary only).
#pragma once

#include "sys.hpp"

namespace fastboop::stage0_init {

class LinuxSys final : public Sys {
public:
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
  bool m_kmsg_ready = false; // /dev is mounted
};

} // namespace fastboop::stage0_init
