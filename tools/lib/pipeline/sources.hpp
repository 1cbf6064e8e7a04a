// The block-source stages of the artifact pipeline (spec §3.1): each factory
// opens one stage on top of the source beneath it and takes ownership of it.
// Callers normally use open_pipeline() (pipeline.hpp); these are the building
// blocks it stacks, exposed for tests, tools and the filesystems concern.
#pragma once

#include "pipeline/block_source.hpp"
#include "pipeline/block_table.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::pipeline {

// An error that names the layer and the offset it concerns, e.g.
// "android_sparseimg: offset 0x1c: bad chunk type 0xcaff".
Error layer_error(std::string_view layer, std::uint64_t offset, std::string_view message,
                  ErrorKind kind = ErrorKind::Invalid);

// --- terminals -------------------------------------------------------------
Result<BlockSourcePtr> open_file_source(const std::filesystem::path& path);
// A read-only view of bytes held in memory (tests, fuzzers, small indexes).
BlockSourcePtr make_memory_source(Bytes data, std::string description = "memory");

// --- plain views -----------------------------------------------------------
// [offset, offset+length) of `inner`; the range must lie inside it.
Result<BlockSourcePtr> open_slice(BlockSourcePtr inner, std::uint64_t offset, std::uint64_t length,
                                  std::string description);

// A second owner of a source: every view reads the one shared source (a live
// ISO read both through its root image's slice and for the kernel beside it).
BlockSourcePtr make_shared_view(std::shared_ptr<BlockSource> shared);

// --- android_sparseimg -----------------------------------------------------
enum class SparseChunkType : std::uint16_t {
  Raw = 0xCAC1,
  Fill = 0xCAC2,
  DontCare = 0xCAC3,
  Crc32 = 0xCAC4,
};

// One chunk of the index; field meanings match the upstream sparse-index hint
// (spec §3.8) so the same struct serves both scanning and hints.
struct SparseChunk {
  std::uint32_t chunk_index = 0;
  std::uint16_t chunk_type = 0;
  std::uint32_t chunk_sz = 0;  // output blocks
  std::uint32_t total_sz = 0;  // bytes in the sparse file, header included
  std::uint64_t chunk_offset = 0;
  std::uint64_t payload_offset = 0;
  std::uint64_t payload_size = 0;
  std::optional<std::uint64_t> output_start;
  std::optional<std::uint64_t> output_end;
  std::optional<std::array<std::uint8_t, 4>> fill_pattern;
  std::optional<std::uint32_t> crc32;
  friend bool operator==(const SparseChunk&, const SparseChunk&) = default;
};

struct SparseIndex {
  std::uint16_t file_hdr_sz = 0;
  std::uint16_t chunk_hdr_sz = 0;
  std::uint32_t blk_sz = 0;
  std::uint32_t total_blks = 0;
  std::uint32_t total_chunks = 0;
  std::uint32_t image_checksum = 0;
  std::vector<SparseChunk> chunks;
  friend bool operator==(const SparseIndex&, const SparseIndex&) = default;
};

// Scan every chunk header of a sparse image (strict: sizes, types, counts).
Result<SparseIndex> scan_sparse_index(BlockSource& inner);
// Structural re-validation of an index that came from a hint (spec §3.8).
Result<void> validate_sparse_index(const SparseIndex& index, std::uint64_t source_size);
// Expand a sparse image; `hint` (validated against `inner`) skips the scan.
Result<BlockSourcePtr> open_android_sparse(BlockSourcePtr inner,
                                           const SparseIndex* hint = nullptr);

// --- mbr / gpt -------------------------------------------------------------
struct MbrSelector {
  std::optional<std::string> partuuid; // "DDDDDDDD-NN"
  std::optional<std::uint32_t> index;  // 0-based, primary only
  std::optional<std::uint32_t> lba_size;
};
Result<BlockSourcePtr> open_mbr_partition(BlockSourcePtr inner, const MbrSelector& selector);

