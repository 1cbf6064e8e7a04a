// A progress line for long fetches: bytes fetched over http, on stderr, only
// when stderr is a terminal, throttled, and only once a read has taken a
// while (short reads stay silent). Fed by HttpOptions::on_fetch.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace fastboop::pipeline {

class FetchProgress {
public:
  using Clock = std::chrono::steady_clock;
  // Writes to `fd` only when it is a TTY. The first line appears `delay`
  // after construction ($FASTBOOP_PROGRESS_DELAY_MS overrides the default).
  explicit FetchProgress(int fd = 2);
  ~FetchProgress(); // finishes a shown line with a newline
  FetchProgress(const FetchProgress&) = delete;
  FetchProgress& operator=(const FetchProgress&) = delete;

  void add(std::uint64_t bytes);
  // For OpenOptions::on_fetch; the object must outlive the sources using it.
  std::function<void(std::uint64_t)> callback() {
    return [this](std::uint64_t n) { add(n); };
  }
  bool enabled() const { return m_enabled; }

private:
  void draw();

  int m_fd;
  bool m_enabled = false;
  bool m_shown = false;
  std::uint64_t m_bytes = 0;
  std::uint64_t m_fetches = 0;
  Clock::time_point m_start;
  Clock::time_point m_last_draw;
  Clock::duration m_delay;
};

} // namespace fastboop::pipeline
