#include "pipeline/progress.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

namespace fastboop::pipeline {

namespace {

constexpr auto kRedrawEvery = std::chrono::milliseconds(250);
constexpr auto kDefaultDelay = std::chrono::milliseconds(1000);

std::string human(std::uint64_t n) {
  char buf[32];
  if (n < (1u << 20))
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024.0);
  else if (n < (std::uint64_t{1} << 30))
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / 1048576.0);
  else
    std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(n) / 1073741824.0);
  return buf;
}

} // namespace

FetchProgress::FetchProgress(int fd) : m_fd(fd), m_start(Clock::now()), m_delay(kDefaultDelay) {
  m_enabled = ::isatty(fd) == 1;
  if (const char* d = std::getenv("FASTBOOP_PROGRESS_DELAY_MS"); d && *d)
    m_delay = std::chrono::milliseconds(std::strtoul(d, nullptr, 10));
}

FetchProgress::~FetchProgress() {
  if (!m_shown)
    return;
  draw();
  (void)!::write(m_fd, "\n", 1);
}

void FetchProgress::add(std::uint64_t bytes) {
  m_bytes += bytes;
  ++m_fetches;
  if (!m_enabled)
    return;
  auto now = Clock::now();
  if (now - m_start < m_delay || (m_shown && now - m_last_draw < kRedrawEvery))
    return;
  m_last_draw = now;
  m_shown = true;
  draw();
}

void FetchProgress::draw() {
  // \r + erase-to-end-of-line: one line, redrawn in place.
  std::string line = "\rfastboop: fetched " + human(m_bytes) + " (" + std::to_string(m_fetches) + " range" +
                     (m_fetches == 1 ? "" : "s") + ")\x1b[K";
  (void)!::write(m_fd, line.data(), line.size());
}

} // namespace fastboop::pipeline
