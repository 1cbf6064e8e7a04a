// The remote cache's entry object grammar (strict, round-trips), URL
// redaction, and a run whose remote is unreachable (one warning, the
// generation goes on, later runs back off). cmake.remote_cache runs two build
// trees against a real WebDAV server.
#include "../pipeline/http_harness.hpp"
#include "artifact_cache/memo.hpp"
#include "artifact_cache/remote.hpp"
#include "artifact_cache/run.hpp"
#include "artifact_cache/store.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fastboop::artifact_cache {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::string kKey(64, 'e');

std::string entry_text() {
  return "fastboop-remote-entry-v2 stage0 " + kKey + "\n" + std::string(64, 'b') + " 12 kernel\n" +
         std::string(64, 'd') + " 0 stage0.cpio\n";
}

TEST(RemoteEntry, ParsesAndFormatsBackToTheSameBytes) {
  auto files = parse_remote_entry(entry_text(), "stage0", kKey);
  ASSERT_TRUE(files) << files.error().message();
  ASSERT_EQ(files->size(), 2u);
  EXPECT_EQ((*files)[0].name, "kernel");
  EXPECT_EQ((*files)[0].size, 12u);
  EXPECT_EQ((*files)[1].sha256, std::string(64, 'd'));
  EXPECT_EQ(format_remote_entry("stage0", kKey, *files), entry_text());
}

TEST(RemoteEntry, RejectsAnythingOffTheGrammar) {
  const std::string good = entry_text();
  const auto rejects = [&](std::string text, std::string_view kind = "stage0") {
    return !parse_remote_entry(text, kind, kKey);
  };
  EXPECT_TRUE(rejects(good, "bootimg"));                     // another kind's entry under this key
  EXPECT_TRUE(rejects(good.substr(0, good.size() - 1)));     // no final newline
  EXPECT_TRUE(rejects(good.substr(0, good.find('\n') + 1))); // no files
  EXPECT_TRUE(rejects(std::string(good).replace(good.find(" 12 "), 4, " 012 ")));    // leading zero
  EXPECT_TRUE(rejects(std::string(good).replace(good.find("kernel"), 6, "../etc"))); // a path
  EXPECT_TRUE(rejects(std::string(good).replace(good.find("kernel"), 6, "manifest.txt")));
  EXPECT_TRUE(rejects(std::string(good).replace(good.find("stage0.cpio"), 11, "kernel"))); // twice
  EXPECT_TRUE(rejects(std::string(good).replace(good.find("bbbb"), 1, "B"))); // upper case
  // A v1 entry (a SHA-512 column before the SHA-256) is refused, never misread.
  EXPECT_TRUE(rejects("fastboop-remote-entry-v1 stage0 " + kKey + "\n" + std::string(128, 'a') +
                      " " + std::string(64, 'b') + " 12 kernel\n"));
  EXPECT_TRUE(rejects(std::string(good).replace(good.find("-v2"), 3, "-v1")));
  EXPECT_TRUE(rejects(std::string(good).replace(good.find("bbbb"), 1, "bb"))); // 65 digits
}

TEST(RemoteUrl, RedactsUserInformation) {
  EXPECT_EQ(redact_url("https://user:secret@cache.example/x"), "https://cache.example/x");
  EXPECT_EQ(redact_url("http://cache.example:8080/a@b"), "http://cache.example:8080/a@b");
}

// The local content index: a verified file added once is taken by copy (a new
// inode, so taking never changes the index file's identity or its record);
// an index file that changed is hashed again, and dropped when its bytes no
// longer match.
TEST(ContentIndex, TakesAVerifiedCopyAndDropsADamagedFile) {
  test::TempDir tmp;
  const fs::path objects = tmp / "objects";
  fs::create_directories(objects);
  const std::string content(70000, 'k');
  const std::string digest = cache_digest(content);
  test::write_file(tmp / "kernel", std::string_view(content));
  add_to_index(objects, digest, tmp / "kernel");
  ASSERT_TRUE(fs::exists(objects / digest));
  const auto id = file_identity((objects / digest).string());

  ASSERT_TRUE(take_indexed(objects, content.size(), digest, tmp / "a"));
  EXPECT_EQ(test::read_text(tmp / "a"), content);
  EXPECT_NE(file_identity((tmp / "a").string()), id); // a copy, not a link
  EXPECT_EQ(file_identity((objects / digest).string()), id);
  EXPECT_FALSE(take_indexed(objects, content.size() + 1, digest, tmp / "b")); // other size
  EXPECT_FALSE(take_indexed(objects, 3, std::string(64, 'a'), tmp / "c"));    // not indexed
  EXPECT_FALSE(fs::exists(tmp / "c"));

  // Rewritten with the same size: the record no longer vouches for it, the
  // hash fails, the file leaves the index.
  fs::remove(objects / digest);
  add_to_index(objects, digest, tmp / "kernel");
  // Past the filesystem's timestamp granularity, so the write shows in the
  // identity (the index is never written by the cache itself).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  test::write_file(tmp / "kernel", std::string(content.size(), 'x'));
  EXPECT_FALSE(take_indexed(objects, content.size(), digest, tmp / "d"));
  EXPECT_FALSE(fs::exists(tmp / "d"));
  EXPECT_FALSE(fs::exists(objects / digest));
}

