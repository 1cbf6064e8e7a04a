// The remote artifact cache: a plain HTTP object store (WebDAV PUT, as nginx
// dav or lighttpd mod_webdav serve it, or Bazel-remote-style GET/PUT/HEAD)
// behind the local cache, reached with libcurl.
//
// Layout under the base URL, every object immutable once written:
//   cas/<sha256>  an entry file, named by its content (none for an empty file)
//   ac/<key>      the entry: "fastboop-remote-entry-v2 <kind> <key>\n" then
//                 "<sha256> <size> <name>\n" per file
// The SHA-256 is the cache digest (digest.hpp), so the local manifest names
// the objects and nothing is hashed twice. (v1 entries also carried a SHA-512
// column; they live under v1 keys, which this version never computes, and
// their header is refused.)
// An upload writes the content objects first and the entry object last, so a
// reader never finds an entry whose files are not all there; every fetched
// file is checked against the entry's size and SHA-256 before it is used.
// Whoever can write the remote chooses what a key maps to (README, "Sharing
// the cache").
#pragma once

#include "artifact_cache/store.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastboop {
class Hasher;
}

namespace fastboop::artifact_cache {

struct RemoteFile {
  std::string name;
  std::string sha256; // the cache digest, and the cas/ object's name
  std::uint64_t size = 0;
};

// The entry object's grammar (strict: any deviation is an error).
Result<std::vector<RemoteFile>> parse_remote_entry(std::string_view text, std::string_view kind,
                                                   std::string_view key);
std::string format_remote_entry(std::string_view kind, std::string_view key,
                                const std::vector<RemoteFile>& files);

enum class RemoteAccess { ReadWrite, ReadOnly };

struct RemoteConfig {
  std::string url; // base URL, http:// or https://
  RemoteAccess access = RemoteAccess::ReadWrite;
  std::string netrc_file;   // empty: curl's default (~/.netrc), optional
  std::string bearer_token; // from the environment only
  long connect_timeout_ms = 3000;
  long low_speed_seconds = 10; // abort a transfer below 1 KiB/s for this long

  // FASTBOOP_REMOTE_CACHE (unless `url` is given), FASTBOOP_REMOTE_CACHE_READ_ONLY,
  // FASTBOOP_REMOTE_CACHE_NETRC, FASTBOOP_REMOTE_CACHE_TOKEN. Empty url: no remote.
  static RemoteConfig from_environment(std::string url, bool read_only);
};

// The local content index <cache>/objects: <digest> hard links to verified
// downloads, so content shared by entries (one kernel in every device's
// stage0) is downloaded once.
// take_indexed: `target` (a new file) as a copy taken from the very
// descriptor that was verified: by its digest record (the index file's
// identity vouches for it, as for entry files: it is never written again, and
// copying from it leaves its identity alone), else hashed. False when the
// index does not hold it; a damaged index file is dropped.
bool take_indexed(const std::filesystem::path& objects, std::uint64_t size,
                  const std::string& digest, const std::filesystem::path& target);
// add_to_index: the verified file `file` joins the index (a hard link, no
// copy), recorded under the identity it has once linked. A caller linking the
// same inode again (a remote hit served by link) records it again afterwards:
// every link moves the identity.
void add_to_index(const std::filesystem::path& objects, const std::string& digest,
                  const std::filesystem::path& file);

// The URL without user information (for messages).
std::string redact_url(const std::string& url);

class RemoteCache {
public:
  explicit RemoteCache(RemoteConfig config);
  ~RemoteCache();
  RemoteCache(const RemoteCache&) = delete;
  RemoteCache& operator=(const RemoteCache&) = delete;

  const RemoteConfig& config() const { return m_config; }

  // Fetches the entry for `key` into the directory `stage`; the files as the
  // entry lists them (name, digest), each already verified. nullopt: the
  // remote has no such entry. An error: any fault (nothing of it is used).
  // `objects` (optional) is the local index by content, <digest> hard links:
  // content found there is not downloaded again (one kernel serves every
  // device's stage0 entry), and what is downloaded is added to it. Parallel
  // runs take turns per content digest (take_turn): the first downloads, the
  // others copy from the index.
  Result<std::optional<std::vector<std::pair<std::string, std::string>>>>
  fetch(const std::string& kind, const std::string& key, const std::filesystem::path& stage,
        const std::filesystem::path& objects = {});

  // Uploads the files of the local entry `dir` (name, digest in manifest
  // order): content objects first, then the entry object. Never in read-only mode.
  // `objects` (optional): the local content index, whose per-digest turns keep
  // parallel uploads of the same content to one.
  Result<void> upload(const std::string& kind, const std::string& key,
                      const std::filesystem::path& dir,
                      const std::vector<std::pair<std::string, std::string>>& files,
                      const std::filesystem::path& objects = {});

  std::uint64_t bytes_up() const { return m_bytes_up; }
  std::uint64_t bytes_down() const { return m_bytes_down; }

private:
  struct Response;
  Result<Response> request(const std::string& method, const std::string& path, int upload_fd,
                           std::uint64_t upload_size, int download_fd, std::uint64_t download_limit,
                           Hasher* hash = nullptr);
  Result<bool> exists(const std::string& path);
  Result<void> put_file(const std::string& path, const std::filesystem::path& file,
                        std::uint64_t size);
  RemoteConfig m_config;
  void* m_curl = nullptr;
  bool m_collections_made = false;
  std::uint64_t m_bytes_up = 0;
  std::uint64_t m_bytes_down = 0;
};

} // namespace fastboop::artifact_cache
