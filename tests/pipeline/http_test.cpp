// http source against lighttpd on 127.0.0.1, directly and through the
// fault-injecting proxy; persistent range cache and offline mode.
#include "common/hash.hpp"
#include "http_harness.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline_test_util.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <cstdlib>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using namespace pipeline;

struct Served {
  TempDir root;
  Bytes blob = random_bytes(3u << 20, 42);
  std::unique_ptr<Lighttpd> server;
  Served() {
    write_file(root / "blob.bin", blob);
    server = std::make_unique<Lighttpd>(root.path());
  }
};

#define NEED_SERVER(s)                                                                             \
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");                                                            \
  Served s;                                                                                        \
  ASSERT_TRUE(s.server->ok()) << s.server->error()

HttpOptions test_options(const TempDir& cache) {
  HttpOptions o;
  o.cache_dir = cache.path();
  o.first_backoff_ms = 10;
  o.page_size = 64u << 10;
  return o;
}

TEST(Http, RandomRangeReadsMatchAndConnectionsAreReused) {
  NEED_SERVER(s);
  TempDir cache;
  FaultProxy proxy(s.server->port()); // pass-through: counts connections and requests
  auto src = open_http(proxy.url("blob.bin"), test_options(cache));
  ASSERT_TRUE(src.ok()) << src.error().message();
  expect_random_reads_match(**src, s.blob, 21, 60, 200000);
  HttpStats st = (*src)->stats();
  EXPECT_GT(st.requests, 5u);
  EXPECT_LE(st.bytes_fetched, s.blob.size());
  EXPECT_EQ(st.retries, 0u);
  EXPECT_LT(proxy.connections(), proxy.requests()) << "keep-alive connections must be reused";
  // Everything read once more comes from the page store, no new request.
  auto before = (*src)->stats().requests;
  Bytes again(1000);
  expect_ok((*src)->read_at(0, again));
  EXPECT_EQ((*src)->stats().requests, before);
}

TEST(Http, RetriesDropsAnd5xxThenSucceeds) {
  NEED_SERVER(s);
  FaultProxy proxy(s.server->port());
  for (Fault f : {Fault::DropConnection, Fault::ServiceUnavailable}) {
    TempDir cache;
    proxy.set_fault(f, 3);
    auto src = open_http(proxy.url("blob.bin"), test_options(cache));
    ASSERT_TRUE(src.ok()) << src.error().message();
    proxy.set_fault(f, 2);
    expect_random_reads_match(**src, s.blob, 22, 10);
    EXPECT_GE((*src)->stats().retries, 2u);
  }
}

TEST(Http, PersistentFailuresAndProtocolViolationsAreErrors) {
  NEED_SERVER(s);
  FaultProxy proxy(s.server->port());
  struct Case {
    Fault fault;
    const char* needle;
  } cases[] = {
      {Fault::ServiceUnavailable, "HTTP 503"},
      {Fault::DropConnection, "gave up after 3 attempts"},
      {Fault::ShortBody, "gave up"},
      {Fault::ShorterRange, "Content-Range"},
  };
  for (const auto& c : cases) {
    TempDir cache;
    HttpOptions o = test_options(cache);
    o.max_attempts = 3;
    proxy.set_fault(Fault::None, 0);
    auto src = open_http(proxy.url("blob.bin"), o);
    ASSERT_TRUE(src.ok()) << src.error().message();
    proxy.set_fault(c.fault, -1);
    Bytes buf(100000);
    auto r = (*src)->read_at(12345, buf);
    ASSERT_FALSE(r.ok()) << c.needle;
    EXPECT_NE(r.error().message().find(c.needle), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("range "), std::string::npos) << r.error().message();
  }
  proxy.set_fault(Fault::ServiceUnavailable, -1);
  TempDir cache;
  auto head = open_http(proxy.url("blob.bin"), test_options(cache));
  ASSERT_FALSE(head.ok());
  EXPECT_NE(head.error().message().find("HEAD failed"), std::string::npos) << head.error().message();
  proxy.set_fault(Fault::None, 0);
  auto missing = open_http(s.server->url("nope.bin"), test_options(cache));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("404"), std::string::npos) << missing.error().message();
}