TEST(ContentIndex, AFileWhoseIdentityChangedIsHashedAgain) {
  test::TempDir tmp;
  const fs::path objects = tmp / "objects";
  fs::create_directories(objects);
  const std::string content = "shared content\n";
  const std::string digest = cache_digest(content);
  test::write_file(tmp / "f", std::string_view(content));
  add_to_index(objects, digest, tmp / "f");
  const auto indexed = file_identity((objects / digest).string());
  // The link count changes, and past the timestamp granularity so does the
  // identity (ctime): the record no longer applies and the file is hashed.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  fs::remove(tmp / "f");
  ASSERT_NE(file_identity((objects / digest).string()), indexed);
  ASSERT_TRUE(take_indexed(objects, content.size(), digest, tmp / "g"));
  EXPECT_EQ(test::read_text(tmp / "g"), content);
}

// A loopback port with nothing listening.
int closed_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

// A bootimg generation keyed by the file `in` (holding `content`) whose
// command copies it to out/boot.img.
RunRequest copying_run(const test::TempDir& tmp, std::string_view content) {
  test::write_file(tmp / "in", content);
  RunRequest r;
  r.cache_dir = (tmp / "cache").string();
  r.kind = "bootimg";
  r.key_files = {(tmp / "in").string()};
  r.outputs = {(tmp / "out" / "boot.img").string()};
  r.command = {"cp", (tmp / "in").string(), r.outputs[0]};
  return r;
}

TEST(RemoteFaults, AnUnreachableServerIsOneWarningAndTheBuildGoesOn) {
  test::TempDir tmp;
  const RunRequest r = copying_run(tmp, "input");
  RemoteConfig config;
  config.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/cache";
  RemoteCache remote(config);
  Counters c;
  testing::internal::CaptureStderr();
  auto out = run_cached(r, &remote, c);
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->served, Served::Generated);
  EXPECT_EQ(test::read_text(r.outputs[0]), "input");
  EXPECT_EQ(c.remote_errors, 1u);
  EXPECT_THAT(err, HasSubstr("remote cache: "));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  // The next run backs off: no request, no warning, a local hit.
  fs::remove(r.outputs[0]);
  testing::internal::CaptureStderr();
  out = run_cached(r, &remote, c);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->served, Served::LocalHit);
  EXPECT_EQ(c.remote_errors, 1u);
}

// A server that takes the connection and never answers: the transfer is cut
// after the low-speed time, and the lookup is a fault, not a hang.
TEST(RemoteFaults, ASilentServerIsCutAfterTheLowSpeedTime) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(s, 8), 0); // the kernel completes the handshake; nobody reads
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  RemoteConfig config;
  config.url = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  config.low_speed_seconds = 1;
  RemoteCache remote(config);
  test::TempDir tmp;
  const auto start = std::chrono::steady_clock::now();
  auto got = remote.fetch("stage0", kKey, tmp.path());
  const auto took = std::chrono::steady_clock::now() - start;
  ::close(s);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind(), ErrorKind::Network);
  EXPECT_LT(took, std::chrono::seconds(5));
}

// A read-only remote cache at the root `server` serves.
RemoteConfig read_only(const test::Lighttpd& server) {
  RemoteConfig config;
  config.url = server.url("").substr(0, server.url("").size() - 1);
  config.access = RemoteAccess::ReadOnly;
  return config;
}

// Two entries holding the same content, fetched into a cache that has no
// content index yet: the content is downloaded once and the second entry
// takes it from the index.
TEST(RemoteFetch, ContentTwoEntriesShareIsDownloadedOnce) {
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  test::TempDir tmp;
  const std::string content(100000, 'k');
  const std::string digest = cache_digest(content);
  test::write_file(tmp / "www" / "cas" / digest, std::string_view(content));
  std::uint64_t entry_bytes = 0;
  for (const std::string& k : {std::string(64, '1'), std::string(64, '2')}) {
    const std::string text = format_remote_entry("stage0", k, {{"kernel", digest, content.size()}});
    test::write_file(tmp / "www" / "ac" / k, text);
    entry_bytes += text.size();
  }
  test::Lighttpd server(tmp / "www");
  ASSERT_TRUE(server.ok()) << server.error();
  RemoteCache remote(read_only(server));
  const std::string cache = (tmp / "cache").string();
  for (const std::string& k : {std::string(64, '1'), std::string(64, '2')}) {
    const fs::path stage = tmp / ("stage-" + k.substr(0, 1));
    fs::create_directories(stage);
    auto got = remote.fetch("stage0", k, stage, objects_dir(cache));
    ASSERT_TRUE(got) << got.error().message();
    ASSERT_TRUE(*got);
    EXPECT_EQ(test::read_text(stage / "kernel"), content);
  }
  EXPECT_EQ(remote.bytes_down(), entry_bytes + content.size());
  EXPECT_TRUE(fs::exists(objects_dir(cache) / digest));
}

