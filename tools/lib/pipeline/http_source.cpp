// http(s) block source over libcurl. Size from HEAD; data by Range GETs of
// whole pages, several in flight on one multi handle (connections reused),
// retried with exponential backoff on network errors and 5xx. Every answer
// must be 206 with the exact Content-Range and length asked for: a server
// that answers a Range with other bytes, or short, is an error, never wrong
// bytes. A server without Range support (a 200 with the whole object) is read
// once, whole, into the page store instead, with a warning that says why.
// Every retry is logged (URL, reason, attempt); the timeouts are settings
// (HttpTimeouts).
// Fetched pages land in a page store (page_store.hpp): with a known content
// digest a persistent cache reused across runs, otherwise an unlinked
// temporary file. This file is the fetcher; what is stored where, and when a
// copy counts as verified, is the store's business.
#include "common/hash.hpp"
#include "common/log.hpp"
#include "pipeline/page_store.hpp"
#include "pipeline/sources.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <curl/curl.h>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace fastboop::pipeline {

namespace {

using Clock = std::chrono::steady_clock;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// A whole number in [lo, hi] from an environment variable, or the default.
Result<long> env_number(const char* name, long fallback, long lo, long hi) {
  const char* v = std::getenv(name);
  if (!v || !*v)
    return fallback;
  char* end = nullptr;
  errno = 0;
  const long n = std::strtol(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < lo || n > hi)
    return Error(std::string(name) + "=" + v + ": expected a whole number from " +
                     std::to_string(lo) + " to " + std::to_string(hi),
                 ErrorKind::Usage);
  return n;
}

std::string offline_message(const std::string& url, std::string_view what) {
  return "http(" + url + "): offline mode (--offline / FASTBOOP_OFFLINE=1): " + std::string(what) +
         " is not in the local cache; run once online or pass --local-artifact";
}

struct Transfer {
  CURL* easy = nullptr;
  std::uint64_t first = 0; // inclusive byte range
  std::uint64_t last = 0;
  Bytes body;
  std::string content_range;
  long status = 0;
  bool ignored_range = false;
  unsigned attempt = 0;
  std::optional<std::uint64_t> bad_block; // failed the block-hash table
  bool refetched = false;                 // after a mismatch (once)
  Clock::time_point not_before{};
  char errbuf[CURL_ERROR_SIZE] = {};
};

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or 100-continue): reset what we saw.
    t->content_range.clear();
  }
  constexpr std::string_view key = "content-range:";
  if (line.size() > key.size()) {
    std::string lower(line.substr(0, key.size()));
    for (auto& c : lower)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == key) {
      std::string v(line.substr(key.size()));
      auto b = v.find_first_not_of(" \t");
      auto e = v.find_last_not_of(" \t\r\n");
      t->content_range = b == std::string::npos ? "" : v.substr(b, e - b + 1);
    }
  }
  return size * n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  long code = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code == 200) {
    t->ignored_range = true;
    return 0; // abort: never take bytes from a response that ignored Range
  }
  if (code != 206)
    return size * n; // an error page; discarded after the status check
  std::uint64_t want = t->last - t->first + 1;
  if (t->body.size() + size * n > want)
    return 0; // more than asked for: abort
  t->body.insert(t->body.end(), data, data + size * n);
  return size * n;
}

class HttpSourceImpl final : public HttpSource {
public:
  HttpSourceImpl(std::string url, HttpOptions options) : m_url(std::move(url)), m_options(std::move(options)) {}
  ~HttpSourceImpl() override {
    if (m_store && !m_table && m_store->persistent() && !m_store->verified() && m_store->pages_present() > 0)
      log::info(
          "http(" + m_url + "): " + std::to_string(m_store->pages_present()) + " of " +
          std::to_string(m_store->page_count()) +
          " pages read and cached as unverified: " + *m_options.content_digest +
          " is checked only once every byte has been read (--unverified-ranged-reads)");
    for (CURL* e : m_idle)
      curl_easy_cleanup(e);
    if (m_multi)
      curl_multi_cleanup(m_multi);
  }

