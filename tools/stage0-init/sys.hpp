// The seam between the PID1's logic and the kernel. Everything the runtime
// does to the system goes through Sys, so the host tests can run the whole
// boot sequence against a recording fake (tests/stage0-init/fake_sys.hpp).
// Calls return 0 or an errno value; nothing throws.
#pragma once

#include "stage0_settings/stage0_settings.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::stage0_init {

enum class FileType { Missing, Regular, Directory, Symlink, BlockDevice, CharDevice, Other };

struct DirEntry {
  std::string name;
  FileType type = FileType::Other; // as lstat sees it
};

enum class Create { No, Yes };

struct ChildStatus {
  bool exited = false;
  int status = 0; // exit code, or 128 + signal
};

// mount(2) flags used by the runtime (values as in <sys/mount.h>).
inline constexpr unsigned long kMsRdonly = 1;
inline constexpr unsigned long kMsBind = 4096;
inline constexpr unsigned long kMsMove = 8192;
inline constexpr unsigned long kMsRec = 16384;
inline constexpr unsigned long kMsPrivate = 1ul << 18;
// finit_module(2) flag: the kernel decompresses the module file.
inline constexpr int kModuleInitCompressedFile = 4;

class Sys {
public:
  virtual ~Sys() = default;

  // An empty source, fstype or data is passed as NULL.
  virtual int mount(const std::string& source, const std::string& target, const std::string& fstype,
                    unsigned long flags, const std::string& data) = 0;
  virtual int mkdir(const std::string& path, unsigned mode) = 0;
  virtual int symlink(const std::string& target, const std::string& link) = 0;
  virtual int unlink(const std::string& path) = 0;
  virtual int chmod(const std::string& path, unsigned mode) = 0;
  // Create::No opens an existing file (configfs/sysfs attributes); Create::Yes
  // creates or truncates a regular file with `mode`.
  virtual int write_file(const std::string& path, std::string_view data, Create create,
                         unsigned mode) = 0;
  // Reads at most `limit` bytes.
  virtual int read_file(const std::string& path, std::string& out, std::size_t limit) = 0;
  virtual int list_dir(const std::string& path, std::vector<DirEntry>& out) = 0;
  virtual FileType stat(const std::string& path) = 0;  // follows symlinks
  virtual FileType lstat(const std::string& path) = 0; // does not
  // Opens a block device read-only and reads its size (BLKGETSIZE64): 0, or
  // the errno of the open or ioctl (ENXIO while a ublk disk is still starting).
  virtual int block_device_size(const std::string& path, std::uint64_t& bytes) = 0;
  // Attaches a read-only loop device to `path` (a regular file or a block
  // device; LOOP_CONFIGURE, else LOOP_SET_FD on older kernels), showing the
  // `size` bytes from `offset` (size 0: to the end), and names its node in
  // `device`.
  virtual int loop_attach(const std::string& path, std::uint64_t offset, std::uint64_t size,
                          std::string& device) = 0;
  virtual int realpath(const std::string& path, std::string& out) = 0;
  virtual int finit_module(const std::string& path, int flags) = 0;
  // Starts `path` with `argv`, the inherited environment plus `extra_env`,
  // stdin on /dev/null and stdout/stderr inherited.
  virtual int spawn(const std::string& path, const std::vector<std::string>& argv,
                    const std::vector<std::string>& extra_env, int& pid) = 0;
  virtual ChildStatus poll_child(int pid) = 0; // non-blocking
  // Starts the child that copies /dev/kmsg to the CDC-ACM tty /dev/ttyGS0.
  virtual int start_kmsg_forwarder(int& pid) = 0;
  virtual int chdir(const std::string& path) = 0;
  virtual int chroot(const std::string& path) = 0;
  // Replaces the process (inherited environment); returns only on failure.
  // The fake returns 0 to mean "would have replaced the process".
  virtual int exec(const std::string& path, const std::vector<std::string>& argv) = 0;
  virtual int random_bytes(std::uint8_t* out, std::size_t n) = 0;
  virtual void sleep_ms(unsigned ms) = 0;
  virtual std::uint64_t now_ms() = 0;
  // Called once /dev is mounted: from then on log lines also reach /dev/kmsg,
  // and stdio is pointed at /dev/console if the kernel gave init none.
  virtual void attach_console() = 0;
  // One line to the console and /dev/kmsg (no newline in `line`).
  virtual void log(std::string_view line, bool error) = 0;
  // Does not return in the real implementation.
  virtual void terminate(stage0::OnFailure action) = 0;
};

// A readable "what: strerror (errno N)".
std::string errno_text(int err);

} // namespace fastboop::stage0_init
