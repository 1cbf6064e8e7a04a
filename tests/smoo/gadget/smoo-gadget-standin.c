// A test-only stand-in for smoo's gadget side (/bin/smoo-gadget), written from
// ../shared/spec/smoo.md (§2-§4, §6) and stage0.md §5: the device half of the
// protocol that fastboop-push's smoo host talks to. It exists so the host can
// be tested over the kernel's real USB stack (FunctionFS on dummy_hcd) and a
// real ublk block device, in one QEMU guest; it is not smoo's gadget (no crash
// recovery, no DMA-BUF, no metrics) and uses only what Linux 6.12 offers.
//
// What it does:
//  - writes smoo's FunctionFS descriptors (one interface ff/42/03 with
//    --mimic-fastboot, else ff/53/4d; ep1 interrupt IN, ep2 interrupt OUT, ep3
//    bulk IN, ep4 bulk OUT; FS/HS/SS) and the string "smoo" to --ffs-dir/ep0;
//  - answers the control requests on ep0: IDENT ("SMOO" 0.1), STATUS (version
//    0, export-active flag, export count, a session id fixed per process) and
//    CONFIG_EXPORTS (the whole export set; each export becomes a ublk device
//    through /dev/ublk-control: ADD_DEV, SET_PARAMS, START_DEV; an export that
//    left the set is stopped and deleted);
//  - turns every ublk I/O into a 28-byte Request on interrupt IN (a write's
//    payload follows on bulk IN), matches the 28-byte Response from interrupt
//    OUT to it, reads a successful read's payload from bulk OUT, and completes
//    the ublk I/O with the Response's status;
//  - replays every Request still unanswered when the host configures the
//    function again (ENABLE after a reset or replug) or starts a new session
//    (CONFIG_EXPORTS), as smoo's gadget may; a Response that matches nothing in
//    flight is ignored (a read's payload is still consumed, so the bulk stream
//    stays in step).
//
// It takes the command line stage0's PID1 passes to smoo-gadget (stage0.md
// §5.1) and checks it the same way, so it can stand in for the real one in a
// stage0 initramfs. Only --ffs-dir operation is offered: the caller (PID1 or
// the test's init) owns configfs and binds the UDC after ep1 appears.
//
// Logs go to stderr, one line per event worth knowing ("smoo-standin: ...").
// Built static (liburing from liburing-dev, the uapi from linux-libc-dev).
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/ublk_cmd.h>
#include <linux/usb/ch9.h>
#include <linux/usb/functionfs.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// The ioctl-encoded ublk opcodes (Linux 6.3+; the legacy numbers are a build
// option the kernel may drop). linux-libc-dev 6.1 lacks them.
#ifndef UBLK_U_CMD_ADD_DEV
#define UBLK_U_CMD_ADD_DEV _IOWR('u', UBLK_CMD_ADD_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_DEL_DEV _IOWR('u', UBLK_CMD_DEL_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_START_DEV _IOWR('u', UBLK_CMD_START_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_STOP_DEV _IOWR('u', UBLK_CMD_STOP_DEV, struct ublksrv_ctrl_cmd)
#define UBLK_U_CMD_SET_PARAMS _IOWR('u', UBLK_CMD_SET_PARAMS, struct ublksrv_ctrl_cmd)
#define UBLK_U_IO_FETCH_REQ _IOWR('u', UBLK_IO_FETCH_REQ, struct ublksrv_io_cmd)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ                                                             \
  _IOWR('u', UBLK_IO_COMMIT_AND_FETCH_REQ, struct ublksrv_io_cmd)
#endif
#ifndef UBLK_F_CMD_IOCTL_ENCODE
#define UBLK_F_CMD_IOCTL_ENCODE (1ULL << 6)
#endif

// Protocol constants (smoo.md §3, §4).
enum {
  REQ_IDENT = 0x01,
  REQ_CONFIG_EXPORTS = 0x02,
  REQ_STATUS = 0x03,
  MSG_LEN = 28,
  MAX_EXPORTS = 32,
  OP_READ = 0,
  OP_WRITE = 1,
  OP_FLUSH = 2,
  OP_DISCARD = 3,
};

static void logf_(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char* fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "smoo-standin: %s\n", line);
}

static void le16(unsigned char* p, uint16_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}
static void le32(unsigned char* p, uint32_t v) {
  le16(p, (uint16_t)v);
  le16(p + 2, (uint16_t)(v >> 16));
}
static void le64(unsigned char* p, uint64_t v) {
  le32(p, (uint32_t)v);
  le32(p + 4, (uint32_t)(v >> 32));
}
static uint16_t get16(const unsigned char* p) {
  return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t get32(const unsigned char* p) {
  return get16(p) | (uint32_t)get16(p + 2) << 16;
}
static uint64_t get64(const unsigned char* p) {
  return get32(p) | (uint64_t)get32(p + 4) << 32;
}

// ---------------------------------------------------------------------------
// Command line (stage0.md §5.1)

static struct {
  unsigned queue_count, queue_depth;
  uint32_t max_io;
  int mimic_fastboot;
  const char* ffs_dir;
  const char* state_file;
  const char* export_map_file;
} opt = {1, 16, 256 * 1024, 0, NULL, NULL, NULL};

static int parse_u16(const char* s, unsigned* out, int hex) {
  char* end;
  errno = 0;
  if (hex && (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2)))
    s += 2;
  unsigned long v = strtoul(s, &end, hex ? 16 : 10);
  if (errno || end == s || *end || v > 0xffff)
    return -1;
  *out = (unsigned)v;
  return 0;
}

