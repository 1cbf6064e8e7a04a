#include "common/hash.hpp"
#include "common/fd.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdexcept>
#include <unistd.h>
#include <vector>

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

Result<std::uint64_t> hash_fd(int fd, Hasher& h) {
  std::vector<std::uint8_t> buf(kHashPiece);
  std::uint64_t off = 0;
  for (;;) {
    const std::size_t n = TRY(pread_full(fd, buf, off));
    h.update(ByteSpan(buf.data(), n));
    off += n;
    if (n < buf.size())
      return off;
  }
}

Result<void> hash_fd_range(int fd, Hasher& h, std::uint64_t offset, std::uint64_t length) {
  std::vector<std::uint8_t> buf(kHashPiece);
  while (length > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length));
    const std::size_t n = TRY(pread_full(fd, std::span(buf.data(), want), offset));
    if (n < want)
      return Error("the file ended at byte " + std::to_string(offset + n), ErrorKind::Io);
    h.update(ByteSpan(buf.data(), n));
    offset += n;
    length -= n;
  }
  return {};
}

Result<FileDigest> sha512_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return Error("cannot open " + path.string() + ": " + std::strerror(errno),
                 errno == ENOENT ? ErrorKind::NotFound : ErrorKind::Io);
  Hasher h(HashAlgorithm::Sha512);
  FileDigest d;
  d.size = TRY_CTX(hash_fd(fd.get(), h), "cannot read " + path.string());
  d.sha512_hex = to_hex(h.finish());
  return d;
}

bool Sha512Digest::is_hex(std::string_view text) {
  return text.size() == 128 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

Result<Sha512Digest> Sha512Digest::parse(std::string_view text, Prefix prefix) {
  constexpr std::string_view kPrefix = "sha512:";
  if (text.empty())
    return Error("digest must not be empty");
  const bool prefixed = text.starts_with(kPrefix);
  if (prefix == Prefix::Required && !prefixed)
    return Error("digest must start with 'sha512:'");
  if (prefix == Prefix::Forbidden && prefixed)
    return Error("digest must be the bare 128 hex digits, without 'sha512:'");
  const std::string_view hex = prefixed ? text.substr(kPrefix.size()) : text;
  if (hex.size() != 128)
    return Error("digest must have 128 hex digits" + std::string(prefixed ? " after 'sha512:'" : "") + " (found " +
                 std::to_string(hex.size()) + ")");
  if (!is_hex(hex))
    return Error("digest must be lowercase hex (a SHA-512 as sha512sum prints it)");
  return Sha512Digest(std::string(hex));
}

} // namespace fastboop
