// Page stores of the http source: see page_store.hpp.
#include "pipeline/page_store.hpp"

#include "common/hash.hpp"
#include "common/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop::pipeline {

namespace {

std::optional<std::string> read_small_file(const std::filesystem::path& p) {
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

// "size mtime_ns" of the data file, as the verified marker records it.
std::string stamp_of(const struct stat& st) {
  return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + "\n";
}

bool has_valid_marker(const std::filesystem::path& dir) {
  const auto recorded = read_small_file(dir / "verified");
  struct stat st {};
  return recorded && ::stat((dir / "data").c_str(), &st) == 0 && *recorded == stamp_of(st);
}

// Where a checked copy lives: named by its digest.
std::filesystem::path verified_dir(const std::filesystem::path& root, const std::string& digest,
                                   std::uint64_t size) {
  return root / "http" / (digest.substr(7) + "-" + std::to_string(size));
}
// Where pages live until the whole object is checked: named by what was
// asked for (this URL under this claimed digest), never by the digest alone.
std::string unverified_key(const std::string& url, const std::string& digest) {
  return sha256_hex(as_bytes(url + "\n" + digest)).substr(0, 40);
}
std::filesystem::path unverified_dir(const std::filesystem::path& root, const std::string& url,
                                     const std::string& digest, std::uint64_t size) {
  return root / "http" / "unverified" / (unverified_key(url, digest) + "-" + std::to_string(size));
}

class TemporaryPageStore final : public PageStore {
public:
  TemporaryPageStore(std::string owner, std::uint64_t size, std::size_t page_size)
      : PageStore(std::move(owner), size, page_size) {}

  Result<void> open(const std::filesystem::path& dir) {
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
      return Error(m_owner + ": cannot create a page store in " + dir.string() + ": " + std::strerror(errno),
                   ErrorKind::Io);
    return ok();
  }
};

class PersistentPageStore final : public PageStore {
public:
  explicit PersistentPageStore(PersistentStoreKey key)
      : PageStore("http(" + key.url + ")", key.size, key.page_size), m_key(std::move(key)) {}
  ~PersistentPageStore() override {
    if (m_bitmap_fd >= 0)
      ::close(m_bitmap_fd);
  }

  bool verified() const override { return m_complete_and_verified; }
  bool persistent() const override { return true; }

  Result<void> open() {
    const auto verified = verified_dir(m_key.cache_root, m_key.digest, m_size);
    const bool marker = has_valid_marker(verified);
    m_verified_store = marker || m_key.block_checked;
    m_dir = m_verified_store ? verified : unverified_dir(m_key.cache_root, m_key.url, m_key.digest, m_size);
    std::error_code ec;
    std::filesystem::create_directories(m_dir, ec);
    if (ec)
      return Error("http cache " + m_dir.string() + ": " + ec.message(), ErrorKind::Io);
    std::filesystem::path data = m_dir / "data";
    std::filesystem::path map = m_dir / ("pages-" + std::to_string(m_page_size));
    m_fd = ::open(data.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    m_bitmap_fd = ::open(map.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (m_fd < 0 || m_bitmap_fd < 0)
      return Error("http cache " + m_dir.string() + ": " + std::strerror(errno), ErrorKind::Io);
    // Only when the size differs: truncating bumps the mtime the verified
    // marker records.
    struct stat dst {};
    if (::fstat(m_fd, &dst) != 0 || static_cast<std::uint64_t>(dst.st_size) != m_size)
      if (::ftruncate(m_fd, static_cast<off_t>(m_size)) != 0)
        return Error("http cache " + data.string() + ": cannot size it to " + std::to_string(m_size) +
                         " bytes: " + std::strerror(errno),
                     ErrorKind::Io);
    load_page_map(marker);
    if (!m_verified_store && pages_present() > 0 && pages_present() < page_count())
      log::warn(m_owner + ": reusing " + std::to_string(pages_present()) +
                " cached page(s) that were never "
                "checked against " +
                m_key.digest.substr(0, 23) +
                "… (the object was never read whole: --unverified-ranged-reads)");
    // A complete cache is verified before use; a bad one is discarded.
    if (pages_present() == page_count()) {
      auto r = complete();
      if (!r) {
        log::warn(r.error().message() + "; discarding the cached copy");
        if (::ftruncate(m_fd, 0) != 0 || ::ftruncate(m_fd, static_cast<off_t>(m_size)) != 0 ||
            ::ftruncate(m_bitmap_fd, 0) != 0)
          return Error("http cache " + m_dir.string() + ": cannot reset: " + std::strerror(errno), ErrorKind::Io);
        ::unlink((m_dir / "verified").c_str());
        m_have.clear();
      }
    }
    return ok();
  }

  Result<void> complete() override {
    if (m_complete_and_verified || pages_present() != page_count())
      return ok();
    // The marker records the data file's size and mtime when it was hashed;
    // a file changed since (any write bumps the mtime) is hashed again.
    if (m_verified_store && has_valid_marker(m_dir)) {
      m_complete_and_verified = true;
      return ok();
    }
    FileDigest d = TRY(sha512_file(m_dir / "data"));
    if (d.content_digest() != m_key.digest || d.size != m_size)
      return Error(m_owner + ": content digest mismatch: expected " + m_key.digest + ", actual " +
                   d.content_digest());
    // Checked: the copy moves under its digest (another run may have put one
    // there first, or an older fastboop left unchecked pages there).
    if (!m_verified_store) {
      const auto target = verified_dir(m_key.cache_root, m_key.digest, m_size);
      std::error_code ec;
      std::filesystem::remove_all(target, ec);
      std::filesystem::rename(m_dir, target, ec);
      if (!ec) {
        m_dir = target;
        m_verified_store = true;
      } else {
        log::debug("http cache: cannot move " + m_dir.string() + " to " + target.string() + ": " +
                   ec.message());
      }
    }
    const std::filesystem::path marker = m_dir / "verified";
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

protected:
  Result<void> mark_present(std::uint64_t page) override {
    if (!m_have.insert(page).second)
      return ok();
    const std::uint8_t state = m_key.block_checked ? kBlockChecked : kStored;
    if (::pwrite(m_bitmap_fd, &state, 1, static_cast<off_t>(page)) != 1)
      return Error(m_owner + ": writing the cache page map: " + std::strerror(errno), ErrorKind::Io);
    return ok();
  }

  Result<void> on_drop(std::uint64_t page) override {
    const std::uint8_t none = 0;
    if (::pwrite(m_bitmap_fd, &none, 1, static_cast<off_t>(page)) != 1)
      return Error(m_owner + ": writing the cache page map: " + std::strerror(errno), ErrorKind::Io);
    return ok();
  }

private:
  // The page map holds one byte per page: 1 stored (trusted only once the
  // whole copy matched), 2 checked against the block-hash table. Block-checked
  // reads trust only 2 (or either under a valid marker); others only 1 (or
  // either under a valid marker). Read in bounded pieces.
  static constexpr std::uint8_t kStored = 1;
  static constexpr std::uint8_t kBlockChecked = 2;
  void load_page_map(bool marker) {
    auto trusted = [&](std::uint8_t b) {
      if (marker)
        return b == kStored || b == kBlockChecked;
      return b == (m_key.block_checked ? kBlockChecked : kStored);
    };
    m_have.clear();
    Bytes bits(64u << 10);
    for (std::uint64_t base = 0; base < page_count(); base += bits.size()) {
      ssize_t k = ::pread(m_bitmap_fd, bits.data(), bits.size(), static_cast<off_t>(base));
      if (k <= 0)
        break;
      for (ssize_t i = 0; i < k && base + static_cast<std::uint64_t>(i) < page_count(); ++i)
        if (trusted(bits[static_cast<std::size_t>(i)]))
          m_have.insert(base + static_cast<std::uint64_t>(i));
    }
  }

  std::string data_stamp() const {
    struct stat st {};
    if (::fstat(m_fd, &st) != 0)
      return "?";
    return stamp_of(st);
  }

  PersistentStoreKey m_key;
  std::filesystem::path m_dir;
  int m_bitmap_fd = -1;
  bool m_verified_store = false; // m_dir is the digest-named directory
  bool m_complete_and_verified = false;
};

} // namespace

PageStore::~PageStore() {
  if (m_fd >= 0)
    ::close(m_fd);
}

Result<void> PageStore::write(std::uint64_t offset, ByteSpan data) {
  for (std::size_t w = 0; w < data.size();) {
    ssize_t k = ::pwrite(m_fd, data.data() + w, data.size() - w, static_cast<off_t>(offset + w));
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return Error(m_owner + ": writing the page store: " + std::strerror(errno), ErrorKind::Io);
    w += static_cast<std::size_t>(k);
  }
  for (std::uint64_t p = offset / m_page_size; p * m_page_size < offset + data.size(); ++p)
    TRY(mark_present(p));
  return ok();
}

Result<void> PageStore::read(std::uint64_t offset, std::span<std::uint8_t> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    ssize_t k = ::pread(m_fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return Error(m_owner + ": reading the page store: " + std::strerror(errno), ErrorKind::Io);
    done += static_cast<std::size_t>(k);
  }
  return ok();
}

Result<std::unique_ptr<PageStore>> open_temporary_page_store(const std::filesystem::path& dir,
                                                             std::string owner, std::uint64_t size,
                                                             std::size_t page_size) {
  auto store = std::make_unique<TemporaryPageStore>(std::move(owner), size, page_size);
  TRY(store->open(dir));
  return std::unique_ptr<PageStore>(std::move(store));
}

Result<std::unique_ptr<PageStore>> open_persistent_page_store(const PersistentStoreKey& key) {
  auto store = std::make_unique<PersistentPageStore>(key);
  TRY(store->open());
  return std::unique_ptr<PageStore>(std::move(store));
}

std::vector<CachedCopy> cached_copies(const std::filesystem::path& cache_root, const std::string& url,
                                      const std::string& digest) {
  std::vector<CachedCopy> cached;
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
      if (tail.empty() || tail.find_first_not_of("0123456789") != std::string::npos || tail.size() > 19)
        continue;
      // A digest-named directory counts only with a valid marker (older
      // versions kept unchecked pages there).
      if (verified && !has_valid_marker(path))
        continue;
      cached.push_back(CachedCopy{std::stoull(tail), verified});
    }
  };
  scan(cache_root / "http", digest.substr(7) + "-", true);
  scan(cache_root / "http" / "unverified", unverified_key(url, digest) + "-", false);
  return cached;
}

} // namespace fastboop::pipeline