  Result<void> init() {
    global_init();
    m_multi = curl_multi_init();
    if (!m_multi)
      return Error("http: cannot create a curl multi handle");
    curl_multi_setopt(m_multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(std::max(1u, m_options.parallel_requests)));
    bool offline = m_options.network == NetworkMode::Offline;
    TRY(bind_block_table());
    bool persistent = m_options.content_digest &&
                      Sha512Digest::parse(*m_options.content_digest, Sha512Digest::Prefix::Required).ok();
    if (persistent && !m_options.content_size)
      m_options.content_size = TRY(size_for_digest(offline));
    if (m_options.content_size)
      TRY(check_size(*m_options.content_size, "content size_bytes"));
    if (persistent) {
      m_store = TRY(open_persistent_page_store(PersistentStoreKey{
          cache_root(), m_url, *m_options.content_digest, *m_options.content_size, m_options.page_size,
          m_table != nullptr}));
      m_size = m_store->size();
    }
    if (m_store && m_store->verified()) {
      m_size = *m_options.content_size;
    } else if (offline) {
      if (!persistent)
        return Error(offline_message(m_url, "the object (no content digest to key a cache)"), ErrorKind::Io);
      m_size = *m_options.content_size; // ranges already cached stay readable
    } else {
      m_size = TRY(head());
      TRY(check_size(m_size, "Content-Length"));
      if (m_options.content_size && *m_options.content_size != m_size)
        return Error("http(" + m_url + "): server reports " + std::to_string(m_size) + " bytes, content says " +
                     std::to_string(*m_options.content_size));
    }
    if (!persistent)
      m_store = TRY(open_temporary_page_store(cache_root(), "http(" + m_url + ")", m_size, m_options.page_size));
    return ok();
  }

  std::uint64_t size() const override { return m_size; }
  std::string describe() const override { return "http(" + m_url + ")"; }
  HttpStats stats() const override { return m_stats; }
  bool verified() const override { return m_store && m_store->verified(); }

  Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) override {
    if (offset > m_size || out.size() > m_size - offset)
      return layer_error(describe(), offset, "read past the end (size " + std::to_string(m_size) + ")");
    if (out.empty())
      return ok();
    const std::uint64_t ps = m_options.page_size;
    std::uint64_t p0 = offset / ps, p1 = (offset + out.size() - 1) / ps;
    std::deque<Transfer> want;
    constexpr std::uint64_t kMaxRunPages = 16;
    for (std::uint64_t p = p0; p <= p1; ++p) {
      if (m_store->has_page(p))
        TRY(recheck_cached(p));
      if (m_store->has_page(p))
        continue;
      if (!want.empty() && want.back().last + 1 == p * ps && (want.back().last + 1 - want.back().first) < kMaxRunPages * ps) {
        want.back().last = std::min(m_size, (p + 1) * ps) - 1;
        continue;
      }
      Transfer t;
      t.first = p * ps;
      t.last = std::min(m_size, (p + 1) * ps) - 1;
      want.push_back(std::move(t));
    }
    if (!want.empty()) {
      if (m_options.network == NetworkMode::Offline)
        return Error(offline_message(m_url, "byte range " + std::to_string(want.front().first) + "-" +
                                                std::to_string(want.front().last)),
                     ErrorKind::Io);
      TRY(fetch(std::move(want)));
    } else {
      m_stats.bytes_from_cache += out.size();
    }
    return m_store->read(offset, out);
  }