// A byte count with an optional B/K/KiB/M/MiB/G/GiB suffix, non-zero.
static int parse_size(const char* s, uint32_t* out) {
  char* end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return -1;
  static const struct {
    const char* suffix;
    unsigned shift;
  } units[] = {{"", 0},   {"B", 0},    {"K", 10}, {"KiB", 10},
               {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; ++i)
    if (!strcmp(end, units[i].suffix)) {
      v <<= units[i].shift;
      if (v == 0 || v > 0xffffffffULL)
        return -1;
      *out = (uint32_t)v;
      return 0;
    }
  return -1;
}

static void usage_error(const char* fmt, const char* arg) {
  fprintf(stderr, "smoo-standin: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(2);
}

static void parse_args(int argc, char** argv) {
  int adopt = 0;
  for (int i = 1; i < argc; ++i) {
    char name[64];
    const char* a = argv[i];
    const char* value = NULL;
    const char* eq = strchr(a, '=');
    if (!strncmp(a, "--", 2) && eq && (size_t)(eq - a) < sizeof name) {
      snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
      value = eq + 1;
    } else {
      snprintf(name, sizeof name, "%s", a);
    }
    static const char* const flags[] = {"--mimic-fastboot", "--experimental-dma-buf", "--adopt"};
    int is_flag = 0;
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; ++f)
      is_flag |= !strcmp(name, flags[f]);
    if (!is_flag && !value) {
      if (i + 1 >= argc)
        usage_error("option %s needs a value", name);
      value = argv[++i];
    }
    unsigned u;
    if (!strcmp(name, "--mimic-fastboot")) {
      opt.mimic_fastboot = 1;
    } else if (!strcmp(name, "--experimental-dma-buf")) {
      usage_error("%s: DMA-BUF is not offered by this stand-in", name);
    } else if (!strcmp(name, "--adopt")) {
      adopt = 1;
    } else if (!strcmp(name, "--vendor-id") || !strcmp(name, "--product-id")) {
      if (parse_u16(value, &u, 1))
        usage_error("bad hex value for %s", name);
      // Like smoo with --ffs-dir: the caller's configfs gadget owns the ids.
    } else if (!strcmp(name, "--queue-count")) {
      if (parse_u16(value, &opt.queue_count, 0) || opt.queue_count == 0)
        usage_error("bad --queue-count '%s'", value);
    } else if (!strcmp(name, "--queue-depth")) {
      if (parse_u16(value, &opt.queue_depth, 0) || opt.queue_depth == 0 ||
          opt.queue_depth > UBLK_MAX_QUEUE_DEPTH)
        usage_error("bad --queue-depth '%s'", value);
    } else if (!strcmp(name, "--max-io") || !strcmp(name, "--max-io-bytes")) {
      if (parse_size(value, &opt.max_io))
        usage_error("bad --max-io '%s'", value);
    } else if (!strcmp(name, "--dma-heap")) {
      if (strcmp(value, "system") && strcmp(value, "cma") && strcmp(value, "reserved"))
        usage_error("bad --dma-heap '%s'", value);
    } else if (!strcmp(name, "--state-file")) {
      opt.state_file = value;
    } else if (!strcmp(name, "--export-map-file")) {
      opt.export_map_file = value;
    } else if (!strcmp(name, "--adopt-deadline")) {
      usage_error("%s: adoption is not offered by this stand-in", name);
    } else if (!strcmp(name, "--metrics-port")) {
      if (parse_u16(value, &u, 0))
        usage_error("bad --metrics-port '%s'", value);
      if (u != 0)
        usage_error("--metrics-port %s: metrics are not offered by this stand-in", value);
    } else if (!strcmp(name, "--ffs-dir")) {
      opt.ffs_dir = value;
    } else {
      usage_error("unknown option '%s'", a);
    }
  }
  if (adopt)
    usage_error("%s: adoption (ublk user recovery) is not offered by this stand-in", "--adopt");
  if (!opt.ffs_dir)
    usage_error("%s is required: this stand-in never builds a configfs gadget of its own",
                "--ffs-dir");
}

// ---------------------------------------------------------------------------
// State shared by the threads. One lock guards the export table, every tag's
// state and the send queue; the threads only block on I/O outside it.

enum TagState { TAG_IDLE, TAG_QUEUED, TAG_SENT, TAG_DONE };

struct Export;
struct Tag {
  enum TagState state;
  struct Export* exp;
  unsigned q, tag;
  uint8_t op;
  uint64_t lba;
  uint32_t num_blocks;
  int result; // for the ublk commit
  unsigned char* buf;
  struct Tag* next; // send queue or a queue's done list
};

struct Queue {
  struct Export* exp;
  unsigned q;
  struct io_uring ring;
  int efd; // the receiver wakes the queue thread with it
  struct ublksrv_io_desc* iods;
  size_t iods_len;
  struct Tag* tags;
  struct Tag* done; // answered, waiting for COMMIT_AND_FETCH_REQ
  pthread_t thread;
  int thread_started;
};

struct Export {
  uint32_t export_id, block_size;
  uint64_t size_bytes;
  int dev_id; // -1 until ADD_DEV succeeded
  int cdev;
  int serving;  // queues up, START_DEV issued: STATUS reports the export active
  int started;  // START_DEV succeeded
  int removing; // STOP_DEV issued: no more Requests for it
  struct Queue* queues;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t send_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t config_cond = PTHREAD_COND_INITIALIZER;
static struct Export* exports[MAX_EXPORTS];
static struct Tag *send_head, *send_tail;
static uint64_t session_id;
static int ffs_ep[5]; // ep0..ep4
static int ctrl_fd = -1;

// The newest CONFIG_EXPORTS, applied by the manager thread.
static struct {
  unsigned generation, applied;
  unsigned count;
  uint32_t id[MAX_EXPORTS], block_size[MAX_EXPORTS];
  uint64_t size[MAX_EXPORTS];
} wanted;

static void push_send(struct Tag* t, int front) { // with lock held
  t->state = TAG_QUEUED;
  t->next = NULL;
  if (front) {
    t->next = send_head;
    send_head = t;
    if (!send_tail)
      send_tail = t;
  } else {
    if (send_tail)
      send_tail->next = t;
    else
      send_head = t;
    send_tail = t;
  }
  pthread_cond_signal(&send_cond);
}

// Every Request sent but not answered goes out again (smoo.md §4 "Replay").
static void replay_unanswered(const char* why) {
  unsigned n = 0;
  pthread_mutex_lock(&lock);
  for (int e = 0; e < MAX_EXPORTS; ++e) {
    struct Export* x = exports[e];
    if (!x || !x->queues || x->removing)
      continue;
    for (unsigned q = 0; q < opt.queue_count; ++q)
      for (unsigned t = 0; t < opt.queue_depth; ++t)
        if (x->queues[q].tags && x->queues[q].tags[t].state == TAG_SENT) {
          push_send(&x->queues[q].tags[t], 0);
          ++n;
        }
  }
  pthread_mutex_unlock(&lock);
  if (n)
    logf_("%s: replaying %u unanswered request(s)", why, n);
}

static struct Export* find_export(uint32_t id) { // with lock held
  for (int e = 0; e < MAX_EXPORTS; ++e)
    if (exports[e] && exports[e]->export_id == id && !exports[e]->removing)
      return exports[e];
  return NULL;
}

// ---------------------------------------------------------------------------
// ublk

static struct io_uring ctrl_ring; // used by the manager thread only

static int ublk_ctrl(uint32_t op, uint32_t dev_id, void* buf, uint16_t len, uint64_t data0) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&ctrl_ring);
  if (!sqe) // one command at a time: cannot happen
    return -EBUSY;
  memset(sqe, 0, 2 * sizeof *sqe); // a 128-byte SQE
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = ctrl_fd;
  sqe->cmd_op = op;
  struct ublksrv_ctrl_cmd cmd = {
      .dev_id = dev_id, .queue_id = (uint16_t)-1, .len = len, .addr = (uint64_t)(uintptr_t)buf};
  cmd.data[0] = data0;
  memcpy(sqe->cmd, &cmd, sizeof cmd);
  int r = io_uring_submit(&ctrl_ring);
  if (r < 0)
    return r;
  struct io_uring_cqe* cqe;
  do
    r = io_uring_wait_cqe(&ctrl_ring, &cqe);
  while (r == -EINTR);
  if (r < 0)
    return r;
  r = cqe->res;
  io_uring_cqe_seen(&ctrl_ring, cqe);
  return r;
}

