#include "artifact_cache/remote.hpp"

#include "artifact_cache/memo.hpp"
#include "artifact_cache/store.hpp"
#include "common/bytes.hpp"
#include "common/fd.hpp"
#include "common/hash.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <curl/curl.h>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace fastboop::artifact_cache {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kEntryTag = "fastboop-remote-entry-v2";
constexpr std::uint64_t kMaxEntryObject = 1 << 20;
constexpr long kTransferBuffer = 512 * 1024;
constexpr std::uint64_t kMaxFileSize = std::uint64_t{1} << 36; // 64 GiB

bool valid_name(std::string_view n) {
  return !n.empty() && n != "." && n != ".." && n.find('/') == std::string_view::npos &&
         n.find('\0') == std::string_view::npos && n != "manifest.txt";
}

Error fault(std::string what) {
  return Error(std::move(what), ErrorKind::Network);
}

struct Transfer {
  int fd = -1;
  std::uint64_t limit = 0;
  std::uint64_t done = 0;
  bool over_limit = false;
  bool write_failed = false;
  std::string memory;     // when fd < 0
  Hasher* hash = nullptr; // fed what is written to fd: no second read to verify it
  // libcurl hands the body over 16 KiB at a time (CURL_MAX_WRITE_SIZE): a
  // write per piece was 6,000 system calls for a runner's 95 MB. Gathered
  // here and written kWriteBatch at a time.
  std::vector<std::uint8_t> pending;

  bool flush() {
    if (!pending.empty() && !write_full(fd, ByteSpan(pending.data(), pending.size())))
      return false;
    pending.clear();
    return true;
  }
};

constexpr std::size_t kWriteBatch = 128 << 10;

std::size_t on_write(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (t->done + n > t->limit) {
    t->over_limit = true;
    return 0;
  }
  if (t->fd < 0) {
    t->memory.append(data, n);
  } else {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(data);
    if (t->hash) // while the piece is in the CPU cache
      t->hash->update(ByteSpan(bytes, n));
    t->pending.insert(t->pending.end(), bytes, bytes + n);
    if (t->pending.size() >= kWriteBatch && !t->flush()) {
      t->write_failed = true;
      return 0;
    }
  }
  t->done += n;
  return n;
}

std::size_t on_read(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  while (true) {
    const ssize_t n = ::read(t->fd, data, size * count);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return CURL_READFUNC_ABORT;
    t->done += static_cast<std::uint64_t>(n);
    return static_cast<std::size_t>(n);
  }
}

} // namespace

Result<std::vector<RemoteFile>> parse_remote_entry(std::string_view text, std::string_view kind,
                                                   std::string_view key) {
  const auto bad = [](std::string why) {
    return Error("remote entry: " + std::move(why), ErrorKind::Invalid);
  };
  if (text.size() > kMaxEntryObject)
    return bad("larger than 1 MiB");
  if (text.empty() || text.back() != '\n')
    return bad("does not end with a newline");
  const std::string header =
      std::string(kEntryTag) + " " + std::string(kind) + " " + std::string(key);
  std::size_t nl = text.find('\n');
  if (text.substr(0, nl) != header)
    return bad("header is not '" + header + "'");
  std::vector<RemoteFile> files;
  std::size_t start = nl + 1;
  while (start < text.size()) {
    nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    // "<sha256> <size> <name>"
    if (line.size() < 64 + 1 + 1 + 1 + 1 || line[64] != ' ')
      return bad("malformed file line");
    RemoteFile f;
    f.sha256 = std::string(line.substr(0, 64));
    const std::string_view rest = line.substr(65);
    const std::size_t space = rest.find(' ');
    if (space == std::string_view::npos || space == 0 || space > 12 ||
        (space > 1 && rest[0] == '0'))
      return bad("malformed size");
    for (const char c : rest.substr(0, space)) {
      if (c < '0' || c > '9')
        return bad("malformed size");
      f.size = f.size * 10 + static_cast<std::uint64_t>(c - '0');
    }
    f.name = std::string(rest.substr(space + 1));
    if (!is_hex_digest(f.sha256))
      return bad("malformed digest");
    if (f.size > kMaxFileSize)
      return bad("file too large");
    if (!valid_name(f.name))
      return bad("bad file name");
    for (const auto& other : files)
      if (other.name == f.name)
        return bad("file " + f.name + " listed twice");
    files.push_back(std::move(f));
  }
  if (files.empty())
    return bad("no files");
  return files;
}