profiles::PipelineSource http_stage(const std::string& url, const Bytes& data) {
  profiles::PipelineSource s;
  s.kind = profiles::StageKind::Http;
  s.location = url;
  s.content = profiles::ContentDigest{"sha512:" + sha512_hex(data), data.size()};
  return s;
}

TEST(Http, PersistentCacheServesOfflineAndVerifiesWhenComplete) {
  NEED_SERVER(s);
  TempDir cache;
  profiles::PipelineSource stage = http_stage(s.server->url("blob.bin"), s.blob);
  OpenOptions online;
  online.cache_dir = cache.path();
  online.network = NetworkMode::Online;
  // Partial reads of an object without a table (--unverified-ranged-reads);
  // by default it would be fetched whole and checked at open.
  online.digest_check = DigestCheck::WhenComplete;
  {
    auto src = open_pipeline(stage, online);
    ASSERT_TRUE(src.ok()) << src.error().message();
    Bytes buf(5000);
    expect_ok((*src)->read_at(1u << 20, buf));
  }
  OpenOptions offline = online;
  offline.network = NetworkMode::Offline;
  auto src = open_pipeline(stage, offline);
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes buf(5000);
  expect_ok((*src)->read_at(1u << 20, buf));
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.blob.begin() + (1u << 20)));
  auto miss = (*src)->read_at(0, buf);
  ASSERT_FALSE(miss.ok());
  EXPECT_NE(miss.error().message().find("offline mode"), std::string::npos) << miss.error().message();

  // FASTBOOP_OFFLINE=1 without any cache for an unknown object fails clearly.
  ::setenv("FASTBOOP_OFFLINE", "1", 1);
  profiles::PipelineSource other = stage;
  other.content->digest = "sha512:" + std::string(128, 'a');
  auto r = open_pipeline(other, OpenOptions{.cache_dir = cache.path(), .digest_check = DigestCheck::WhenComplete});
  ::unsetenv("FASTBOOP_OFFLINE");
  // The object's bytes are not cached: opening works (size from content), reading fails.
  ASSERT_TRUE(r.ok()) << r.error().message();
  auto rr = (*r)->read_at(0, buf);
  ASSERT_FALSE(rr.ok());
  EXPECT_NE(rr.error().message().find("FASTBOOP_OFFLINE=1"), std::string::npos) << rr.error().message();
  // Without a content digest nothing can be looked up offline: open fails.
  HttpOptions no_digest = test_options(cache);
  no_digest.network = NetworkMode::Offline;
  auto nd = open_http(s.server->url("blob.bin"), no_digest);
  ASSERT_FALSE(nd.ok());
  EXPECT_NE(nd.error().message().find("offline mode"), std::string::npos) << nd.error().message();

  // A complete download is verified: a wrong digest is detected, when the
  // whole object has been read (deferred) or at open (the default).
  profiles::PipelineSource wrong = stage;
  wrong.content->digest = "sha512:" + sha512_hex(random_bytes(10, 1));
  auto check_mismatch = [&](const Error& e) {
    EXPECT_NE(e.message().find("content digest mismatch"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find(wrong.content->digest), std::string::npos);
    EXPECT_NE(e.message().find(stage.content->digest), std::string::npos) << "actual digest named";
  };
  TempDir cache2;
  auto w = open_pipeline(wrong, OpenOptions{.cache_dir = cache2.path(), .network = NetworkMode::Online,
                                            .digest_check = DigestCheck::WhenComplete});
  ASSERT_TRUE(w.ok()) << w.error().message();
  Bytes all(s.blob.size());
  auto wr = (*w)->read_at(0, all);
  ASSERT_FALSE(wr.ok());
  check_mismatch(wr.error());
  TempDir cache3;
  auto upfront = open_pipeline(wrong, OpenOptions{.cache_dir = cache3.path(), .network = NetworkMode::Online});
  ASSERT_FALSE(upfront.ok());
  check_mismatch(upfront.error());
}

