// Channels (spec channels.md, read at upstream fastboop fabf89c3; upstream
// calls the v0 layouts unstable, so this is pinned to that commit): one byte
// stream, a local file or an http(s) URL, that starts with compiled records
// and may end with the artifact itself:
//
//   [FBCHIDX0 index]  [FBOOPROF | FBOODEVP | FBPHINT0]{0..128}  [artifact]
//
// The reader works on any BlockSource (file, http stage), reads only the
// head, and enforces the limits while reading so a hostile head costs bounded
// time and memory. Pipeline-hint payloads are not read at intake; the hints a
// chosen Boot Profile needs are loaded afterwards (read_channel_hints).
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "pipeline/block_source.hpp"
#include "pipeline/block_table.hpp"
#include "pipeline/hints.hpp"
#include "profiles/boot_profile.hpp"
#include "profiles/device_profile.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastboop::profiles {

// Limits (spec §2.9.3).
inline constexpr std::size_t kChannelMaxRecords = 128;
// A FBOOPROF/FBOODEVP record has no length field: it is decoded from a window
// of 4 KiB that doubles up to this size (and a record larger fails).
inline constexpr std::size_t kChannelMaxRecordBytes = std::size_t{4} << 20;
// Bounds what intake holds in memory for an FBCHIDX0 payload or an FBPHINT0
// metadata block (upstream: only the u32 and the stream size).
inline constexpr std::size_t kChannelMaxIndexBytes = std::size_t{4} << 20;

enum class ChannelRecordKind { BootProfile, DeviceProfile, PipelineHints };
std::string_view channel_record_kind_name(ChannelRecordKind kind); // "boot_profile", ...

struct ChannelRecord {
  ChannelRecordKind kind = ChannelRecordKind::BootProfile;
  std::uint64_t offset = 0; // in the stream (absolute)
  std::uint64_t size = 0;
  std::string id; // a profile's id
  // PipelineHints: the identities it holds and where its GBXHINT0 blob lies
  // (absolute), so the payload is read only when a profile needs it.
  std::vector<std::string> identities;
  std::uint64_t payload_offset = 0;
  std::uint64_t payload_size = 0;
  friend bool operator==(const ChannelRecord&, const ChannelRecord&) = default;
};

struct ChannelHead {
  bool indexed = false;
  std::uint64_t index_size = 0;               // bytes of the FBCHIDX0 record (14 + payload)
  std::vector<ChannelRecord> records;         // stream order
  std::vector<BootProfile> boot_profiles;     // validated, stream order
  std::vector<DeviceProfile> device_profiles; // stream order
  // FBBLKTB0 records (ours, issue 17: block-hash tables, as trusted as the
  // profiles beside them): where they lie and what they hold. Not in
  // `records`, since upstream's index has no entry kind for them; a packed
  // channel puts them after every indexed record.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> block_table_spans; // offset, size
  std::shared_ptr<pipeline::BlockTables> block_tables;
  std::uint64_t consumed = 0;                 // the artifact starts here
  std::uint64_t total = 0;                    // size of the stream
  bool has_artifact() const { return consumed < total; }
};

// True when `prefix` starts with one of the record magics (FBCHIDX0,
// FBOOPROF, FBOODEVP, FBPHINT0): the stream is a channel with records, not a
// bare artifact.
bool starts_with_channel_record(ByteSpan prefix);

// Reads the head (indexed when it starts with FBCHIDX0, else sequential: the
// records until the first bytes that are not one). Errors name the byte
// offset and the record: a record beyond the limits, more than 128 records,
// an index entry past the end, overlapping another or not holding the record
// it names, two profiles with one id, a hint identity in two records.
Result<ChannelHead> read_channel_head(pipeline::BlockSource& source);

// The pipeline hints of the records holding any of `identities` (all records
// when `identities` is null), read, decoded, cross-checked against what the
// head (or the index) said they hold, and merged.
Result<pipeline::PipelineHints> read_channel_hints(pipeline::BlockSource& source,
                                                   const ChannelHead& head,
                                                   const std::set<std::string>* identities);

// Every stage identity of the pipelines a Boot Profile opens (rootfs only
// when `with_rootfs`, kernel and dtbs): what its hint records are keyed by.
std::set<std::string> boot_profile_pipeline_identities(const BootProfile& profile,
                                                       bool with_rootfs);

// The FBCHIDX0 record for `records`, whose offsets are relative to the first
// byte after the index (so records can be placed behind it unchanged).
// Deterministic; the same validation the reader applies.
Result<Bytes> encode_channel_index(const std::vector<ChannelRecord>& records);

// `channel index`: the FBCHIDX0 record to put in front of a sequential
// channel (copied unchanged after it, artifact included). An indexed channel
// or one without records is refused.
Result<Bytes> index_for_channel(pipeline::BlockSource& channel);

// --- writing (fastboop-profile channel pack / index) --------------------------

enum class ChannelIndexing { None, Index };
struct ChannelPackRequest {
  // Files of compiled records (FBOODEVP, FBOOPROF, FBPHINT0, as `compile`,
  // `compile-devpro` and `optimize` write them, or a channel without an
  // artifact) or Device Profile YAML/JSON (compiled here), in this order.
  std::vector<std::filesystem::path> record_files;
  std::optional<std::filesystem::path> artifact; // copied unchanged after the records
  ChannelIndexing indexing = ChannelIndexing::None;
};
// Writes the channel atomically; the records are read back as a channel head
// first, so what is written passes the reader (limits, duplicate ids).
Result<void> pack_channel(const ChannelPackRequest& request, const std::filesystem::path& output);
// `channel index`: FBCHIDX0 in front of `input`, copied unchanged.
Result<void> index_channel_file(const std::filesystem::path& input,
                                const std::filesystem::path& output);

// `show` of a channel: every record rendered as `show` renders the record
// files it was packed from (so pack -> show gives the same documents), and a
// summary line (indexed or not, records, the artifact's offset and size).
struct ChannelShow {
  std::string records; // show_bytes of the records
  std::string summary;
};
Result<ChannelShow> show_channel(pipeline::BlockSource& channel, std::string_view origin,
                                 bool json);

} // namespace fastboop::profiles