std::string format_remote_entry(std::string_view kind, std::string_view key,
                                const std::vector<RemoteFile>& files) {
  std::string text =
      std::string(kEntryTag) + " " + std::string(kind) + " " + std::string(key) + "\n";
  for (const auto& f : files)
    text += f.sha256 + " " + std::to_string(f.size) + " " + f.name + "\n";
  return text;
}

RemoteConfig RemoteConfig::from_environment(std::string url, bool read_only) {
  RemoteConfig c;
  const auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  c.url = url.empty() ? env("FASTBOOP_REMOTE_CACHE") : std::move(url);
  while (!c.url.empty() && c.url.back() == '/')
    c.url.pop_back();
  const std::string ro = env("FASTBOOP_REMOTE_CACHE_READ_ONLY");
  if (read_only || (!ro.empty() && ro != "0" && ro != "OFF" && ro != "off" && ro != "false"))
    c.access = RemoteAccess::ReadOnly;
  c.netrc_file = env("FASTBOOP_REMOTE_CACHE_NETRC");
  c.bearer_token = env("FASTBOOP_REMOTE_CACHE_TOKEN");
  return c;
}

namespace {

// `objects` is <cache>/objects (objects_dir): the cache it belongs to, whose
// digest records and turns it shares. An index file is a link to the entry
// file it was downloaded as, so one record serves both.
std::string cache_of(const fs::path& objects) {
  return objects.parent_path().string();
}

} // namespace

bool take_indexed(const fs::path& objects, std::uint64_t size, const std::string& digest,
                  const fs::path& target) {
  const fs::path known = objects / digest;
  UniqueFd in(::open(known.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (in.get() < 0 || ::fstat(in.get(), &st) != 0)
    return false;
  std::optional<std::string> actual;
  if (static_cast<std::uint64_t>(st.st_size) == size) {
    if (const auto id = fd_identity(in.get()))
      actual = recorded_digest({digests_dir(cache_of(objects))}, *id);
    if (actual != digest)
      actual = cache_digest_fd(in.get());
  }
  std::error_code ec;
  if (actual != digest) {
    fs::remove(known, ec);
    return false;
  }
  if (copy_fd_to(in.get(), target))
    return true;
  fs::remove(target, ec);
  return false;
}

void add_to_index(const fs::path& objects, const std::string& digest, const fs::path& file) {
  const fs::path known = objects / digest;
  std::error_code ec;
  fs::create_directories(objects, ec);
  if (::link(file.c_str(), known.c_str()) != 0)
    return;
  if (const auto id = file_identity(known.string()))
    record_digest(digests_dir(cache_of(objects)), *id, known.string(), digest);
}

std::string redact_url(const std::string& url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string::npos)
    return url;
  const std::size_t host = scheme + 3;
  const std::size_t end = url.find('/', host);
  const std::size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
  if (at == std::string::npos || at < host)
    return url;
  return url.substr(0, host) + url.substr(at + 1);
}

struct RemoteCache::Response {
  long status = 0;
  std::string body;
};

RemoteCache::RemoteCache(RemoteConfig config) : m_config(std::move(config)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  m_curl = curl_easy_init();
}

RemoteCache::~RemoteCache() {
  if (m_curl)
    curl_easy_cleanup(static_cast<CURL*>(m_curl));
}

Result<RemoteCache::Response> RemoteCache::request(const std::string& method,
                                                   const std::string& path, int upload_fd,
                                                   std::uint64_t upload_size, int download_fd,
                                                   std::uint64_t download_limit, Hasher* hash) {
  auto* curl = static_cast<CURL*>(m_curl);
  if (!curl)
    return fault("remote cache: cannot initialise libcurl");
  const std::string url = m_config.url + "/" + path;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, m_config.connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, m_config.low_speed_seconds);
  curl_easy_setopt(curl, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_OPTIONAL));
  // Entry files are megabytes: curl's 16 KiB default costs a receive, a write
  // and a poll per 16 KiB (a third of a remote hit's system time).
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kTransferBuffer);
  curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, kTransferBuffer);
  if (!m_config.netrc_file.empty())
    curl_easy_setopt(curl, CURLOPT_NETRC_FILE, m_config.netrc_file.c_str());
  if (!m_config.bearer_token.empty()) {
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, m_config.bearer_token.c_str());
  }
  Transfer down{download_fd, download_limit, 0, false, false, {}, hash};
  Transfer up{upload_fd, 0, 0, false, false, {}, nullptr};
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &down);
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(upload_size));
  } else if (method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (download_fd >= 0)
    down.pending.reserve(kWriteBatch + CURL_MAX_WRITE_SIZE);
  const CURLcode rc = curl_easy_perform(curl);
  if (download_fd >= 0 && !down.write_failed && !down.flush())
    down.write_failed = true;
  Response r;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  m_bytes_up += up.done;
  m_bytes_down += down.done;
  const std::string where = method + " " + redact_url(url);
  if (down.over_limit)
    return fault(where + ": larger than expected");
  if (down.write_failed)
    return Error(where + ": cannot write the download: " + std::strerror(errno), ErrorKind::Io);
  if (rc != CURLE_OK)
    return fault(where + ": " + curl_easy_strerror(rc));
  // A 2xx answer to a GET is the object only when the writer saw all of it
  // (curl fails a body shorter than its Content-Length; sizes are checked too).
  r.body = std::move(down.memory);
  return r;
}