// Issue 16 item 3: a digest the user gave means what it says. Pages read
// under a digest that was never checked are not stored under it (a later
// offline run cannot mistake them for that content), only a complete copy
// that hashes to the digest is, and nothing unchecked is marked verified.
TEST(Http, BytesAreStoredUnderADigestOnlyOnceCheckedAgainstItIssue16Item3) {
  NEED_SERVER(s);
  TempDir cache;
  const std::string wrong = "sha512:" + sha512_hex(random_bytes(10, 1));
  const std::string right = "sha512:" + sha512_hex(s.blob);
  const std::string size = std::to_string(s.blob.size());
  auto opts = [&](const std::string& digest, NetworkMode mode) {
    HttpOptions o = test_options(cache);
    o.content_digest = digest;
    o.network = mode;
    return o;
  };
  auto count_markers = [&] {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(cache.path()))
      n += e.path().filename() == "verified";
    return n;
  };
  Bytes buf(5000);
  {
    auto src = open_http(s.server->url("blob.bin"), opts(wrong, NetworkMode::Online));
    ASSERT_TRUE(src.ok()) << src.error().message();
    expect_ok((*src)->read_at(1u << 20, buf)); // a partial read: nothing can be checked
  }
  EXPECT_FALSE(fs::exists(cache / ("http/" + wrong.substr(7) + "-" + size)));
  EXPECT_TRUE(fs::exists(cache / "http/unverified"));
  EXPECT_EQ(count_markers(), 0);
  // Offline, the same URL under the same claim finds its unchecked pages (and
  // says so); the claimed digest alone, for another URL, finds nothing.
  {
    auto src = open_http(s.server->url("blob.bin"), opts(wrong, NetworkMode::Offline));
    ASSERT_TRUE(src.ok()) << src.error().message();
    expect_ok((*src)->read_at(1u << 20, buf));
  }
  auto other = open_http(s.server->url("other.bin"), opts(wrong, NetworkMode::Offline));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message().find("offline mode"), std::string::npos)
      << other.error().message();
  // Read whole, the claim is checked: a mismatch, still nothing under it.
  {
    auto src = open_http(s.server->url("blob.bin"), opts(wrong, NetworkMode::Online));
    ASSERT_TRUE(src.ok()) << src.error().message();
    Bytes all(s.blob.size());
    auto r = (*src)->read_at(0, all);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("content digest mismatch"), std::string::npos)
        << r.error().message();
  }
  EXPECT_FALSE(fs::exists(cache / ("http/" + wrong.substr(7) + "-" + size)));
  EXPECT_EQ(count_markers(), 0);
  // The right digest, read whole: checked, then stored under it and marked.
  {
    auto src = open_http(s.server->url("blob.bin"), opts(right, NetworkMode::Online));
    ASSERT_TRUE(src.ok()) << src.error().message();
    Bytes all(s.blob.size());
    expect_ok((*src)->read_at(0, all));
    EXPECT_EQ(all, s.blob);
  }
  const fs::path verified = cache / ("http/" + right.substr(7) + "-" + size);
  EXPECT_TRUE(fs::exists(verified / "verified"));
  EXPECT_EQ(read_file(verified / "data"), s.blob);
  EXPECT_EQ(count_markers(), 1);
  // Offline, the checked copy serves any URL that names its digest.
  auto src = open_http(s.server->url("other.bin"), opts(right, NetworkMode::Offline));
  ASSERT_TRUE(src.ok()) << src.error().message();
  expect_ok((*src)->read_at(0, buf));
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.blob.begin()));
}

