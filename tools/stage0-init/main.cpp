// fastboop-stage0-init: the static /init of a fastboop stage0 initramfs.
// Thin: everything happens in run_pid1() (pid1.cpp) through LinuxSys.
#include "pid1.hpp"
#include "sys_linux.hpp"

#include <cstring>
#include <unistd.h>

namespace {

constexpr char kUsage[] =
    "Usage: /init  (as PID 1 inside a fastboop stage0 initramfs)\n"
    "\n"
    "fastboop-stage0-init mounts the API filesystems, loads the modules listed in\n"
    "/etc/modules-load.d/fastboop-stage0.conf, exposes the USB gadget for\n"
    "/bin/smoo-gadget (or uses stage0.root_device), mounts the root as an\n"
    "overlay, switches into it and execs its init. Settings: /etc/stage0/<key>.\n"
    "Arguments given by the bootloader are ignored.\n";

void say(const char* text) {
  const ssize_t ignored = ::write(2, text, std::strlen(text));
  (void)ignored;
}

} // namespace

int main(int argc, char** argv) {
  using namespace fastboop::stage0_init;
  if (::getpid() != 1) {
    if (argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
      say(kUsage);
      return 0;
    }
    say("fastboop-stage0-init: must run as PID 1 (the /init of a stage0 initramfs)\n");
    return 1;
  }
  LinuxSys sys;
  const RunResult result = run_pid1(sys);
  // Only a failed step gets here: a successful run ends in exec.
  sys.terminate(result.on_failure);
  return 1;
}
