// Hashes through OpenSSL's EVP interface: SHA-512 (content digests), SHA-256,
// SHA-1 (the Android boot image id).
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <memory>
#include <string>

namespace fastboop {

enum class HashAlgorithm { Sha1, Sha256, Sha512 };

class Hasher {
public:
  explicit Hasher(HashAlgorithm algorithm);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  void update(ByteSpan data);
  void update(std::string_view text) { update(as_bytes(text)); }
  Bytes finish(); // the hasher must not be used afterwards

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

Bytes hash_bytes(HashAlgorithm algorithm, ByteSpan data);
std::string sha512_hex(ByteSpan data);
std::string sha256_hex(ByteSpan data);
std::string sha1_hex(ByteSpan data);

struct FileDigest {
  std::string sha512_hex;
  std::uint64_t size = 0;
  // "sha512:<hex>", the content-digest form used in profiles.
  std::string content_digest() const { return "sha512:" + sha512_hex; }
};
// Stream a file through SHA-512 (no whole-file buffer).
Result<FileDigest> sha512_file(const std::filesystem::path& path);

} // namespace fastboop
