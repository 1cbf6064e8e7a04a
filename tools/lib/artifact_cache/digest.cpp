#include "artifact_cache/digest.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
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
