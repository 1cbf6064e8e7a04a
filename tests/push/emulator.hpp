// Starts the fastboot device emulator for one test and reads back its trace.
#pragma once

#include "test_support.hpp"

#include <string>
#include <sys/types.h>
#include <vector>

namespace fastboop::test {

class Emulator {
public:
  // `args` are extra emulator arguments (--var, --fault, ...).
  explicit Emulator(std::vector<std::string> args = {});
  ~Emulator();
  Emulator(const Emulator&) = delete;

  std::uint16_t tcp_port() const { return m_tcp_port; }
  std::uint16_t udp_port() const { return m_udp_port; }
  std::string tcp_target() const { return "tcp:127.0.0.1:" + std::to_string(m_tcp_port); }
  std::string udp_target() const { return "udp:127.0.0.1:" + std::to_string(m_udp_port); }

  std::vector<std::string> trace() const;
  // Only the "CMD ..." lines, without the prefix.
  std::vector<std::string> commands() const;

private:
  TempDir m_dir;
  pid_t m_pid = -1;
  std::uint16_t m_tcp_port = 0;
  std::uint16_t m_udp_port = 0;
};

// FNV-1a 64 as the emulator writes it in "DATA <n> fnv1a=<hex>".
std::string fnv1a_hex(ByteSpan data);

} // namespace fastboop::test