Result<bool> RemoteCache::exists(const std::string& path) {
  const auto r = TRY(request("HEAD", path, -1, 0, -1, 0));
  if (r.status >= 200 && r.status < 300)
    return true;
  if (r.status == 404)
    return false;
  return fault("HEAD " + redact_url(m_config.url + "/" + path) + ": HTTP " +
               std::to_string(r.status));
}

Result<std::optional<std::vector<std::pair<std::string, std::string>>>>
RemoteCache::fetch(const std::string& kind, const std::string& key, const fs::path& stage,
                   const fs::path& objects) {
  using Files = std::vector<std::pair<std::string, std::string>>;
  const std::string entry_path = "ac/" + key;
  const auto entry = TRY(request("GET", entry_path, -1, 0, -1, kMaxEntryObject));
  if (entry.status == 404)
    return std::optional<Files>{};
  if (entry.status != 200)
    return fault("GET " + redact_url(m_config.url + "/" + entry_path) + ": HTTP " +
                 std::to_string(entry.status));
  const auto files = TRY_CTX(parse_remote_entry(entry.body, kind, key),
                             redact_url(m_config.url + "/" + entry_path));
  Files out;
  for (const auto& f : files) {
    const fs::path target = stage / f.name;
    const std::string where = redact_url(m_config.url + "/cas/" + f.sha256);
    // Runs fetching entries in parallel that share content take turns per
    // content digest: the first downloads and indexes it, the others copy it.
    UniqueFd turn;
    if (f.size > 0 && !objects.empty()) {
      turn = take_turn(cache_of(objects), "object " + f.sha256);
      if (take_indexed(objects, f.size, f.sha256, target)) {
        out.emplace_back(f.name, f.sha256);
        continue;
      }
    }
    UniqueFd file(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (file.get() < 0)
      return Error("cannot create " + target.string() + ": " + std::strerror(errno), ErrorKind::Io);
    // An empty file has no object (some WebDAV servers refuse an empty PUT).
    // The bytes are hashed as they are written, so the check reads nothing back.
    Hasher hash = cache_hasher();
    if (f.size > 0) {
      const auto r = TRY(request("GET", "cas/" + f.sha256, -1, 0, file.get(), f.size, &hash));
      if (r.status != 200)
        return fault("GET " + where + ": HTTP " + std::to_string(r.status));
    }
    if (::close(file.release()) != 0)
      return Error("cannot write " + target.string() + ": " + std::strerror(errno), ErrorKind::Io);
    struct stat st {};
    if (::stat(target.c_str(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) != f.size)
      return fault(where + ": truncated (" + std::to_string(st.st_size) + " of " +
                   std::to_string(f.size) + " bytes)");
    if (to_hex(hash.finish()) != f.sha256)
      return fault(where + ": corrupt (SHA-256 does not match the entry)");
    if (turn) // verified: indexed for the next entry holding this content
      add_to_index(objects, f.sha256, target);
    out.emplace_back(f.name, f.sha256);
  }
  return std::optional<Files>(std::move(out));
}

Result<void> RemoteCache::put_file(const std::string& path, const fs::path& file,
                                   std::uint64_t size) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0)
      return Error("cannot open " + file.string() + ": " + std::strerror(errno), ErrorKind::Io);
    const auto r = TRY(request("PUT", path, in.get(), size, -1, 1 << 16));
    if (r.status >= 200 && r.status < 300)
      return {};
    // WebDAV answers 409 when a parent collection is missing: make them once.
    if (r.status == 409 && !m_collections_made) {
      m_collections_made = true;
      for (const char* c : {"", "ac/", "cas/"})
        (void)request("MKCOL", c, -1, 0, -1, 1 << 16);
      continue;
    }
    return fault("PUT " + redact_url(m_config.url + "/" + path) + ": HTTP " +
                 std::to_string(r.status));
  }
  return fault("PUT " + redact_url(m_config.url + "/" + path) + ": HTTP 409");
}