static void queue_io_cmd(struct Queue* q, uint32_t op, unsigned tag, int result) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&q->ring);
  if (!sqe) { // the ring holds two entries per tag: cannot happen
    logf_("queue %u: submission ring full", q->q);
    abort();
  }
  memset(sqe, 0, sizeof *sqe);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = q->exp->cdev;
  sqe->cmd_op = op;
  sqe->user_data = tag;
  struct ublksrv_io_cmd* c = (struct ublksrv_io_cmd*)sqe->cmd;
  c->q_id = (uint16_t)q->q;
  c->tag = (uint16_t)tag;
  c->result = result;
  c->addr = (uint64_t)(uintptr_t)q->tags[tag].buf;
}

enum { EFD_USER_DATA = 1u << 20 };

static void arm_eventfd(struct Queue* q, uint64_t* counter) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&q->ring);
  if (!sqe)
    abort(); // as in queue_io_cmd
  io_uring_prep_read(sqe, q->efd, counter, sizeof *counter, 0);
  sqe->user_data = EFD_USER_DATA;
}

// One ublk queue: fetch I/O, hand it to the sender, commit what the receiver
// answered. The ublk driver takes FETCH/COMMIT only from this thread.
static void* queue_thread(void* arg) {
  struct Queue* q = arg;
  uint64_t counter;
  for (unsigned t = 0; t < opt.queue_depth; ++t)
    queue_io_cmd(q, UBLK_U_IO_FETCH_REQ, t, 0);
  arm_eventfd(q, &counter);
  unsigned aborted = 0;
  while (aborted < opt.queue_depth) {
    int r = io_uring_submit_and_wait(&q->ring, 1);
    if (r < 0 && r != -EINTR) {
      logf_("export %08x queue %u: io_uring: %s", q->exp->export_id, q->q, strerror(-r));
      break;
    }
    struct io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&q->ring, head, cqe) {
      ++seen;
      if (cqe->user_data == EFD_USER_DATA) {
        pthread_mutex_lock(&lock);
        struct Tag* done = q->done;
        q->done = NULL;
        pthread_mutex_unlock(&lock);
        for (struct Tag *t = done, *next; t; t = next) {
          next = t->next;
          pthread_mutex_lock(&lock);
          t->state = TAG_IDLE;
          pthread_mutex_unlock(&lock);
          queue_io_cmd(q, UBLK_U_IO_COMMIT_AND_FETCH_REQ, t->tag, t->result);
        }
        pthread_mutex_lock(&lock);
        const int removing = q->exp->removing;
        pthread_mutex_unlock(&lock);
        if (removing) // remove_export woke us: the ring's exit cancels the fetches
          return NULL;
        arm_eventfd(q, &counter);
        continue;
      }
      unsigned tag = (unsigned)cqe->user_data;
      if (cqe->res == UBLK_IO_RES_ABORT) { // the device is stopping
        ++aborted;
        continue;
      }
      if (cqe->res != UBLK_IO_RES_OK || tag >= opt.queue_depth) {
        logf_("export %08x queue %u tag %u: ublk fetch failed: %s", q->exp->export_id, q->q, tag,
              strerror(cqe->res < 0 ? -cqe->res : EINVAL));
        ++aborted;
        continue;
      }
      const struct ublksrv_io_desc* iod = &q->iods[tag];
      struct Tag* t = &q->tags[tag];
      const uint32_t bs = q->exp->block_size;
      const uint64_t start = (uint64_t)iod->start_sector << 9, len = (uint64_t)iod->nr_sectors << 9;
      const uint8_t op = ublksrv_get_op(iod);
      if (op > OP_DISCARD || start % bs || len % bs || len > opt.max_io) {
        // Only read/write/flush/discard exist on the wire (no write-zeroes:
        // SET_PARAMS advertises none).
        queue_io_cmd(q, UBLK_U_IO_COMMIT_AND_FETCH_REQ, tag, -EOPNOTSUPP);
        continue;
      }
      pthread_mutex_lock(&lock);
      t->op = op;
      t->lba = start / bs;
      t->num_blocks = (uint32_t)(len / bs);
      push_send(t, 0);
      pthread_mutex_unlock(&lock);
    }
    io_uring_cq_advance(&q->ring, seen);
  }
  return NULL;
}

