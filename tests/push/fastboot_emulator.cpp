// A scripted fastboot device for tests: speaks fastboot over TCP (FB01 + u64
// frames) and UDP (query/init/sequence numbers) and misbehaves on request.
// Every command it receives is appended to a trace file, so tests can prove
// what a host sent. It implements only what a device answers; it never acts on
// anything.
//
//   fastboot_emulator [--tcp-port N] [--udp-port N] --port-file F --trace F
//                     [--var NAME=VALUE]... [--fault KIND]... [--info-flood N]
//                     [--text-flood N] [--udp-drop-every N] [--udp-dup-every N]
//                     [--udp-drop-reply-every N]
//                     [--udp-max-packet N] [--unknown-var fail|empty|unknown]
//
// Faults: fail-download, fail-boot, disconnect-download, silence-getvar,
// silence-boot, malformed, bad-status, oversized, wrong-data-size,
// okay-before-data, bad-handshake, data-out-of-turn.
#include <arpa/inet.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

struct Config {
  int tcp_port = -1;
  int udp_port = -1;
  std::string port_file;
  std::string trace_file;
  std::map<std::string, std::string> vars;
  std::set<std::string> faults;
  int info_flood = 0;
  int text_flood = 0;
  int udp_drop_every = 0;
  int udp_dup_every = 0;
  int udp_drop_reply_every = 0;
  int udp_max_packet = 1024;
  std::string unknown_var = "fail";
  // --getvar-all FILE: INFO lines of getvar:all replayed from a transcript
  // (an AOSP client's "(bootloader) " prefix removed), else the --var pairs.
  std::vector<std::string> getvar_all_lines;
};

Config g_config;
std::mutex g_trace_mutex;
FILE* g_trace = nullptr;

void trace(const std::string& line) {
  std::lock_guard lock(g_trace_mutex);
  if (!g_trace)
    return;
  std::fprintf(g_trace, "%s\n", line.c_str());
  std::fflush(g_trace);
}

bool fault(const char* name) { return g_config.faults.count(name) != 0; }

std::uint64_t fnv1a(std::uint64_t h, const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}
constexpr std::uint64_t fnv_basis = 0xcbf29ce484222325ULL;

std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    }
  }
  return out;
}

// The device's state machine, shared by both transports. A command in gives a
// list of responses out; a data phase is fed through `data()`.
class Device {
public:
  enum class Action { Reply, Silence, Disconnect };

  // Returns the responses for a command (empty + Silence = say nothing).
  Action command(const std::string& cmd, std::vector<std::string>& out) {
    trace("CMD " + printable(cmd));
    if (fault("malformed")) {
      out.push_back("OK");
      return Action::Reply;
    }
    if (fault("bad-status")) {
      out.push_back("WHAT is this");
      return Action::Reply;
    }
    if (fault("oversized")) {
      out.push_back(std::string("OKAY") + std::string(1 << 16, 'A'));
      return Action::Reply;
    }
    flood(out);
    if (cmd.rfind("getvar:", 0) == 0) {
      if (fault("silence-getvar"))
        return Action::Silence;
      std::string name = cmd.substr(7);
      if (name == "all") {
        for (auto& line : g_config.getvar_all_lines)
          out.push_back("INFO" + line);
        for (auto& [k, v] : g_config.vars)
          out.push_back("INFO" + k + ":" + v);
        out.push_back("OKAY");
        return Action::Reply;
      }
      auto it = g_config.vars.find(name);
      if (it != g_config.vars.end())
        out.push_back("OKAY" + it->second);
      else if (g_config.unknown_var == "empty")
        out.push_back("OKAY");
      else if (g_config.unknown_var == "unknown")
        out.push_back("OKAYunknown");
      else
        out.push_back("FAILGetVar Variable Not found");
      return Action::Reply;
    }
    if (cmd.rfind("download:", 0) == 0) {
      unsigned long size = std::strtoul(cmd.c_str() + 9, nullptr, 16);
      if (fault("fail-download")) {
        out.push_back("FAILdownload refused by script");
        return Action::Reply;
      }
      if (fault("okay-before-data")) {
        out.push_back("OKAY");
        return Action::Reply;
      }
      auto max = g_config.vars.find("max-download-size");
      if (max != g_config.vars.end() && size > std::strtoul(max->second.c_str(), nullptr, 0)) {
        out.push_back("FAILRequested download size is more than max allowed");
        return Action::Reply;
      }
      m_expect = size;
      m_received = 0;
      m_hash = fnv_basis;
      char buf[16];
      std::snprintf(buf, sizeof buf, "DATA%08lx", fault("wrong-data-size") ? size + 1 : size);
      out.push_back(buf);
      return Action::Reply;
    }
    if (cmd == "boot") {
      if (fault("silence-boot"))
        return Action::Silence;
      if (fault("fail-boot")) {
        out.push_back("FAILboot refused by script");
        return Action::Reply;
      }
      out.push_back("INFObooting downloaded image");
      out.push_back("OKAY");
      return Action::Reply;
    }
    out.push_back("FAILunknown command");
    return Action::Reply;
  }