Result<void> RemoteCache::upload(const std::string& kind, const std::string& key,
                                 const fs::path& dir,
                                 const std::vector<std::pair<std::string, std::string>>& files,
                                 const fs::path& objects) {
  if (m_config.access == RemoteAccess::ReadOnly)
    return {};
  const std::string entry_path = "ac/" + key;
  if (TRY(exists(entry_path)))
    return {}; // immutable: the first writer's entry stays
  std::vector<RemoteFile> listed;
  for (const auto& [name, digest] : files) {
    const fs::path p = dir / name;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0)
      return Error("cannot stat " + p.string() + ": " + std::strerror(errno), ErrorKind::Io);
    if (TRY(cache_digest_file(p)) != digest)
      return Error(p.string() + " no longer matches its manifest", ErrorKind::Invalid);
    RemoteFile f{name, digest, static_cast<std::uint64_t>(st.st_size)};
    // Parallel generators whose entries share content (one kernel in every
    // device's stage0) take turns, so the second finds the first's object
    // instead of sending the same bytes again.
    const UniqueFd turn = f.size > 0 && !objects.empty()
                              ? take_turn(cache_of(objects), "object " + f.sha256)
                              : UniqueFd();
    if (f.size > 0 && !TRY(exists("cas/" + f.sha256)))
      TRY(put_file("cas/" + f.sha256, p, f.size));
    listed.push_back(std::move(f));
  }
  // The entry object last: it names only content already stored.
  const std::string text = format_remote_entry(kind, key, listed);
  std::error_code ec;
  std::string tmpl = (fs::temp_directory_path(ec) / "fastboop-remote-entry-XXXXXX").string();
  UniqueFd tmp(::mkstemp(tmpl.data()));
  if (tmp.get() < 0)
    return Error(std::string("cannot create a temporary file: ") + std::strerror(errno),
                 ErrorKind::Io);
  const bool written =
      ::write(tmp.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
  auto put = written ? put_file(entry_path, tmpl, text.size())
                     : Result<void>(Error("cannot write " + tmpl, ErrorKind::Io));
  ::unlink(tmpl.c_str());
  return put;
}

} // namespace fastboop::artifact_cache
