// The smallest smoo host that works, written from ../shared/spec/smoo.md, for
// checking the gadget stand-in on its own (tests/smoo): when this one reads
// the image back correctly and fastboop-push serve does not, the fault is in
// fastboop's host, not in the stand-in or the guest.
//
//   mini-host IMAGE [BLOCK_SIZE]
//
// Finds the first interface ff/42/03 or ff/53/4d, IDENT, CONFIG_EXPORTS with
// one export (IMAGE, id 0x51a11), then answers Requests one at a time (reads
// from IMAGE; writes consumed and refused with EOPNOTSUPP) until SIGTERM.
#include <errno.h>
#include <fcntl.h>
#include <libusb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) {
  (void)sig;
  stop = 1;
}

static uint32_t get32(const unsigned char* p) {
  return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char* p) {
  return get32(p) | (uint64_t)get32(p + 4) << 32;
}
static void put32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = (unsigned char)(v >> 8 * i);
}
static void put64(unsigned char* p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

int main(int argc, char** argv) {
  if (argc < 2)
    return 2;
  const uint32_t bs = argc > 2 ? (uint32_t)atoi(argv[2]) : 4096;
  int img = open(argv[1], O_RDONLY);
  struct stat st;
  if (img < 0 || fstat(img, &st)) {
    perror(argv[1]);
    return 1;
  }
  signal(SIGTERM, on_term);
  libusb_context* ctx = NULL;
  int r;
  fprintf(stderr, "mini-host: waiting for a smoo gadget\n");
  libusb_device_handle* h = NULL;
  int iface = -1;
  unsigned char ep_int_in = 0, ep_int_out = 0, ep_bulk_in = 0, ep_bulk_out = 0;
  while (!h && !stop) {
    // A fresh context per attempt: libusb adds a hot-plugged device to a
    // context's list only while handling events, which this loop never does.
    if (ctx)
      libusb_exit(ctx);
    r = libusb_init(&ctx);
    if (r) {
      fprintf(stderr, "mini-host: libusb_init: %s\n", libusb_error_name(r));
      return 1;
    }
    libusb_device** list;
    ssize_t n = libusb_get_device_list(ctx, &list);
    for (ssize_t i = 0; i < n && !h; ++i) {
      struct libusb_config_descriptor* c;
      if (libusb_get_active_config_descriptor(list[i], &c))
        continue;
      for (int j = 0; j < c->bNumInterfaces && !h; ++j) {
        const struct libusb_interface_descriptor* d = &c->interface[j].altsetting[0];
        if (d->bInterfaceClass != 0xff ||
            !((d->bInterfaceSubClass == 0x42 && d->bInterfaceProtocol == 3) ||
              (d->bInterfaceSubClass == 0x53 && d->bInterfaceProtocol == 0x4d)) ||
            d->bNumEndpoints != 4)
          continue;
        for (int e = 0; e < 4; ++e) {
          const struct libusb_endpoint_descriptor* ep = &d->endpoint[e];
          const int in = ep->bEndpointAddress & 0x80, bulk = (ep->bmAttributes & 3) == 2;
          *(bulk ? (in ? &ep_bulk_in : &ep_bulk_out) : (in ? &ep_int_in : &ep_int_out)) =
              ep->bEndpointAddress;
        }
        if (libusb_open(list[i], &h) == 0) {
          iface = d->bInterfaceNumber;
          if (libusb_claim_interface(h, iface)) {
            libusb_close(h);
            h = NULL;
          }
        }
      }
      libusb_free_config_descriptor(c);
    }
    libusb_free_device_list(list, 1);
    if (!h)
      usleep(500000);
  }
  if (!h)
    return 0;
  unsigned char b[64];
  r = libusb_control_transfer(h, 0xC1, 0x01, 0, (uint16_t)iface, b, 8, 1000);
  if (r != 8 || memcmp(b, "SMOO", 4)) {
    fprintf(stderr, "mini-host: IDENT failed (%d)\n", r);
    return 1;
  }
  const uint64_t size = (uint64_t)st.st_size / bs * bs;
  memset(b, 0, 32);
  b[2] = 1; // count
  put32(b + 8, 0x51a11);
  put32(b + 12, bs);
  put64(b + 16, size);
  r = libusb_control_transfer(h, 0x41, 0x02, 0, (uint16_t)iface, b, 32, 1000);
  if (r != 32) {
    fprintf(stderr, "mini-host: CONFIG_EXPORTS failed (%d)\n", r);
    return 1;
  }
  fprintf(stderr, "mini-host: exporting %llu bytes\n", (unsigned long long)size);
  static unsigned char payload[1 << 20];
  unsigned long long served = 0;
  while (!stop) {
    unsigned char m[1024];
    int got = 0;
    r = libusb_interrupt_transfer(h, ep_int_in, m, sizeof m, &got, 500);
    if (r == LIBUSB_ERROR_TIMEOUT)
      continue;
    if (r || got != 28) {
      fprintf(stderr, "mini-host: interrupt IN: %s (%d bytes)\n", libusb_error_name(r), got);
      usleep(100000);
      continue;
    }
    const uint8_t op = m[0];
    const uint64_t lba = get64(m + 12);
    const uint32_t blocks = get32(m + 20);
    const uint64_t len = (uint64_t)blocks * bs;
    uint8_t status = 0;
    if (op == 1) { // write: consume, refuse
      int moved;
      for (uint64_t left = len; left;) {
        const int want = left < sizeof payload ? (int)left : (int)sizeof payload;
        if (libusb_bulk_transfer(h, ep_bulk_in, payload, want, &moved, 5000))
          break;
        left -= (uint64_t)moved;
      }
      status = EOPNOTSUPP;
    } else if (op == 0) {
      if (get32(m + 8) != 0x51a11)
        status = EINVAL;
      else if (len > sizeof payload || lba * bs + len > size)
        status = EINVAL;
      else if (pread(img, payload, len, (off_t)(lba * bs)) != (ssize_t)len)
        status = EIO;
    }
    m[1] = status;
    int put = 0;
    r = libusb_interrupt_transfer(h, ep_int_out, m, 28, &put, 5000);
    if (!r && op == 0 && status == 0) {
      r = libusb_bulk_transfer(h, ep_bulk_out, payload, (int)len, &put, 5000);
      served += len;
    }
    if (r)
      fprintf(stderr, "mini-host: response: %s\n", libusb_error_name(r));
  }
  fprintf(stderr, "mini-host: stopped after serving %llu bytes\n", served);
  return 0;
}
