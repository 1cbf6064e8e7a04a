// Opening a Boot Profile pipeline (profiles::PipelineSource) into a stack of
// block sources, with local-artifact substitution, pipeline hints and content
// digest verification; and auto-detection of a bare path or URL.
#pragma once

#include "pipeline/hints.hpp"
#include "pipeline/sources.hpp"
#include "profiles/boot_profile.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::pipeline {

// Canonical identity string of a stage and everything beneath it (spec §3.6).
std::string stage_identity(const profiles::PipelineSource& source);

// --local-artifact: files indexed by (sha512 digest, size). A stage whose
// content (declared, or from a ContentDigest hint) matches is replaced, with
// everything beneath it, by a plain read of the file.
class LocalArtifactIndex {
public:
  // Hashes every file; two different files with the same key are an error.
  static Result<LocalArtifactIndex> build(const std::vector<std::filesystem::path>& paths);
  std::optional<std::filesystem::path> find(std::string_view digest, std::uint64_t size) const;
  // Any file with this digest, whatever its size (a digest known without its size).
  std::optional<std::pair<std::filesystem::path, std::uint64_t>> find_digest(std::string_view digest) const;
  // Register a file whose digest the caller has just computed (materialized output).
  void add_verified(std::string digest, std::uint64_t size, std::filesystem::path path);
  bool empty() const { return m_files.empty(); }

private:
  std::map<std::pair<std::string, std::uint64_t>, std::filesystem::path> m_files;
};

enum class ContentCheck {
  // Hash a stage's output as it is read from offset 0 onwards; once the whole
  // output has been read, compare (cheap; catches full reads).
  WhenReadInFull,
  // Additionally read and hash local `file` leaves completely at open.
  EagerLocalFiles,
};

struct OpenOptions {
  LocalArtifactIndex local_artifacts;
  const PipelineHints* hints = nullptr;
  std::filesystem::path cache_dir; // default_cache_dir() when empty
  std::optional<NetworkMode> network; // FASTBOOP_OFFLINE=1 decides when unset
  ContentCheck content_check = ContentCheck::WhenReadInFull;
  // Passed to http sources (HttpOptions::on_fetch).
  std::function<void(std::uint64_t)> on_fetch;
  // Unset: http_timeouts_from_env() decides.
  std::optional<HttpTimeouts> http_timeouts;
  // Block-hash tables carried by the profile (issue 17): an http, file or
  // casync stage whose content has one checks every block it reads.
  std::shared_ptr<const BlockTables> block_tables;
  // An http or casync stage whose content digest has no table: Upfront
  // fetches and checks the whole object before anything is read from it (a
  // digest means a verified read); WhenComplete (--unverified-ranged-reads)
  // reads ranges that are checked only once every byte has been read.
  DigestCheck digest_check = DigestCheck::Upfront;
};

Result<BlockSourcePtr> open_pipeline(const profiles::PipelineSource& source,
                                     const OpenOptions& options = {});

// Checks every block read from `inner` against `table` (whole blocks are
// read from below; the last block checked is kept). A mismatch is an error
// naming `stage` and the byte range, and nothing of that block is returned.
BlockSourcePtr make_block_checking_source(BlockSourcePtr inner, std::shared_ptr<const BlockTable> table,
                                          std::string stage);

// Read a source completely and compare with `content`; the error names the
// stage, the expected and the actual digest.
Result<void> verify_content(BlockSource& source, const profiles::ContentDigest& content,
                            std::string_view stage);

// --- auto-detection --------------------------------------------------------

enum class FilesystemType { Erofs, Ext4, Fat, Iso9660, Squashfs };
std::string_view filesystem_type_name(FilesystemType type); // "erofs", "ext4", "fat", "iso9660", "squashfs"
// Superblock magic at the start of `source`; nullopt when none matches.
Result<std::optional<FilesystemType>> probe_filesystem(BlockSource& source);

struct DetectOptions {
  OpenOptions open;
  // Partition choice for a partitioned image; default: the largest partition
  // holding a recognised filesystem.
  std::optional<std::string> partlabel;
  std::optional<std::uint32_t> partition_index;
  // The terminal's content digest ("sha512:<hex>"), e.g. from --expect-sha512:
  // a local file is verified at open, an http object is cached under it and
  // verified once complete, and a matching local artifact replaces it.
  // (When it is checked: open.digest_check.)
  std::optional<std::string> expect_digest;
};

// A distro live ISO recognised by its layout (issue 21): the root image is a
// file of the ISO, the kernel sits beside it in the ISO.
enum class LiveLayoutKind { DebianLive, FedoraLive, ArchLive };
std::string_view live_layout_name(LiveLayoutKind kind); // "debian-live", "fedora-live", "arch-live"
struct LiveLayout {
  LiveLayoutKind kind = LiveLayoutKind::DebianLive;
  profiles::PipelineSource iso;          // the ISO itself (the chain beneath the iso9660 stage)
  std::string root_path;                 // the root image inside the ISO
  std::vector<std::string> kernel_paths; // kernels inside the ISO, preferred first
  // The ISO as detection opened it, shared with the root image's slice: the
  // kernel beside the root is read without reopening `iso`, which a channel's
  // artifact (a byte range of the channel) has no stage for.
  std::shared_ptr<BlockSource> opened_iso;
};
// The live layout of an ISO, if it has one of the three.
Result<std::optional<LiveLayout>> detect_live_layout(BlockSource& iso);

struct DetectedPipeline {
  profiles::PipelineSource pipeline; // the chain found, outermost first
  BlockSourcePtr source;             // opened, ready to read
  std::vector<std::string> layers;   // outermost first, e.g. {"gpt[partlabel=root]", "android_sparseimg", "xz", "http(...)"}
  std::optional<FilesystemType> filesystem;
  // A bare live ISO: `pipeline` is then iso9660[root_path] over the ISO.
  std::optional<LiveLayout> live;
};

// A bare path or http(s) URL: peel xz / android sparse / GPT / MBR layers by
// their magic until a filesystem (or unknown data) remains; an ISO with a live
// layout is peeled to its root image (with `live` set).
Result<DetectedPipeline> detect_pipeline(const std::string& location, const DetectOptions& options = {});

// The two halves of detect_pipeline, for a caller that looks at the
// terminal's bytes before peeling layers (a channel's records come first):
// the terminal of a bare path or URL, opened with the digest rules above…
struct DetectedTerminal {
  profiles::PipelineSource chain; // the terminal stage, with its content when a digest was given
  BlockSourcePtr source;
};
Result<DetectedTerminal> open_detect_terminal(const std::string& location, const DetectOptions& options = {});
// …and the layers peeled from an opened source, which `chain` describes.
Result<DetectedPipeline> detect_layers(BlockSourcePtr source, profiles::PipelineSource chain,
                                      const DetectOptions& options = {});

} // namespace fastboop::pipeline
