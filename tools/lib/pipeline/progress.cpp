#include "pipeline/progress.hpp"

#include <cstdlib>
#include <string>

namespace fastboop::pipeline {

namespace {
constexpr auto kDefaultDelay = std::chrono::milliseconds(1000);

std::chrono::milliseconds delay_from_env() {
  if (const char* d = std::getenv("FASTBOOP_PROGRESS_DELAY_MS"); d && *d)
    return std::chrono::milliseconds(std::strtoul(d, nullptr, 10));
  return kDefaultDelay;
}
} // namespace

// Only on a terminal: a non-TTY fetch (no total known) has no quarters to print.
FetchProgress::FetchProgress(int fd)
    : m_line("fastboop: fetched", std::nullopt, fd, delay_from_env()) {}

FetchProgress::~FetchProgress() = default;

void FetchProgress::add(std::uint64_t bytes) {
  ++m_fetches;
  m_line.set_detail("(" + std::to_string(m_fetches) + " range" + (m_fetches == 1 ? "" : "s") + ")");
  m_line.add(bytes);
}

} // namespace fastboop::pipeline
