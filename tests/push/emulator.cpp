#include "emulator.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fastboop::test {

Emulator::Emulator(std::vector<std::string> args) {
  const auto port_file = m_dir / "ports";
  std::vector<std::string> argv = {(binary_dir() / "bin" / "fastboot_emulator").string(),
                                   "--tcp-port",
                                   "0",
                                   "--udp-port",
                                   "0",
                                   "--port-file",
                                   port_file.string(),
                                   "--trace",
                                   (m_dir / "trace").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv)
    cargv.push_back(a.data());
  cargv.push_back(nullptr);
  m_pid = ::fork();
  if (m_pid == 0) {
    ::execv(cargv[0], cargv.data());
    std::perror("execv fastboot_emulator");
    ::_exit(127);
  }
  for (int i = 0; i < 500 && !std::filesystem::exists(port_file); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::ifstream in(port_file);
  std::string kind;
  unsigned port = 0;
  while (in >> kind >> port) {
    if (kind == "tcp")
      m_tcp_port = static_cast<std::uint16_t>(port);
    else if (kind == "udp")
      m_udp_port = static_cast<std::uint16_t>(port);
  }
  EXPECT_NE(m_tcp_port, 0) << "emulator did not start";
}

Emulator::~Emulator() {
  if (m_pid > 0) {
    ::kill(m_pid, SIGTERM);
    ::waitpid(m_pid, nullptr, 0);
  }
}

std::vector<std::string> Emulator::trace() const {
  std::ifstream in(m_dir / "trace");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

std::vector<std::string> Emulator::commands() const {
  std::vector<std::string> out;
  for (auto& line : trace())
    if (line.rfind("CMD ", 0) == 0)
      out.push_back(line.substr(4));
  return out;
}

std::string fnv1a_hex(ByteSpan data) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (auto b : data) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

} // namespace fastboop::test