  bool in_data_phase() const { return m_received < m_expect; }
  std::uint64_t data_left() const { return m_expect - m_received; }

  // Feed data-phase bytes; returns Disconnect when the script says so.
  Action data(const std::uint8_t* p, std::size_t n, std::vector<std::string>& out) {
    if (fault("disconnect-download") && m_received + n > m_expect / 2) {
      trace("DISCONNECT after " + std::to_string(m_received) + " of " + std::to_string(m_expect) + " bytes");
      return Action::Disconnect;
    }
    m_hash = fnv1a(m_hash, p, n);
    m_received += n;
    if (m_received == m_expect) {
      char h[32];
      std::snprintf(h, sizeof h, "%016llx", static_cast<unsigned long long>(m_hash));
      trace("DATA " + std::to_string(m_received) + " fnv1a=" + h);
      flood(out);
      out.push_back("OKAY");
      m_expect = m_received = 0;
    }
    return Action::Reply;
  }

private:
  void flood(std::vector<std::string>& out) {
    for (int i = 0; i < g_config.info_flood; ++i)
      out.push_back("INFOline " + std::to_string(i) + " of the INFO flood");
    for (int i = 0; i < g_config.text_flood; ++i)
      out.push_back("TEXTtext " + std::to_string(i));
  }

  std::uint64_t m_expect = 0;
  std::uint64_t m_received = 0;
  std::uint64_t m_hash = fnv_basis;
};

// ---------------------------------------------------------------- TCP
bool read_all(int fd, void* buf, std::size_t n) {
  auto* p = static_cast<std::uint8_t*>(buf);
  while (n) {
    ssize_t got = ::recv(fd, p, n, 0);
    if (got <= 0) {
      if (got < 0 && errno == EINTR)
        continue;
      return false;
    }
    p += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}
bool write_all(int fd, const void* buf, std::size_t n) {
  auto* p = static_cast<const std::uint8_t*>(buf);
  while (n) {
    ssize_t put = ::send(fd, p, n, MSG_NOSIGNAL);
    if (put <= 0) {
      if (put < 0 && errno == EINTR)
        continue;
      return false;
    }
    p += put;
    n -= static_cast<std::size_t>(put);
  }
  return true;
}
bool send_frame(int fd, const std::string& payload) {
  std::uint8_t h[8];
  std::uint64_t n = payload.size();
  for (int i = 0; i < 8; ++i)
    h[i] = static_cast<std::uint8_t>(n >> (8 * (7 - i)));
  return write_all(fd, h, 8) && write_all(fd, payload.data(), payload.size());
}

void serve_tcp_client(int fd) {
  trace("CONNECT tcp");
  char hs[4];
  if (!read_all(fd, hs, 4))
    return;
  trace("HANDSHAKE " + printable(std::string(hs, 4)));
  if (!write_all(fd, fault("bad-handshake") ? "XX00" : "FB01", 4))
    return;
  Device device;
  std::vector<std::uint8_t> buf(1 << 20);
  for (;;) {
    std::uint8_t h[8];
    if (!read_all(fd, h, 8))
      break;
    std::uint64_t len = 0;
    for (int i = 0; i < 8; ++i)
      len = (len << 8) | h[i];
    std::vector<std::string> out;
    Device::Action action = Device::Action::Reply;
    if (device.in_data_phase()) {
      // Data may span several frames; reassemble by counting bytes.
      while (len && action == Device::Action::Reply) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>({len, static_cast<std::uint64_t>(buf.size()), device.data_left()}));
        if (n == 0) {
          trace("ERROR frame longer than the announced data");
          return;
        }
        if (!read_all(fd, buf.data(), n))
          return;
        len -= n;
        action = device.data(buf.data(), n, out);
      }
    } else {
      if (len > 4096) {
        trace("ERROR command frame of " + std::to_string(len) + " bytes");
        return;
      }
      std::string cmd(len, '\0');
      if (!read_all(fd, cmd.data(), len))
        break;
      action = device.command(cmd, out);
    }
    if (action == Device::Action::Disconnect)
      return;
    if (action == Device::Action::Silence) {
      trace("SILENCE");
      // Keep the connection open without answering until the host leaves.
      while (::recv(fd, buf.data(), buf.size(), 0) > 0) {
      }
      return;
    }
    for (auto& r : out)
      if (!send_frame(fd, r))
        return;
  }
  trace("DISCONNECT tcp");
}

