// Pipeline hints (spec §3.8): the FBPHINT0 channel record wrapping a GBXHINT0
// blob. fastboop-profile recognises and shows records appended to a compiled
// Boot Profile; producing them (optimize) is not part of this toolchain.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "profiles/yaml_reader.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::profiles {

struct SparseChunkHint {
  std::uint32_t chunk_index = 0;
  std::uint16_t chunk_type = 0;
  std::uint32_t chunk_sz = 0;
  std::uint32_t total_sz = 0;
  std::uint64_t chunk_offset = 0;
  std::uint64_t payload_offset = 0;
  std::uint64_t payload_size = 0;
  std::optional<std::uint64_t> output_start;
  std::optional<std::uint64_t> output_end;
  std::optional<std::array<std::uint8_t, 4>> fill_pattern;
  std::optional<std::uint32_t> crc32;
  friend bool operator==(const SparseChunkHint&, const SparseChunkHint&) = default;
};

struct SparseIndexHint {
  std::uint16_t file_hdr_sz = 0;
  std::uint16_t chunk_hdr_sz = 0;
  std::uint32_t blk_sz = 0;
  std::uint32_t total_blks = 0;
  std::uint32_t total_chunks = 0;
  std::uint32_t image_checksum = 0;
  std::vector<SparseChunkHint> chunks;
  friend bool operator==(const SparseIndexHint&, const SparseIndexHint&) = default;
};

struct TarIndexHint {
  std::string entry_name;
  std::uint64_t header_offset = 0;
  std::uint64_t data_offset = 0;
  std::uint64_t size_bytes = 0;
  std::uint8_t entry_type = 0;
  friend bool operator==(const TarIndexHint&, const TarIndexHint&) = default;
};

struct DigestHint {
  std::string digest;
  std::uint64_t size_bytes = 0;
  friend bool operator==(const DigestHint&, const DigestHint&) = default;
};

struct PipelineHint {
  enum class Kind : std::uint32_t { AndroidSparseIndex = 0, TarEntryIndex = 1, ContentDigest = 2 };
  Kind kind = Kind::ContentDigest;
  SparseIndexHint sparse;
  TarIndexHint tar;
  DigestHint digest;
  friend bool operator==(const PipelineHint&, const PipelineHint&) = default;
};

struct PipelineHintEntry {
  std::string pipeline_identity;
  std::vector<PipelineHint> hints;
  friend bool operator==(const PipelineHintEntry&, const PipelineHintEntry&) = default;
};

struct PipelineHintsRecord {
  std::vector<std::string> identities; // FBPHINT0 metadata
  std::vector<PipelineHintEntry> entries;
  friend bool operator==(const PipelineHintsRecord&, const PipelineHintsRecord&) = default;
};

// Decode one FBPHINT0 record at the start of `bytes`, fully validated
// (sorted unique identities, metadata equal to the payload's entries).
Result<PipelineHintsRecord> decode_pipeline_hints_record(ByteSpan bytes, std::size_t* consumed);
// Encoding (used by tests to build fixtures; entries must already be sorted).
Bytes encode_pipeline_hints_record(const PipelineHintsRecord& record);
yaml::Json pipeline_hints_to_tree(const PipelineHintsRecord& record);

} // namespace fastboop::profiles
