// PID 1 of the x86-64 QEMU guest of usb_qemu_test: a real USB stack for the
// libusb transport. It loads the gadget modules, creates a configfs gadget
// whose only function is FunctionFS "fastboot" (interface ff/42/03, one bulk
// OUT and one bulk IN endpoint), binds it to dummy_udc.0 so dummy_hcd
// enumerates it on the host side of the same kernel, answers fastboot on the
// gadget side (getvar table, download, boot; anything else is FAILed and
// logged), and runs the host-built fastboop-push against it. Every step prints
// "FBQ-STEP <name> rc=<n>"; the gadget prints "GADGET CMD <command>" and
// "GADGET DATA <bytes> fnv1a=<hex>". It powers off after "FBQ-DONE".
//
// Bench mode (kernel parameter fbq.bench=N, used by tests/bench/push.sh):
// instead of the test steps, boot /boot.img N times with fastboop-push and N
// times with AOSP's /bin/fastboot (alternating, so a slow phase of the shared
// host hits both), each timed here with CLOCK_MONOTONIC from fork to exit:
// "FBQ-BENCH <client> run=<i> rc=<n> ns=<t> ..." and "FBQ-BENCH-BEST <client>
// ns=<t>". The gadget then reads 1 MiB at a time and skips the hash (byte-wise
// FNV-1a under TCG would be the bottleneck; it prints "GADGET DATA <bytes>"
// only) and offers 256 MiB of download space.
//
// Built static by the test (cc -static); the gadget part follows the recipe in
// ../shared/e2e/init.c (measured pitfalls: OUT reads must be a multiple of
// wMaxPacketSize, and during a download never ask for more than remains,
// rounded up to a packet, because the host sends no zero-length packet).
#define _GNU_SOURCE
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GADGET "/sys/kernel/config/usb_gadget/g1"
#define FFS "/dev/usb-ffs/fastboot"
#define SERIAL "FBQEMU01"

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
  char b[1024];
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
    say("FBQ-ERROR open %s: %s", path, strerror(errno));
    return -1;
  }
  int r = (int)write(fd, val, strlen(val));
  int e = errno;
  close(fd);
  if (r < 0) {
    say("FBQ-ERROR write %s=%s: %s", path, val, strerror(e));
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

// Modules in dependency order, one file name per line in /lib/modules/order
// (the test writes it from modprobe --show-depends on the unpacked package).
static int load_modules(void) {
  FILE* f = fopen("/lib/modules/order", "r");
  if (!f) {
    say("FBQ-ERROR no /lib/modules/order");
    return -1;
  }
  char name[256];
  while (fgets(name, sizeof name, f)) {
    name[strcspn(name, "\n")] = 0;
    if (!*name)
      continue;
    char p[300];
    snprintf(p, sizeof p, "/lib/modules/%s", name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      say("FBQ-ERROR open %s: %s", p, strerror(errno));
      fclose(f);
      return -1;
    }
    long r = syscall(SYS_finit_module, fd, "", 0);
    int e = errno;
    close(fd);
    if (r != 0 && e != EEXIST) {
      say("FBQ-ERROR finit_module(%s): %s", name, strerror(e));
      fclose(f);
      return -1;
    }
  }
  fclose(f);
  return 0;
}

// FunctionFS descriptors (x86-64 is little-endian: host order is fine).
static const struct {
  struct usb_functionfs_descs_head_v2 header;
  __le32 fs_count, hs_count;
  struct {
    struct usb_interface_descriptor intf;
    struct usb_endpoint_descriptor_no_audio out, in;
  } __attribute__((packed)) fs, hs;
} __attribute__((packed)) descs = {
    .header = {.magic = FUNCTIONFS_DESCRIPTORS_MAGIC_V2,
               .length = sizeof descs,
               .flags = FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC},
    .fs_count = 3,
    .hs_count = 3,
    .fs = {.intf = {sizeof(struct usb_interface_descriptor), USB_DT_INTERFACE, 0, 0, 2, 0xff, 0x42, 0x03, 1},
           .out = {USB_DT_ENDPOINT_SIZE, USB_DT_ENDPOINT, 1 | USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, 64, 0},
           .in = {USB_DT_ENDPOINT_SIZE, USB_DT_ENDPOINT, 2 | USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 64, 0}},
    .hs = {.intf = {sizeof(struct usb_interface_descriptor), USB_DT_INTERFACE, 0, 0, 2, 0xff, 0x42, 0x03, 1},
           .out = {USB_DT_ENDPOINT_SIZE, USB_DT_ENDPOINT, 1 | USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, 512, 0},
           .in = {USB_DT_ENDPOINT_SIZE, USB_DT_ENDPOINT, 2 | USB_DIR_IN, USB_ENDPOINT_XFER_BULK, 512, 0}},
};
#define STR "fastboot"
static const struct {
  struct usb_functionfs_strings_head header;
  struct {
    __le16 code;
    const char str1[sizeof STR];
  } __attribute__((packed)) lang0;
} __attribute__((packed)) strs = {
    .header = {.magic = FUNCTIONFS_STRINGS_MAGIC, .length = sizeof strs, .str_count = 1, .lang_count = 1},
    .lang0 = {0x0409, STR},
};

static char udc_name[256];

static int setup_gadget(void) {
  mkdir("/sys/kernel/config", 0755);
  if (mount("configfs", "/sys/kernel/config", "configfs", 0, NULL) && errno != EBUSY) {
    say("FBQ-ERROR mount configfs: %s", strerror(errno));
    return -1;
  }
  if (mkdir(GADGET, 0755)) {
    say("FBQ-ERROR mkdir gadget: %s", strerror(errno));
    return -1;
  }
  int rc = 0;
  rc |= wr(GADGET "/idVendor", "0x18d1");
  rc |= wr(GADGET "/idProduct", "0x4ee0");
  rc |= wr(GADGET "/bcdUSB", "0x0200");
  mkdir(GADGET "/strings/0x409", 0755);
  rc |= wr(GADGET "/strings/0x409/serialnumber", SERIAL);
  rc |= wr(GADGET "/strings/0x409/manufacturer", "fastboop");
  rc |= wr(GADGET "/strings/0x409/product", "fastboop-qemu-gadget");
  if (mkdir(GADGET "/functions/ffs.fastboot", 0755)) {
    say("FBQ-ERROR mkdir ffs function: %s", strerror(errno));
    return -1;
  }
  mkdir(GADGET "/configs/c.1", 0755);
  mkdir(GADGET "/configs/c.1/strings/0x409", 0755);
  rc |= wr(GADGET "/configs/c.1/strings/0x409/configuration", "fastboot");
  if (symlink(GADGET "/functions/ffs.fastboot", GADGET "/configs/c.1/ffs.fastboot")) {
    say("FBQ-ERROR symlink: %s", strerror(errno));
    return -1;
  }
  mkdir("/dev/usb-ffs", 0755);
  mkdir(FFS, 0755);
  if (mount("fastboot", FFS, "functionfs", 0, NULL)) {
    say("FBQ-ERROR mount functionfs: %s", strerror(errno));
    return -1;
  }
  int ep0 = open(FFS "/ep0", O_RDWR);
  if (ep0 < 0 || write(ep0, &descs, sizeof descs) < 0 || write(ep0, &strs, sizeof strs) < 0) {
    say("FBQ-ERROR ep0 descriptors: %s", strerror(errno));
    return -1;
  }
  // ep0 stays open (closing it would tear the function down); a child drains
  // its events (BIND, ENABLE, DISABLE, ...) so the queue never fills.
  if (fork() == 0) {
    struct usb_functionfs_event ev;
    for (;;)
      if (read(ep0, &ev, sizeof ev) < 0 && errno != EINTR)
        sleep(1);
  }
  DIR* d = opendir("/sys/class/udc");
  struct dirent* de;
  while (d && (de = readdir(d)))
    if (de->d_name[0] != '.')
      snprintf(udc_name, sizeof udc_name, "%s", de->d_name);
  if (d)
    closedir(d);
  if (!*udc_name) {
    say("FBQ-ERROR no UDC in /sys/class/udc");
    return -1;
  }
  return rc;
}

static uint64_t fnv1a(uint64_t h, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static int bench_runs; // 0: the test steps; N > 0: bench mode

// fbq.bench=N on the kernel command line (/proc/cmdline: parameters with a dot
// are not passed to init).
static int parse_bench_runs(void) {
  char cmdline[4096];
  if (rd("/proc/cmdline", cmdline, sizeof cmdline) <= 0)
    return 0;
  for (char* t = strtok(cmdline, " "); t; t = strtok(NULL, " "))
    if (!strncmp(t, "fbq.bench=", 10))
      return atoi(t + 10);
  return 0;
}

// The gadget side: a scripted fastboot device like tests/push's emulator.
static void gadget(void) {
  int out = -1, in = -1;
  // Bench mode reads 1 MiB at a time so the gadget's syscalls are not what is
  // measured; FunctionFS kmallocs a bounce buffer of the read size, and 1 MiB
  // still comes easily from a freshly booted guest.
  const size_t chunk = bench_runs > 0 ? 1024 * 1024 : 65536;
  static unsigned char b[1024 * 1024 + 1];
  unsigned long long left = 0, total = 0;
  uint64_t hash = 0;
  for (;;) {
    if (out < 0) {
      out = open(FFS "/ep1", O_RDWR);
      in = open(FFS "/ep2", O_RDWR);
    }
    size_t want = 512;
    if (left > 0) {
      unsigned long long rounded = (left + 511) / 512 * 512;
      want = rounded < chunk ? (size_t)rounded : chunk;
    }
    ssize_t n = read(out, b, want);
    if (n < 0) { // unbound (hotplug step) or reset: wait for the host again
      usleep(100000);
      continue;
    }
    if (left > 0) {
      if (!bench_runs)
        hash = fnv1a(hash, b, (size_t)n);
      left -= (unsigned long long)n < left ? (unsigned long long)n : left;
      if (left == 0) {
        if (bench_runs)
          say("GADGET DATA %llu", total);
        else
          say("GADGET DATA %llu fnv1a=%016llx", total, (unsigned long long)hash);
        if (write(in, "OKAY", 4) < 0)
          say("GADGET write error: %s", strerror(errno));
      }
      continue;
    }
    b[n] = 0;
    say("GADGET CMD %s", (char*)b);
    char r[128];
    if (!strcmp((char*)b, "getvar:product"))
      strcpy(r, "OKAYfbqemu");
    else if (!strcmp((char*)b, "getvar:max-download-size")) // the bench's 64 MiB kernel makes a larger boot.img
      strcpy(r, bench_runs ? "OKAY0x10000000" : "OKAY0x04000000");
    else if (!strcmp((char*)b, "getvar:serialno"))
      strcpy(r, "OKAY" SERIAL);
    else if (!strncmp((char*)b, "getvar:", 7))
      strcpy(r, "FAILGetVar Variable Not found");
    else if (!strncmp((char*)b, "download:", 9)) {
      total = left = strtoull((char*)b + 9, NULL, 16);
      hash = 0xcbf29ce484222325ULL;
      snprintf(r, sizeof r, "DATA%08llx", left);
    } else if (!strcmp((char*)b, "boot"))
      strcpy(r, "OKAY");
    else
      snprintf(r, sizeof r, "FAILcommand not allowed in this test");
    if (write(in, r, strlen(r)) < 0)
      say("GADGET write error: %s", strerror(errno));
  }
}

static const char* push_env[] = {"PATH=/bin", "HOME=/", "ASAN_OPTIONS=detect_leaks=0", NULL};

static pid_t spawn_program(const char* path, const char* const* args) {
  pid_t p = fork();
  if (p == 0) {
    char* argv[16] = {(char*)path};
    for (int i = 0; args[i] && i < 14; ++i)
      argv[i + 1] = (char*)args[i];
    execve(path, argv, (char* const*)push_env);
    say("FBQ-ERROR exec %s: %s", path, strerror(errno));
    _exit(127);
  }
  return p;
}

static pid_t spawn_push(const char* const* args) {
  return spawn_program("/bin/fastboop-push", args);
}

static int wait_rc(pid_t p) {
  int st = 0;
  waitpid(p, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void step(const char* name, const char* const* args) {
  say("FBQ-BEGIN %s", name);
  int rc = wait_rc(spawn_push(args));
  say("FBQ-STEP %s rc=%d", name, rc);
}

// The host-side device directory (e.g. "1-1") of our gadget, or "" after 20 s.
static void wait_enumerated(char* port, size_t n) {
  *port = 0;
  for (int i = 0; i < 200 && !*port; ++i) {
    DIR* d = opendir("/sys/bus/usb/devices");
    struct dirent* de;
    while (d && (de = readdir(d))) {
      char p[300], v[16], iface[16];
      snprintf(p, sizeof p, "/sys/bus/usb/devices/%s/idVendor", de->d_name);
      if (rd(p, v, sizeof v) <= 0 || strcmp(v, "18d1"))
        continue;
      // Wait for the interface too (the configuration is set after the device).
      snprintf(p, sizeof p, "/sys/bus/usb/devices/%s:1.0/bInterfaceClass", de->d_name);
      if (rd(p, iface, sizeof iface) > 0)
        snprintf(port, n, "%s", de->d_name);
    }
    if (d)
      closedir(d);
    if (!*port)
      usleep(100000);
  }
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Guest CPU time so far from /proc/stat's "cpu" line: total and idle (idle +
// iowait), in clock ticks.
static void cpu_ticks(unsigned long long* total, unsigned long long* idle) {
  char line[512];
  unsigned long long v[8] = {0};
  *total = *idle = 0;
  if (rd("/proc/stat", line, sizeof line) <= 0 ||
      sscanf(line, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
             &v[7]) < 5)
    return;
  for (int i = 0; i < 8; ++i)
    *total += v[i];
  *idle = v[3] + v[4];
}

// CPU time (user + system, ms) a process has used, from /proc/PID/stat.
static long long process_cpu_ms(pid_t pid) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  if (rd(path, line, sizeof line) <= 0)
    return -1;
  const char* p = strrchr(line, ')'); // the command name may contain spaces
  unsigned long long utime = 0, stime = 0;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (long long)(utime + stime) * 1000 / sysconf(_SC_CLK_TCK);
}

// Both clients select the gadget by its USB serial, from process start to exit.
// Besides the time, each run prints the client's CPU time (wait4's rusage),
// the gadget's, and how busy the guest was: the gadget's share shows it is
// not the limit; busy near 100% means the guest CPU (TCG) is, well below it
// means the client waits on the emulated bus.
static void bench(pid_t gadget_pid) {
  static const char* const ours[] = {"-q", "boot", "/boot.img", "-s", SERIAL, NULL};
  static const char* const aosp[] = {"-s", SERIAL, "boot", "/boot.img", NULL};
  static const struct {
    const char* name;
    const char* path;
    const char* const* args;
  } clients[] = {{"ours", "/bin/fastboop-push", ours}, {"aosp", "/bin/fastboot", aosp}};
  long long best[2] = {0, 0};
  for (int run = 1; run <= bench_runs; ++run)
    for (int c = 0; c < 2; ++c) {
      unsigned long long total0, idle0, total1, idle1;
      cpu_ticks(&total0, &idle0);
      long long gadget0 = process_cpu_ms(gadget_pid);
      long long t0 = now_ns();
      pid_t p = spawn_program(clients[c].path, clients[c].args);
      int st = 0;
      struct rusage ru;
      memset(&ru, 0, sizeof ru);
      wait4(p, &st, 0, &ru);
      long long dt = now_ns() - t0;
      cpu_ticks(&total1, &idle1);
      long long gadget_ms = process_cpu_ms(gadget_pid) - gadget0;
      int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      long long cpu_ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000LL +
                         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
      unsigned long long dtotal = total1 - total0, didle = idle1 - idle0;
      say("FBQ-BENCH %s run=%d rc=%d ns=%lld client_cpu_ms=%lld gadget_cpu_ms=%lld guest_busy=%llu%%",
          clients[c].name, run, rc, dt, cpu_ms, gadget_ms, dtotal ? 100 * (dtotal - didle) / dtotal : 0);
      if (rc == 0 && (best[c] == 0 || dt < best[c]))
        best[c] = dt;
    }
  for (int c = 0; c < 2; ++c)
    say("FBQ-BENCH-BEST %s ns=%lld", clients[c].name, best[c]);
}

int main(void) {
  mount("proc", "/proc", "proc", 0, NULL);
  mount("sysfs", "/sys", "sysfs", 0, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  int fd = open("/dev/console", O_RDWR);
  if (fd >= 0) {
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
  }
  say("FBQ-INIT reached");
  bench_runs = parse_bench_runs();
  if (load_modules() || setup_gadget())
    goto done;
  pid_t g = fork();
  if (g == 0) {
    gadget();
    _exit(0);
  }
  if (wr(GADGET "/UDC", udc_name))
    goto done;
  char port[256];
  wait_enumerated(port, sizeof port);
  if (!*port) {
    say("FBQ-ERROR the gadget was not enumerated through dummy_hcd");
    goto done;
  }
  char target[300];
  snprintf(target, sizeof target, "usb:%s", port);
  say("FBQ-ENUMERATED %s", target);

  if (bench_runs > 0) {
    bench(g);
  } else {
    const char* detect[] = {"detect", "--json", NULL};
    step("detect", detect);
    const char* getvar[] = {"getvar", "product", "-s", target, NULL};
    step("getvar", getvar);
    const char* wrong[] = {"boot", "/wrong.img", "-s", target, NULL};
    step("refuse", wrong);
    const char* boot[] = {"boot", "/boot.img", "-s", target, NULL};
    step("boot", boot);

    // Hotplug: the device goes away, `boot --wait` starts, the device comes back.
    wr(GADGET "/UDC", "\n"); // an empty write is EFAULT; a newline unbinds
    for (int i = 0; i < 100; ++i) {
      char v[16], p[300];
      snprintf(p, sizeof p, "/sys/bus/usb/devices/%s/idVendor", port);
      if (rd(p, v, sizeof v) <= 0)
        break;
      usleep(100000);
    }
    say("FBQ-UNPLUGGED");
    const char* wait_boot[] = {"boot", "/boot.img", "--wait", "--timeout", "60", NULL};
    say("FBQ-BEGIN wait");
    pid_t w = spawn_push(wait_boot);
    sleep(2);
    say("FBQ-REPLUG");
    wr(GADGET "/UDC", udc_name);
    say("FBQ-STEP wait rc=%d", wait_rc(w));
  }

done:
  say("FBQ-DONE");
  sync();
  reboot(RB_POWER_OFF);
  for (;;)
    pause();
}
