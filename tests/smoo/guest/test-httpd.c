// A small static HTTP/1.1 file server for the smoo QEMU guest (which has no
// busybox or python): HEAD and GET of regular files under one directory, with
// single "bytes=A-B" / "bytes=A-" ranges answered 206 with Content-Range,
// keep-alive, one process per connection. It exists so fastboop-push's http
// source talks to a real server over the guest's loopback.
//
//   test-httpd DIR PORT COUNTER_FILE
//
// Listens on 127.0.0.1:PORT. Every response adds the body bytes it sent to
// COUNTER_FILE (a binary u64 updated under flock), so the test can print the
// bytes fetched over HTTP next to the bytes the block device read.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char* root;
static const char* counter_path;

static void add_to_counter(uint64_t n) {
  int fd = open(counter_path, O_RDWR | O_CREAT, 0644);
  if (fd < 0)
    return;
  flock(fd, LOCK_EX);
  uint64_t v = 0;
  if (pread(fd, &v, sizeof v, 0) != sizeof v)
    v = 0;
  v += n;
  if (pwrite(fd, &v, sizeof v, 0) != sizeof v)
    perror("test-httpd: counter");
  close(fd);
}

static int send_all(int s, const char* p, size_t n) {
  while (n) {
    ssize_t w = send(s, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int status_only(int s, int code, const char* reason) {
  char h[256];
  int n = snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", code, reason);
  return send_all(s, h, (size_t)n);
}

// One request from `req` (headers, NUL-terminated). Returns -1 to close.
static int answer(int s, char* req, uint64_t* sent) {
  char method[8], target[1024];
  if (sscanf(req, "%7s %1023s", method, target) != 2)
    return status_only(s, 400, "Bad Request"), -1;
  const int head = !strcmp(method, "HEAD");
  if (!head && strcmp(method, "GET"))
    return status_only(s, 405, "Method Not Allowed");
  if (target[0] != '/' || strstr(target, ".."))
    return status_only(s, 404, "Not Found");
  char path[2048];
  snprintf(path, sizeof path, "%s%s", root, target);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    if (fd >= 0)
      close(fd);
    return status_only(s, 404, "Not Found");
  }
  const uint64_t size = (uint64_t)st.st_size;
  uint64_t first = 0, last = size ? size - 1 : 0;
  int ranged = 0;
  for (char* line = strstr(req, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, "Range:", 6))
      continue;
    unsigned long long a, b;
    const char* v = line + 8;
    while (*v == ' ')
      ++v;
    int got = sscanf(v, "bytes=%llu-%llu", &a, &b);
    if (got < 1 || a >= size || (got == 2 && b < a)) {
      close(fd);
      char h[256];
      int n = snprintf(h, sizeof h,
                       "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes "
                       "*/%llu\r\nContent-Length: 0\r\n\r\n",
                       (unsigned long long)size);
      return send_all(s, h, (size_t)n);
    }
    first = a;
    last = got == 2 && b < size ? b : size - 1;
    ranged = 1;
  }
  const uint64_t len = size ? last - first + 1 : 0;
  char h[512];
  int n;
  if (ranged)
    n = snprintf(h, sizeof h,
                 "HTTP/1.1 206 Partial Content\r\nAccept-Ranges: bytes\r\nContent-Range: bytes "
                 "%llu-%llu/%llu\r\n"
                 "Content-Length: %llu\r\nContent-Type: application/octet-stream\r\n\r\n",
                 (unsigned long long)first, (unsigned long long)last, (unsigned long long)size,
                 (unsigned long long)len);
  else
    n = snprintf(h, sizeof h,
                 "HTTP/1.1 200 OK\r\nAccept-Ranges: bytes\r\nContent-Length: %llu\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n",
                 (unsigned long long)len);
  int rc = send_all(s, h, (size_t)n);
  if (!rc && !head) {
    off_t off = (off_t)first;
    uint64_t left = len;
    while (left) {
      ssize_t w = sendfile(s, fd, &off, left > (1u << 30) ? (1u << 30) : (size_t)left);
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0) {
        rc = -1;
        break;
      }
      left -= (uint64_t)w;
      *sent += (uint64_t)w;
    }
  }
  close(fd);
  return rc;
}

static void serve(int s) {
  static char buf[16384];
  size_t used = 0;
  uint64_t sent = 0;
  for (;;) {
    char* end;
    while (!(buf[used] = 0, end = strstr(buf, "\r\n\r\n"))) {
      if (used == sizeof buf - 1)
        goto out;
      ssize_t r = recv(s, buf + used, sizeof buf - 1 - used, 0);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        goto out;
      used += (size_t)r;
    }
    *end = 0;
    const size_t consumed = (size_t)(end + 4 - buf);
    const int rc = answer(s, buf, &sent);
    add_to_counter(sent); // per response: the count is current while connections stay open
    sent = 0;
    if (rc)
      break;
    memmove(buf, buf + consumed, used - consumed);
    used -= consumed;
  }
out:;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test-httpd DIR PORT COUNTER_FILE\n");
    return 2;
  }
  root = argv[1];
  counter_path = argv[3];
  signal(SIGCHLD, SIG_IGN); // no zombies
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (l < 0 || bind(l, (struct sockaddr*)&a, sizeof a) || listen(l, 64)) {
    perror("test-httpd: listen");
    return 1;
  }
  fprintf(stderr, "test-httpd: serving %s on 127.0.0.1:%s\n", root, argv[2]);
  for (;;) {
    int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (s < 0)
      continue;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pid_t p = fork();
    if (p == 0) {
      close(l);
      serve(s);
      _exit(0);
    }
    close(s);
  }
}
