// A real web server for the http tests (lighttpd from Debian, started on a
// free 127.0.0.1 port with a temporary config) and a small fault-injecting
// HTTP proxy in front of it. Only 127.0.0.1 is ever contacted.
#pragma once

#include "test_support.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fastboop::test {

class Lighttpd {
public:
  // Serves `docroot`; ok() is false (with error()) when lighttpd cannot start.
  explicit Lighttpd(std::filesystem::path docroot);
  ~Lighttpd();
  bool ok() const { return m_pid > 0; }
  const std::string& error() const { return m_error; }
  int port() const { return m_port; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(m_port) + "/" + path;
  }

private:
  TempDir m_dir;
  int m_pid = -1;
  int m_port = 0;
  std::string m_error;
};

enum class Fault {
  None,
  DropConnection,  // close without answering
  ServiceUnavailable, // answer 503
  IgnoreRange,     // strip Range: the server answers 200 with the whole object
  ShortBody,       // forward the answer but cut its body in half and close
  ShorterRange,    // ask upstream for a shorter range than the client did
  FakeLength,      // answer with Content-Length replaced by fake_length() (meant for HEAD)
  FlipByte,        // forward the answer with the middle byte of its body inverted
};

class FaultProxy {
public:
  explicit FaultProxy(int upstream_port);
  ~FaultProxy();
  // Apply `fault` to the next `count` requests (-1: to all), then pass through.
  void set_fault(Fault fault, int count);
  void set_fake_length(std::uint64_t n) { m_fake_length = n; }
  int port() const { return m_port; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(m_port) + "/" + path;
  }
  int requests() const { return m_requests.load(); }
  int connections() const { return m_connections.load(); }

private:
  void accept_loop();
  void serve(int client);
  Fault take_fault();

  int m_upstream;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_requests{0};
  std::atomic<int> m_connections{0};
  std::mutex m_mutex;
  Fault m_fault = Fault::None;
  int m_fault_count = 0;
  std::atomic<std::uint64_t> m_fake_length{0};
  std::thread m_acceptor;
  std::vector<std::thread> m_workers;
};

} // namespace fastboop::test