void run_tcp(int listener) {
  for (;;) {
    int fd = ::accept(listener, nullptr, nullptr);
    if (fd < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    serve_tcp_client(fd);
    ::close(fd);
  }
}

// ---------------------------------------------------------------- UDP
void run_udp(int sock) {
  Device device;
  std::uint16_t next_seq = 0x55aa; // arbitrary start, as a real device may use
  std::vector<std::uint8_t> last_reply;
  std::string incoming;            // a command being assembled from C packets
  std::deque<std::string> pending; // responses waiting for host reads
  std::string partial;             // a response being sent in C chunks
  bool silent = false;
  unsigned long packet_count = 0, reply_count = 0;
  std::vector<std::uint8_t> buf(65536);
  for (;;) {
    sockaddr_storage from{};
    socklen_t fromlen = sizeof from;
    ssize_t got = ::recvfrom(sock, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fromlen);
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return;
    }
    if (got < 4)
      continue;
    ++packet_count;
    if (g_config.udp_drop_every && packet_count % static_cast<unsigned>(g_config.udp_drop_every) == 0) {
      trace("UDP drop packet seq " + std::to_string((buf[2] << 8) | buf[3]));
      continue;
    }
    const std::uint8_t id = buf[0], flags = buf[1];
    const std::uint16_t seq = static_cast<std::uint16_t>((buf[2] << 8) | buf[3]);
    auto reply_to = [&](const std::vector<std::uint8_t>& pkt) {
      ++reply_count;
      if (g_config.udp_drop_reply_every &&
          reply_count % static_cast<unsigned>(g_config.udp_drop_reply_every) == 0) {
        trace("UDP drop reply seq " + std::to_string((pkt[2] << 8) | pkt[3]));
        return;
      }
      ::sendto(sock, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&from), fromlen);
      if (g_config.udp_dup_every && reply_count % static_cast<unsigned>(g_config.udp_dup_every) == 0)
        ::sendto(sock, pkt.data(), pkt.size(), 0, reinterpret_cast<sockaddr*>(&from), fromlen);
    };
    auto make = [&](std::uint8_t rid, std::uint8_t rflags, std::uint16_t rseq, const std::string& data) {
      std::vector<std::uint8_t> pkt{rid, rflags, static_cast<std::uint8_t>(rseq >> 8),
                                    static_cast<std::uint8_t>(rseq & 0xff)};
      pkt.insert(pkt.end(), data.begin(), data.end());
      return pkt;
    };
    if (id == 1) { // Query: answer whatever the seq
      trace("UDP query");
      if (silent)
        continue;
      std::string s{static_cast<char>(next_seq >> 8), static_cast<char>(next_seq & 0xff)};
      reply_to(make(1, 0, seq, s));
      continue;
    }
    if (silent)
      continue;
    if (seq == static_cast<std::uint16_t>(next_seq - 1) && !last_reply.empty()) {
      trace("UDP retransmit seq " + std::to_string(seq));
      reply_to(last_reply);
      continue;
    }
    if (seq != next_seq)
      continue;
    std::vector<std::uint8_t> reply;
    if (id == 2) { // Init
      trace("UDP init");
      device = Device();
      incoming.clear();
      pending.clear();
      partial.clear();
      std::uint16_t size = static_cast<std::uint16_t>(g_config.udp_max_packet);
      std::string d{0, 1, static_cast<char>(size >> 8), static_cast<char>(size & 0xff)};
      reply = make(2, 0, seq, d);
    } else if (id == 3) {
      const std::size_t n = static_cast<std::size_t>(got) - 4;
      if (n == 0) { // a read
        if (partial.empty() && !pending.empty()) {
          partial = pending.front();
          pending.pop_front();
        }
        const std::size_t room = static_cast<std::size_t>(g_config.udp_max_packet) - 4;
        std::string chunk = partial.substr(0, room);
        partial.erase(0, chunk.size());
        reply = make(3, partial.empty() ? 0 : 1, seq, chunk);
      } else {
        std::vector<std::string> out;
        Device::Action action = Device::Action::Reply;
        if (device.in_data_phase()) {
          action = device.data(buf.data() + 4, n, out);
        } else {
          incoming.append(reinterpret_cast<const char*>(buf.data()) + 4, n);
          if (!(flags & 1)) {
            action = device.command(incoming, out);
            incoming.clear();
          }
        }
        if (action != Device::Action::Reply) {
          trace(action == Device::Action::Silence ? "SILENCE" : "DISCONNECT udp");
          silent = true;
          continue;
        }
        for (auto& r : out)
          pending.push_back(r);
        reply = make(3, 0, seq, fault("data-out-of-turn") ? "OKAY" : "");
      }
    } else {
      reply = make(0, 0, seq, "unknown packet id");
    }
    last_reply = reply;
    ++next_seq;
    reply_to(reply);
  }
}

