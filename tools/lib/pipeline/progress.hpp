// A progress line for long fetches: bytes fetched over http, on stderr, only
// when stderr is a terminal, throttled (common/progress.hpp, the one progress
// line of every tool), and only once a read has taken a while (short reads
// stay silent). Fed by HttpOptions::on_fetch.
#pragma once

#include "common/progress.hpp"

#include <chrono>
#include <cstdint>
#include <functional>

namespace fastboop::pipeline {

class FetchProgress {
public:
  // Writes to `fd` only when it is a TTY. The first line appears a second
  // after construction ($FASTBOOP_PROGRESS_DELAY_MS overrides the delay).
  explicit FetchProgress(int fd = 2);
  ~FetchProgress(); // finishes a shown line with a newline
  FetchProgress(const FetchProgress&) = delete;
  FetchProgress& operator=(const FetchProgress&) = delete;

  void add(std::uint64_t bytes);
  // For OpenOptions::on_fetch; the object must outlive the sources using it.
  std::function<void(std::uint64_t)> callback() {
    return [this](std::uint64_t n) { add(n); };
  }
  bool enabled() const { return m_line.enabled(); }

private:
  ProgressLine m_line;
  std::uint64_t m_fetches = 0;
};

} // namespace fastboop::pipeline
