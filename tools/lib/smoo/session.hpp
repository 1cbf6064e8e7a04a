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
// each used by one worker at a time. Each reader is a whole pipeline
// instance with its own decoder state (xz block cache, HTTP pages), so a read
// goes to the reader that is already positioned near it: a sequential stream
// stays on one reader (measured: spreading a sequential xz read over five
// readers decoded every block five times, 5x slower), while reads elsewhere
// in the image take other readers and do not wait behind it.
class SourcePool {
public:
  SourcePool(pipeline::BlockSource& primary, SourceOpener opener, unsigned limit);
  // The reader for [offset, offset+length): the one whose last read ended
  // within `near_bytes` of `offset` (waiting for it if busy), else a free one,
  // else a new replica while under the limit, else the first to come free.
  // A failed replica open is logged once and the pool keeps its size.
  pipeline::BlockSource& acquire(std::uint64_t offset, std::uint64_t length);
  void release(pipeline::BlockSource& source);

  static constexpr std::uint64_t near_bytes = std::uint64_t{2} << 20;

private:
  struct Reader {
    pipeline::BlockSource* source = nullptr;
    bool busy = false;
    std::uint64_t next = 0; // where its last assigned read ended
  };
  Reader* nearest(std::uint64_t offset);
  Reader* any_free();

  std::mutex m_mutex;
  std::condition_variable m_freed;
  std::vector<std::unique_ptr<Reader>> m_readers;
  std::vector<pipeline::BlockSourcePtr> m_replicas;
  SourceOpener m_opener;
  unsigned m_limit;
  unsigned m_opening = 0;
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