// A disk that fills up during a download (here the file size limit) fails the
// fetch as a write error, which the run turns into one warning and a local
// generation; nothing half-written is kept as the file.
TEST(RemoteFetch, ADownloadThatCannotBeWrittenFailsCleanly) {
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  test::TempDir tmp;
  const std::string content(300000, 'k'); // over one write batch
  const std::string digest = cache_digest(content);
  test::write_file(tmp / "www" / "cas" / digest, std::string_view(content));
  const std::string key(64, '3');
  test::write_file(tmp / "www" / "ac" / key,
                   format_remote_entry("stage0", key, {{"kernel", digest, content.size()}}));
  test::Lighttpd server(tmp / "www");
  ASSERT_TRUE(server.ok()) << server.error();
  for (const rlim_t limit : {rlim_t{100000}, rlim_t{200000}}) {
    const fs::path stage = tmp / ("stage-" + std::to_string(limit));
    fs::create_directories(stage);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::signal(SIGXFSZ, SIG_IGN);
      const rlimit small{limit, limit};
      ::setrlimit(RLIMIT_FSIZE, &small);
      RemoteCache remote(read_only(server));
      const auto got = remote.fetch("stage0", key, stage);
      _exit(got                                                               ? 1
            : got.error().kind() != ErrorKind::Io                             ? 2
            : got.error().message().find("cannot write") == std::string::npos ? 3
                                                                              : 0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "limit " << limit;
  }
}

// A remote hit is served by hard link (the entry was just written and
// verified; its bytes are not written twice). An output later changed in
// place changes the entry with it, and the next lookup hashes the entry again,
// finds it corrupt and generates: the changed bytes are never served.
TEST(RemoteHit, IsServedByLinkAndAnOutputChangedInPlaceIsNeverServedAgain) {
  FASTBOOP_REQUIRE_PROGRAM("lighttpd");
  test::TempDir tmp;
  const RunRequest r = copying_run(tmp, "the generated image");
  // The remote (lighttpd serving a directory) holds the entry for r's key.
  const std::string key = cache_key(r.kind, r.key_text, {*file_input(r.cache_dir, tmp / "in")});
  const std::string body = "the remote's image";
  const std::string digest = cache_digest(body);
  test::write_file(tmp / "www" / "cas" / digest, body);
  test::write_file(tmp / "www" / "ac" / key,
                   format_remote_entry(r.kind, key, {{"boot.img", digest, body.size()}}));
  test::Lighttpd server(tmp / "www");
  ASSERT_TRUE(server.ok()) << server.error();
  RemoteCache remote(read_only(server));
  Counters c;
  auto out = run_cached(r, &remote, c);
  ASSERT_TRUE(out) << out.error().message();
  ASSERT_EQ(out->served, Served::RemoteHit);
  EXPECT_EQ(test::read_text(r.outputs[0]), body);
  const fs::path entry_file = fs::path(r.cache_dir) / r.kind / key / "boot.img";
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(r.outputs[0].c_str(), &a), 0);
  ASSERT_EQ(::stat(entry_file.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  // The linked entry keeps a record under its new identity, which the output
  // shares: one record, no re-hash.
  EXPECT_EQ(file_identity(r.outputs[0]), file_identity(entry_file.string()));
  EXPECT_EQ(recorded_digest({digests_dir(r.cache_dir)}, *file_identity(entry_file.string())),
            digest);

  std::this_thread::sleep_for(std::chrono::milliseconds(20)); // a later ctime
  const int fd = ::open(r.outputs[0].c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "T", 1, 4), 1); // same size, one byte changed
  ::close(fd);
  testing::internal::CaptureStderr();
  out = run_cached(r, &remote, c);
  const std::string err = testing::internal::GetCapturedStderr();
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->served, Served::Generated) << err;
  EXPECT_THAT(err, HasSubstr("is corrupt; regenerating"));
  EXPECT_EQ(test::read_text(r.outputs[0]), "the generated image");
  // The command (cp, writing in place) found no output to write through.
  ASSERT_EQ(::stat(r.outputs[0].c_str(), &a), 0);
  ASSERT_EQ(::stat(entry_file.c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);
  EXPECT_EQ(test::read_text(entry_file), "the generated image");
}

} // namespace
} // namespace fastboop::artifact_cache
