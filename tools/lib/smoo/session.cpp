#include "smoo/session.hpp"
#include "common/text.hpp"

#include "common/log.hpp"

#include <algorithm>
#include <deque>
#include <thread>

namespace fastboop::smoo {

namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

// The gadget's max I/O is 1 MiB by default; a Request for far more than any
// gadget sends is answered EINVAL instead of allocating it.
constexpr std::uint64_t max_request_bytes = std::uint64_t{64} << 20;
// How long the request reader waits per poll: short enough to notice a stop
// or a broken link quickly.
constexpr Millis poll_timeout{100};

std::string describe_request(const Request& r) {
  return std::string(op_name(r.op)) + " request " + format_hex(r.request_id, 1) + " (export " +
         std::to_string(r.export_id) + ", lba " + std::to_string(r.lba) + ", " +
         std::to_string(r.num_blocks) + " blocks)";
}

} // namespace

SourcePool::SourcePool(pipeline::BlockSource& primary, SourceOpener opener, unsigned limit)
    : m_opener(std::move(opener)), m_limit(std::max(1u, limit)) {
  m_readers.push_back(std::make_unique<Reader>(Reader{&primary, false, 0}));
}

SourcePool::Reader* SourcePool::nearest(std::uint64_t offset) {
  Reader* best = nullptr;
  std::uint64_t best_distance = near_bytes + 1;
  for (auto& r : m_readers) {
    const std::uint64_t distance = offset >= r->next ? offset - r->next : r->next - offset;
    if (distance < best_distance) {
      best = r.get();
      best_distance = distance;
    }
  }
  return best;
}

SourcePool::Reader* SourcePool::any_free() {
  for (auto& r : m_readers)
    if (!r->busy)
      return r.get();
  return nullptr;
}

pipeline::BlockSource& SourcePool::acquire(std::uint64_t offset, std::uint64_t length) {
  std::unique_lock lock(m_mutex);
  Reader* chosen = nearest(offset);
  if (!chosen)
    chosen = any_free();
  if (!chosen && m_opener && m_readers.size() + m_opening < m_limit) {
    // Open outside the lock: opening a pipeline may read (GPT, sparse index).
    ++m_opening;
    auto opener = m_opener;
    lock.unlock();
    auto opened = opener();
    lock.lock();
    --m_opening;
    if (opened) {
      m_replicas.push_back(std::move(*opened));
      m_readers.push_back(std::make_unique<Reader>(Reader{m_replicas.back().get(), false, 0}));
      chosen = m_readers.back().get();
    } else if (m_opener) {
      log::warn("cannot open another reader of the source (" + opened.error().message() +
                "); serving with " + std::to_string(m_readers.size()));
      m_opener = nullptr; // do not retry on every request
    }
  }
  if (chosen) {
    m_freed.wait(lock, [&] { return !chosen->busy; });
  } else {
    m_freed.wait(lock, [&] { return (chosen = any_free()) != nullptr; });
  }
  chosen->busy = true;
  chosen->next = offset + length;
  return *chosen->source;
}

void SourcePool::release(pipeline::BlockSource& source) {
  {
    std::lock_guard lock(m_mutex);
    for (auto& r : m_readers)
      if (r->source == &source)
        r->busy = false;
  }
  m_freed.notify_all();
}

namespace {

class Session {
public:
  Session(GadgetLink& link, const ExportContext& context, std::stop_token stop)
      : m_link(link), m_ctx(context), m_stop(std::move(stop)),
        m_timeout(context.options->transfer_timeout) {}

  SessionOutcome run() {
    auto session_id = setup();
    if (!session_id)
      return {SessionEnd::SetupFailed, session_id.error().message()};
    m_session_id = *session_id;
    m_ctx.counters->sessions++;
    log::info("serving " + m_ctx.artifact + " to " + m_link.describe() + " as export " +
              std::to_string(m_ctx.entry.export_id) + " (" +
              std::to_string(m_ctx.entry.size_bytes) + " bytes, " +
              std::to_string(m_ctx.entry.block_size) + "-byte blocks, session " +
              format_hex(m_session_id, 1) + ")");
    const unsigned workers = std::max(1u, m_ctx.options->workers);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < workers; ++i)
      threads.emplace_back([this] { work(); });
    threads.emplace_back([this] { read_requests(); });
    SessionOutcome outcome = heartbeat();
    {
      std::lock_guard lock(m_mutex);
      m_ending = true;
      if (!m_broken)
        m_broken_reason = outcome.reason;
    }
    m_jobs_changed.notify_all();
    for (auto& t : threads)
      t.join();
    // Reads queued but never started: the gadget replays them next session.
    m_ctx.counters->in_flight -= m_jobs.size();
    return outcome;
  }

private:
  // IDENT, CONFIG_EXPORTS, then the first STATUS for the session id.
  Result<std::uint64_t> setup() {
    const auto ident_bytes =
        TRY_CTX(m_link.control_in(ident_request_type, ident_request, ident_size, m_timeout),
                m_link.describe() + ": IDENT");
    const auto ident = TRY_CTX(decode_ident(ident_bytes), m_link.describe());
    if (ident.major != 0)
      return Error(m_link.describe() + ": smoo protocol " + std::to_string(ident.major) + "." +
                       std::to_string(ident.minor) + " is not supported (this host speaks 0.x)",
                   ErrorKind::Unsupported);
    const Bytes config = TRY(encode_config_exports({m_ctx.entry}));
    TRY_CTX(
        m_link.control_out(config_exports_request_type, config_exports_request, config, m_timeout),
        m_link.describe() + ": CONFIG_EXPORTS");
    const auto status = TRY(read_status());
    return status.session_id;
  }

