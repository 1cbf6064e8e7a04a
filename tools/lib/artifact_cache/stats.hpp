// Cache statistics (`fastboop-cache stats`): every run appends one line of
// counters to <cache>/stats.log (O_APPEND: parallel runners never mix lines),
// and the report sums them.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <string>

namespace fastboop::artifact_cache {

struct Counters {
  std::uint64_t local_hits = 0;
  std::uint64_t remote_hits = 0;
  std::uint64_t misses = 0; // generations
  std::uint64_t bytes_up = 0;
  std::uint64_t bytes_down = 0;
  std::uint64_t remote_errors = 0;
  Counters& operator+=(const Counters& o);
};

// Best effort: statistics never fail a build.
void add_to_stats(const std::string& cache_dir, const Counters& counters);

// The sum of every line of <cache>/stats.log (zero when there is none);
// malformed lines are skipped.
Counters read_stats(const std::string& cache_dir);

Result<void> zero_stats(const std::string& cache_dir);

// "local hits 3\nremote hits 1\n..." as `fastboop-cache stats` prints it.
std::string format_stats(const Counters& counters);

} // namespace fastboop::artifact_cache
