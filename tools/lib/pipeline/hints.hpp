// Pipeline hints (spec §3.8): precomputed, identity-keyed facts about stages
// that spare a reader expensive discovery — the android sparse chunk index, a
// tar entry's byte range, and content digests. Plain structs; the FBPHINT0 /
// GBXHINT0 codec lives with the profiles concern. Field values are exactly
// what upstream's optimizer records, so an encoder produces the same bytes.
#pragma once

#include "common/result.hpp"
#include "pipeline/sources.hpp"
#include "profiles/boot_profile.hpp"

#include <string>
#include <variant>
#include <vector>

namespace fastboop::pipeline {

struct ContentDigestHint {
  std::string digest; // "sha512:<128 lowercase hex>"
  std::uint64_t size_bytes = 0;
  friend bool operator==(const ContentDigestHint&, const ContentDigestHint&) = default;
};

// Variant order = upstream PipelineHint enum index (0 sparse, 1 tar, 2 digest).
using PipelineHint = std::variant<SparseIndex, TarIndex, ContentDigestHint>;

struct PipelineHintEntry {
  std::string pipeline_identity;
  std::vector<PipelineHint> hints; // >= 1, at most one of each kind, in kind order
  friend bool operator==(const PipelineHintEntry&, const PipelineHintEntry&) = default;
};

struct PipelineHints {
  std::vector<PipelineHintEntry> entries; // strictly ascending by identity (byte-wise)
  friend bool operator==(const PipelineHints&, const PipelineHints&) = default;
  const PipelineHintEntry* find(std::string_view identity) const;
  const SparseIndex* sparse_index(std::string_view identity) const;
  const TarIndex* tar_index(std::string_view identity) const;
  const ContentDigestHint* content_digest(std::string_view identity) const;
};

// Validation rules of spec §3.8 (non-blank identities, sorted unique, hints
// non-empty, at most one of each kind).
Result<void> validate_pipeline_hints(const PipelineHints& hints);

// Merge by identity (equal duplicate hints dropped; two different hints of one
// kind for one identity are an error), sorted.
Result<PipelineHints> merge_pipeline_hints(const std::vector<PipelineHints>& parts);

struct CollectOptions {
  // Passed to open_pipeline for the stages walked (local artifacts, cache,
  // network); hints are collected innermost stage first, like upstream.
  std::filesystem::path cache_dir;
  std::vector<std::filesystem::path> local_artifacts;
};

// What `fastboop-profile optimize` emits for one pipeline (spec §3.8 table):
// android_sparseimg -> AndroidSparseIndex (+ ContentDigest without declared
// content); tar -> TarEntryIndex (+ ContentDigest likewise); xz/mbr/gpt ->
// ContentDigest only without declared content; terminals -> nothing. The
// digests are computed by reading each stage's full output (I/O heavy: an
// http leaf is downloaded once through the range cache).
Result<PipelineHints> collect_pipeline_hints(const profiles::PipelineSource& source,
                                             const CollectOptions& options = {});

// Block-hash tables (issue 17) for every http, file and casync stage of the
// pipeline, of the bytes as published, each checked against the stage's
// declared content digest while it is computed (I/O heavy like the hints:
// every artifact is read whole once, an http one through the range cache).
Result<std::vector<BlockTable>> collect_block_tables(const profiles::PipelineSource& source,
                                                     const CollectOptions& options = {},
                                                     std::uint32_t block_size = kDefaultHashBlockSize);

} // namespace fastboop::pipeline