  Result<Status> read_status() {
    const auto bytes =
        TRY_CTX(m_link.control_in(status_request_type, status_request, status_size, m_timeout),
                m_link.describe() + ": STATUS");
    return TRY_CTX(decode_status(bytes), m_link.describe());
  }

  // The session's main loop: a STATUS about every heartbeat_interval.
  SessionOutcome heartbeat() {
    const auto interval = m_ctx.options->heartbeat_interval;
    const unsigned budget = std::max(1u, m_ctx.options->heartbeat_budget);
    unsigned missed = 0;
    auto next = Clock::now() + interval;
    for (;;) {
      {
        std::unique_lock lock(m_mutex);
        m_jobs_changed.wait_until(lock, m_stop, next, [&] { return m_broken; });
        if (m_stop.stop_requested())
          return {SessionEnd::Stopped, "stop requested"};
        if (m_broken)
          return {SessionEnd::LinkLost, m_broken_reason};
      }
      if (Clock::now() < next)
        continue;
      next = Clock::now() + interval;
      auto status = read_status();
      if (!status) {
        ++missed;
        log::warn("heartbeat missed (" + std::to_string(missed) + " of " + std::to_string(budget) +
                  "): " + status.error().message());
        if (missed >= budget)
          return {SessionEnd::LinkLost,
                  "heartbeat lost: " + std::to_string(missed) + " STATUS requests unanswered"};
        continue;
      }
      if (missed > 0)
        log::info("heartbeat back after " + std::to_string(missed) + " missed");
      missed = 0;
      if (status->session_id != m_session_id) {
        log::warn("the gadget restarted (session " + format_hex(m_session_id, 1) + " -> " +
                  format_hex(status->session_id, 1) + "); setting up the export again");
        auto again = setup();
        if (!again)
          return {SessionEnd::LinkLost,
                  "setting up after the gadget restarted: " + again.error().message()};
        m_session_id = *again;
        m_ctx.counters->sessions++;
      }
      // No re-configuration on a STATUS without an active export: the gadget
      // marks it active only once its ublk device is up (which needs our
      // answers), and CONFIG_EXPORTS replaces the export set, so that would
      // tear the device down again.
    }
  }

  void mark_broken(std::string reason) {
    {
      std::lock_guard lock(m_mutex);
      if (m_broken || m_ending)
        return;
      m_broken = true;
      m_broken_reason = std::move(reason);
    }
    m_jobs_changed.notify_all();
  }

  bool ending() {
    std::lock_guard lock(m_mutex);
    return m_ending || m_broken;
  }

  // Interrupt IN: Requests. Write payloads are taken off bulk IN right here,
  // in Request order, so the bulk IN stream never desynchronises.
  void read_requests() {
    while (!ending()) {
      auto message = m_link.interrupt_in(poll_timeout);
      if (!message) {
        mark_broken(message.error().message());
        return;
      }
      if (!*message)
        continue;
      auto request = decode_request(**message);
      if (!request) {
        answer_malformed(**message, request.error().message());
        continue;
      }
      handle(*request);
    }
  }

  // A message that is not a valid Request: answer EINVAL when the op and ids
  // can be read (the gadget completes that I/O with an error), else drop it.
  void answer_malformed(ByteSpan message, const std::string& why) {
    if (message.size() < 12 || message[0] > static_cast<std::uint8_t>(Op::Discard)) {
      log::warn("ignoring an unreadable Request from the gadget: " + why);
      return;
    }
    Request r;
    r.op = static_cast<Op>(message[0]);
    r.request_id = load_le<std::uint32_t>(message.data() + 4);
    r.export_id = load_le<std::uint32_t>(message.data() + 8);
    log::warn("answering EINVAL to a malformed Request " + format_hex(r.request_id, 1) + ": " + why);
    send(response_for(r, status_einval), {});
  }

  // The Request's byte range in the export, or the reason it is invalid.
  std::optional<std::string> check_range(const Request& r, std::uint64_t& offset,
                                         std::uint64_t& length) const {
    const auto& e = m_ctx.entry;
    if (r.export_id != e.export_id)
      return "unknown export " + std::to_string(r.export_id);
    const std::uint64_t blocks = e.size_bytes / e.block_size;
    if (r.lba > blocks || r.num_blocks > blocks - r.lba)
      return "blocks " + std::to_string(r.lba) + "+" + std::to_string(r.num_blocks) +
             " are past the end (" + std::to_string(blocks) + " blocks)";
    length = std::uint64_t{r.num_blocks} * e.block_size;
    if (length > max_request_bytes)
      return std::to_string(length) + " bytes in one request (at most " +
             std::to_string(max_request_bytes) + ")";
    offset = r.lba * e.block_size;
    return std::nullopt;
  }