private:
  CURL* take_easy() {
    CURL* e;
    if (!m_idle.empty()) {
      e = m_idle.back();
      m_idle.pop_back();
      curl_easy_reset(e);
    } else {
      e = curl_easy_init();
    }
    curl_easy_setopt(e, CURLOPT_URL, m_url.c_str());
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 8L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, m_options.connect_timeout_s);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, m_options.low_speed_timeout_s);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "fastboop");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, nullptr); // identity: byte ranges of the object itself
    return e;
  }

  unsigned attempts() const { return std::max(1u, m_options.max_attempts); }

  // What is retried, while it happens: a server that accepts and never
  // answers otherwise means minutes of silence.
  void log_retry(std::string_view what, std::string_view reason, unsigned next_attempt) const {
    char delay[32];
    std::snprintf(delay, sizeof delay, "%.1f", backoff_ms(next_attempt - 1) / 1000.0);
    log::warn("http(" + m_url + "): " + std::string(what) + ": " + std::string(reason) +
              "; retrying in " + delay + " s (attempt " + std::to_string(next_attempt) + " of " +
              std::to_string(attempts()) + ")");
  }

  unsigned backoff_ms(unsigned attempt) const {
    unsigned ms = m_options.first_backoff_ms;
    for (unsigned i = 1; i < attempt && ms < 5000; ++i)
      ms *= 2;
    return std::min(ms, 5000u);
  }

  Result<std::uint64_t> head() {
    std::string last_error;
    for (unsigned attempt = 1; attempt <= attempts(); ++attempt) {
      if (attempt > 1) {
        ++m_stats.retries;
        log_retry("HEAD", last_error, attempt);
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms(attempt - 1)));
      }
      CURL* e = take_easy();
      char err[CURL_ERROR_SIZE] = {};
      curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
      curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
      CURLcode rc = curl_easy_perform(e);
      long code = 0;
      curl_off_t len = -1;
      curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
      curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
      curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);
      m_idle.push_back(e);
      ++m_stats.requests;
      if (rc != CURLE_OK) {
        last_error = std::string(curl_easy_strerror(rc)) + (err[0] ? std::string(": ") + err : "");
        continue;
      }
      if (code >= 500) {
        last_error = "HTTP " + std::to_string(code);
        continue;
      }
      if (code != 200)
        return Error("http(" + m_url + "): HEAD answered HTTP " + std::to_string(code));
      if (len < 0)
        return Error("http(" + m_url + "): HEAD answer has no Content-Length; the size is needed for range reads");
      return static_cast<std::uint64_t>(len);
    }
    return Error("http(" + m_url + "): HEAD failed after " + std::to_string(attempts()) +
                     " attempts: " + last_error,
                 ErrorKind::Network);
  }

  void start(Transfer& t) {
    t.easy = take_easy();
    t.body.clear();
    t.body.reserve(static_cast<std::size_t>(t.last - t.first + 1));
    t.content_range.clear();
    t.ignored_range = false;
    t.bad_block.reset();
    t.errbuf[0] = 0;
    std::string range = std::to_string(t.first) + "-" + std::to_string(t.last);
    curl_easy_setopt(t.easy, CURLOPT_RANGE, range.c_str());
    curl_easy_setopt(t.easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(t.easy, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(t.easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(t.easy, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(t.easy, CURLOPT_ERRORBUFFER, t.errbuf);
    curl_easy_setopt(t.easy, CURLOPT_PRIVATE, &t);
    curl_multi_add_handle(m_multi, t.easy);
    ++m_stats.requests;
  }

  // Returns: ok -> stored; Error with kind Io -> retryable; other -> fatal.
  Result<void> finish(Transfer& t, CURLcode rc) {
    curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &t.status);
    const std::string range = std::to_string(t.first) + "-" + std::to_string(t.last);
    const std::string where = "http(" + m_url + "): range " + range + ": ";
    if (t.ignored_range)
      return Error(where + "server ignored the Range request (HTTP 200); refusing the whole-object answer");
    if (rc != CURLE_OK) {
      if (rc == CURLE_WRITE_ERROR && t.status == 206)
        return Error(where + "server sent more bytes than the range asked for");
      return Error(where + curl_easy_strerror(rc) + (t.errbuf[0] ? std::string(": ") + t.errbuf : ""), ErrorKind::Io);
    }
    if (t.status >= 500)
      return Error(where + "HTTP " + std::to_string(t.status), ErrorKind::Io);
    if (t.status != 206)
      return Error(where + "HTTP " + std::to_string(t.status) + " (want 206 Partial Content)");
    std::string expect = "bytes " + range + "/" + std::to_string(m_size);
    if (t.content_range != expect)
      return Error(where + "Content-Range '" + t.content_range + "' does not match the request (want '" + expect + "')");
    if (t.body.size() != t.last - t.first + 1)
      return Error(where + "short answer: " + std::to_string(t.body.size()) + " of " +
                   std::to_string(t.last - t.first + 1) + " bytes");
    if (m_table)
      for (std::uint64_t b = t.first / m_table->block_size; b <= t.last / m_table->block_size; ++b) {
        const std::uint64_t first = m_table->block_first(b);
        const ByteSpan bytes(t.body.data() + (first - t.first), m_table->block_last(b) - first + 1);
        if (!m_table->matches(b, bytes)) {
          t.bad_block = b;
          return block_mismatch(b);
        }
        ++m_stats.blocks_verified;
        m_rechecked.insert(b); // checked as it arrived: no second hash this run
      }
    TRY(m_store->write(t.first, t.body));
    return ok();
  }

  // What to do with a finished transfer, given finish()'s verdict on it.
  enum class Outcome { Stored, ReadWhole, Refetch, Retry, Fatal };
  Outcome classify(const Transfer& t, const Result<void>& r) const {
    if (r)
      return Outcome::Stored;
    if (t.ignored_range)
      return Outcome::ReadWhole;
    if (t.bad_block && !t.refetched)
      return Outcome::Refetch;
    if (r.error().kind() == ErrorKind::Io && t.attempt + 1 < attempts())
      return Outcome::Retry;
    return Outcome::Fatal;
  }

  // Starts the pending transfers that are due, up to the parallel limit.
  void start_due(std::deque<Transfer>& pending, std::list<Transfer>& running, std::size_t& active) {
    auto now = Clock::now();
    for (auto it = pending.begin();
         it != pending.end() && active < std::max(1u, m_options.parallel_requests);) {
      if (it->not_before > now) {
        ++it;
        continue;
      }
      running.push_back(std::move(*it));
      it = pending.erase(it);
      start(running.back());
      ++active;
    }
  }

  void release_handle(CURL* easy) {
    curl_multi_remove_handle(m_multi, easy);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, nullptr);
    m_idle.push_back(easy);
  }

  // Acts on one finished transfer; a retried one moves back to `pending`.
  void settle(Outcome outcome, Result<void>& r, Transfer& t, std::deque<Transfer>& pending,
              std::optional<Error>& fatal) {
    switch (outcome) {
    case Outcome::Stored:
      m_stats.bytes_fetched += t.body.size();
      if (m_options.on_fetch)
        m_options.on_fetch(t.body.size());
      return;
    case Outcome::ReadWhole:
      // No Range support: stop asking for ranges and read it whole.
      m_ignores_range = true;
      return;
    case Outcome::Refetch:
      // A flaky proxy is not an attack: one more fetch before giving up.
      t.refetched = true;
      ++m_stats.refetches;
      log::warn(r.error().message() + "; fetching it once more");
      pending.push_back(std::move(t));
      return;
    case Outcome::Retry: {
      ++t.attempt;
      ++m_stats.retries;
      const std::string what = "range " + std::to_string(t.first) + "-" + std::to_string(t.last);
      const std::string& message = r.error().message();
      const std::string prefix = "http(" + m_url + "): " + what + ": ";
      log_retry(what, message.starts_with(prefix) ? message.substr(prefix.size()) : message,
                t.attempt + 1);
      t.not_before = Clock::now() + std::chrono::milliseconds(backoff_ms(t.attempt));
      pending.push_back(std::move(t));
      return;
    }
    case Outcome::Fatal:
      fatal = std::move(r).error();
      if (fatal->kind() == ErrorKind::Io)
        fatal = Error(fatal->message() + " (gave up after " + std::to_string(t.attempt + 1) +
                          " attempts)",
                      ErrorKind::Network);
      return;
    }
  }

  // Drains curl's finished transfers, stopping early once the server is
  // found to ignore Range requests.
  void collect_finished(std::deque<Transfer>& pending, std::list<Transfer>& running,
                        std::size_t& active, std::optional<Error>& fatal) {
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(m_multi, &left)) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      CURLcode rc = msg->data.result;
      auto r = finish(*t, rc);
      release_handle(t->easy);
      t->easy = nullptr;
      --active;
      auto it =
          std::find_if(running.begin(), running.end(), [&](const Transfer& x) { return &x == t; });
      const Outcome outcome = classify(*t, r);
      settle(outcome, r, *it, pending, fatal);
      running.erase(it);
      if (outcome == Outcome::ReadWhole)
        break;
    }
  }

  Result<void> fetch(std::deque<Transfer> pending) {
    std::size_t active = 0;
    std::optional<Error> fatal;
    std::list<Transfer> running;
    while ((!pending.empty() || active > 0) && !fatal && !m_ignores_range) {
      start_due(pending, running, active);
      if (active == 0) {
        auto next = std::min_element(pending.begin(), pending.end(), [](const Transfer& a, const Transfer& b) { return a.not_before < b.not_before; });
        std::this_thread::sleep_until(next->not_before);
        continue;
      }
      int still = 0;
      curl_multi_perform(m_multi, &still);
      collect_finished(pending, running, active, fatal);
      if (active > 0)
        curl_multi_poll(m_multi, nullptr, 0, 100, nullptr);
    }
    for (auto& t : running)
      release_handle(t.easy);
    if (fatal)
      return *fatal;
    if (m_ignores_range)
      return fetch_whole();
    TRY(complete_if_whole());
    return ok();
  }

  // The whole object in one GET, streamed into the page store. Only whole
  // pages (and the object's last one) are marked present, so a transfer that
  // breaks off never leaves a half-written page that a later read trusts.
  struct WholeTransfer {
    HttpSourceImpl* self = nullptr;
    CURL* easy = nullptr;
    std::uint64_t offset = 0; // bytes of the object received so far
    Bytes pending;            // received, not yet a whole page
    std::uint64_t reported = 0;
    std::optional<Error> error;
  };

  static std::size_t on_whole_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* w = static_cast<WholeTransfer*>(user);
    long code = 0;
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200)
      return size * n; // an error page; discarded after the status check
    HttpSourceImpl& self = *w->self;
    if (w->offset + w->pending.size() + size * n > self.m_size)
      return 0; // longer than the object HEAD announced: abort
    w->pending.insert(w->pending.end(), data, data + size * n);
    const std::size_t whole =
        w->pending.size() / self.m_options.page_size * self.m_options.page_size;
    const bool last = w->offset + w->pending.size() == self.m_size;
    const std::size_t flush = last ? w->pending.size() : whole;
    if (flush > 0) {
      Bytes chunk(w->pending.begin(), w->pending.begin() + static_cast<std::ptrdiff_t>(flush));
      if (auto r = self.check_blocks(w->offset, chunk); !r) {
        w->error = std::move(r).error();
        return 0;
      }
      if (auto r = self.m_store->write(w->offset, chunk); !r) {
        w->error = std::move(r).error();
        return 0;
      }
      w->pending.erase(w->pending.begin(), w->pending.begin() + static_cast<std::ptrdiff_t>(flush));
      w->offset += flush;
      self.m_stats.bytes_fetched += flush;
      // Progress in steps of about a MiB, not per curl buffer.
      if (self.m_options.on_fetch && (w->offset - w->reported >= (1u << 20) || last)) {
        self.m_options.on_fetch(w->offset - w->reported);
        w->reported = w->offset;
      }
    }
    return size * n;
  }

  Result<void> fetch_whole() {
    log::warn("http(" + m_url +
              "): the server ignores Range requests (it answered one with HTTP 200 and the "
              "whole object), so all " +
              std::to_string(m_size) + " bytes are downloaded once into the " +
              (m_store->persistent() ? "cache" : "page store") +
              " instead of only the ranges read; this is slower");
    std::string last_error;
    for (unsigned attempt = 1; attempt <= attempts(); ++attempt) {
      if (attempt > 1) {
        ++m_stats.retries;
        log_retry("whole-object GET", last_error, attempt);
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms(attempt - 1)));
      }
      WholeTransfer w;
      w.self = this;
      w.easy = take_easy();
      char err[CURL_ERROR_SIZE] = {};
      curl_easy_setopt(w.easy, CURLOPT_WRITEFUNCTION, on_whole_body);
      curl_easy_setopt(w.easy, CURLOPT_WRITEDATA, &w);
      curl_easy_setopt(w.easy, CURLOPT_ERRORBUFFER, err);
      const CURLcode rc = curl_easy_perform(w.easy);
      long code = 0;
      curl_easy_getinfo(w.easy, CURLINFO_RESPONSE_CODE, &code);
      curl_easy_setopt(w.easy, CURLOPT_ERRORBUFFER, nullptr);
      m_idle.push_back(w.easy);
      ++m_stats.requests;
      if (w.error)
        return *w.error;
      const std::string where = "http(" + m_url + "): whole-object GET: ";
      if (rc == CURLE_WRITE_ERROR && code == 200)
        return Error(where + "the server sent more than the " + std::to_string(m_size) +
                     " bytes HEAD announced");
      if (rc != CURLE_OK || code >= 500) {
        last_error = rc != CURLE_OK ? std::string(curl_easy_strerror(rc)) +
                                          (err[0] ? std::string(": ") + err : "")
                                    : "HTTP " + std::to_string(code);
        continue;
      }
      if (code != 200)
        return Error(where + "HTTP " + std::to_string(code) + " (want 200)");
      if (w.offset != m_size)
        return Error(where + "short answer: " + std::to_string(w.offset) + " of " +
                     std::to_string(m_size) + " bytes");
      TRY(complete_if_whole());
      return ok();
    }
    return Error("http(" + m_url + "): whole-object GET failed after " +
                     std::to_string(attempts()) + " attempts: " + last_error,
                 ErrorKind::Network);
  }

  // The table must describe this very object: the profile binds both to
  // the same digest and size.
  Result<void> bind_block_table() {
    m_table = m_options.block_table;
    if (!m_table)
      return ok();
    if (m_options.content_digest != m_table->digest ||
        (m_options.content_size && *m_options.content_size != m_table->size))
      return Error("http(" + m_url + "): the block-hash table is for another artifact (" +
                   m_table->digest.substr(0, 23) + "…, " + std::to_string(m_table->size) +
                   " bytes); refusing it");
    m_options.content_size = m_table->size;
    m_options.page_size = m_table->block_size; // a fetched page is a whole block
    return ok();
  }

  Error block_mismatch(std::uint64_t block) const {
    const std::string name = m_url.substr(m_url.find_last_of('/') + 1);
    return Error("http(" + m_url + "): artifact " + name + " (" + m_table->digest.substr(0, 23) + "…, " +
                 std::to_string(m_table->size) + " bytes): bytes " + std::to_string(m_table->block_first(block)) +
                 "-" + std::to_string(m_table->block_last(block)) + " (block " + std::to_string(block) +
                 ") do not match the profile's block-hash table");
  }

  // Whole blocks at a block boundary (the whole-object path).
  Result<void> check_blocks(std::uint64_t offset, ByteSpan data) {
    if (!m_table)
      return ok();
    for (std::size_t done = 0; done < data.size();) {
      const std::uint64_t b = (offset + done) / m_table->block_size;
      const std::size_t n = static_cast<std::size_t>(m_table->block_last(b) - m_table->block_first(b) + 1);
      if (!m_table->matches(b, data.subspan(done, std::min(n, data.size() - done))))
        return block_mismatch(b);
      ++m_stats.blocks_verified;
      m_rechecked.insert(b);
      done += n;
    }
    return ok();
  }

  // A cached block is checked again the first time this run reads it: the
  // cache is a file anyone with the user's rights can change. A bad one is
  // dropped and fetched again.
  Result<void> recheck_cached(std::uint64_t page) {
    if (!m_table || m_rechecked.count(page))
      return ok();
    Bytes bytes(static_cast<std::size_t>(m_table->block_last(page) - m_table->block_first(page) + 1));
    TRY(m_store->read(m_table->block_first(page), bytes));
    if (m_table->matches(page, bytes)) {
      m_rechecked.insert(page);
      return ok();
    }
    log::warn(block_mismatch(page).message() + " in the local cache; dropping it and fetching it again");
    return m_store->drop(page);
  }

  Result<void> complete_if_whole() {
    if (m_store->pages_present() != m_store->page_count())
      return ok();
    return m_store->complete();
  }

  // Sizes beyond off_t cannot be stored or addressed; refuse them up front
  // (a lying server must not make us allocate or truncate absurdly).
  Result<void> check_size(std::uint64_t size, std::string_view what) const {
    constexpr std::uint64_t kMax = std::uint64_t{1} << 50; // 1 PiB
    if (size > kMax)
      return Error("http(" + m_url + "): " + std::string(what) + " " + std::to_string(size) +
                   " bytes is beyond the supported object size (1 PiB)");
    return ok();
  }

  // A digest without a size: the cached copy under that digest (the only
  // way offline; online it spares the HEAD when it is verified), else HEAD.
  Result<std::uint64_t> size_for_digest(bool offline) {
    const auto cached = cached_copies(cache_root(), m_url, *m_options.content_digest);
    for (const CachedCopy& c : cached)
      if (c.verified)
        return c.size;
    if (!offline)
      return head();
    if (cached.size() == 1)
      return cached.front().size;
    return Error(offline_message(m_url, cached.empty() ? "the object with " + m_options.content_digest->substr(0, 23) + "…"
                                                       : "one copy of the object (several sizes are cached)"),
                 ErrorKind::Io);
  }

  std::filesystem::path cache_root() const {
    return m_options.cache_dir.empty() ? default_cache_dir() : m_options.cache_dir;
  }

  std::string m_url;
  HttpOptions m_options;
  std::uint64_t m_size = 0;
  CURLM* m_multi = nullptr;
  std::vector<CURL*> m_idle;
  std::unique_ptr<PageStore> m_store;
  std::shared_ptr<const BlockTable> m_table;
  std::unordered_set<std::uint64_t> m_rechecked; // cached blocks checked this run
  bool m_ignores_range = false; // the server answered a Range with the whole object
  HttpStats m_stats;
};

} // namespace

Result<HttpTimeouts> http_timeouts_from_env() {
  HttpTimeouts t;
  t.connect_s = TRY(env_number("FASTBOOP_HTTP_CONNECT_TIMEOUT", t.connect_s, 1, 3600));
  t.stall_s = TRY(env_number("FASTBOOP_HTTP_STALL_TIMEOUT", t.stall_s, 1, 3600));
  t.attempts = static_cast<unsigned>(TRY(env_number("FASTBOOP_HTTP_ATTEMPTS", t.attempts, 1, 100)));
  return t;
}

Result<std::unique_ptr<HttpSource>> open_http(const std::string& url, const HttpOptions& options) {
  if (!(url.starts_with("http://") || url.starts_with("https://")))
    return Error("http: '" + url + "' is not an http(s) URL");
  if (options.page_size == 0 || options.page_size > (64u << 20))
    return Error("http: page size " + std::to_string(options.page_size) + " out of range");
  auto src = std::make_unique<HttpSourceImpl>(url, options);
  TRY(src->init());
  return std::unique_ptr<HttpSource>(std::move(src));
}

} // namespace fastboop::pipeline