// The verified marker records the data file's size and mtime: a completed
// cache changed afterwards is hashed again, discarded and fetched anew.
TEST(Http, CorruptedCompleteCacheIsDiscardedAndRefetched) {
  NEED_SERVER(s);
  TempDir cache;
  HttpOptions o = test_options(cache);
  o.content_digest = "sha512:" + sha512_hex(s.blob);
  o.content_size = s.blob.size();
  auto read_all = [&](std::uint64_t expect_fetched) {
    auto src = open_http(s.server->url("blob.bin"), o);
    ASSERT_TRUE(src.ok()) << src.error().message();
    Bytes all(s.blob.size());
    expect_ok((*src)->read_at(0, all));
    EXPECT_EQ(all, s.blob);
    EXPECT_EQ((*src)->stats().bytes_fetched, expect_fetched);
  };
  read_all(s.blob.size());
  const fs::path store = cache / ("http/" + o.content_digest->substr(7) + "-" + std::to_string(s.blob.size()));
  ASSERT_TRUE(fs::exists(store / "verified"));
  read_all(0); // trusted: nothing fetched
  // Flip one byte in the completed copy (the write moves the mtime; set it
  // explicitly too, so the test does not depend on timestamp granularity).
  Bytes data = read_file(store / "data");
  data[12345] ^= 0xFF;
  const auto mtime = fs::last_write_time(store / "data");
  write_file(store / "data", data);
  fs::last_write_time(store / "data", mtime + std::chrono::seconds(3));
  read_all(s.blob.size()); // discarded and fetched again, never served corrupt
  EXPECT_EQ(read_file(store / "data"), s.blob);
  read_all(0);
}

// A lying Content-Length or an absurd size_bytes fails at open with a clear
// message, without allocating or truncating anything of that size; a large
// but storable size stays cheap (sparse page map) and the mismatching
// Content-Range of the real object is caught on the first read.
TEST(Http, AbsurdSizesFailCleanly) {
  NEED_SERVER(s);
  TempDir cache;
  FaultProxy proxy(s.server->port());
  const std::uint64_t eib = std::uint64_t{1} << 60;
  proxy.set_fake_length(eib);
  proxy.set_fault(Fault::FakeLength, 1);
  auto huge = open_http(proxy.url("blob.bin"), test_options(cache));
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.error().message().find("Content-Length " + std::to_string(eib)), std::string::npos)
      << huge.error().message();
  EXPECT_NE(huge.error().message().find("beyond"), std::string::npos) << huge.error().message();

  HttpOptions claimed = test_options(cache);
  claimed.content_digest = "sha512:" + std::string(128, 'c');
  claimed.content_size = eib;
  for (NetworkMode mode : {NetworkMode::Online, NetworkMode::Offline}) {
    claimed.network = mode;
    auto c = open_http(proxy.url("blob.bin"), claimed);
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message().find("content size_bytes " + std::to_string(eib)), std::string::npos)
        << c.error().message();
  }

  const std::uint64_t tib = std::uint64_t{1} << 40;
  proxy.set_fake_length(tib);
  proxy.set_fault(Fault::FakeLength, 1);
  auto big = open_http(proxy.url("blob.bin"), test_options(cache));
  ASSERT_TRUE(big.ok()) << big.error().message();
  EXPECT_EQ((*big)->size(), tib);
  Bytes buf(4096);
  auto r = (*big)->read_at(0, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("Content-Range"), std::string::npos) << r.error().message();
}