struct GptSelector {
  std::optional<std::string> partlabel;
  std::optional<std::string> partuuid;
  std::optional<std::uint32_t> index; // 0-based into the entry array
  std::optional<std::uint32_t> lba_size;
};

struct GptPartition {
  std::uint32_t index = 0;     // 0-based entry index
  std::string label;           // UTF-8 of the UTF-16LE name
  std::string partuuid;        // canonical upper-case GUID text
  std::string type_guid;
  std::uint64_t first_lba = 0;
  std::uint64_t last_lba = 0;  // inclusive
};
struct GptTable {
  std::uint32_t lba_size = 0;
  std::vector<GptPartition> partitions; // used entries only
};
// Parse and CRC-check the primary GPT; probes 512 then 4096 without lba_size.
Result<GptTable> read_gpt(BlockSource& inner, std::optional<std::uint32_t> lba_size);
Result<BlockSourcePtr> open_gpt_partition(BlockSourcePtr inner, const GptSelector& selector);

struct MbrPartition {
  std::uint32_t index = 0; // 0-based
  std::uint8_t type = 0;
  std::uint64_t start_lba = 0;
  std::uint64_t sectors = 0;
};
struct MbrTable {
  std::uint32_t disk_signature = 0;
  std::vector<MbrPartition> partitions; // used primary entries (extended ones included)
};
Result<MbrTable> read_mbr(BlockSource& inner);

// --- xz --------------------------------------------------------------------
struct XzOptions {
  // Where a single-block stream is decoded to (an unlinked temporary file).
  std::filesystem::path cache_dir;
  // Decoded blocks kept in memory (multi-block streams).
  std::size_t block_cache_bytes = 64u << 20;
};
struct XzBlockInfo {
  std::uint64_t compressed_offset = 0; // of the block header in the file
  std::uint64_t total_size = 0;        // compressed bytes incl. header and padding
  std::uint64_t uncompressed_offset = 0;
  std::uint64_t uncompressed_size = 0;
};
// The blocks listed by the stream indexes (all concatenated streams).
Result<std::vector<XzBlockInfo>> read_xz_block_table(BlockSource& inner);
Result<BlockSourcePtr> open_xz(BlockSourcePtr inner, const XzOptions& options = {});

// --- tar -------------------------------------------------------------------
struct TarIndex {
  std::string entry_name;
  std::uint64_t header_offset = 0; // first header block of the entry (pax/GNU headers included)
  std::uint64_t data_offset = 0;
  std::uint64_t size_bytes = 0;
  std::uint8_t entry_type = 0;     // the ustar typeflag byte
  friend bool operator==(const TarIndex&, const TarIndex&) = default;
};
// Normalise an entry name (trim, strip leading "/" and "./", trailing "/").
Result<std::string> normalize_tar_entry(std::string_view entry);
Result<TarIndex> locate_tar_entry(BlockSource& inner, std::string_view entry);
Result<BlockSourcePtr> open_tar_entry(BlockSourcePtr inner, std::string_view entry,
                                      const TarIndex* hint = nullptr);

// --- iso9660 ---------------------------------------------------------------
// A file inside an ISO 9660 image is a byte range of the image (contiguous
// sections only; zisofs-compressed files are refused). Paths are '/'-separated
// from the root, Rock Ridge names when present, else ISO names compared
// case-insensitively without ";1".
struct IsoExtent {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};
struct IsoDirEntry {
  std::string name;
  bool directory = false;
};
// nullopt when the path does not exist; an error when the image is damaged.
Result<std::optional<IsoExtent>> locate_iso9660_file(BlockSource& iso, std::string_view path);
// The entries of a directory, sorted by name; nullopt when it does not exist.
Result<std::optional<std::vector<IsoDirEntry>>> list_iso9660_dir(BlockSource& iso, std::string_view path);
Result<BlockSourcePtr> open_iso9660_file(BlockSourcePtr inner, std::string_view path);

