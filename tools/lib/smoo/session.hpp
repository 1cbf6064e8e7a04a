// One smoo host session over one GadgetLink: set up (IDENT, CONFIG_EXPORTS,
// STATUS), then answer Requests until the link breaks, the heartbeat budget
// is spent, or a stop is requested. A changed session_id (gadget restarted)
// is set up again on the same link. serve.cpp runs sessions in a loop.
#pragma once

#include "pipeline/block_source.hpp"
#include "smoo/link.hpp"
#include "smoo/protocol.hpp"
#include "smoo/serve.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <vector>

namespace fastboop::smoo {

// Counters shared by every session of one serve() run.
struct Counters {
  std::atomic<std::uint64_t> bytes_served{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> writes_refused{0};
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> sessions{0};
};

// The readers: the source given to serve() plus replicas opened on demand,
// each used by one worker at a time.
class SourcePool {
public:
  SourcePool(pipeline::BlockSource& primary, SourceOpener opener, unsigned limit);
  // Blocks until a reader is free (opening a replica when allowed). A failed
  // replica open is logged once and the pool stays at its current size.
  pipeline::BlockSource& acquire();
  void release(pipeline::BlockSource& source);

private:
  std::mutex m_mutex;
  std::condition_variable m_freed;
  std::vector<pipeline::BlockSource*> m_free;
  std::vector<pipeline::BlockSourcePtr> m_replicas;
  SourceOpener m_opener;
  unsigned m_limit;
  unsigned m_total = 1;
};

// What is exported: one entry, read from the pool.
struct ExportContext {
  ExportEntry entry;
  std::uint64_t source_size = 0; // bytes past it (up to entry.size_bytes) read as zeros
  std::string artifact;          // for messages
  SourcePool* pool = nullptr;
  Counters* counters = nullptr;
  const ServeOptions* options = nullptr;
};

enum class SessionEnd {
  Stopped,     // stop requested
  LinkLost,    // transfer failed / device gone / heartbeat budget spent
  SetupFailed, // IDENT/CONFIG_EXPORTS refused (not a smoo gadget, …)
};

struct SessionOutcome {
  SessionEnd end;
  std::string reason;
};

SessionOutcome run_session(GadgetLink& link, const ExportContext& context, std::stop_token stop);

} // namespace fastboop::smoo