TEST(Http, XzOverHttpReadsOnlyTheBlocksNeeded) {
  FASTBOOP_REQUIRE_PROGRAM("xz");
  NEED_SERVER(s);
  Bytes big = nibble_bytes(6u << 20, 5);
  write_file(s.root / "big.bin", big);
  must_sh("xz -0 -T2 --block-size=256KiB -k '" + (s.root / "big.bin").string() + "'");
  TempDir cache;
  auto http = open_http(s.server->url("big.bin.xz"), test_options(cache));
  ASSERT_TRUE(http.ok()) << http.error().message();
  HttpSource* raw = http->get();
  auto xz = open_xz(std::move(http).value(), XzOptions{.cache_dir = cache.path()});
  ASSERT_TRUE(xz.ok()) << xz.error().message();
  Bytes buf(1000);
  expect_ok((*xz)->read_at(4u << 20, buf));
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), big.begin() + (4u << 20)));
  std::uint64_t compressed = fs::file_size(s.root / "big.bin.xz");
  EXPECT_LT(raw->stats().bytes_fetched, compressed / 8) << "one block plus the index, not the whole file";
}

// A server that accepts and never answers (issue 16, item 10): a real
// loopback socket whose backlog completes the handshake, nobody reading. Each
// retry is logged while it happens, with the URL and the reason; the stall
// timeout and attempts are settings, so the whole run is bounded.
struct SilentServer {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int port = 0;
  SilentServer() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd, 64) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
  }
  ~SilentServer() { ::close(fd); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + "/" + path;
  }
};

TEST(Http, SilentServerRetriesAreLoggedWhileTheyHappenAndBounded) {
  SilentServer silent;
  ASSERT_NE(silent.port, 0);
  TempDir cache;
  HttpOptions o = test_options(cache);
  o.set_timeouts(HttpTimeouts{.connect_s = 2, .stall_s = 1, .attempts = 3});
  const auto start = std::chrono::steady_clock::now();
  ::testing::internal::CaptureStderr();
  auto src = open_http(silent.url("rootfs.erofs"), o);
  const std::string log = ::testing::internal::GetCapturedStderr();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(src.ok());
  EXPECT_EQ(src.error().kind(), ErrorKind::Network);
  EXPECT_THAT(src.error().message(), ::testing::HasSubstr("HEAD failed after 3 attempts"));
  // Three stalls of ~1 s plus two short back-offs, not 2½ minutes.
  EXPECT_GE(seconds, 2.5);
  EXPECT_LT(seconds, 10.0);
  // One line per retry, while it happens: URL, reason, which attempt.
  for (const char* attempt : {"(attempt 2 of 3)", "(attempt 3 of 3)"}) {
    EXPECT_THAT(log, ::testing::HasSubstr(attempt)) << log;
  }
  std::istringstream lines(log);
  int retry_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("retrying") == std::string::npos)
      continue;
    ++retry_lines;
    EXPECT_THAT(line, ::testing::HasSubstr("http(" + silent.url("rootfs.erofs") + "): HEAD: "));
    EXPECT_THAT(line, ::testing::ContainsRegex("[Tt]ime|slow")) << "the reason: " << line;
  }
  EXPECT_EQ(retry_lines, 2) << log;
}