// STOP_DEV, end the queue threads (their rings' exit cancels the pending
// fetches), close the char device, DEL_DEV (which waits for that close).
static void remove_export(struct Export* x) {
  if (x->dev_id >= 0 && x->started) {
    int r = ublk_ctrl(UBLK_U_CMD_STOP_DEV, (uint32_t)x->dev_id, NULL, 0, 0);
    if (r < 0)
      logf_("export %08x: STOP_DEV ublk%d: %s", x->export_id, x->dev_id, strerror(-r));
  }
  pthread_mutex_lock(&lock);
  x->removing = 1;
  // Drop its queued Requests; late Responses find nothing and are ignored.
  struct Tag** p = &send_head;
  send_tail = NULL;
  while (*p) {
    if ((*p)->exp == x)
      *p = (*p)->next;
    else {
      send_tail = *p;
      p = &(*p)->next;
    }
  }
  pthread_mutex_unlock(&lock);
  if (x->queues)
    for (unsigned q = 0; q < opt.queue_count; ++q) {
      struct Queue* qq = &x->queues[q];
      if (qq->thread_started) {
        uint64_t one = 1;
        if (write(qq->efd, &one, sizeof one) < 0)
          logf_("eventfd: %s", strerror(errno));
        pthread_join(qq->thread, NULL);
        io_uring_queue_exit(&qq->ring);
      }
    }
  if (x->cdev >= 0)
    close(x->cdev);
  if (x->dev_id >= 0) {
    int r = ublk_ctrl(UBLK_U_CMD_DEL_DEV, (uint32_t)x->dev_id, NULL, 0, 0);
    if (r < 0)
      logf_("export %08x: DEL_DEV ublk%d: %s", x->export_id, x->dev_id, strerror(-r));
    else
      logf_("export %08x: /dev/ublkb%d removed", x->export_id, x->dev_id);
  }
  // Memory is kept (a late Response may still look the export up while the
  // receiver holds no lock); a test process lives for one boot.
}

static int log2u(uint32_t v) {
  int s = 0;
  while ((1u << s) < v)
    ++s;
  return s;
}

// ADD_DEV, SET_PARAMS, the queue threads' FETCH_REQs, START_DEV. START_DEV
// scans the partition table, i.e. reads through the host: it must run while
// ep0 and the data plane keep going, hence this runs on the manager thread.
static int create_export(struct Export* x) {
  struct ublksrv_ctrl_dev_info info;
  memset(&info, 0, sizeof info);
  info.nr_hw_queues = (uint16_t)opt.queue_count;
  info.queue_depth = (uint16_t)opt.queue_depth;
  info.max_io_buf_bytes = opt.max_io;
  info.dev_id = (uint32_t)-1;
  info.flags = UBLK_F_CMD_IOCTL_ENCODE;
  int r = ublk_ctrl(UBLK_U_CMD_ADD_DEV, (uint32_t)-1, &info, sizeof info, 0);
  if (r < 0) {
    logf_("export %08x: ADD_DEV: %s", x->export_id, strerror(-r));
    return -1;
  }
  x->dev_id = (int)info.dev_id;

  struct ublk_params params;
  memset(&params, 0, sizeof params);
  params.len = sizeof params;
  params.types = UBLK_PARAM_TYPE_BASIC;
  const int shift = log2u(x->block_size);
  params.basic.logical_bs_shift = (uint8_t)shift;
  params.basic.physical_bs_shift = (uint8_t)shift;
  params.basic.io_min_shift = (uint8_t)shift;
  params.basic.io_opt_shift = (uint8_t)shift;
  params.basic.max_sectors = opt.max_io >> 9;
  params.basic.dev_sectors = x->size_bytes >> 9;
  r = ublk_ctrl(UBLK_U_CMD_SET_PARAMS, (uint32_t)x->dev_id, &params, sizeof params, 0);
  if (r < 0) {
    logf_("export %08x: SET_PARAMS ublk%d: %s", x->export_id, x->dev_id, strerror(-r));
    return -1;
  }

  char path[64];
  snprintf(path, sizeof path, "/dev/ublkc%d", x->dev_id);
  for (int i = 0; i < 100 && (x->cdev = open(path, O_RDWR | O_CLOEXEC)) < 0; ++i)
    usleep(20000); // devtmpfs creates the node a little after ADD_DEV
  if (x->cdev < 0) {
    logf_("export %08x: open %s: %s", x->export_id, path, strerror(errno));
    return -1;
  }
  x->queues = calloc(opt.queue_count, sizeof *x->queues);
  const long page = sysconf(_SC_PAGESIZE);
  const size_t max_iods =
      ((size_t)UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc) + page - 1) / page * page;
  for (unsigned qi = 0; qi < opt.queue_count; ++qi) {
    struct Queue* q = &x->queues[qi];
    q->exp = x;
    q->q = qi;
    q->iods_len = (opt.queue_depth * sizeof(struct ublksrv_io_desc) + page - 1) / page * page;
    q->iods = mmap(NULL, q->iods_len, PROT_READ, MAP_SHARED | MAP_POPULATE, x->cdev,
                   (off_t)(UBLKSRV_CMD_BUF_OFFSET + qi * max_iods));
    if (q->iods == MAP_FAILED) {
      logf_("export %08x: mmap the I/O descriptors of queue %u: %s", x->export_id, qi,
            strerror(errno));
      return -1;
    }
    q->tags = calloc(opt.queue_depth, sizeof *q->tags);
    for (unsigned t = 0; t < opt.queue_depth; ++t) {
      q->tags[t] = (struct Tag){.exp = x, .q = qi, .tag = t};
      if (posix_memalign((void**)&q->tags[t].buf, (size_t)page, opt.max_io)) {
        logf_("export %08x: out of memory for the I/O buffers", x->export_id);
        return -1;
      }
    }
    q->efd = eventfd(0, EFD_CLOEXEC);
    r = io_uring_queue_init(opt.queue_depth * 2 + 2, &q->ring, 0);
    if (r < 0 || q->efd < 0) {
      logf_("export %08x: queue %u setup: %s", x->export_id, qi, strerror(r < 0 ? -r : errno));
      return -1;
    }
    if (pthread_create(&q->thread, NULL, queue_thread, q)) {
      logf_("export %08x: cannot start queue %u", x->export_id, qi);
      return -1;
    }
    q->thread_started = 1;
  }
  // Active from here on: START_DEV's partition scan already reads through
  // the host, and a host that polls STATUS meanwhile must not see an idle
  // gadget and configure it again.
  pthread_mutex_lock(&lock);
  for (int e = 0; e < MAX_EXPORTS; ++e)
    if (!exports[e]) {
      exports[e] = x; // visible to the receiver before any Request can exist
      break;
    }
  x->serving = 1;
  pthread_mutex_unlock(&lock);
  logf_("export %08x: starting /dev/ublkb%d (%llu bytes, block %u, %u queue(s) x %u, max I/O %u)",
        x->export_id, x->dev_id, (unsigned long long)x->size_bytes, x->block_size, opt.queue_count,
        opt.queue_depth, opt.max_io);
  r = ublk_ctrl(UBLK_U_CMD_START_DEV, (uint32_t)x->dev_id, NULL, 0, (uint64_t)getpid());
  if (r < 0) {
    logf_("export %08x: START_DEV ublk%d: %s", x->export_id, x->dev_id, strerror(-r));
    return -1;
  }
  pthread_mutex_lock(&lock);
  x->started = 1;
  pthread_mutex_unlock(&lock);
  logf_("export %08x: /dev/ublkb%d started", x->export_id, x->dev_id);
  return 0;
}

