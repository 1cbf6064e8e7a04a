// Serving a block source to a smoo gadget over USB (spec smoo.md): find the
// gadget, configure one export, answer its Requests until stopped, and keep
// waiting through disconnects and gadget restarts. This is the whole public
// surface `fastboop-push serve` and `fastboop-push boot` use.
#pragma once

#include "common/result.hpp"
#include "pipeline/block_source.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>

namespace fastboop::smoo {

class GadgetConnector;

// Opens one more independent instance of the served bytes (the same pipeline
// opened again). Pipeline stages keep decoder and cursor state and are not
// thread-safe, so each concurrent reader owns its own instance.
using SourceOpener = std::function<Result<pipeline::BlockSourcePtr>()>;

struct ServeOptions {
  // -s: "usb:BUS-PORT[.PORT…]" or a USB serial; unset: any gadget.
  std::optional<std::string> device;
  // The bootloader's port path ("1-2.3"); a gadget there is preferred when
  // several are attached (the phone re-enumerates on the same port).
  std::optional<std::string> preferred_port;
  // Export block size: a power of two, 512…65536. The export's size is the
  // source size rounded up to it; bytes past the source's end read as zeros.
  std::uint32_t block_size = 4096;
  // Identifies the source for export_id (spec §5): stable across restarts
  // for the same image, e.g. its sha512 or its pipeline identity.
  std::string identity;
  // Names the artifact in messages ("rootfs http(https://…)").
  std::string artifact;
  // More readers for concurrent Requests; unset: one reader (the source
  // passed to serve()), Requests still pipelined on the bus.
  SourceOpener open_replica;
  // Requests worked on at once (the gadget's default queue depth is 16).
  unsigned workers = 16;
  // Sources read at once: the one given to serve() plus replicas from
  // open_replica (without it, one).
  unsigned readers = 5;
  std::chrono::milliseconds heartbeat_interval{1000};
  unsigned heartbeat_budget = 5; // missed heartbeats before the link is dropped
  std::chrono::milliseconds rediscover_interval{500};
  std::chrono::milliseconds transfer_timeout{1000};
  // Bytes fetched over the network so far (the caller's on_fetch counter),
  // for the progress line and summary; may be null.
  const std::atomic<std::uint64_t>* fetched_bytes = nullptr;
  // Progress line on stderr when it is a terminal (about 10 Hz).
  enum class Progress { Auto, Off } progress = Progress::Auto;
};

struct ServeStats {
  std::uint64_t bytes_served = 0; // read payload bytes sent to the gadget
  std::uint64_t requests = 0;     // Requests answered (any status)
  std::uint64_t errors = 0;       // answered with a non-zero status
  std::uint64_t writes_refused = 0;
  std::uint64_t bytes_fetched = 0; // from fetched_bytes at the end
  std::uint64_t sessions = 0;      // gadget sessions set up (reconnects + restarts + 1)
  double seconds = 0;
  // "served 12.0 MiB in 3.1 s (3.9 MiB/s), 812 requests, 1.2 MiB from the network, 10.8 MiB from
  // cache"
  std::string summary() const;
};

// Serves `source` to the gadget found on USB (libusb) until `stop` is
// requested; then returns the totals. Fails only on setup errors (bad
// options, no USB); a vanished gadget is waited for, not an error.
Result<ServeStats> serve(pipeline::BlockSource& source, const ServeOptions& options,
                         std::stop_token stop);

// The same loop over any link (tests use a fake gadget).
Result<ServeStats> serve_with(GadgetConnector& connector, pipeline::BlockSource& source,
                              const ServeOptions& options, std::stop_token stop);

} // namespace fastboop::smoo