TEST(Http, TimeoutsComeFromTheEnvironment) {
  ::setenv("FASTBOOP_HTTP_CONNECT_TIMEOUT", "3", 1);
  ::setenv("FASTBOOP_HTTP_STALL_TIMEOUT", "7", 1);
  ::setenv("FASTBOOP_HTTP_ATTEMPTS", "2", 1);
  auto t = http_timeouts_from_env();
  ::setenv("FASTBOOP_HTTP_STALL_TIMEOUT", "soon", 1);
  auto bad = http_timeouts_from_env();
  ::unsetenv("FASTBOOP_HTTP_CONNECT_TIMEOUT");
  ::unsetenv("FASTBOOP_HTTP_STALL_TIMEOUT");
  ::unsetenv("FASTBOOP_HTTP_ATTEMPTS");
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->connect_s, 3);
  EXPECT_EQ(t->stall_s, 7);
  EXPECT_EQ(t->attempts, 2u);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind(), ErrorKind::Usage);
  EXPECT_THAT(bad.error().message(), ::testing::HasSubstr("FASTBOOP_HTTP_STALL_TIMEOUT=soon"));
  auto defaults = http_timeouts_from_env();
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->stall_s, HttpTimeouts{}.stall_s);
  // The pipeline takes them: a silent server with FASTBOOP_HTTP_* set is
  // given up on quickly through open_pipeline too.
  SilentServer silent;
  TempDir cache;
  profiles::PipelineSource stage;
  stage.kind = profiles::StageKind::Http;
  stage.location = silent.url("x.img");
  ::setenv("FASTBOOP_HTTP_STALL_TIMEOUT", "1", 1);
  ::setenv("FASTBOOP_HTTP_ATTEMPTS", "1", 1);
  const auto start = std::chrono::steady_clock::now();
  auto r = open_pipeline(stage, OpenOptions{.cache_dir = cache.path()});
  ::unsetenv("FASTBOOP_HTTP_STALL_TIMEOUT");
  ::unsetenv("FASTBOOP_HTTP_ATTEMPTS");
  ASSERT_FALSE(r.ok());
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
  EXPECT_THAT(r.error().message(), ::testing::HasSubstr("after 1 attempts"));
}

// A server without Range support (issue 16, item 11): one whole download into
// the cache, with a note saying why it is slower; later reads and offline
// runs use the cache. A Range answered with other bytes stays an error (the
// ShorterRange case above).
TEST(Http, ServerWithoutRangeSupportIsReadWholeOnceIntoTheCache) {
  NEED_SERVER(s);
  FaultProxy proxy(s.server->port());
  TempDir cache;
  profiles::PipelineSource stage = http_stage(proxy.url("blob.bin"), s.blob);
  OpenOptions online{
      .cache_dir = cache.path(), .network = NetworkMode::Online, .digest_check = DigestCheck::WhenComplete};
  proxy.set_fault(Fault::IgnoreRange, -1);
  {
    auto src = open_pipeline(stage, online);
    ASSERT_TRUE(src.ok()) << src.error().message();
    Bytes buf(5000);
    ::testing::internal::CaptureStderr();
    auto r = (*src)->read_at(1u << 20, buf);
    const std::string log = ::testing::internal::GetCapturedStderr();
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.blob.begin() + (1u << 20)));
    EXPECT_THAT(log, ::testing::HasSubstr("ignores Range requests"));
    EXPECT_THAT(log, ::testing::HasSubstr("slower"));
    EXPECT_THAT(log, ::testing::HasSubstr(proxy.url("blob.bin")));
    // Everything is cached now: other reads cost no request.
    const int requests = proxy.requests();
    Bytes all(s.blob.size());
    ASSERT_TRUE((*src)->read_at(0, all).ok());
    EXPECT_EQ(all, s.blob);
    EXPECT_EQ(proxy.requests(), requests);
  }
  // Verified when complete, so an offline run reads it.
  OpenOptions offline = online;
  offline.network = NetworkMode::Offline;
  auto again = open_pipeline(stage, offline);
  ASSERT_TRUE(again.ok()) << again.error().message();
  Bytes buf(4096);
  ASSERT_TRUE((*again)->read_at(s.blob.size() - 4096, buf).ok());
  EXPECT_TRUE(std::equal(buf.begin(), buf.end(), s.blob.end() - 4096));

  // Without a digest (a temporary page store) the fallback works the same.
  TempDir cache2;
  auto bare = open_http(proxy.url("blob.bin"), test_options(cache2));
  ASSERT_TRUE(bare.ok()) << bare.error().message();
  Bytes part(100000);
  ::testing::internal::CaptureStderr();
  auto pr = (*bare)->read_at(12345, part);
  ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(pr.ok()) << pr.error().message();
  EXPECT_TRUE(std::equal(part.begin(), part.end(), s.blob.begin() + 12345));
}

} // namespace
} // namespace fastboop::test