// The export map (stage0.md §5.2), written atomically.
static void write_export_map(void) {
  if (!opt.export_map_file)
    return;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", opt.export_map_file);
  FILE* f = fopen(tmp, "w");
  if (!f) {
    logf_("write %s: %s", tmp, strerror(errno));
    return;
  }
  pthread_mutex_lock(&lock);
  fprintf(f, "{\"version\":0,\"session_id\":%llu,\"exports\":[", (unsigned long long)session_id);
  int first = 1;
  for (int e = 0; e < MAX_EXPORTS; ++e) {
    struct Export* x = exports[e];
    if (!x || x->removing)
      continue;
    fprintf(f, "%s{\"export_id\":%u,\"block_size\":%u,\"size_bytes\":%llu,", first ? "" : ",",
            x->export_id, x->block_size, (unsigned long long)x->size_bytes);
    if (x->started)
      fprintf(f, "\"assigned_dev_id\":%d,\"devnode\":\"/dev/ublkb%d\"}", x->dev_id, x->dev_id);
    else
      fprintf(f, "\"assigned_dev_id\":null,\"devnode\":null}");
    first = 0;
  }
  pthread_mutex_unlock(&lock);
  fprintf(f, "]}\n");
  if (fflush(f) || fsync(fileno(f)) || fclose(f) || rename(tmp, opt.export_map_file))
    logf_("write %s: %s", opt.export_map_file, strerror(errno));
}

