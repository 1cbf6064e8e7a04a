// Init of the x86-64 QEMU guest of the smoo tests (tests/smoo): Debian
// trixie's kernel (the first Debian kernel with ublk), dummy_hcd, the smoo
// gadget stand-in (tests/smoo/gadget) on a FunctionFS function, and the
// host-built fastboop-push serving it over the same kernel's USB host side.
// What to do comes from /smoo-test.conf, one directive per line, words split
// on spaces:
//
//   mode test|bench|chain|boot
//   gadget ARG...       arguments of /bin/smoo-gadget (test, bench)
//   http DIR PORT       start /bin/test-httpd on 127.0.0.1:PORT first
//   serve ARG...        arguments of /bin/fastboop-push (e.g. serve /img.raw)
//   server NAME         run /bin/NAME with the serve arguments instead
//   disrupt kill|replug PERCENT  test: once PERCENT of the device was read,
//                       kill the server and start another, or unplug and
//                       replug the gadget
//   early               start the server before the gadget program (default:
//                       after it wrote its descriptors, before the UDC bind)
//   fastboot IMAGE      bench: also push IMAGE (boot.img + .json sidecar) to a
//                       fastboot gadget on the same dummy_hcd, timed
//   virtio DEV          bench: also read DEV (the same image on a virtio disk)
//   readahead_kb N      bench: read-ahead of the devices read (default: kernel's)
//   fastboop ARG...     boot: arguments of /bin/fastboop (e.g. boot /srv/rootfs.erofs ...)
//   prepare ARG...      boot: run /bin/fastboop with these first, to the end
//                       (e.g. `boot ... -o IMG` to fill the artifact cache)
//
// test:  gadget up, serve (before the UDC bind), wait for /dev/ublkb0, sha512sum it whole, stop the
//        server with SIGTERM and report its exit status.
// bench: the same, but the whole export is read with 1 MiB read()s and timed
//        ("dd"), then the virtio disk, then the fastboot download.
// chain: run as rdinit= before stage0's own PID1 (which stays unmodified): a
//        child waits until PID1 has mounted /sys and loaded dummy_hcd, then
//        execs fastboop-push serve; this process execs /init (stage0's PID1,
//        same pid 1). The server keeps running from the initramfs after the
//        switch root, like the gadget child.
// boot:  the `fastboop boot` chain. A FunctionFS fastboot device on dummy_hcd
//        stands for the phone's bootloader, and /bin/fastboop finds it over
//        USB, identifies it, builds stage0 and the boot image here, downloads
//        and boots it. The "bootloader" then does what a phone's does with a
//        boot image, as far as one running kernel can: it leaves the bus,
//        unpacks the image's ramdisk into a fresh tmpfs, makes that the root
//        and execs its /init as pid 1. fastboop keeps running from the old
//        root and serves the rootfs once stage0's PID1 brings the gadget up.
//
// Every line the test reads starts with "SMQ-"; "SMQ-DONE" is the last.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONFIGFS "/sys/kernel/config/usb_gadget"
#define SERIAL "SMOOQEMU1"

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
  char b[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  printf("%s\n", b);
  fflush(stdout);
}

static int wr(const char* path, const char* val) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) {
    say("SMQ-ERROR open %s: %s", path, strerror(errno));
    return -1;
  }
  int r = (int)write(fd, val, strlen(val));
  int e = errno;
  close(fd);
  if (r < 0) {
    say("SMQ-ERROR write %s=%s: %s", path, val, strerror(e));
    return -1;
  }
  return 0;
}