int bind_socket(int type, int port) {
  int fd = ::socket(AF_INET, type, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("bind");
    std::exit(1);
  }
  if (type == SOCK_STREAM)
    ::listen(fd, 4);
  return fd;
}

int bound_port(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

int usage() {
  std::fprintf(stderr, "usage: fastboot_emulator [--tcp-port N] [--udp-port N] --port-file F [--trace F] "
                       "[--var N=V]... [--fault KIND]... (see source)\n");
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--tcp-port")
      g_config.tcp_port = std::atoi(next().c_str());
    else if (a == "--udp-port")
      g_config.udp_port = std::atoi(next().c_str());
    else if (a == "--port-file")
      g_config.port_file = next();
    else if (a == "--trace")
      g_config.trace_file = next();
    else if (a == "--var") {
      std::string v = next();
      auto eq = v.find('=');
      if (eq == std::string::npos)
        return usage();
      g_config.vars[v.substr(0, eq)] = v.substr(eq + 1);
    } else if (a == "--fault")
      g_config.faults.insert(next());
    else if (a == "--getvar-all") {
      std::ifstream in(next());
      if (!in)
        return usage();
      for (std::string line; std::getline(in, line);) {
        if (line.rfind("(bootloader) ", 0) == 0)
          line.erase(0, 13);
        g_config.getvar_all_lines.push_back(line);
      }
    } else if (a == "--info-flood")
      g_config.info_flood = std::atoi(next().c_str());
    else if (a == "--text-flood")
      g_config.text_flood = std::atoi(next().c_str());
    else if (a == "--udp-drop-every")
      g_config.udp_drop_every = std::atoi(next().c_str());
    else if (a == "--udp-dup-every")
      g_config.udp_dup_every = std::atoi(next().c_str());
    else if (a == "--udp-drop-reply-every")
      g_config.udp_drop_reply_every = std::atoi(next().c_str());
    else if (a == "--udp-max-packet")
      g_config.udp_max_packet = std::atoi(next().c_str());
    else if (a == "--unknown-var")
      g_config.unknown_var = next();
    else
      return usage();
  }
  if (g_config.port_file.empty() || (g_config.tcp_port < 0 && g_config.udp_port < 0))
    return usage();
  if (!g_config.trace_file.empty())
    g_trace = std::fopen(g_config.trace_file.c_str(), "w");

  int tcp = g_config.tcp_port >= 0 ? bind_socket(SOCK_STREAM, g_config.tcp_port) : -1;
  int udp = g_config.udp_port >= 0 ? bind_socket(SOCK_DGRAM, g_config.udp_port) : -1;
  {
    // Written whole and renamed, so a waiting test never reads half a file.
    std::string tmp = g_config.port_file + ".tmp";
    std::ofstream f(tmp);
    if (tcp >= 0)
      f << "tcp " << bound_port(tcp) << "\n";
    if (udp >= 0)
      f << "udp " << bound_port(udp) << "\n";
    f.close();
    std::rename(tmp.c_str(), g_config.port_file.c_str());
  }
  std::thread tcp_thread, udp_thread;
  if (tcp >= 0)
    tcp_thread = std::thread(run_tcp, tcp);
  if (udp >= 0)
    udp_thread = std::thread(run_udp, udp);
  if (tcp_thread.joinable())
    tcp_thread.join();
  if (udp_thread.joinable())
    udp_thread.join();
  return 0;
}
