#include "artifact_cache/stats.hpp"

#include "common/file_io.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <sstream>
#include <unistd.h>

namespace fastboop::artifact_cache {

namespace {

constexpr std::string_view kTag = "fastboop-stats-v1";

std::string stats_path(const std::string& cache_dir) {
  return cache_dir + "/stats.log";
}

} // namespace

Counters& Counters::operator+=(const Counters& o) {
  local_hits += o.local_hits;
  remote_hits += o.remote_hits;
  misses += o.misses;
  bytes_up += o.bytes_up;
  bytes_down += o.bytes_down;
  remote_errors += o.remote_errors;
  return *this;
}

void add_to_stats(const std::string& cache_dir, const Counters& c) {
  if (cache_dir.empty())
    return;
  char line[256];
  const int n = std::snprintf(line, sizeof line, "%s %llu %llu %llu %llu %llu %llu\n",
                              std::string(kTag).c_str(),
                              static_cast<unsigned long long>(c.local_hits),
                              static_cast<unsigned long long>(c.remote_hits),
                              static_cast<unsigned long long>(c.misses),
                              static_cast<unsigned long long>(c.bytes_up),
                              static_cast<unsigned long long>(c.bytes_down),
                              static_cast<unsigned long long>(c.remote_errors));
  const int fd =
      ::open(stats_path(cache_dir).c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0)
    return;
  // One write(2) of a short line: appends from parallel runners never interleave.
  while (::write(fd, line, static_cast<std::size_t>(n)) < 0 && errno == EINTR) {
  }
  ::close(fd);
}

Counters read_stats(const std::string& cache_dir) {
  Counters sum;
  auto text = read_text_file(stats_path(cache_dir), std::uint64_t{1} << 30);
  if (!text)
    return sum;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string tag, extra;
    Counters c;
    if (fields >> tag >> c.local_hits >> c.remote_hits >> c.misses >> c.bytes_up >>
            c.bytes_down >> c.remote_errors &&
        tag == kTag && !(fields >> extra))
      sum += c;
  }
  return sum;
}

Result<void> zero_stats(const std::string& cache_dir) {
  std::error_code ec;
  std::filesystem::remove(stats_path(cache_dir), ec);
  if (ec)
    return Error("cannot remove " + stats_path(cache_dir) + ": " + ec.message(), ErrorKind::Io);
  return {};
}

std::string format_stats(const Counters& c) {
  std::ostringstream o;
  const auto row = [&](const char* name, std::uint64_t v) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%-16s %llu\n", name, static_cast<unsigned long long>(v));
    o << buf;
  };
  row("local hits", c.local_hits);
  row("remote hits", c.remote_hits);
  row("misses", c.misses);
  row("bytes up", c.bytes_up);
  row("bytes down", c.bytes_down);
  row("remote errors", c.remote_errors);
  return o.str();
}

} // namespace fastboop::artifact_cache
