// /sbin/init of the rootfs in the smoo whole-chain test: stage0's PID1 execs
// it after mounting /dev/ublkb0 (served by fastboop-push over dummy_hcd) as
// the lower root and switching into the overlay. It reports what it sees and
// reads a file whose content only the served image holds, then powers off.
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

int main(void) {
  char root_fstype[64] = "-", line[512], marker[128] = "-";
  FILE* mi = fopen("/proc/self/mountinfo", "r");
  while (mi && fgets(line, sizeof line, mi)) {
    char mount_point[256], fstype[64];
    const char* dash = strstr(line, " - ");
    if (dash && sscanf(line, "%*s %*s %*s %*s %255s", mount_point) == 1 &&
        sscanf(dash + 3, "%63s", fstype) == 1 && !strcmp(mount_point, "/"))
      snprintf(root_fstype, sizeof root_fstype, "%s", fstype);
  }
  if (mi)
    fclose(mi);
  FILE* m = fopen("/etc/smoo-root-marker", "r");
  if (m) {
    if (fgets(marker, sizeof marker, m))
      marker[strcspn(marker, "\n")] = 0;
    fclose(m);
  }
  // The lower root (/dev/ublkb0) is mounted outside this chroot; its reads
  // show in sysfs.
  unsigned long long ios = 0, merges = 0, sectors = 0;
  FILE* st = fopen("/sys/block/ublkb0/stat", "r");
  if (st) {
    if (fscanf(st, "%llu %llu %llu", &ios, &merges, &sectors) != 3)
      sectors = 0;
    fclose(st);
  }
  printf("SMOO-ROOT-INIT: pid=%d root=%s marker=%s ublkb0-read-bytes=%llu\n", (int)getpid(),
         root_fstype, marker, sectors * 512);
  fflush(stdout);
  sync();
  reboot(RB_POWER_OFF);
  for (;;)
    pause();
}
