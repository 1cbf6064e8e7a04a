// Stand-in for /bin/smoo-gadget in the stage0-init QEMU test. It honours the
// part of the smoo-gadget contract the PID1 depends on (spec stage0.md §5.1,
// §5.2): given --ffs-dir, it writes smoo's FunctionFS descriptors (one
// interface, class 0xff, subclass/protocol 0x42/0x03 with --mimic-fastboot,
// else 0x53/0x4d; interrupt IN/OUT, bulk IN/OUT; FS/HS/SS) and strings to
// ep0, then stays up serving ep0 events. When the host configures the device
// it reads the dummy_hcd host side of the enumeration from sysfs, prints it,
// and records it in /run/smoo/standin-enumerated for the root's init.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static unsigned char buf[512];
static size_t len;

static void u8(unsigned v) { buf[len++] = (unsigned char)v; }
static void le16(unsigned v) { u8(v & 0xff); u8(v >> 8); }
static void le32(uint32_t v) { le16(v & 0xffff); le16(v >> 16); }
static void put32_at(size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    buf[at + i] = (unsigned char)(v >> (8 * i));
}

static void interface(unsigned subclass, unsigned protocol) {
  u8(9); u8(4); u8(0); u8(0); u8(4); u8(0xff); u8(subclass); u8(protocol); u8(1);
}
static void endpoint(unsigned address, unsigned attributes, unsigned max_packet, unsigned interval) {
  u8(7); u8(5); u8(address); u8(attributes); le16(max_packet); u8(interval);
}
static void ss_companion(unsigned bytes_per_interval) {
  u8(6); u8(0x30); u8(0); u8(0); le16(bytes_per_interval);
}

// ep1 interrupt IN, ep2 interrupt OUT, ep3 bulk IN, ep4 bulk OUT.
static void endpoints(int speed) { // 0 full, 1 high, 2 super
  const unsigned intr = speed == 0 ? 64 : 1024, bulk = speed == 0 ? 64 : 512;
  endpoint(0x81, 3, intr, 1);
  if (speed == 2) ss_companion(1024);
  endpoint(0x02, 3, intr, 1);
  if (speed == 2) ss_companion(1024);
  endpoint(0x83, 2, bulk, 0);
  if (speed == 2) ss_companion(0);
  endpoint(0x04, 2, bulk, 0);
  if (speed == 2) ss_companion(0);
}

static int read_text(const char *path, char *out, size_t n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  ssize_t r = read(fd, out, n - 1);
  close(fd);
  if (r <= 0) return -1;
  out[r] = 0;
  while (r > 0 && (out[r - 1] == '\n' || out[r - 1] == ' ')) out[--r] = 0;
  return 0;
}

// With the CDC-ACM function, the PID1 forwards /dev/kmsg to ttyGS0: read the
// host end (cdc_acm's /dev/ttyACM0) until a stage0 line arrives (bounded).
static void check_acm_console(void) {
  int fd = -1;
  for (int i = 0; i < 50 && fd < 0; ++i) {
    fd = open("/dev/ttyACM0", O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) usleep(100000);
  }
  if (fd < 0) {
    printf("SMOO-STANDIN-ACM: no /dev/ttyACM0 on the host side\n");
    fflush(stdout);
    return;
  }
  struct termios t;
  if (tcgetattr(fd, &t) == 0) {
    cfmakeraw(&t);
    tcsetattr(fd, TCSANOW, &t);
  }
  static char seen[1 << 16];
  size_t used = 0;
  for (int waited = 0; waited < 100; ++waited) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      ssize_t n = read(fd, seen + used, sizeof seen - 1 - used);
      if (n > 0) used += (size_t)n;
      if (used >= sizeof seen - 1) used = 0; // keep scanning the newest data
      seen[used] = 0;
    }
    char *hit = strstr(seen, "stage0: step smoo");
    if (hit) {
      while (hit > seen && hit[-1] != '\n' && hit[-1] != '\r') --hit; // whole line
      char *end = strpbrk(hit, "\r\n");
      if (end) *end = 0;
      printf("SMOO-STANDIN-ACM: kmsg reached the host over CDC-ACM: %s\n", hit);
      fflush(stdout);
      close(fd);
      return;
    }
  }
  printf("SMOO-STANDIN-ACM: no stage0 line on /dev/ttyACM0 within 10 s (%zu bytes)\n", used);
  fflush(stdout);
  close(fd);
}