// Applies each new CONFIG_EXPORTS: an export already running with the same id,
// block size and size stays (a host reconnecting sends the same set again).
static void* manager_thread(void* arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (wanted.applied == wanted.generation)
      pthread_cond_wait(&config_cond, &lock);
    const unsigned generation = wanted.generation;
    unsigned count = wanted.count;
    uint32_t id[MAX_EXPORTS], bs[MAX_EXPORTS];
    uint64_t size[MAX_EXPORTS];
    memcpy(id, wanted.id, sizeof id);
    memcpy(bs, wanted.block_size, sizeof bs);
    memcpy(size, wanted.size, sizeof size);
    struct Export* stale[MAX_EXPORTS];
    unsigned nstale = 0;
    for (int e = 0; e < MAX_EXPORTS; ++e) {
      struct Export* x = exports[e];
      if (!x || x->removing)
        continue;
      int keep = 0;
      for (unsigned i = 0; i < count; ++i)
        keep |= id[i] == x->export_id && bs[i] == x->block_size && size[i] == x->size_bytes;
      if (!keep)
        stale[nstale++] = x;
    }
    pthread_mutex_unlock(&lock);

    for (unsigned i = 0; i < nstale; ++i)
      remove_export(stale[i]);
    for (unsigned i = 0; i < count; ++i) {
      pthread_mutex_lock(&lock);
      const struct Export* running = find_export(id[i]);
      pthread_mutex_unlock(&lock);
      if (running)
        continue;
      if (opt.max_io < bs[i] || opt.max_io % bs[i]) { // as smoo: max I/O is never rounded
        logf_("export %08x: --max-io %u is not a multiple of block size %u; not created", id[i],
              opt.max_io, bs[i]);
        continue;
      }
      struct Export* x = calloc(1, sizeof *x);
      *x = (struct Export){
          .export_id = id[i], .block_size = bs[i], .size_bytes = size[i], .dev_id = -1, .cdev = -1};
      if (create_export(x))
        remove_export(x);
    }
    write_export_map();
    pthread_mutex_lock(&lock);
    wanted.applied = generation;
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

// ---------------------------------------------------------------------------
// Data plane

static int write_full(int fd, const unsigned char* p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// Bulk OUT payloads are read in pieces of at most 1 MiB (FunctionFS allocates
// a bounce buffer per read); a zero-length packet from the host is skipped.
// A new host session (CONFIG_EXPORTS) bumps this and signals the receiver:
// a payload it was still reading belonged to a host that is gone (killed
// mid-transfer, no bus reset), and the new host's bytes must not fill it.
static volatile unsigned session_generation;
static pthread_t receiver;
static void on_resync(int sig) {
  (void)sig;
}

static int read_full(int fd, unsigned char* p, size_t n) {
  const unsigned generation = session_generation;
  while (n) {
    size_t want = n < (1u << 20) ? n : (1u << 20);
    ssize_t r = read(fd, p, want);
    if (r < 0 && errno == EINTR && generation == session_generation)
      continue;
    if (r < 0)
      return -1; // reset, unbound, or a new host session
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static unsigned long long requests_sent, responses_matched, responses_ignored, payload_bytes;

// Sends Requests in the order ublk delivered them (replays go to the back);
// a write's payload follows its Request on bulk IN.
static void* sender_thread(void* arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&lock);
    while (!send_head)
      pthread_cond_wait(&send_cond, &lock);
    struct Tag* t = send_head;
    send_head = t->next;
    if (!send_head)
      send_tail = NULL;
    if (t->exp->removing) {
      pthread_mutex_unlock(&lock);
      continue;
    }
    t->state = TAG_SENT; // before the write: the Response may beat write() back
    unsigned char msg[MSG_LEN] = {0};
    msg[0] = t->op;
    le32(msg + 4, (uint32_t)t->q << 16 | t->tag);
    le32(msg + 8, t->exp->export_id);
    le64(msg + 12, t->lba);
    le32(msg + 20, t->num_blocks);
    const size_t payload = t->op == OP_WRITE ? (size_t)t->num_blocks * t->exp->block_size : 0;
    pthread_mutex_unlock(&lock);
    if (write_full(ffs_ep[1], msg, sizeof msg) ||
        (payload && write_full(ffs_ep[3], t->buf, payload))) {
      // Unbound or reset: back to the head of the queue, sent again once
      // the host is there (a replay on ENABLE might already have passed).
      pthread_mutex_lock(&lock);
      if (t->state == TAG_SENT)
        push_send(t, 1);
      pthread_mutex_unlock(&lock);
      usleep(50000);
      continue;
    }
    __atomic_add_fetch(&requests_sent, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

// Reads Responses and, for a successful read, its payload right after it
// (bulk OUT carries payloads in the order of their Responses).
static void* receiver_thread(void* arg) {
  (void)arg;
  static unsigned char scratch[1u << 20];
  for (;;) {
    unsigned char msg[1024]; // a whole interrupt packet: reads are per transfer
    ssize_t n = read(ffs_ep[2], msg, sizeof msg);
    if (n < 0) {
      usleep(50000); // unbound or reset
      continue;
    }
    if (n != MSG_LEN || msg[2] || msg[3] || get32(msg + 24)) {
      logf_("malformed Response (%zd bytes) ignored", n);
      continue;
    }
    const uint8_t op = msg[0], status = msg[1];
    const uint32_t rid = get32(msg + 4), export_id = get32(msg + 8), num_blocks = get32(msg + 20);
    const uint64_t lba = get64(msg + 12);
    pthread_mutex_lock(&lock);
    struct Export* x = find_export(export_id);
    struct Tag* t = NULL;
    const unsigned q = rid >> 16, tag = rid & 0xffff;
    if (x && x->queues && q < opt.queue_count && tag < opt.queue_depth) {
      struct Tag* c = &x->queues[q].tags[tag];
      // Only a Request on the wire can be answered; one queued for replay
      // waits for the answer to its replay (this one's payload is consumed).
      if (c->state == TAG_SENT && c->op == op && c->lba == lba && c->num_blocks == num_blocks)
        t = c;
    }
    const uint64_t len = x ? (uint64_t)num_blocks * x->block_size : 0;
    if (t)
      t->state = TAG_DONE; // not replayed any more; the bulk read below is ours
    pthread_mutex_unlock(&lock);
    if (op == OP_READ && status == 0) {
      if (!x || len > sizeof scratch) {
        logf_("Response for unknown export %08x or oversized read (%u blocks): its payload cannot "
              "be consumed",
              export_id, num_blocks);
        continue;
      }
      if (read_full(ffs_ep[4], t ? t->buf : scratch, (size_t)len)) {
        // Reset, or a new host session, in the middle of the payload: what
        // arrived is dropped and the Request goes out again.
        logf_("payload of request %08x dropped (%s); the request goes out again", rid,
              strerror(errno));
        if (t) {
          pthread_mutex_lock(&lock);
          push_send(t, 1);
          pthread_mutex_unlock(&lock);
        }
        usleep(50000);
        continue;
      }
      payload_bytes += len;
    }
    if (!t) {
      ++responses_ignored;
      continue;
    }
    ++responses_matched;
    pthread_mutex_lock(&lock);
    if (status)
      t->result = -(int)status;
    else
      t->result = (op == OP_READ || op == OP_WRITE) ? (int)len : 0;
    struct Queue* qq = &x->queues[q];
    t->next = qq->done;
    qq->done = t;
    pthread_mutex_unlock(&lock);
    uint64_t one = 1;
    if (write(qq->efd, &one, sizeof one) < 0)
      logf_("eventfd: %s", strerror(errno));
  }
  return NULL;
}

// ---------------------------------------------------------------------------
// ep0: descriptors, strings, control requests

static unsigned char* put_interface(unsigned char* p) {
  const unsigned subclass = opt.mimic_fastboot ? 0x42 : 0x53,
                 protocol = opt.mimic_fastboot ? 0x03 : 0x4d;
  const unsigned char d[9] = {
      9, USB_DT_INTERFACE, 0, 0, 4, 0xff, (unsigned char)subclass, (unsigned char)protocol, 1};
  memcpy(p, d, sizeof d);
  return p + sizeof d;
}

static unsigned char* put_endpoint(unsigned char* p, unsigned address, unsigned type,
                                   unsigned max_packet, unsigned interval, int ss) {
  const unsigned char d[7] = {7,
                              USB_DT_ENDPOINT,
                              (unsigned char)address,
                              (unsigned char)type,
                              (unsigned char)max_packet,
                              (unsigned char)(max_packet >> 8),
                              (unsigned char)interval};
  memcpy(p, d, sizeof d);
  p += sizeof d;
  if (ss) { // companion: bMaxBurst 0; an interrupt endpoint moves one packet per interval
    const unsigned bytes = type == USB_ENDPOINT_XFER_INT ? max_packet : 0;
    const unsigned char c[6] = {6, USB_DT_SS_ENDPOINT_COMP, 0,
                                0, (unsigned char)bytes,    (unsigned char)(bytes >> 8)};
    memcpy(p, c, sizeof c);
    p += sizeof c;
  }
  return p;
}

// Full speed gets 64-byte packets (upstream writes 0 there; a full-speed host
// would refuse that, and dummy_hcd runs at high speed either way).
static unsigned char* put_speed(unsigned char* p, int speed) { // 0 full, 1 high, 2 super
  const unsigned intr = speed ? 1024 : 64, bulk = speed ? 512 : 64;
  p = put_interface(p);
  p = put_endpoint(p, 1 | USB_DIR_IN, USB_ENDPOINT_XFER_INT, intr, 1, speed == 2);
  p = put_endpoint(p, 2 | USB_DIR_OUT, USB_ENDPOINT_XFER_INT, intr, 1, speed == 2);
  p = put_endpoint(p, 3 | USB_DIR_IN, USB_ENDPOINT_XFER_BULK, bulk, 0, speed == 2);
  p = put_endpoint(p, 4 | USB_DIR_OUT, USB_ENDPOINT_XFER_BULK, bulk, 0, speed == 2);
  return p;
}

static int write_descriptors(int ep0) {
  unsigned char b[512], *p = b;
  le32(p, FUNCTIONFS_DESCRIPTORS_MAGIC_V2);
  le32(p + 8, FUNCTIONFS_HAS_FS_DESC | FUNCTIONFS_HAS_HS_DESC | FUNCTIONFS_HAS_SS_DESC);
  le32(p + 12, 5); // interface + 4 endpoints
  le32(p + 16, 5);
  le32(p + 20, 9); // + 4 companions
  p += 24;
  for (int speed = 0; speed < 3; ++speed)
    p = put_speed(p, speed);
  le32(b + 4, (uint32_t)(p - b));
  if (write(ep0, b, (size_t)(p - b)) != p - b)
    return -1;
  p = b;
  le32(p, FUNCTIONFS_STRINGS_MAGIC);
  le32(p + 8, 1);  // strings
  le32(p + 12, 1); // languages
  le16(p + 16, 0x0409);
  memcpy(p + 18, "smoo", 5);
  p += 23;
  le32(b + 4, (uint32_t)(p - b));
  return write(ep0, b, (size_t)(p - b)) == p - b ? 0 : -1;
}

static int ep0_stall(int ep0, const struct usb_ctrlrequest* s) {
  // FunctionFS stalls a setup when the program does I/O in the other direction.
  if (s->bRequestType & USB_DIR_IN)
    return (int)read(ep0, NULL, 0);
  return (int)write(ep0, NULL, 0);
}

static void reply(int ep0, const struct usb_ctrlrequest* s, const unsigned char* data, size_t n) {
  const size_t w = le16toh(s->wLength);
  if (write(ep0, data, n < w ? n : w) < 0)
    logf_("ep0 reply to request %u: %s", s->bRequest, strerror(errno));
}

static void config_exports(int ep0, const struct usb_ctrlrequest* s) {
  const unsigned len = le16toh(s->wLength);
  // The length is all that can be refused with a stall: FunctionFS finishes
  // the status stage as soon as the data stage has been read.
  if (len < 8 || len > 8 + 24 * MAX_EXPORTS || (len - 8) % 24) {
    logf_("CONFIG_EXPORTS of %u bytes refused (stall)", len);
    ep0_stall(ep0, s);
    return;
  }
  unsigned char b[8 + 24 * MAX_EXPORTS];
  ssize_t n = read(ep0, b, len);
  if (n != (ssize_t)len) {
    logf_("CONFIG_EXPORTS data: %s", n < 0 ? strerror(errno) : "short");
    return;
  }
  const unsigned version = get16(b), count = get16(b + 2);
  const char* bad = NULL;
  if (version != 0)
    bad = "version is not 0";
  else if (get32(b + 4))
    bad = "flags are not 0";
  else if (len != 8 + 24 * count)
    bad = "length does not match the count";
  uint32_t id[MAX_EXPORTS], bs[MAX_EXPORTS];
  uint64_t size[MAX_EXPORTS];
  for (unsigned i = 0; !bad && i < count; ++i) {
    const unsigned char* e = b + 8 + 24 * i;
    id[i] = get32(e);
    bs[i] = get32(e + 4);
    size[i] = get64(e + 8);
    if (!id[i])
      bad = "export_id 0";
    for (unsigned j = 0; j < i; ++j)
      if (id[j] == id[i])
        bad = "duplicate export_id";
    if (bs[i] < 512 || bs[i] > 65536 || (bs[i] & (bs[i] - 1)))
      bad = "block_size is not a power of two in 512..65536";
    else if (size[i] == 0 || size[i] % bs[i])
      bad = "size_bytes is not a non-zero multiple of block_size";
    if (get64(e + 16))
      bad = "reserved bytes are not 0";
  }
  if (bad) {
    logf_("CONFIG_EXPORTS ignored: %s", bad);
    return;
  }
  logf_("CONFIG_EXPORTS: %u export(s)", count);
  for (unsigned i = 0; i < count; ++i)
    logf_("  export %08x: block %u, %llu bytes", id[i], bs[i], (unsigned long long)size[i]);
  pthread_mutex_lock(&lock);
  wanted.count = count;
  memcpy(wanted.id, id, sizeof id);
  memcpy(wanted.block_size, bs, sizeof bs);
  memcpy(wanted.size, size, sizeof size);
  ++wanted.generation;
  pthread_cond_signal(&config_cond);
  pthread_mutex_unlock(&lock);
  ++session_generation;
  pthread_kill(receiver, SIGUSR1);
  replay_unanswered("new host session"); // exports already running keep their I/O
}

static void handle_setup(int ep0, const struct usb_ctrlrequest* s) {
  unsigned char b[16] = {0};
  if (s->bRequestType == 0xC1 && s->bRequest == REQ_IDENT) {
    memcpy(b, "SMOO", 4);
    le16(b + 4, 0);
    le16(b + 6, 1);
    reply(ep0, s, b, 8);
  } else if (s->bRequestType == 0xA1 && s->bRequest == REQ_STATUS) {
    unsigned count = 0, active = 0;
    pthread_mutex_lock(&lock);
    for (int e = 0; e < MAX_EXPORTS; ++e)
      if (exports[e] && !exports[e]->removing) {
        ++count;
        active |= exports[e]->serving;
      }
    pthread_mutex_unlock(&lock);
    le16(b, 0);
    le16(b + 2, (uint16_t)active);
    le32(b + 4, count);
    le64(b + 8, session_id);
    reply(ep0, s, b, 16);
  } else if (s->bRequestType == 0x41 && s->bRequest == REQ_CONFIG_EXPORTS) {
    config_exports(ep0, s);
  } else {
    logf_("control request %02x/%02x not ours: stall", s->bRequestType, s->bRequest);
    ep0_stall(ep0, s);
  }
}

static void write_state_file(void) {
  if (!opt.state_file)
    return;
  // smoo refuses to start over an existing state file unless it adopts.
  int fd = open(opt.state_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    fprintf(stderr, "smoo-standin: state file %s: %s%s\n", opt.state_file, strerror(errno),
            errno == EEXIST ? " (a gadget ran before; --adopt is not offered)" : "");
    exit(1);
  }
  char s[128];
  int n = snprintf(s, sizeof s, "{\"version\":0,\"session_id\":%llu,\"devices\":[]}\n",
                   (unsigned long long)session_id);
  if (write(fd, s, (size_t)n) != n)
    logf_("write %s: %s", opt.state_file, strerror(errno));
  close(fd);
}

int main(int argc, char** argv) {
  setvbuf(stderr, NULL, _IOLBF, 0);
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  if (getrandom(&session_id, sizeof session_id, 0) != sizeof session_id)
    session_id = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;

  // As smoo: without ublk, exit before ep1 exists (PID1 sees the child die).
  ctrl_fd = open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
  if (ctrl_fd < 0) {
    fprintf(stderr, "smoo-standin: init ublk: /dev/ublk-control: %s\n", strerror(errno));
    return 1;
  }
  int r = io_uring_queue_init(4, &ctrl_ring, IORING_SETUP_SQE128);
  if (r < 0) {
    fprintf(stderr, "smoo-standin: init ublk: io_uring with 128-byte SQEs: %s\n", strerror(-r));
    return 1;
  }
  write_state_file();
  write_export_map();

  char path[4096];
  snprintf(path, sizeof path, "%s/ep0", opt.ffs_dir);
  ffs_ep[0] = open(path, O_RDWR | O_CLOEXEC);
  if (ffs_ep[0] < 0 || write_descriptors(ffs_ep[0])) {
    fprintf(stderr, "smoo-standin: FunctionFS %s: %s\n", path, strerror(errno));
    return 1;
  }
  for (int i = 1; i <= 4; ++i) {
    snprintf(path, sizeof path, "%s/ep%d", opt.ffs_dir, i);
    ffs_ep[i] = open(path, O_RDWR | O_CLOEXEC);
    if (ffs_ep[i] < 0) {
      fprintf(stderr, "smoo-standin: open %s: %s\n", path, strerror(errno));
      return 1;
    }
  }
  logf_("descriptors written to %s/ep0 (interface ff/%02x/%02x), session %016llx, %u queue(s) x "
        "%u, max I/O %u",
        opt.ffs_dir, opt.mimic_fastboot ? 0x42 : 0x53, opt.mimic_fastboot ? 0x03 : 0x4d,
        (unsigned long long)session_id, opt.queue_count, opt.queue_depth, opt.max_io);

  // No SA_RESTART: the signal ends the receiver's blocking read (EINTR).
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_resync;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t th;
  if (pthread_create(&th, NULL, manager_thread, NULL) ||
      pthread_create(&th, NULL, sender_thread, NULL) ||
      pthread_create(&receiver, NULL, receiver_thread, NULL)) {
    fprintf(stderr, "smoo-standin: cannot start threads\n");
    return 1;
  }

  static const char* const names[] = {"BIND",  "UNBIND",  "ENABLE", "DISABLE",
                                      "SETUP", "SUSPEND", "RESUME"};
  int was_disabled = 0;
  for (;;) {
    struct usb_functionfs_event ev[4];
    ssize_t n = read(ffs_ep[0], ev, sizeof ev);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || n % (ssize_t)sizeof ev[0]) {
      logf_("ep0 read: %s", n < 0 ? strerror(errno) : "short");
      sleep(1);
      continue;
    }
    for (ssize_t i = 0; i < n / (ssize_t)sizeof ev[0]; ++i) {
      const unsigned type = ev[i].type;
      if (type == FUNCTIONFS_SETUP) {
        handle_setup(ffs_ep[0], &ev[i].u.setup);
        continue;
      }
      logf_("ep0 event %s", type < 7 ? names[type] : "?");
      if (type == FUNCTIONFS_DISABLE || type == FUNCTIONFS_UNBIND)
        was_disabled = 1;
      if (type == FUNCTIONFS_ENABLE && was_disabled) {
        was_disabled = 0;
        replay_unanswered("configured again");
      }
    }
  }
}