// --- http ------------------------------------------------------------------
// When an expected digest of an http object is checked: up front, fetching
// the whole object before anything is read from it (the default: a digest the
// user gave means a verified download), or only once the download cache holds
// every byte, so reads stay partial and use unchecked bytes (only when asked
// for by name: --unverified-ranged-reads, with a warning).
enum class DigestCheck { WhenComplete, Upfront };
enum class NetworkMode { Online, Offline };
// How long a request may take before it is retried, and how often: settings
// for servers that accept and never answer (FASTBOOP_HTTP_CONNECT_TIMEOUT,
// FASTBOOP_HTTP_STALL_TIMEOUT, FASTBOOP_HTTP_ATTEMPTS; the tools' --http-*
// options override them).
struct HttpTimeouts {
  long connect_s = 10; // to establish the connection
  long stall_s = 30;   // without a single byte from the server (headers included)
  unsigned attempts = 5;
};
// The defaults overridden by the environment; an unparsable value is a usage
// error naming the variable.
Result<HttpTimeouts> http_timeouts_from_env();
struct HttpOptions {
  // Content-addressed range cache root ($XDG_CACHE_HOME/fastboop when empty).
  std::filesystem::path cache_dir;
  // The object's sha512 content digest ("sha512:<hex>") and size; keys the
  // persistent cache. Without it fetched ranges live only for this run.
  std::optional<std::string> content_digest;
  // Without content_size, a digest still keys the cache: the size comes from
  // HEAD, or offline from the one cached copy under that digest.
  std::optional<std::uint64_t> content_size;
  NetworkMode network = NetworkMode::Online;
  unsigned max_attempts = 5;
  unsigned first_backoff_ms = 100;
  unsigned parallel_requests = 4;
  std::size_t page_size = 64u << 10; // fetch granularity
  long connect_timeout_s = 10;
  long low_speed_timeout_s = 30;
  // Called with the byte count of every completed range fetch (progress lines).
  std::function<void(std::uint64_t)> on_fetch;
  // The object's block-hash table (issue 17), bound to content_digest and
  // content_size (a table for another object is an error at open). Pages are
  // then fetched in its block size and every block is checked against it
  // before it is used or cached; a mismatch is fetched once more, then an
  // error naming the URL and the byte range. Cached pages say they were
  // checked (page map byte 2) and are checked again when read.
  std::shared_ptr<const BlockTable> block_table;

  void set_timeouts(const HttpTimeouts& t) {
    connect_timeout_s = t.connect_s;
    low_speed_timeout_s = t.stall_s;
    max_attempts = t.attempts;
  }
};
// Counters for progress lines and benchmarks.
struct HttpStats {
  std::uint64_t bytes_fetched = 0;
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  std::uint64_t bytes_from_cache = 0;
  std::uint64_t blocks_verified = 0; // checked against the block-hash table
  std::uint64_t refetches = 0;       // blocks fetched again after a mismatch
};
class HttpSource : public BlockSource {
public:
  virtual HttpStats stats() const = 0;
  // The cache holds the whole object and it matched its content digest.
  virtual bool verified() const = 0;
};
Result<std::unique_ptr<HttpSource>> open_http(const std::string& url, const HttpOptions& options);

// --- casync ----------------------------------------------------------------
struct CasyncOptions {
  HttpOptions http; // for http(s) index and chunk stores
  std::size_t chunk_cache_bytes = 32u << 20;
};
// Default chunk store for an index location (spec §3.1).
std::string default_casync_chunk_store(const std::string& index_location);
Result<BlockSourcePtr> open_casync(const std::string& index_location,
                                   const std::optional<std::string>& chunk_store,
                                   const CasyncOptions& options);

// The effective cache root: $XDG_CACHE_HOME/fastboop, ~/.cache/fastboop, $TMPDIR/fastboop.
std::filesystem::path default_cache_dir();
// FASTBOOP_OFFLINE=1 in the environment.
bool offline_from_env();

} // namespace fastboop::pipeline
