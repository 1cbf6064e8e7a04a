/* A tiny static PID 1 for the U-Boot end-to-end test: print a marker on the
 * console and power off, so QEMU (-no-reboot) exits by itself. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void) {
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  int fd = open("/dev/console", O_WRONLY);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  printf("=== FASTBOOP-PUSH-E2E: init reached ===\n");
  fflush(stdout);
  sync();
  reboot(RB_POWER_OFF);
  return 0;
}
