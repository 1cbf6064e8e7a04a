#include "smoo/serve.hpp"

#include "common/log.hpp"
#include "smoo/session.hpp"
#include "smoo/usb_link.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace fastboop::smoo {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double mib = 1024.0 * 1024.0;

std::string format_mib(std::uint64_t bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f MiB", static_cast<double>(bytes) / mib);
  return b;
}

// Sleeps `duration` unless a stop is requested first.
void sleep_unless_stopped(std::chrono::milliseconds duration, const std::stop_token& stop) {
  std::mutex mutex;
  std::condition_variable_any never;
  std::unique_lock lock(mutex);
  never.wait_for(lock, stop, duration, [] { return false; });
}

// The progress line: on a terminal only, redrawn about ten times a second.
class ProgressLine {
public:
  ProgressLine(const Counters& counters, const ServeOptions& options)
      : m_counters(counters), m_options(options),
        m_enabled(options.progress == ServeOptions::Progress::Auto &&
                  ::isatty(STDERR_FILENO) == 1 && log::enabled(log::Level::Info)) {
    if (m_enabled)
      m_thread = std::jthread([this](std::stop_token stop) { run(stop); });
  }
  ~ProgressLine() {
    if (!m_enabled)
      return;
    m_thread.request_stop();
    m_thread.join();
    if (m_drawn)
      std::fputc('\n', stderr);
  }

private:
  void run(const std::stop_token& stop) {
    const auto start = Clock::now();
    while (!stop.stop_requested()) {
      sleep_unless_stopped(std::chrono::milliseconds(100), stop);
      const std::uint64_t served = m_counters.bytes_served;
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      std::string line = "\rserved " + format_mib(served);
      char rate[48];
      std::snprintf(rate, sizeof rate, " (%.1f MiB/s)",
                    seconds > 0 ? static_cast<double>(served) / mib / seconds : 0.0);
      line += rate;
      line += ", " + std::to_string(m_counters.requests.load()) + " requests, " +
              std::to_string(m_counters.in_flight.load()) + " in flight";
      if (m_options.fetched_bytes)
        line += ", network " + format_mib(m_options.fetched_bytes->load());
      line += "   ";
      std::fputs(line.c_str(), stderr);
      std::fflush(stderr);
      m_drawn = true;
    }
  }

  const Counters& m_counters;
  const ServeOptions& m_options;
  bool m_enabled;
  bool m_drawn = false;
  std::jthread m_thread;
};

bool valid_block_size(std::uint32_t v) {
  return v >= 512 && v <= 65536 && (v & (v - 1)) == 0;
}

} // namespace

std::string ServeStats::summary() const {
  char rate[64];
  std::snprintf(rate, sizeof rate, " in %.1f s (%.1f MiB/s)", seconds,
                seconds > 0 ? static_cast<double>(bytes_served) / mib / seconds : 0.0);
  std::string s =
      "served " + format_mib(bytes_served) + rate + ", " + std::to_string(requests) + " requests";
  if (errors)
    s += " (" + std::to_string(errors) + " answered with an error)";
  if (writes_refused)
    s += ", " + std::to_string(writes_refused) + " writes refused";
  const std::uint64_t from_network = std::min(bytes_fetched, bytes_served);
  s += ", " + format_mib(bytes_fetched) + " from the network, " +
       format_mib(bytes_served - from_network) + " from cache or local files";
  return s;
}

Result<ServeStats> serve_with(GadgetConnector& connector, pipeline::BlockSource& source,
                              const ServeOptions& options, std::stop_token stop) {
  if (!valid_block_size(options.block_size))
    return Error("--block-size " + std::to_string(options.block_size) +
                     ": expected a power of two between 512 and 65536",
                 ErrorKind::Usage);
  const std::uint64_t size = source.size();
  if (size == 0)
    return Error(source.describe() + ": nothing to serve (0 bytes)", ErrorKind::Invalid);
  const std::uint64_t blocks = (size + options.block_size - 1) / options.block_size;
  ExportContext context;
  context.entry.block_size = options.block_size;
  context.entry.size_bytes = blocks * options.block_size;
  const std::string identity = options.identity.empty() ? source.describe() : options.identity;
  context.entry.export_id = export_id_for(options.block_size, blocks, as_bytes(identity));
  context.source_size = size;
  context.artifact = options.artifact.empty() ? source.describe() : options.artifact;
  if (context.entry.size_bytes != size)
    log::info(context.artifact + ": " + std::to_string(size) + " bytes is not a whole number of " +
              std::to_string(options.block_size) + "-byte blocks; the export ends with " +
              std::to_string(context.entry.size_bytes - size) + " zero bytes");
  SourcePool pool(source, options.open_replica, options.readers);
  Counters counters;
  context.pool = &pool;
  context.counters = &counters;
  context.options = &options;

  const auto start = Clock::now();
  {
    ProgressLine progress(counters, options);
    bool waiting = false;
    std::string last_failure;
    while (!stop.stop_requested()) {
      auto link = TRY(connector.connect());
      if (!link) {
        if (!waiting) {
          const std::string why = connector.last_miss();
          log::info("waiting for the gadget" + (why.empty() ? std::string() : " (" + why + ")") +
                    "…");
          waiting = true;
        }
        sleep_unless_stopped(options.rediscover_interval, stop);
        continue;
      }
      waiting = false;
      const auto outcome = run_session(*link, context, stop);
      link.reset();
      if (outcome.end == SessionEnd::Stopped)
        break;
      // A device that keeps failing the same way (not a smoo gadget) is
      // reported once, not every rediscover_interval.
      if (outcome.reason != last_failure) {
        if (outcome.end == SessionEnd::SetupFailed)
          log::warn("the gadget could not be set up: " + outcome.reason +
                    "; waiting for the gadget to come back");
        else
          log::warn("lost the gadget (" + outcome.reason +
                    "); waiting for the gadget to come back");
      }
      last_failure = outcome.end == SessionEnd::SetupFailed ? outcome.reason : std::string();
      waiting = true;
      sleep_unless_stopped(options.rediscover_interval, stop);
    }
  }
  ServeStats stats;
  stats.bytes_served = counters.bytes_served;
  stats.requests = counters.requests;
  stats.errors = counters.errors;
  stats.writes_refused = counters.writes_refused;
  stats.sessions = counters.sessions;
  stats.bytes_fetched = options.fetched_bytes ? options.fetched_bytes->load() : 0;
  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return stats;
}

Result<ServeStats> serve(pipeline::BlockSource& source, const ServeOptions& options,
                         std::stop_token stop) {
  auto connector = TRY(UsbGadgetConnector::create(options.device, options.preferred_port));
  return serve_with(*connector, source, options, std::move(stop));
}

} // namespace fastboop::smoo
