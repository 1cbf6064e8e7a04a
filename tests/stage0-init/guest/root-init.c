// The init of the test root filesystem (ext4/erofs image on a virtio disk).
// The stage0 PID1 execs it after switching root; it reports what it sees and
// powers the machine off.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

static void read_text(const char *path, char *out, size_t n) {
  strcpy(out, "-");
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  ssize_t r = read(fd, out, n - 1);
  close(fd);
  if (r < 0) r = 0;
  out[r] = 0;
  while (r > 0 && out[r - 1] == '\n') out[--r] = 0;
}

int main(void) {
  printf("ROOT-INIT: running as pid %d\n", (int)getpid());
  fflush(stdout);
  // With a gadget, wait (bounded) until the stand-in saw the host enumerate it,
  // so the serial log shows both before the machine powers off.
  int enumerated = 0;
  if (access("/run/smoo", F_OK) == 0)
    for (int i = 0; i < 150 && !enumerated; ++i) {
      enumerated = access("/run/smoo/standin-enumerated", F_OK) == 0;
      if (!enumerated) usleep(100000);
    }
  char machine_id[64], root_line[256] = "-";
  read_text("/run/credstore/system.machine_id", machine_id, sizeof machine_id);
  FILE *mi = fopen("/proc/self/mountinfo", "r");
  char line[512];
  while (mi && fgets(line, sizeof line, mi)) {
    char mount_point[256], fstype[64];
    const char *dash = strstr(line, " - ");
    if (dash && sscanf(line, "%*s %*s %*s %*s %255s", mount_point) == 1 &&
        sscanf(dash + 3, "%63s", fstype) == 1 && !strcmp(mount_point, "/"))
      snprintf(root_line, sizeof root_line, "%s", fstype);
  }
  if (mi) fclose(mi);
  int writable = 0;
  int fd = open("/root-init-was-here", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) { writable = write(fd, "x", 1) == 1; close(fd); }
  printf("ROOT-INIT-MARKER: root-fstype=%s writable=%d fstab=%s machine-id=%s enumerated=%d\n",
         root_line, writable, access("/etc/fstab", F_OK) == 0 ? "present" : "removed", machine_id,
         enumerated);
  fflush(stdout);
  sync();
  reboot(RB_POWER_OFF);
  for (;;) pause();
}
