#include "common/hash.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdexcept>
#include <unistd.h>

namespace fastboop {

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

namespace {
const EVP_MD* md_for(HashAlgorithm a) {
  switch (a) {
  case HashAlgorithm::Sha1:
    return EVP_sha1();
  case HashAlgorithm::Sha256:
    return EVP_sha256();
  case HashAlgorithm::Sha512:
    return EVP_sha512();
  }
  return EVP_sha512();
}
} // namespace

Hasher::Hasher(HashAlgorithm algorithm) : m_impl(std::make_unique<Impl>()) {
  m_impl->ctx = EVP_MD_CTX_new();
  // Allocation failure of a digest context is not recoverable in any tool.
  if (!m_impl->ctx || EVP_DigestInit_ex(m_impl->ctx, md_for(algorithm), nullptr) != 1)
    std::abort();
}
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(ByteSpan data) {
  if (!data.empty())
    EVP_DigestUpdate(m_impl->ctx, data.data(), data.size());
}

Bytes Hasher::finish() {
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned int len = 0;
  EVP_DigestFinal_ex(m_impl->ctx, out.data(), &len);
  out.resize(len);
  return out;
}

Bytes hash_bytes(HashAlgorithm algorithm, ByteSpan data) {
  Hasher h(algorithm);
  h.update(data);
  return h.finish();
}
std::string sha512_hex(ByteSpan data) { return to_hex(hash_bytes(HashAlgorithm::Sha512, data)); }
std::string sha256_hex(ByteSpan data) { return to_hex(hash_bytes(HashAlgorithm::Sha256, data)); }
std::string sha1_hex(ByteSpan data) { return to_hex(hash_bytes(HashAlgorithm::Sha1, data)); }

Result<FileDigest> sha512_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Error("cannot open " + path.string() + ": " + std::strerror(errno),
                 errno == ENOENT ? ErrorKind::NotFound : ErrorKind::Io);
  Hasher h(HashAlgorithm::Sha512);
  FileDigest d;
  std::uint8_t buf[1 << 17];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      ::close(fd);
      return Error("cannot read " + path.string() + ": " + std::strerror(e), ErrorKind::Io);
    }
    if (n == 0)
      break;
    h.update(ByteSpan(buf, static_cast<std::size_t>(n)));
    d.size += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  d.sha512_hex = to_hex(h.finish());
  return d;
}

} // namespace fastboop