  void handle(const Request& r) {
    std::uint64_t offset = 0, length = 0;
    const auto invalid = check_range(r, offset, length);
    switch (r.op) {
    case Op::Read:
      if (invalid) {
        log::warn(describe_request(r) + ": " + *invalid + "; answering EINVAL");
        send(response_for(r, status_einval), {});
        return;
      }
      {
        std::lock_guard lock(m_mutex);
        m_jobs.push_back(Job{r, offset, length});
        m_ctx.counters->in_flight++;
      }
      m_jobs_changed.notify_all();
      return;
    case Op::Write: {
      // The payload follows on bulk IN whatever we answer; its size comes
      // from the export the Request names (ours, when it names another).
      const std::uint64_t payload = std::uint64_t{r.num_blocks} * m_ctx.entry.block_size;
      if (payload > max_request_bytes) {
        mark_broken(describe_request(r) + ": a " + std::to_string(payload) +
                    "-byte write payload cannot be taken off the bus; resynchronising");
        return;
      }
      Bytes sink(static_cast<std::size_t>(payload));
      if (auto got = m_link.bulk_in(sink, m_timeout); !got) {
        mark_broken(describe_request(r) + ": reading its payload: " + got.error().message());
        return;
      }
      m_ctx.counters->writes_refused++;
      if (invalid && r.export_id != m_ctx.entry.export_id) {
        log::warn(describe_request(r) + ": " + *invalid + "; payload discarded, answering EINVAL");
        send(response_for(r, status_einval), {});
        return;
      }
      log::warn(describe_request(r) +
                ": the served image is read-only; payload discarded, refused (EOPNOTSUPP)");
      send(response_for(r, status_eopnotsupp), {});
      return;
    }
    case Op::Flush:
      send(response_for(r, r.export_id != m_ctx.entry.export_id ? status_einval : status_ok), {});
      return;
    case Op::Discard:
      send(
          response_for(r, r.export_id != m_ctx.entry.export_id ? status_einval : status_eopnotsupp),
          {});
      return;
    }
  }

  struct Job {
    Request request;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(m_mutex);
        m_jobs_changed.wait(lock, [&] { return !m_jobs.empty() || m_ending || m_broken; });
        if (m_ending || m_broken)
          return;
        job = m_jobs.front();
        m_jobs.pop_front();
      }
      serve_read(job);
      m_ctx.counters->in_flight--;
    }
  }

  void serve_read(const Job& job) {
    Bytes payload(static_cast<std::size_t>(job.length), 0);
    // Bytes past the source's end (the export is rounded up to whole blocks)
    // stay zero.
    const std::uint64_t end = std::min(job.offset + job.length, m_ctx.source_size);
    Result<void> read = ok();
    if (job.offset < end) {
      auto& source = m_ctx.pool->acquire(job.offset, end - job.offset);
      read = source.read_at(job.offset,
                            std::span(payload.data(), static_cast<std::size_t>(end - job.offset)));
      m_ctx.pool->release(source);
    }
    if (!read) {
      log::error(m_ctx.artifact + ": " + describe_request(job.request) + ": bytes " +
                 std::to_string(job.offset) + "-" + std::to_string(job.offset + job.length - 1) +
                 " cannot be read, answering EIO: " + read.error().message());
      send(response_for(job.request, status_eio), {});
      return;
    }
    if (send(response_for(job.request, status_ok), payload))
      m_ctx.counters->bytes_served += job.length;
  }

  // Response, then its payload on bulk OUT, under one lock so payloads follow
  // Response order (spec §4).
  bool send(const Response& response, ByteSpan payload) {
    std::lock_guard lock(m_send_mutex);
    if (ending())
      return false;
    if (auto r = m_link.interrupt_out(encode_response(response), m_timeout); !r) {
      mark_broken("sending a Response: " + r.error().message());
      return false;
    }
    if (!payload.empty())
      if (auto r = m_link.bulk_out(payload, m_timeout); !r) {
        mark_broken("sending " + std::to_string(payload.size()) +
                    " payload bytes: " + r.error().message());
        return false;
      }
    m_ctx.counters->requests++;
    if (response.status != status_ok)
      m_ctx.counters->errors++;
    return true;
  }

  GadgetLink& m_link;
  const ExportContext& m_ctx;
  std::stop_token m_stop;
  Millis m_timeout;
  std::uint64_t m_session_id = 0;

  std::mutex m_mutex; // jobs and the end flags
  std::condition_variable_any m_jobs_changed;
  std::deque<Job> m_jobs;
  bool m_ending = false;
  bool m_broken = false;
  std::string m_broken_reason;

  std::mutex m_send_mutex;
};

} // namespace

SessionOutcome run_session(GadgetLink& link, const ExportContext& context, std::stop_token stop) {
  return Session(link, context, std::move(stop)).run();
}

} // namespace fastboop::smoo