// The device dummy_hcd's host side enumerated: a name like "1-1" (not a root
// hub "usbN", not an interface "1-1:1.0").
static int report_host_side(void) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    DIR *d = opendir("/sys/bus/usb/devices");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (!strchr(e->d_name, '-') || strchr(e->d_name, ':')) continue;
      char path[512], vid[16], pid[16], cls[16], sub[16], proto[16], serial[64];
      snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/idVendor", e->d_name);
      if (read_text(path, vid, sizeof vid)) continue;
      snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/idProduct", e->d_name);
      if (read_text(path, pid, sizeof pid)) continue;
      snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/serial", e->d_name);
      if (read_text(path, serial, sizeof serial)) strcpy(serial, "?");
      snprintf(path, sizeof path, "/sys/bus/usb/devices/%s:1.0/bInterfaceClass", e->d_name);
      if (read_text(path, cls, sizeof cls)) continue;
      snprintf(path, sizeof path, "/sys/bus/usb/devices/%s:1.0/bInterfaceSubClass", e->d_name);
      if (read_text(path, sub, sizeof sub)) continue;
      snprintf(path, sizeof path, "/sys/bus/usb/devices/%s:1.0/bInterfaceProtocol", e->d_name);
      if (read_text(path, proto, sizeof proto)) continue;
      char interfaces[16];
      snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/bNumInterfaces", e->d_name);
      if (read_text(path, interfaces, sizeof interfaces)) strcpy(interfaces, "?");
      char line[768];
      snprintf(line, sizeof line,
               "SMOO-STANDIN-HOST-SIDE: device %s id %s:%s serial %s interface %s/%s/%s interfaces %s\n",
               e->d_name, vid, pid, serial, cls, sub, proto, interfaces + strspn(interfaces, " "));
      closedir(d);
      fputs(line, stdout);
      fflush(stdout);
      if (atoi(interfaces) > 1)
        check_acm_console();
      int fd = open("/run/smoo/standin-enumerated", O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        if (write(fd, line, strlen(line)) < 0) perror("write standin-enumerated");
        close(fd);
      }
      return 0;
    }
    if (d) closedir(d);
    usleep(100000);
  }
  printf("SMOO-STANDIN: host side never showed the device\n");
  fflush(stdout);
  return -1;
}

int main(int argc, char **argv) {
  const char *ffs_dir = NULL;
  int mimic = 0;
  printf("SMOO-STANDIN: argv:");
  for (int i = 1; i < argc; ++i) {
    printf(" %s", argv[i]);
    if (!strcmp(argv[i], "--ffs-dir") && i + 1 < argc) ffs_dir = argv[i + 1];
    if (!strcmp(argv[i], "--mimic-fastboot")) mimic = 1;
  }
  printf("\n");
  fflush(stdout);
  if (!ffs_dir) {
    fprintf(stderr, "SMOO-STANDIN: --ffs-dir is required\n");
    return 2;
  }
  const unsigned subclass = mimic ? 0x42 : 0x53, protocol = mimic ? 0x03 : 0x4d;

  char ep0_path[512];
  snprintf(ep0_path, sizeof ep0_path, "%s/ep0", ffs_dir);
  int ep0 = open(ep0_path, O_RDWR);
  if (ep0 < 0) {
    fprintf(stderr, "SMOO-STANDIN: open %s: %s\n", ep0_path, strerror(errno));
    return 1;
  }
  len = 0;
  le32(3);           // FUNCTIONFS_DESCRIPTORS_MAGIC_V2
  le32(0);           // length, patched below
  le32(1 | 2 | 4);   // HAS_FS_DESC | HAS_HS_DESC | HAS_SS_DESC
  le32(5); le32(5); le32(9);
  interface(subclass, protocol); endpoints(0);
  interface(subclass, protocol); endpoints(1);
  interface(subclass, protocol); endpoints(2);
  put32_at(4, (uint32_t)len);
  if (write(ep0, buf, len) != (ssize_t)len) {
    fprintf(stderr, "SMOO-STANDIN: write descriptors: %s\n", strerror(errno));
    return 1;
  }
  len = 0;
  le32(2); le32(0); le32(1); le32(1); // STRINGS_MAGIC, length, 1 string, 1 language
  le16(0x0409);
  for (const char *s = "smoo"; ; ++s) { u8((unsigned char)*s); if (!*s) break; }
  put32_at(4, (uint32_t)len);
  if (write(ep0, buf, len) != (ssize_t)len) {
    fprintf(stderr, "SMOO-STANDIN: write strings: %s\n", strerror(errno));
    return 1;
  }
  printf("SMOO-STANDIN-MARKER: descriptors written to %s (interface ff/%02x/%02x), staying up\n",
         ep0_path, subclass, protocol);
  fflush(stdout);

  static const char *names[] = {"BIND", "UNBIND", "ENABLE", "DISABLE", "SETUP", "SUSPEND", "RESUME"};
  int reported = 0;
  for (;;) {
    unsigned char event[12];
    ssize_t n = read(ep0, event, sizeof event);
    if (n < 0 && errno == EINTR) continue;
    if (n != (ssize_t)sizeof event) {
      printf("SMOO-STANDIN: ep0 read ended (%s); idling\n", n < 0 ? strerror(errno) : "short");
      fflush(stdout);
      for (;;) pause();
    }
    unsigned type = event[8];
    printf("SMOO-STANDIN: ep0 event %s\n", type < 7 ? names[type] : "?");
    fflush(stdout);
    if (type == 2 && !reported) { // ENABLE: the host has configured us
      reported = 1;
      report_host_side();
    }
  }
}
