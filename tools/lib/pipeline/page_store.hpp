// Where the pages an http source fetches live (issue 22 item 4): the fetcher
// (curl, Range checks, retries) hands whole pages to a PageStore and reads
// them back; the store knows nothing of HTTP, so it is tested without a
// server. Two stores:
// - temporary: an unlinked file, for objects without a content digest;
// - persistent: $cache/http/..., reused across runs, with a page map file
//   (one byte per page) and a `verified` marker once the whole copy matched
//   its SHA-512 (issue 16 item 3: pages of an object never read whole stay in
//   $cache/http/unverified/<sha256(url, claimed digest)>-<size>/).
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_set>
#include <vector>

namespace fastboop::pipeline {

class PageStore {
public:
  virtual ~PageStore();
  std::uint64_t size() const { return m_size; }
  std::size_t page_size() const { return m_page_size; }
  std::uint64_t page_count() const { return (m_size + m_page_size - 1) / m_page_size; }
  bool has_page(std::uint64_t page) const { return m_have.count(page) != 0; }
  std::uint64_t pages_present() const { return m_have.size(); }
  // Writes `data` at `offset` (page-aligned; whole pages, the object's last
  // one may be short) and marks those pages present.
  Result<void> write(std::uint64_t offset, ByteSpan data);
  // Forgets a page (a cached copy that failed its check): fetched again.
  Result<void> drop(std::uint64_t page) {
    m_have.erase(page);
    return on_drop(page);
  }
  // Reads bytes back; the caller reads only pages it has written or found.
  Result<void> read(std::uint64_t offset, std::span<std::uint8_t> out) const;
  // Once every page is present: the persistent store checks the whole copy
  // against its digest and moves it under that digest; the temporary store
  // has nothing to check.
  virtual Result<void> complete() { return ok(); }
  // The whole copy matched its digest (persistent store only).
  virtual bool verified() const { return false; }
  virtual bool persistent() const { return false; }

protected:
  PageStore(std::string owner, std::uint64_t size, std::size_t page_size)
      : m_owner(std::move(owner)), m_size(size), m_page_size(page_size) {}
  virtual Result<void> mark_present(std::uint64_t page) {
    m_have.insert(page);
    return ok();
  }
  virtual Result<void> on_drop(std::uint64_t) { return ok(); }
  std::string m_owner; // "http(<url>)": what errors name
  std::uint64_t m_size;
  std::size_t m_page_size;
  int m_fd = -1;
  std::unordered_set<std::uint64_t> m_have; // sparse: an absurd size costs nothing
};

// An unlinked temporary file in `dir` (created when missing).
Result<std::unique_ptr<PageStore>> open_temporary_page_store(const std::filesystem::path& dir,
                                                             std::string owner, std::uint64_t size,
                                                             std::size_t page_size);

struct PersistentStoreKey {
  std::filesystem::path cache_root;
  std::string url;
  std::string digest; // "sha512:<hex>"
  std::uint64_t size = 0;
  std::size_t page_size = 0;
  // Pages are checked against a block-hash table before they are written: they
  // live under the digest from the first one (page map byte 2, "checked
  // against the table"), not in unverified/.
  bool block_checked = false;
};
// The copy under the digest when its marker is valid (or the pages are
// block-checked), else the unverified pages of this URL under this claim. A complete copy is checked at open; a
// bad one is discarded (with a warning), never served.
Result<std::unique_ptr<PageStore>> open_persistent_page_store(const PersistentStoreKey& key);

// Sizes of the copies cached for (url, digest): verified ones (any URL) and
// the unverified pages of this URL under this claim.
struct CachedCopy {
  std::uint64_t size = 0;
  bool verified = false;
};
std::vector<CachedCopy> cached_copies(const std::filesystem::path& cache_root, const std::string& url,
                                      const std::string& digest);

} // namespace fastboop::pipeline
