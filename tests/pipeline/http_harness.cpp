#include "http_harness.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fastboop::test {

namespace {

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

int connect_local(int port) {
  int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  return s;
}

bool send_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

// Read until "\r\n\r\n"; returns the header block (empty on EOF).
std::string read_headers(int fd, std::string& carry) {
  for (;;) {
    auto end = carry.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string h = carry.substr(0, end + 4);
      carry.erase(0, end + 4);
      return h;
    }
    char buf[4096];
    ssize_t k = ::recv(fd, buf, sizeof buf, 0);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return {};
    carry.append(buf, static_cast<std::size_t>(k));
  }
}

std::string header_value(const std::string& headers, const std::string& name) {
  std::string lower = headers;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string key = "\r\n" + name + ":";
  auto p = lower.find(key);
  if (p == std::string::npos)
    return {};
  auto b = p + key.size();
  auto e = headers.find("\r\n", b);
  std::string v = headers.substr(b, e - b);
  v.erase(0, v.find_first_not_of(' '));
  return v;
}

std::string drop_header(std::string headers, const std::string& name) {
  std::string lower = headers;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto p = lower.find("\r\n" + name + ":");
  if (p == std::string::npos)
    return headers;
  auto e = headers.find("\r\n", p + 2);
  headers.erase(p, e - p);
  return headers;
}

} // namespace

Lighttpd::Lighttpd(std::filesystem::path docroot) {
  if (!have_program("lighttpd")) {
    m_error = "lighttpd is not installed";
    return;
  }
  m_port = free_port();
  std::string conf = (m_dir / "lighttpd.conf").string();
  write_file(conf, "server.document-root = \"" + docroot.string() + "\"\n"
                   "server.bind = \"127.0.0.1\"\n"
                   "server.port = " + std::to_string(m_port) + "\n"
                   "server.errorlog = \"" + (m_dir / "error.log").string() + "\"\n"
                   "server.max-keep-alive-requests = 10000\n"
                   "mimetype.assign = ( \"\" => \"application/octet-stream\" )\n");
  int pid = ::fork();
  if (pid == 0) {
    execlp("lighttpd", "lighttpd", "-D", "-f", conf.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  m_pid = pid;
  for (int i = 0; i < 200; ++i) {
    int s = connect_local(m_port);
    if (s >= 0) {
      ::close(s);
      return;
    }
    int status = 0;
    if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
      m_pid = -1;
      m_error = "lighttpd exited at startup";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  m_error = "lighttpd did not start listening";
}

Lighttpd::~Lighttpd() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGTERM);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
  }
}

FaultProxy::FaultProxy(int upstream_port) : m_upstream(upstream_port) {
  m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(m_listen, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(m_listen, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::listen(m_listen, 64);
  socklen_t len = sizeof a;
  ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&a), &len);
  m_port = ntohs(a.sin_port);
  m_acceptor = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  m_stop = true;
  ::shutdown(m_listen, SHUT_RDWR);
  m_acceptor.join();
  ::close(m_listen);
  for (auto& t : m_workers)
    t.join();
}

void FaultProxy::set_fault(Fault fault, int count) {
  std::lock_guard lock(m_mutex);
  m_fault = fault;
  m_fault_count = count;
}

Fault FaultProxy::take_fault() {
  std::lock_guard lock(m_mutex);
  if (m_fault_count == 0)
    return Fault::None;
  if (m_fault_count > 0)
    --m_fault_count;
  return m_fault;
}

void FaultProxy::accept_loop() {
  while (!m_stop) {
    pollfd p{m_listen, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    int c = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0)
      continue;
    ++m_connections;
    m_workers.emplace_back([this, c] { serve(c); });
  }
}

void FaultProxy::serve(int client) {
  std::string carry;
  timeval tv{5, 0};
  ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (!m_stop) {
    std::string req = read_headers(client, carry);
    if (req.empty())
      break;
    ++m_requests;
    Fault fault = take_fault();
    if (fault == Fault::DropConnection)
      break;
    if (fault == Fault::ServiceUnavailable) {
      std::string r = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";
      if (!send_all(client, r.data(), r.size()))
        break;
      continue;
    }
    req = drop_header(req, "connection");
    if (fault == Fault::IgnoreRange)
      req = drop_header(req, "range");
    if (fault == Fault::ShorterRange) {
      std::string range = header_value(req, "range"); // "bytes=a-b"
      auto dash = range.find('-');
      if (range.starts_with("bytes=") && dash != std::string::npos) {
        unsigned long long a = std::stoull(range.substr(6, dash - 6));
        unsigned long long b = std::stoull(range.substr(dash + 1));
        req = drop_header(req, "range");
        req.insert(req.size() - 2, "Range: bytes=" + std::to_string(a) + "-" + std::to_string(a + (b - a) / 2) + "\r\n");
      }
    }
    req.insert(req.size() - 2, "Connection: close\r\n");
    int up = connect_local(m_upstream);
    if (up < 0)
      break;
    send_all(up, req.data(), req.size());
    std::string resp;
    char buf[65536];
    for (;;) {
      ssize_t k = ::recv(up, buf, sizeof buf, 0);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        break;
      resp.append(buf, static_cast<std::size_t>(k));
    }
    ::close(up);
    auto hend = resp.find("\r\n\r\n");
    if (hend == std::string::npos)
      break;
    std::string head = drop_header(resp.substr(0, hend + 2), "connection") + "\r\n";
    if (fault == Fault::FakeLength) {
      head = drop_header(head.substr(0, head.size() - 2), "content-length");
      head += "Content-Length: " + std::to_string(m_fake_length.load()) + "\r\n\r\n";
    }
    std::string body = resp.substr(hend + 4);
    if (fault == Fault::FlipByte && !body.empty())
      body[body.size() / 2] = static_cast<char>(~body[body.size() / 2]);
    if (fault == Fault::ShortBody) {
      send_all(client, head.data(), head.size());
      send_all(client, body.data(), body.size() / 2);
      break;
    }
    if (!send_all(client, head.data(), head.size()) || !send_all(client, body.data(), body.size()))
      break;
  }
  ::close(client);
}

} // namespace fastboop::test
