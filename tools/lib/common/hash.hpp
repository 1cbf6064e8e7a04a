// Hashes through OpenSSL's EVP interface: SHA-512 (content digests), SHA-256,
// SHA-1 (the Android boot image id).
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

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

// The piece size for hashing a stream that is copied first (read from a file,
// received from a socket): 64 KiB pieces stay in the CPU cache between the
// copy and the hash. Measured on the 158 MB example rootfs: 0.115 s with
// 64 KiB pieces against 0.18-0.19 s with 128 KiB to 4 MiB.
inline constexpr std::size_t kHashPiece = 64 * 1024;

// Feeds the open file from offset 0 to its end into `h` in kHashPiece pieces
// (the descriptor's offset is untouched); the number of bytes hashed.
Result<std::uint64_t> hash_fd(int fd, Hasher& h);
// Bytes [offset, offset + length) of the open file; an error when the file
// ends before them.
Result<void> hash_fd_range(int fd, Hasher& h, std::uint64_t offset, std::uint64_t length);
std::string sha512_hex(ByteSpan data);
std::string sha256_hex(ByteSpan data);
std::string sha1_hex(ByteSpan data);

struct FileDigest {
  std::string sha512_hex;
  std::uint64_t size = 0;
  // "sha512:<hex>", the content-digest form used in profiles.
  std::string content_digest() const { return "sha512:" + sha512_hex; }
};
// A SHA-512 digest as text: exactly 128 lowercase hex digits. The one rule
// for reading a digest (profiles, stage0 options, sidecars, the cache, HTTP,
// boot URLs). Uppercase is refused: digests are compared as text everywhere.
class Sha512Digest {
public:
  enum class Prefix { Optional, Required, Forbidden }; // the "sha512:" prefix
  // The error says what is wrong (empty, prefix, length, a non-hex or
  // uppercase digit) without naming where it came from: callers add that.
  static Result<Sha512Digest> parse(std::string_view text, Prefix prefix = Prefix::Optional);
  // 128 lowercase hex digits, no prefix.
  static bool is_hex(std::string_view text);

  const std::string& hex() const { return m_hex; }
  std::string content_digest() const { return "sha512:" + m_hex; } // the profiles' form
  friend bool operator==(const Sha512Digest&, const Sha512Digest&) = default;

private:
  explicit Sha512Digest(std::string hex) : m_hex(std::move(hex)) {}
  std::string m_hex;
};

// Stream a file through SHA-512 (no whole-file buffer).
Result<FileDigest> sha512_file(const std::filesystem::path& path);

} // namespace fastboop
