/* The example rootfs's /sbin/init: proves that stage0 switched root into the
 * distro image, then powers the machine off. Static, no libc start-up beyond
 * what -static gives. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void) {
  int fd = open("/dev/console", O_WRONLY);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  mount("proc", "/proc", "proc", 0, NULL);
  char kver[256] = "?";
  int v = open("/proc/sys/kernel/osrelease", O_RDONLY);
  if (v >= 0) {
    ssize_t n = read(v, kver, sizeof kver - 1);
    kver[n > 0 ? n - 1 : 0] = 0;
    close(v);
  }
  printf("=== FASTBOOP-ROOTFS-INIT-MARKER: pid %d, kernel %s, root switched ===\n", (int)getpid(), kver);
  fflush(stdout);
  sync();
  reboot(RB_POWER_OFF);
  return 0;
}
