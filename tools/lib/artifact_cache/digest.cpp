#include "artifact_cache/digest.hpp"

#include "common/fd.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace fastboop::artifact_cache {

Hasher cache_hasher() {
  return Hasher(kCacheHash);
}

std::string cache_digest(ByteSpan data) {
  return to_hex(hash_bytes(kCacheHash, data));
}

std::optional<std::string> cache_digest_fd(int fd) {
  Hasher h = cache_hasher();
  if (!hash_fd(fd, h))
    return std::nullopt;
  return to_hex(h.finish());
}

std::optional<std::string> tree_digest_fd(int fd, std::uint64_t size) {
  const std::uint64_t leaves = (size + kTreeLeaf - 1) / kTreeLeaf;
  std::vector<Bytes> digests(leaves);
  std::atomic<std::uint64_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    for (std::uint64_t i = next++; i < leaves && !failed; i = next++) {
      Hasher h = cache_hasher();
      const std::uint64_t off = i * kTreeLeaf;
      if (!hash_fd_range(fd, h, off, std::min(kTreeLeaf, size - off)))
        failed = true;
      else
        digests[i] = h.finish();
    }
  };
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> helpers;
  for (std::uint64_t t = 1; t < std::min<std::uint64_t>({cores, leaves, 16}); ++t)
    helpers.emplace_back(work);
  work();
  for (auto& t : helpers)
    t.join();
  if (failed)
    return std::nullopt;
  Hasher root = cache_hasher();
  root.update("fastboop-tree-v1 " + std::to_string(size) + "\n");
  for (const auto& d : digests)
    root.update(ByteSpan(d));
  return to_hex(root.finish());
}

Result<std::string> cache_digest_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    return Error("cannot open " + path.string() + ": " + std::strerror(errno),
                 errno == ENOENT ? ErrorKind::NotFound : ErrorKind::Io);
  auto digest = cache_digest_fd(fd.get());
  if (!digest)
    return Error("cannot read " + path.string() + ": " + std::strerror(errno), ErrorKind::Io);
  return std::move(*digest);
}

bool is_hex_digest(std::string_view text) {
  return text.size() == kCacheDigestHexSize &&
         text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

} // namespace fastboop::artifact_cache
