// http(s) block source over libcurl. Size from HEAD; data by Range GETs of
// whole pages, several in flight on one multi handle (connections reused),
// retried with exponential backoff on network errors and 5xx. Every answer
// must be 206 with the exact Content-Range and length asked for: a server
// that answers a Range with other bytes, or short, is an error, never wrong
// bytes. A server without Range support (a 200 with the whole object) is read
// once, whole, into the page store instead, with a warning that says why.
// Every retry is logged (URL, reason, attempt); the timeouts are settings
// (HttpTimeouts).
// Fetched pages land in a page store: with a known content digest it is a
// persistent cache reused across runs; otherwise an unlinked temporary file.
// Bytes are stored under a digest only once checked against it (issue 16
// item 3): pages of an object not yet read whole live in
// $cache/http/unverified/<sha256(url, claimed digest)>-<size>/, and only a
// complete copy whose SHA-512 matches moves to the content-addressed
// $cache/http/<sha512>-<size>/ with its `verified` marker. A partial read is
// therefore not verified (its own issue); reusing such pages says so.
#include "common/hash.hpp"
#include "common/log.hpp"
#include "pipeline/sources.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <curl/curl.h>
#include <deque>
#include <fcntl.h>
#include <list>
#include <mutex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
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
    if (m_persistent && !m_complete_and_verified && m_pages_present > 0)
      log::info(
          "http(" + m_url + "): " + std::to_string(m_pages_present) + " of " +
          std::to_string(page_count()) +
          " pages read and cached as unverified: " + *m_options.content_digest +
          " is checked only once every byte has been read (--verify-download checks it up front)");
    for (CURL* e : m_idle)
      curl_easy_cleanup(e);
    if (m_multi)
      curl_multi_cleanup(m_multi);
    if (m_fd >= 0)
      ::close(m_fd);
    if (m_bitmap_fd >= 0)
      ::close(m_bitmap_fd);
  }

  Result<void> init() {
    global_init();
    m_multi = curl_multi_init();
    if (!m_multi)
      return Error("http: cannot create a curl multi handle");
    curl_multi_setopt(m_multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(std::max(1u, m_options.parallel_requests)));
    bool offline = m_options.network == NetworkMode::Offline;
    bool persistent = m_options.content_digest &&
                      Sha512Digest::parse(*m_options.content_digest, Sha512Digest::Prefix::Required).ok();
    if (persistent && !m_options.content_size)
      m_options.content_size = TRY(size_for_digest(offline));
    if (m_options.content_size)
      TRY(check_size(*m_options.content_size, "content size_bytes"));
    if (persistent)
      TRY(open_persistent_store());
    if (m_complete_and_verified) {
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
      TRY(open_temporary_store());
    return ok();
  }

  std::uint64_t size() const override { return m_size; }
  std::string describe() const override { return "http(" + m_url + ")"; }
  HttpStats stats() const override { return m_stats; }

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
      if (m_have.count(p))
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
    std::size_t done = 0;
    while (done < out.size()) {
      ssize_t k = ::pread(m_fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return Error("http(" + m_url + "): reading the page store: " + std::strerror(errno), ErrorKind::Io);
      done += static_cast<std::size_t>(k);
    }
    return ok();
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
    TRY(store(t.first, t.body));
    return ok();
  }

  Result<void> fetch(std::deque<Transfer> pending) {
    std::size_t active = 0;
    std::optional<Error> fatal;
    std::list<Transfer> running;
    while ((!pending.empty() || active > 0) && !fatal && !m_ignores_range) {
      auto now = Clock::now();
      for (auto it = pending.begin(); it != pending.end() && active < std::max(1u, m_options.parallel_requests);) {
        if (it->not_before > now) {
          ++it;
          continue;
        }
        running.push_back(std::move(*it));
        it = pending.erase(it);
        start(running.back());
        ++active;
      }
      if (active == 0) {
        auto next = std::min_element(pending.begin(), pending.end(), [](const Transfer& a, const Transfer& b) { return a.not_before < b.not_before; });
        std::this_thread::sleep_until(next->not_before);
        continue;
      }
      int still = 0;
      curl_multi_perform(m_multi, &still);
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(m_multi, &left)) {
        if (msg->msg != CURLMSG_DONE)
          continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
        CURLcode rc = msg->data.result;
        auto r = finish(*t, rc);
        curl_multi_remove_handle(m_multi, t->easy);
        curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, nullptr);
        m_idle.push_back(t->easy);
        t->easy = nullptr;
        --active;
        auto it = std::find_if(running.begin(), running.end(), [&](const Transfer& x) { return &x == t; });
        if (r) {
          m_stats.bytes_fetched += t->body.size();
          if (m_options.on_fetch)
            m_options.on_fetch(t->body.size());
          running.erase(it);
          continue;
        }
        if (t->ignored_range) {
          // No Range support: stop asking for ranges and read it whole.
          m_ignores_range = true;
          running.erase(it);
          break;
        }
        if (r.error().kind() == ErrorKind::Io && t->attempt + 1 < attempts()) {
          ++t->attempt;
          ++m_stats.retries;
          const std::string what =
              "range " + std::to_string(t->first) + "-" + std::to_string(t->last);
          const std::string& message = r.error().message();
          const std::string prefix = "http(" + m_url + "): " + what + ": ";
          log_retry(what, message.starts_with(prefix) ? message.substr(prefix.size()) : message,
                    t->attempt + 1);
          t->not_before = Clock::now() + std::chrono::milliseconds(backoff_ms(t->attempt));
          pending.push_back(std::move(*it));
          running.erase(it);
          continue;
        }
        fatal = std::move(r).error();
        if (fatal->kind() == ErrorKind::Io)
          fatal = Error(fatal->message() + " (gave up after " + std::to_string(t->attempt + 1) +
                            " attempts)",
                        ErrorKind::Network);
        running.erase(it);
      }
      if (active > 0)
        curl_multi_poll(m_multi, nullptr, 0, 100, nullptr);
    }
    for (auto& t : running) {
      curl_multi_remove_handle(m_multi, t.easy);
      curl_easy_setopt(t.easy, CURLOPT_ERRORBUFFER, nullptr);
      m_idle.push_back(t.easy);
    }
    if (fatal)
      return *fatal;
    if (m_ignores_range)
      return fetch_whole();
    TRY(maybe_verify_complete());
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
      if (auto r = self.store(w->offset, chunk); !r) {
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
              (m_persistent ? "cache" : "page store") +
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
      TRY(maybe_verify_complete());
      return ok();
    }
    return Error("http(" + m_url + "): whole-object GET failed after " +
                     std::to_string(attempts()) + " attempts: " + last_error,
                 ErrorKind::Network);
  }

  Result<void> store(std::uint64_t offset, const Bytes& data) {
    for (std::size_t w = 0; w < data.size();) {
      ssize_t k = ::pwrite(m_fd, data.data() + w, data.size() - w, static_cast<off_t>(offset + w));
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return Error("http(" + m_url + "): writing the page store: " + std::strerror(errno), ErrorKind::Io);
      w += static_cast<std::size_t>(k);
    }
    const std::uint64_t ps = m_options.page_size;
    for (std::uint64_t p = offset / ps; p * ps < offset + data.size(); ++p) {
      if (m_have.insert(p).second) {
        ++m_pages_present;
        if (m_bitmap_fd >= 0) {
          std::uint8_t one = 1;
          if (::pwrite(m_bitmap_fd, &one, 1, static_cast<off_t>(p)) != 1)
            return Error("http(" + m_url + "): writing the cache page map: " + std::strerror(errno), ErrorKind::Io);
        }
      }
    }
    return ok();
  }

  std::uint64_t page_count() const { return (m_size + m_options.page_size - 1) / m_options.page_size; }

  Result<void> open_temporary_store() {
    std::filesystem::path dir = m_options.cache_dir.empty() ? default_cache_dir() : m_options.cache_dir;
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    m_fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (m_fd < 0) {
      std::string tmpl = (dir / "http-pages.XXXXXX").string();
      m_fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
      if (m_fd >= 0)
        ::unlink(tmpl.c_str());
    }
    if (m_fd < 0)
      return Error("http(" + m_url + "): cannot create a page store in " + dir.string() + ": " + std::strerror(errno), ErrorKind::Io);
    m_have.clear();
    return ok();
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
    std::vector<std::pair<std::uint64_t, bool>> cached; // size, verified marker present
    // No exceptions: a missing or unreadable cache is simply empty.
    auto scan = [&](const std::filesystem::path& dir, const std::string& prefix, bool verified) {
      std::error_code ec;
      std::filesystem::directory_iterator it(dir, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        const std::filesystem::path& path = it->path();
        std::string name = path.filename().string();
        if (!name.starts_with(prefix))
          continue;
        std::string tail = name.substr(prefix.size());
        if (tail.empty() || tail.find_first_not_of("0123456789") != std::string::npos ||
            tail.size() > 19)
          continue;
        // A digest-named directory counts only with a valid marker (older
        // versions kept unchecked pages there).
        if (verified && !has_valid_marker(path))
          continue;
        cached.emplace_back(std::stoull(tail), verified);
      }
    };
    scan(cache_root() / "http", m_options.content_digest->substr(7) + "-", true);
    scan(cache_root() / "http" / "unverified", unverified_key() + "-", false);
    for (const auto& [size, verified] : cached)
      if (verified)
        return size;
    if (!offline)
      return head();
    if (cached.size() == 1)
      return cached.front().first;
    return Error(offline_message(m_url, cached.empty() ? "the object with " + m_options.content_digest->substr(0, 23) + "…"
                                                       : "one copy of the object (several sizes are cached)"),
                 ErrorKind::Io);
  }

  std::filesystem::path cache_root() const {
    return m_options.cache_dir.empty() ? default_cache_dir() : m_options.cache_dir;
  }
  // Where a checked copy lives: named by its digest.
  std::filesystem::path verified_dir(std::uint64_t size) const {
    return cache_root() / "http" /
           (m_options.content_digest->substr(7) + "-" + std::to_string(size));
  }
  // Where pages live until the whole object is checked: named by what was
  // asked for (this URL under this claimed digest), never by the digest alone.
  std::string unverified_key() const {
    return sha256_hex(as_bytes(m_url + "\n" + *m_options.content_digest)).substr(0, 40);
  }
  std::filesystem::path unverified_dir(std::uint64_t size) const {
    return cache_root() / "http" / "unverified" / (unverified_key() + "-" + std::to_string(size));
  }
  bool has_valid_marker(const std::filesystem::path& dir) const {
    const auto recorded = read_small_file(dir / "verified");
    struct stat st {};
    return recorded && ::stat((dir / "data").c_str(), &st) == 0 && *recorded == stamp_of(st);
  }

  Result<void> open_persistent_store() {
    const std::uint64_t size = *m_options.content_size;
    m_verified_store = has_valid_marker(verified_dir(size));
    m_store_dir = m_verified_store ? verified_dir(size) : unverified_dir(size);
    std::error_code ec;
    std::filesystem::create_directories(m_store_dir, ec);
    if (ec)
      return Error("http cache " + m_store_dir.string() + ": " + ec.message(), ErrorKind::Io);
    m_size = *m_options.content_size;
    std::filesystem::path data = m_store_dir / "data";
    std::filesystem::path map = m_store_dir / ("pages-" + std::to_string(m_options.page_size));
    m_fd = ::open(data.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    m_bitmap_fd = ::open(map.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0 || m_bitmap_fd < 0)
      return Error("http cache " + m_store_dir.string() + ": " + std::strerror(errno), ErrorKind::Io);
    // Only when the size differs: truncating bumps the mtime the verified
    // marker records.
    struct stat dst {};
    if (::fstat(m_fd, &dst) != 0 || static_cast<std::uint64_t>(dst.st_size) != m_size)
      if (::ftruncate(m_fd, static_cast<off_t>(m_size)) != 0)
        return Error("http cache " + data.string() + ": cannot size it to " + std::to_string(m_size) +
                         " bytes: " + std::strerror(errno),
                     ErrorKind::Io);
    m_have.clear();
    // The page map holds one byte per page; read it in bounded pieces.
    Bytes bits(64u << 10);
    for (std::uint64_t base = 0; base < page_count(); base += bits.size()) {
      ssize_t k = ::pread(m_bitmap_fd, bits.data(), bits.size(), static_cast<off_t>(base));
      if (k <= 0)
        break;
      for (ssize_t i = 0; i < k && base + static_cast<std::uint64_t>(i) < page_count(); ++i)
        if (bits[static_cast<std::size_t>(i)] == 1 && m_have.insert(base + static_cast<std::uint64_t>(i)).second)
          ++m_pages_present;
    }
    m_persistent = true;
    if (!m_verified_store && m_pages_present > 0 && m_pages_present < page_count())
      log::warn("http(" + m_url + "): reusing " + std::to_string(m_pages_present) +
                " cached page(s) that were never "
                "checked against " +
                m_options.content_digest->substr(0, 23) +
                "… (the object was never read whole; "
                "--verify-download checks it)");
    // A complete cache is verified before use; a bad one is discarded.
    if (m_pages_present == page_count()) {
      auto r = maybe_verify_complete();
      if (!r) {
        log::warn(r.error().message() + "; discarding the cached copy");
        if (::ftruncate(m_fd, 0) != 0 || ::ftruncate(m_fd, static_cast<off_t>(m_size)) != 0 ||
            ::ftruncate(m_bitmap_fd, 0) != 0)
          return Error("http cache " + m_store_dir.string() + ": cannot reset: " + std::strerror(errno), ErrorKind::Io);
        ::unlink((m_store_dir / "verified").c_str());
        m_have.clear();
        m_pages_present = 0;
      }
    }
    return ok();
  }

  Result<void> maybe_verify_complete() {
    if (!m_persistent || m_complete_and_verified || m_pages_present != page_count())
      return ok();
    // The marker records the data file's size and mtime when it was hashed;
    // a file changed since (any write bumps the mtime) is hashed again.
    if (m_verified_store && has_valid_marker(m_store_dir)) {
      m_complete_and_verified = true;
      return ok();
    }
    FileDigest d = TRY(sha512_file(m_store_dir / "data"));
    if (d.content_digest() != *m_options.content_digest || d.size != m_size)
      return Error("http(" + m_url + "): content digest mismatch: expected " + *m_options.content_digest + ", actual " +
                   d.content_digest());
    // Checked: the copy moves under its digest (another run may have put one
    // there first, or an older fastboop left unchecked pages there).
    if (!m_verified_store) {
      const auto target = verified_dir(m_size);
      std::error_code ec;
      std::filesystem::remove_all(target, ec);
      std::filesystem::rename(m_store_dir, target, ec);
      if (!ec) {
        m_store_dir = target;
        m_verified_store = true;
      } else {
        log::debug("http cache: cannot move " + m_store_dir.string() + " to " + target.string() +
                   ": " + ec.message());
      }
    }
    const std::filesystem::path marker = m_store_dir / "verified";
    std::string stamp = data_stamp();
    int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (::write(fd, stamp.data(), stamp.size()) != static_cast<ssize_t>(stamp.size()))
        ::unlink(marker.c_str()); // no stamp: hashed again next time
      ::close(fd);
    }
    m_complete_and_verified = true;
    return ok();
  }

  // "size mtime_ns" of the data file, as the verified marker records it.
  static std::string stamp_of(const struct stat& st) {
    return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec) + "\n";
  }
  std::string data_stamp() const {
    struct stat st {};
    if (::fstat(m_fd, &st) != 0)
      return "?";
    return stamp_of(st);
  }

  static std::optional<std::string> read_small_file(const std::filesystem::path& p) {
    int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return std::nullopt;
    char buf[128];
    ssize_t k = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (k < 0)
      return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(k));
  }

  std::string m_url;
  HttpOptions m_options;
  std::uint64_t m_size = 0;
  CURLM* m_multi = nullptr;
  std::vector<CURL*> m_idle;
  int m_fd = -1;
  int m_bitmap_fd = -1;
  bool m_persistent = false;
  bool m_complete_and_verified = false;
  bool m_verified_store = false; // m_store_dir is the digest-named directory
  bool m_ignores_range = false; // the server answered a Range with the whole object
  std::filesystem::path m_store_dir;
  std::unordered_set<std::uint64_t> m_have; // pages present: sparse, so an absurd size costs nothing
  std::uint64_t m_pages_present = 0;
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