static int rd(const char* path, char* buf, int n) {
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return -1;
  int r = (int)read(fd, buf, (size_t)n - 1);
  close(fd);
  if (r < 0)
    return -1;
  buf[r] = 0;
  while (r > 0 && buf[r - 1] == '\n')
    buf[--r] = 0;
  return r;
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// ---------------------------------------------------------------------------
// /smoo-test.conf

#define MAX_WORDS 32
struct Directive {
  int n;
  char* w[MAX_WORDS + 1];
};
static struct Directive conf[16];
static int conf_n;

static void read_conf(void) {
  static char text[8192];
  if (rd("/smoo-test.conf", text, sizeof text) <= 0) {
    say("SMQ-ERROR no /smoo-test.conf");
    return;
  }
  for (char* line = strtok(text, "\n"); line && conf_n < 16; line = strtok(NULL, "\n")) {
    struct Directive* d = &conf[conf_n];
    d->n = 0;
    for (char* p = line; *p && d->n < MAX_WORDS;) {
      while (*p == ' ')
        *p++ = 0;
      if (!*p)
        break;
      d->w[d->n++] = p;
      while (*p && *p != ' ')
        ++p;
    }
    d->w[d->n] = NULL;
    if (d->n)
      ++conf_n;
  }
}

static const struct Directive* directive(const char* name) {
  for (int i = 0; i < conf_n; ++i)
    if (!strcmp(conf[i].w[0], name))
      return &conf[i];
  return NULL;
}

// ---------------------------------------------------------------------------
// System set-up

static void mount_basics(void) {
  mkdir("/proc", 0755);
  mkdir("/sys", 0755);
  mkdir("/dev", 0755);
  mkdir("/run", 0755);
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  mount("tmpfs", "/run", "tmpfs", 0, NULL);
  mkdir("/run/smoo", 0755); // as stage0's PID1 does for the gadget's files
}

static void console(void) {
  int fd = open("/dev/console", O_RDWR);
  if (fd >= 0) {
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
      close(fd);
  }
}

// Modules in dependency order, one file name per line in /lib/modules/order;
// the kernel decompresses .ko.xz itself (CONFIG_MODULE_DECOMPRESS).
static int load_modules(void) {
  FILE* f = fopen("/lib/modules/order", "r");
  if (!f) {
    say("SMQ-ERROR no /lib/modules/order");
    return -1;
  }
  char name[256];
  int rc = 0;
  while (rc == 0 && fgets(name, sizeof name, f)) {
    name[strcspn(name, "\n")] = 0;
    if (!*name)
      continue;
    char p[300];
    snprintf(p, sizeof p, "/lib/modules/%s", name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    const size_t len = strlen(name);
    const int flags =
        len > 3 && !strcmp(name + len - 3, ".xz") ? 4 /* MODULE_INIT_COMPRESSED_FILE */ : 0;
    if (fd < 0 || (syscall(SYS_finit_module, fd, "", flags) != 0 && errno != EEXIST)) {
      say("SMQ-ERROR load %s: %s", name, strerror(errno));
      rc = -1;
    }
    if (fd >= 0)
      close(fd);
  }
  fclose(f);
  return rc;
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    say("SMQ-ERROR lo: %s", strerror(errno));
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
      say("SMQ-ERROR lo up: %s", strerror(errno));
  }
  if (s >= 0)
    close(s);
}

static char udc_name[256];

static int find_udc(void) {
  DIR* d = opendir("/sys/class/udc");
  struct dirent* de;
  udc_name[0] = 0;
  while (d && (de = readdir(d)))
    if (de->d_name[0] != '.')
      snprintf(udc_name, sizeof udc_name, "%.255s", de->d_name);
  if (d)
    closedir(d);
  return udc_name[0] ? 0 : -1;
}

// A configfs gadget NAME (18d1:4ee0, the bootloader's ids as stage0 does) whose
// only function is FunctionFS instance FN, mounted at /dev/ffs-FN.
static int make_gadget(const char* name, const char* fn) {
  char g[256], p[512];
  snprintf(g, sizeof g, CONFIGFS "/%s", name);
  if (mkdir(g, 0755)) {
    say("SMQ-ERROR mkdir %s: %s", g, strerror(errno));
    return -1;
  }
  int rc = 0;
#define W(rel, val) (snprintf(p, sizeof p, "%s/%s", g, rel), rc |= wr(p, val))
#define D(rel) (snprintf(p, sizeof p, "%s/%s", g, rel), mkdir(p, 0755))
  W("idVendor", "0x18d1");
  W("idProduct", "0x4ee0");
  W("bcdUSB", "0x0200");
  D("strings/0x409");
  W("strings/0x409/serialnumber", SERIAL);
  W("strings/0x409/manufacturer", "fastboop");
  W("strings/0x409/product", name);
  char f[256];
  snprintf(f, sizeof f, "functions/ffs.%s", fn);
  if (D(f)) {
    say("SMQ-ERROR mkdir %s: %s", p, strerror(errno));
    return -1;
  }
  D("configs/c.1");
  D("configs/c.1/strings/0x409");
  W("configs/c.1/strings/0x409/configuration", "config");
  char target[512], link[512];
  snprintf(target, sizeof target, "%s/%s", g, f);
  snprintf(link, sizeof link, "%s/configs/c.1/ffs.%s", g, fn);
  if (symlink(target, link)) {
    say("SMQ-ERROR symlink %s: %s", link, strerror(errno));
    return -1;
  }
#undef W
#undef D
  snprintf(p, sizeof p, "/dev/ffs-%s", fn);
  mkdir(p, 0755);
  if (mount(fn, p, "functionfs", 0, "")) {
    say("SMQ-ERROR mount functionfs %s: %s", p, strerror(errno));
    return -1;
  }
  return rc;
}

static int bind_udc(const char* name, int bind) {
  char p[256];
  snprintf(p, sizeof p, CONFIGFS "/%s/UDC", name);
  return wr(p, bind ? udc_name : "\n"); // a newline unbinds
}

static char* const child_env[] = {"PATH=/bin", "HOME=/root", "ASAN_OPTIONS=detect_leaks=0", NULL};

static pid_t spawn(const char* path, char* const* args) {
  pid_t p = fork();
  if (p == 0) {
    char* argv[MAX_WORDS + 2] = {(char*)path};
    for (int i = 0; args && args[i] && i < MAX_WORDS; ++i)
      argv[i + 1] = args[i];
    execve(path, argv, child_env);
    say("SMQ-ERROR exec %s: %s", path, strerror(errno));
    _exit(127);
  }
  return p;
}

static struct rusage last_rusage; // of the last child exited() reaped

static int exited(pid_t pid, int* rc) {
  int st;
  if (wait4(pid, &st, WNOHANG, &last_rusage) != pid)
    return 0;
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return 1;
}

static long long rusage_cpu_ms(const struct rusage* ru) {
  return (ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000LL +
         (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1000;
}

// CPU time (user + system, ms) a running process has used, from /proc/PID/stat.
static long long process_cpu_ms(pid_t pid) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, line, sizeof line - 1);
  close(fd);
  if (n <= 0)
    return -1;
  line[n] = 0;
  const char* p = strrchr(line, ')'); // the command name may contain spaces
  unsigned long long utime = 0, stime = 0;
  if (!p ||
      sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (long long)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

// Waits up to `seconds` for a process; returns its status, or -1 on timeout.
static int wait_bounded(pid_t pid, int seconds) {
  int rc;
  for (int i = 0; i < seconds * 10; ++i) {
    if (exited(pid, &rc))
      return rc;
    usleep(100000);
  }
  return -1;
}

static int wait_path(const char* path, int seconds, pid_t watch, const char* what) {
  for (int i = 0; i < seconds * 10; ++i) {
    struct stat st;
    if (stat(path, &st) == 0)
      return 0;
    int rc;
    if (watch > 0 && exited(watch, &rc)) {
      say("SMQ-ERROR %s exited (status %d) before %s appeared", what, rc, path);
      return -1;
    }
    usleep(100000);
  }
  say("SMQ-ERROR %s did not appear within %d s", path, seconds);
  return -1;
}

// The host-side device directory (e.g. "1-1") of the gadget, or "" after 30 s.
static void wait_enumerated(char* port, size_t n) {
  *port = 0;
  for (int i = 0; i < 300 && !*port; ++i) {
    DIR* d = opendir("/sys/bus/usb/devices");
    struct dirent* de;
    while (d && (de = readdir(d))) {
      char p[300], v[16], iface[16];
      snprintf(p, sizeof p, "/sys/bus/usb/devices/%s/idVendor", de->d_name);
      if (rd(p, v, sizeof v) <= 0 || strcmp(v, "18d1"))
        continue;
      snprintf(p, sizeof p, "/sys/bus/usb/devices/%s:1.0/bInterfaceClass", de->d_name);
      if (rd(p, iface, sizeof iface) > 0)
        snprintf(port, n, "%.63s", de->d_name);
    }
    if (d)
      closedir(d);
    if (!*port)
      usleep(100000);
  }
}

// ---------------------------------------------------------------------------
// Reading a block device

// The node appears inside START_DEV, before the partition scan (reads
// through the host) ends; until then open() fails with ENXIO. Waits until it
// opens and has a size, or `seconds` pass.
static int wait_block_device(const char* dev, int seconds, pid_t watch, const char* what) {
  if (wait_path(dev, seconds, watch, what))
    return -1;
  for (int i = 0; i < seconds * 10; ++i) {
    int fd = open(dev, O_RDONLY | O_CLOEXEC);
    unsigned long long size = 0;
    if (fd >= 0) {
      if (ioctl(fd, BLKGETSIZE64, &size))
        size = 0;
      close(fd);
      if (size > 0)
        return 0;
    }
    usleep(100000);
  }
  say("SMQ-ERROR %s did not become readable within %d s: %s", dev, seconds, strerror(errno));
  return -1;
}

static unsigned long long block_size_bytes(const char* dev) {
  int fd = open(dev, O_RDONLY | O_CLOEXEC);
  unsigned long long size = 0;
  if (fd >= 0) {
    if (ioctl(fd, BLKGETSIZE64, &size))
      size = 0;
    close(fd);
  }
  return size;
}

static void set_readahead(const char* dev) {
  const struct Directive* d = directive("readahead_kb");
  if (!d || d->n < 2)
    return;
  char p[256];
  snprintf(p, sizeof p, "/sys/block/%s/queue/read_ahead_kb", strrchr(dev, '/') + 1);
  wr(p, d->w[1]);
}

// Reads the whole device sequentially with 1 MiB read()s, as dd bs=1M does.
static void timed_read(const char* label, const char* dev) {
  static char buf[1 << 20];
  set_readahead(dev);
  int fd = open(dev, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    say("SMQ-ERROR open %s: %s", dev, strerror(errno));
    return;
  }
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  unsigned long long total = 0;
  const long long t0 = now_ns();
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      say("SMQ-ERROR read %s at %llu: %s", dev, total, strerror(errno));
      break;
    }
    if (n == 0)
      break;
    total += (unsigned long long)n;
  }
  const long long dt = now_ns() - t0;
  close(fd);
  say("SMQ-BENCH %s bytes=%llu ns=%lld", label, total, dt);
}

static unsigned long long sectors_read(const char* dev) {
  char p[256], s[512];
  snprintf(p, sizeof p, "/sys/block/%s/stat", strrchr(dev, '/') + 1);
  unsigned long long ios, merges, sectors;
  if (rd(p, s, sizeof s) <= 0 || sscanf(s, "%llu %llu %llu", &ios, &merges, &sectors) != 3)
    return 0;
  return sectors;
}

// ---------------------------------------------------------------------------
// The fastboot leg of the benchmark: a FunctionFS fastboot device (as in
// tests/push/usb/init.c) on the same UDC, and fastboop-push boot against it.

static const struct {
  struct usb_functionfs_descs_head_v2 header;
  __le32 fs_count, hs_count;
  struct {
    struct usb_interface_descriptor intf;
    struct usb_endpoint_descriptor_no_audio out, in;
  } __attribute__((packed)) fs, hs;
} __attribute__((packed)) fastboot_descs = {
    .header = {.magic = FUNCTIONFS_DESCRIPTORS_MAGIC_V2,
               .length = sizeof fastboot_descs,
               .flags = FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC},
    .fs_count = 3,
    .hs_count = 3,
    .fs = {.intf = {sizeof(struct usb_interface_descriptor), USB_DT_INTERFACE, 0, 0, 2, 0xff, 0x42,
                    0x03, 1},
           .out = {USB_DT_ENDPOINT_SIZE, USB_DT_ENDPOINT, 1 | USB_DIR_OUT, USB_ENDPOINT_XFER_BULK,
                   64, 0},
           .in = {USB_DT_ENDPOINT_SIZE, USB_DT_ENDPOINT, 2 | USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 64,
                  0}},
    .hs = {.intf = {sizeof(struct usb_interface_descriptor), USB_DT_INTERFACE, 0, 0, 2, 0xff, 0x42,
                    0x03, 1},
           .out = {USB_DT_ENDPOINT_SIZE, USB_DT_ENDPOINT, 1 | USB_DIR_OUT, USB_ENDPOINT_XFER_BULK,
                   512, 0},
           .in = {USB_DT_ENDPOINT_SIZE, USB_DT_ENDPOINT, 2 | USB_DIR_IN, USB_ENDPOINT_XFER_BULK,
                  512, 0}},
};
static const struct {
  struct usb_functionfs_strings_head header;
  struct {
    __le16 code;
    const char str1[9];
  } __attribute__((packed)) lang0;
} __attribute__((packed)) fastboot_strs = {
    .header = {.magic = FUNCTIONFS_STRINGS_MAGIC,
               .length = sizeof fastboot_strs,
               .str_count = 1,
               .lang_count = 1},
    .lang0 = {0x0409, "fastboot"},
};

// getvar, download (read in 1 MiB pieces, never more than remains rounded up
// to a packet: the host sends no zero-length packet) and boot. With save_fd
// >= 0 the downloaded bytes go there and `boot` ends the device (returns).
static void fastboot_device(int save_fd) {
  static unsigned char b[(1 << 20) + 1];
  int out = open("/dev/ffs-fastboot/ep1", O_RDWR), in = open("/dev/ffs-fastboot/ep2", O_RDWR);
  unsigned long long left = 0, total = 0;
  for (;;) {
    size_t want = 512;
    if (left > 0) {
      unsigned long long rounded = (left + 511) / 512 * 512;
      want = rounded < sizeof b - 1 ? (size_t)rounded : sizeof b - 1;
    }
    ssize_t n = read(out, b, want);
    if (n < 0) {
      usleep(100000);
      continue;
    }
    if (left > 0) {
      const size_t used = (unsigned long long)n < left ? (size_t)n : (size_t)left;
      if (save_fd >= 0 && write(save_fd, b, used) != (ssize_t)used)
        say("SMQ-ERROR saving the download: %s", strerror(errno));
      left -= used;
      if (left == 0) {
        say("SMQ-FASTBOOT-DATA %llu", total);
        if (write(in, "OKAY", 4) < 0)
          say("SMQ-ERROR fastboot write: %s", strerror(errno));
      }
      continue;
    }
    b[n] = 0;
    char r[128];
    if (!strcmp((char*)b, "getvar:product"))
      strcpy(r, "OKAYsmooqemu");
    else if (!strcmp((char*)b, "getvar:max-download-size"))
      strcpy(r, "OKAY0x20000000");
    else if (!strcmp((char*)b, "getvar:serialno"))
      strcpy(r, "OKAY" SERIAL);
    else if (!strncmp((char*)b, "getvar:", 7))
      strcpy(r, "FAILGetVar Variable Not found");
    else if (!strncmp((char*)b, "download:", 9)) {
      total = left = strtoull((char*)b + 9, NULL, 16);
      if (save_fd >= 0 && (ftruncate(save_fd, 0) != 0 || lseek(save_fd, 0, SEEK_SET) != 0))
        say("SMQ-ERROR truncating the download: %s", strerror(errno));
      snprintf(r, sizeof r, "DATA%08llx", left);
    } else if (!strcmp((char*)b, "boot")) {
      strcpy(r, "OKAY");
      if (save_fd >= 0) {
        if (write(in, r, strlen(r)) < 0)
          say("SMQ-ERROR fastboot write: %s", strerror(errno));
        say("SMQ-FASTBOOT-BOOT %llu bytes", total);
        return;
      }
    } else
      strcpy(r, "FAILnot in this test");
    if (write(in, r, strlen(r)) < 0)
      say("SMQ-ERROR fastboot write: %s", strerror(errno));
  }
}

static void fastboot_leg(const char* image) {
  if (bind_udc("smoo", 0) || make_gadget("fastboot", "fastboot"))
    return;
  int ep0 = open("/dev/ffs-fastboot/ep0", O_RDWR);
  if (ep0 < 0 || write(ep0, &fastboot_descs, sizeof fastboot_descs) < 0 ||
      write(ep0, &fastboot_strs, sizeof fastboot_strs) < 0) {
    say("SMQ-ERROR fastboot descriptors: %s", strerror(errno));
    return;
  }
  if (fork() == 0) { // drain ep0 events
    struct usb_functionfs_event ev;
    for (;;)
      if (read(ep0, &ev, sizeof ev) < 0 && errno != EINTR)
        sleep(1);
  }
  if (fork() == 0) {
    fastboot_device(-1);
    _exit(0);
  }
  if (bind_udc("fastboot", 1))
    return;
  char port[64];
  wait_enumerated(port, sizeof port);
  if (!*port) {
    say("SMQ-ERROR the fastboot gadget was not enumerated");
    return;
  }
  struct stat st;
  stat(image, &st);
  char* args[] = {"-q", "boot", (char*)image, "-s", SERIAL, NULL};
  const long long t0 = now_ns();
  const int rc = wait_bounded(spawn("/bin/fastboop-push", args), 600);
  const long long dt = now_ns() - t0;
  say("SMQ-BENCH fastboot bytes=%lld ns=%lld rc=%d client_cpu_ms=%lld", (long long)st.st_size, dt,
      rc, rusage_cpu_ms(&last_rusage));
}

// ---------------------------------------------------------------------------

static void power_off(void) {
  say("SMQ-DONE");
  // No sync(): nothing here is worth keeping, and with the server gone a ublk
  // read still in flight would hold a page lock that sync waits on forever.
  reboot(RB_POWER_OFF);
  for (;;)
    pause();
}

static pid_t start_http(void) {
  const struct Directive* h = directive("http");
  if (!h)
    return 0;
  if (h->n != 3) {
    say("SMQ-ERROR http wants DIR PORT");
    return -1;
  }
  loopback_up();
  char* args[] = {h->w[1], h->w[2], "/run/http-bytes", NULL};
  pid_t p = spawn("/bin/test-httpd", args);
  usleep(300000); // listening well before the first fetch; a failure shows as exit
  int rc;
  if (exited(p, &rc)) {
    say("SMQ-ERROR test-httpd exited (status %d)", rc);
    return -1;
  }
  return p;
}

static unsigned long long http_bytes(void) {
  unsigned long long v = 0;
  int fd = open("/run/http-bytes", O_RDONLY);
  if (fd >= 0) {
    if (read(fd, &v, sizeof v) != sizeof v)
      v = 0;
    close(fd);
  }
  return v;
}

// "server NAME" runs /bin/NAME instead of fastboop-push (the stand-in's own
// check with mini-host).
static const char* server_program(void) {
  static char path[256];
  const struct Directive* d = directive("server");
  snprintf(path, sizeof path, "/bin/%s", d && d->n > 1 ? d->w[1] : "fastboop-push");
  return path;
}

static pid_t start_server(void) {
  const struct Directive* s = directive("serve");
  if (!s) {
    say("SMQ-ERROR no serve directive");
    return -1;
  }
  mkdir("/root", 0700);
  pid_t p = spawn(server_program(), s->w + 1);
  say("SMQ-SERVE-STARTED pid=%d", (int)p);
  return p;
}

// While the device is being read, once `percent` of it has been read (the
// block layer's count, so the moment does not depend on the guest's speed):
// either the host process dies (SIGKILL) and a new one starts ("kill": the
// gadget must replay what was unanswered, the new host must pick the same
// export up), or the gadget leaves the bus and comes back ("replug": a reset
// in the middle of transfers). Returns the server's pid afterwards.
static pid_t disrupt(const char* how, int percent, pid_t server) {
  const unsigned long long target = block_size_bytes("/dev/ublkb0") / 512 * (unsigned)percent / 100;
  for (int i = 0; i < 6000 && sectors_read("/dev/ublkb0") < target; ++i)
    usleep(20000);
  say("SMQ-DISRUPT at %llu of %llu bytes read", sectors_read("/dev/ublkb0") * 512,
      block_size_bytes("/dev/ublkb0"));
  if (!strcmp(how, "kill")) {
    kill(server, SIGKILL);
    say("SMQ-DISRUPT host killed (status %d)", wait_bounded(server, 10));
    return start_server();
  }
  if (!strcmp(how, "replug")) {
    bind_udc("smoo", 0);
    say("SMQ-DISRUPT gadget unplugged");
    usleep(1500000);
    bind_udc("smoo", 1);
    say("SMQ-DISRUPT gadget plugged back");
    return server;
  }
  say("SMQ-ERROR unknown disruption '%s'", how);
  return server;
}

// chain: see the top of the file.
static void chain(void) {
  pid_t p = fork();
  if (p == 0) {
    // PID1 mounts /proc, /sys and /dev and loads dummy_hcd; until then
    // there is nothing to serve.
    for (int i = 0; i < 1200; ++i) {
      if (find_udc() == 0 && access("/dev/null", F_OK) == 0)
        break;
      usleep(100000);
    }
    console();
    say("SMQ-CHAIN server starting (UDC %s)", udc_name[0] ? udc_name : "none");
    if (start_http() < 0)
      _exit(1);
    const struct Directive* s = directive("serve");
    if (!s)
      _exit(1);
    mkdir("/root", 0700);
    char* argv[MAX_WORDS + 2] = {(char*)server_program()};
    for (int i = 1; i < s->n; ++i)
      argv[i] = s->w[i];
    execve(argv[0], argv, child_env);
    say("SMQ-ERROR exec fastboop-push: %s", strerror(errno));
    _exit(127);
  }
  char* argv[] = {"/init", NULL};
  execv("/init", argv);
  say("SMQ-ERROR exec /init: %s", strerror(errno));
}

// ---------------------------------------------------------------------------
// boot mode: see the top of the file.

static unsigned le32_at(const unsigned char* p) {
  return p[0] | p[1] << 8 | p[2] << 16 | (unsigned)p[3] << 24;
}

static unsigned long hex8(const char* p) {
  char t[9];
  memcpy(t, p, 8);
  t[8] = 0;
  return strtoul(t, NULL, 16);
}

// Unpacks newc archives (concatenated, zero padding between them) under dir.
static int unpack_cpio(const unsigned char* a, size_t n, const char* dir) {
  size_t off = 0;
  int entries = 0;
  while (off + 110 <= n) {
    if (a[off] == 0) { // padding between concatenated archives
      off = (off + 4) & ~(size_t)3;
      continue;
    }
    if (memcmp(a + off, "070701", 6)) {
      say("SMQ-ERROR cpio: no newc header at %zu", off);
      return -1;
    }
    const char* h = (const char*)a + off;
    const unsigned long mode = hex8(h + 14), size = hex8(h + 54), namesize = hex8(h + 94);
    const unsigned long rmaj = hex8(h + 78), rmin = hex8(h + 86);
    const size_t name_at = off + 110, data_at = (name_at + namesize + 3) & ~(size_t)3;
    if (namesize == 0 || data_at > n || size > n - data_at) {
      say("SMQ-ERROR cpio: entry at %zu runs past the end", off);
      return -1;
    }
    const char* name = (const char*)a + name_at;
    off = (data_at + size + 3) & ~(size_t)3;
    if (!strcmp(name, "TRAILER!!!"))
      continue;
    while (!strncmp(name, "./", 2))
      name += 2;
    if (!*name || !strcmp(name, ".") || strstr(name, ".."))
      continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const unsigned char* data = a + data_at;
    int rc = 0;
    switch (mode & S_IFMT) {
    case S_IFDIR: rc = mkdir(path, mode & 07777) && errno != EEXIST; break;
    case S_IFLNK: {
      char target[1024];
      snprintf(target, sizeof target, "%.*s", (int)size, (const char*)data);
      rc = symlink(target, path);
      break;
    }
    case S_IFREG: {
      int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
      rc = fd < 0 || write(fd, data, size) != (ssize_t)size;
      if (fd >= 0)
        close(fd);
      break;
    }
    default: rc = mknod(path, mode, makedev(rmaj, rmin)); break;
    }
    if (rc) {
      say("SMQ-ERROR cpio: %s: %s", path, strerror(errno));
      return -1;
    }
    ++entries;
  }
  say("SMQ-BOOT unpacked %d entries", entries);
  return 0;
}

// The ramdisk of an Android boot image v0-v2 (what the test's Device Profile
// asks for) into dir; the kernel is the one already running.
static int unpack_boot_image(const char* image, const char* dir) {
  int fd = open(image, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || st.st_size < 1024) {
    say("SMQ-ERROR %s: no boot image", image);
    return -1;
  }
  unsigned char* img = malloc((size_t)st.st_size);
  if (!img || read(fd, img, (size_t)st.st_size) != st.st_size) {
    say("SMQ-ERROR reading %s", image);
    return -1;
  }
  close(fd);
  const unsigned kernel_size = le32_at(img + 8), ramdisk_size = le32_at(img + 16),
                 page = le32_at(img + 36), version = le32_at(img + 40);
  if (memcmp(img, "ANDROID!", 8) || version > 2 || page < 2048 || page > 16384) {
    say("SMQ-ERROR %s: not an Android boot image v0-v2", image);
    return -1;
  }
  const size_t at = (size_t)page * (1 + (kernel_size + page - 1) / page);
  if (at > (size_t)st.st_size || ramdisk_size > (size_t)st.st_size - at) {
    say("SMQ-ERROR %s: the ramdisk runs past the end", image);
    return -1;
  }
  say("SMQ-BOOT image v%u page %u kernel %u ramdisk %u cmdline: %.512s", version, page, kernel_size,
      ramdisk_size, (const char*)img + 64);
  const int rc = unpack_cpio(img + at, ramdisk_size, dir);
  free(img);
  return rc;
}

static char* const boot_env[] = {"PATH=/bin", "HOME=/root", "ASAN_OPTIONS=detect_leaks=0",
                                 "FASTBOOP_SCHEMA_PATH=/srv/devpro",
                                 "FASTBOOP_CACHE_DIR=/root/cache", NULL};

// /bin/fastboop with a directive's words after its name as arguments.
static pid_t spawn_fastboop(const struct Directive* d) {
  pid_t p = fork();
  if (p == 0) {
    char* argv[MAX_WORDS + 2] = {"/bin/fastboop"};
    for (int i = 1; i < d->n; ++i)
      argv[i] = d->w[i];
    execve(argv[0], argv, boot_env);
    say("SMQ-ERROR exec fastboop: %s", strerror(errno));
    _exit(127);
  }
  return p;
}

static void boot_chain(void) {
  const struct Directive* f = directive("fastboop");
  if (!f || make_gadget("fastboot", "fastboot"))
    power_off();
  int ep0 = open("/dev/ffs-fastboot/ep0", O_RDWR);
  if (ep0 < 0 || write(ep0, &fastboot_descs, sizeof fastboot_descs) < 0 ||
      write(ep0, &fastboot_strs, sizeof fastboot_strs) < 0) {
    say("SMQ-ERROR fastboot descriptors: %s", strerror(errno));
    power_off();
  }
  pid_t drain = fork();
  if (drain == 0) { // ep0 events
    struct usb_functionfs_event ev;
    for (;;)
      if (read(ep0, &ev, sizeof ev) < 0 && errno != EINTR)
        sleep(1);
  }
  const char* received = "/boot-received.img";
  pid_t device = fork();
  if (device == 0) {
    int save = open(received, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    fastboot_device(save);
    _exit(save < 0);
  }
  if (bind_udc("fastboot", 1))
    power_off();
  mkdir("/root", 0700);
  mkdir("/tmp", 01777);
  chmod("/tmp", 01777);
  const struct Directive* prep = directive("prepare");
  if (prep) {
    say("SMQ-PREPARE rc=%d", wait_bounded(spawn_fastboop(prep), 600));
  }
  pid_t host = spawn_fastboop(f);
  say("SMQ-BOOT fastboop started, waiting for the boot command");
  for (int rc = 0;;) { // the device ends on `boot`; fastboop must not end first
    if (exited(device, &rc))
      break;
    if (exited(host, &rc)) {
      say("SMQ-ERROR fastboop exited with %d before booting", rc);
      power_off();
    }
    usleep(100000);
  }
  // The phone's bootloader leaves the bus for the booted kernel's gadget.
  kill(drain, SIGKILL);
  bind_udc("fastboot", 0);
  close(ep0);
  umount2("/dev/ffs-fastboot", MNT_DETACH);
  mkdir("/stage0root", 0755);
  if (mount("tmpfs", "/stage0root", "tmpfs", 0, "mode=0755") ||
      unpack_boot_image(received, "/stage0root"))
    power_off();
  unlink(received);
  // As switch_root: the tmpfs becomes /, fastboop keeps the old root.
  if (chdir("/stage0root") || mount("/stage0root", "/", NULL, MS_MOVE, NULL) || chroot(".") ||
      chdir("/")) {
    say("SMQ-ERROR switching to the booted ramdisk: %s", strerror(errno));
    power_off();
  }
  say("SMQ-BOOT exec /init of the booted image");
  char* argv[] = {"/init", NULL};
  execv("/init", argv);
  say("SMQ-ERROR exec /init: %s", strerror(errno));
  power_off();
}

int main(void) {
  // chain mode must leave /proc, /sys and /dev to stage0's PID1.
  read_conf();
  const struct Directive* m = directive("mode");
  const char* mode = m && m->n > 1 ? m->w[1] : "test";
  if (!strcmp(mode, "chain")) {
    chain();
    return 1;
  }
  mount_basics();
  console();
  say("SMQ-INIT mode=%s", mode);
  if (load_modules())
    power_off();
  mkdir("/sys/kernel/config", 0755);
  mount("configfs", "/sys/kernel/config", "configfs", 0, NULL);
  if (!strcmp(mode, "boot")) {
    if (find_udc())
      power_off();
    boot_chain();
  }
  if (find_udc() || make_gadget("smoo", "smoo"))
    power_off();

  pid_t http = start_http();
  if (http < 0)
    power_off();

  // The server starts first, as on a workstation where `fastboop-push boot`
  // waits for the phone to come back as a smoo gadget ("early" starts it
  // before the gadget even exists).
  const int early = directive("early") != NULL;
  pid_t server = early ? start_server() : 0;
  const struct Directive* g = directive("gadget");
  pid_t gadget = spawn("/bin/smoo-gadget", g ? g->w + 1 : NULL);
  if (wait_path("/dev/ffs-smoo/ep1", 30, gadget, "smoo-gadget"))
    power_off();
  if (!early)
    server = start_server();
  if (bind_udc("smoo", 1))
    power_off();
  char port[64];
  wait_enumerated(port, sizeof port);
  if (!*port) {
    say("SMQ-ERROR the smoo gadget was not enumerated through dummy_hcd");
    power_off();
  }
  say("SMQ-ENUMERATED usb:%s", port);

  if (server > 0 && wait_block_device("/dev/ublkb0", 180, server, "fastboop-push") == 0) {
    const unsigned long long size = block_size_bytes("/dev/ublkb0");
    say("SMQ-UBLK size=%llu", size);
    if (!strcmp(mode, "bench")) {
      timed_read("smoo", "/dev/ublkb0");
    } else {
      char* args[] = {"/dev/ublkb0", NULL};
      const pid_t sum = spawn("/bin/sha512sum", args);
      const struct Directive* d = directive("disrupt");
      if (d && d->n == 3)
        server = disrupt(d->w[1], atoi(d->w[2]), server);
      const int rc = wait_bounded(sum, 600);
      say("SMQ-SHA512SUM rc=%d", rc);
    }
    say("SMQ-DEVICE-READ bytes=%llu", sectors_read("/dev/ublkb0") * 512);
    if (http > 0)
      say("SMQ-HTTP-FETCHED bytes=%llu", http_bytes());
    kill(server, SIGTERM);
    const int rc = wait_bounded(server, 30);
    if (rc < 0) {
      say("SMQ-SERVE-EXIT timeout (still running 30 s after SIGTERM)");
      kill(server, SIGKILL);
    } else {
      // CPU time of the server and of the gadget stand-in so far: under TCG
      // the guest CPU is what every leg competes for.
      say("SMQ-SERVE-EXIT rc=%d server_cpu_ms=%lld gadget_cpu_ms=%lld", rc,
          rusage_cpu_ms(&last_rusage), process_cpu_ms(gadget));
    }
  }
  if (!strcmp(mode, "bench")) {
    const struct Directive* v = directive("virtio");
    if (v && v->n > 1) {
      if (wait_block_device(v->w[1], 30, 0, "virtio disk") == 0)
        timed_read("virtio", v->w[1]);
    }
    const struct Directive* f = directive("fastboot");
    if (f && f->n > 1)
      fastboot_leg(f->w[1]);
  }
  power_off();
}
