/* The example rootfs's /sbin/init: proves that stage0 switched root into the
 * distro image, then powers the machine off. Static, no libc start-up beyond
 * what -static gives. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

static void read_attr(const char* path, char* out, size_t size) {
  snprintf(out, size, "?");
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return;
  ssize_t n = read(fd, out, size - 1);
  close(fd);
  out[n > 0 ? n : 0] = 0;
  out[strcspn(out, "\n")] = 0;
}

/* Under test (QEMU with dummy_hcd as the UDC) the host side of the stage0
 * gadget lives in this same kernel: report what it enumerated, waiting a
 * bounded time for it. On a real device there is no dummy_hcd: nothing. */
static void report_dummy_host(void) {
  mount("sysfs", "/sys", "sysfs", 0, NULL); /* EBUSY when stage0 moved it here */
  if (access("/sys/bus/platform/devices/dummy_hcd.0", F_OK) != 0)
    return;
  const char* intf = "/sys/bus/usb/devices/1-1:1.0/bInterfaceProtocol";
  for (int i = 0; i < 100 && access(intf, F_OK) != 0; ++i)
    usleep(100000);
  char vid[16], pid[16], serial[64], cls[8], sub[8], proto[8];
  read_attr("/sys/bus/usb/devices/1-1/idVendor", vid, sizeof vid);
  read_attr("/sys/bus/usb/devices/1-1/idProduct", pid, sizeof pid);
  read_attr("/sys/bus/usb/devices/1-1/serial", serial, sizeof serial);
  read_attr("/sys/bus/usb/devices/1-1:1.0/bInterfaceClass", cls, sizeof cls);
  read_attr("/sys/bus/usb/devices/1-1:1.0/bInterfaceSubClass", sub, sizeof sub);
  read_attr("/sys/bus/usb/devices/1-1:1.0/bInterfaceProtocol", proto, sizeof proto);
  printf("=== FASTBOOP-ROOTFS-USB: 1-1 id %s:%s serial %s interface %s/%s/%s ===\n", vid, pid, serial,
         cls, sub, proto);
}

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
  report_dummy_host();
  printf("=== FASTBOOP-ROOTFS-INIT-MARKER: pid %d, kernel %s, root switched ===\n", (int)getpid(), kver);
  fflush(stdout);
  sync();
  reboot(RB_POWER_OFF);
  return 0;
}
