// The artifact cache's own content hash, chosen here and only here: the digest
// records (memo.hpp), the key material, entry manifests, the content index
// <cache>/objects and the check of downloaded files. SHA-256 (as Bazel's
// remote cache uses): full strength, and about twice SHA-512's speed where
// the CPU has SHA extensions, which is most of a remote hit's CPU time.
// Digests outside the cache (profiles, --expect-sha512, sidecars) stay SHA-512.
#pragma once

#include "common/bytes.hpp"
#include "common/hash.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace fastboop::artifact_cache {

inline constexpr HashAlgorithm kCacheHash = HashAlgorithm::Sha256;
inline constexpr std::size_t kCacheDigestHexSize = 64;

// A hasher for content the cache digests piecewise (a download as it is written).
Hasher cache_hasher();

// Lowercase hex, kCacheDigestHexSize digits.
std::string cache_digest(ByteSpan data);
inline std::string cache_digest(std::string_view text) {
  return cache_digest(as_bytes(text));
}

// An open file from offset 0 (the descriptor's offset is untouched); nullopt
// on a read error.
std::optional<std::string> cache_digest_fd(int fd);

// A file by path, streamed (no whole-file buffer).
Result<std::string> cache_digest_file(const std::filesystem::path& path);

// A key input's digest (store.hpp's input_digest) for a file larger than
// kTreeAbove: one SHA-256 per kTreeLeaf piece, hashed on every core, then
// the SHA-256 of "fastboop-tree-v1 <size>\n" and those digests in order (32
// bytes each). A single SHA-256 cannot be split across cores, and hashing
// the rootfs was a new runner's critical path: every stage0 waits for it.
// Files up to kTreeAbove keep the plain cache digest, so a manifest's digest
// of an entry file that size is also its key digest. Outputs the cache
// stores or serves are always named by the plain digest (a Bazel-style
// remote checks its cas/ objects' SHA-256).
inline constexpr std::uint64_t kTreeLeaf = std::uint64_t{8} << 20;
inline constexpr std::uint64_t kTreeAbove = std::uint64_t{64} << 20;
inline bool is_tree_sized(std::uint64_t size) {
  return size > kTreeAbove;
}
// Lowercase hex; nullopt on a read error or a file shorter than `size`.
std::optional<std::string> tree_digest_fd(int fd, std::uint64_t size);

// Exactly kCacheDigestHexSize lowercase hex digits: anything else (a record or
// manifest line of an older format) is refused, never misread.
bool is_hex_digest(std::string_view text);

} // namespace fastboop::artifact_cache
