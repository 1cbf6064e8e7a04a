#include "profiles/channel.hpp"

#include "common/file_io.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/sources.hpp"
#include "profiles/hints.hpp"
#include "profiles/postcard.hpp"
#include "profiles/profiles.hpp"
#include "profiles/tooling.hpp"

#include <algorithm>
#include <map>
#include <optional>

namespace fastboop::profiles {

namespace {

constexpr std::string_view kIndexMagic = "FBCHIDX0";
constexpr std::string_view kBootMagic = "FBOOPROF";
constexpr std::string_view kDeviceMagic = "FBOODEVP";
constexpr std::string_view kHintsMagic = "FBPHINT0";
constexpr std::size_t kIndexHeader = 14; // magic, u16 version, u32 payload size
constexpr std::size_t kHintsHeader = 18; // magic, u16 version, u32 metadata size, u32 payload size
constexpr std::size_t kFirstWindow = 4096;
// Reads of the head are at least this long, so a head of small records costs
// one read (one request over http) rather than one per probe.
constexpr std::size_t kReadAhead = 64 * 1024;
// A hint record is read whole when a profile needs it (sparse indexes of big
// images run to megabytes).
constexpr std::uint64_t kMaxHintRecordBytes = std::uint64_t{64} << 20;

std::string at(std::uint64_t offset) {
  return "channel: byte offset " + std::to_string(offset);
}

// The bytes of the head, read through one buffer that moves forward with the
// records: memory stays at the largest record (bounded by the limits).
class HeadReader {
public:
  explicit HeadReader(pipeline::BlockSource& source) : m_source(source), m_total(source.size()) {}
  std::uint64_t total() const { return m_total; }

  // [offset, offset + length), which the caller has checked lies in the stream.
  Result<ByteSpan> window(std::uint64_t offset, std::size_t length) {
    const std::uint64_t end = offset + length;
    const std::uint64_t have_end = m_start + m_buf.size();
    if (offset < m_start || offset > have_end) {
      m_buf.clear();
      m_start = offset;
    } else if (offset > m_start) {
      m_buf.erase(m_buf.begin(), m_buf.begin() + static_cast<std::ptrdiff_t>(offset - m_start));
      m_start = offset;
    }
    if (end > m_start + m_buf.size()) {
      const std::uint64_t from = m_start + m_buf.size();
      const std::uint64_t want = std::max<std::uint64_t>(end - from, kReadAhead);
      const std::uint64_t n = std::min<std::uint64_t>(want, m_total - from);
      const std::size_t old = m_buf.size();
      m_buf.resize(old + static_cast<std::size_t>(n));
      auto read = m_source.read_at(from, std::span(m_buf).subspan(old));
      if (!read) {
        m_buf.clear();
        return std::move(read).error().with_context(at(from) + ": reading " + m_source.describe());
      }
    }
    return ByteSpan(m_buf).subspan(static_cast<std::size_t>(offset - m_start), length);
  }

private:
  pipeline::BlockSource& m_source;
  std::uint64_t m_total = 0;
  std::uint64_t m_start = 0;
  Bytes m_buf;
};

bool has_magic(ByteSpan b, std::string_view magic) {
  return b.size() >= 8 && as_chars(b.first(8)) == magic;
}

// Ids and identities seen so far: one per channel (a channel is one level
// of the search path, where a duplicate id is an error, as in a directory).
struct Seen {
  std::map<std::string, std::uint64_t> boot, device, identity;

  Result<void> add(std::map<std::string, std::uint64_t>& where, const std::string& key,
                   std::uint64_t offset, std::string_view what) {
    auto [it, inserted] = where.emplace(key, offset);
    if (!inserted)
      return Error(at(offset) + ": " + std::string(what) + " '" + key +
                   "' appears twice (first at byte offset " + std::to_string(it->second) + ")");
    return ok();
  }
};

// Decodes the profile record at `offset` from a window that starts at 4 KiB
// and doubles until postcard is satisfied, up to the record limit.
template <typename Decode>
Result<std::uint64_t> decode_growing(HeadReader& in, std::uint64_t offset, const Decode& decode) {
  const std::uint64_t remaining = in.total() - offset;
  const std::size_t limit =
      static_cast<std::size_t>(std::min<std::uint64_t>(remaining, kChannelMaxRecordBytes));
  std::size_t window = std::min(kFirstWindow, limit);
  for (;;) {
    const ByteSpan bytes = TRY(in.window(offset, window));
    std::size_t used = 0;
    auto r = decode(bytes, &used);
    if (r)
      return std::uint64_t{used};
    if (window >= limit) {
      if (limit == kChannelMaxRecordBytes && remaining > limit)
        return std::move(r).error().with_context(at(offset) + ": no valid record within the " +
                                                 std::to_string(kChannelMaxRecordBytes >> 20) +
                                                 " MiB limit");
      return std::move(r).error().with_context(at(offset));
    }
    window = std::min(window * 2, limit);
  }
}

Result<void> add_boot(ChannelHead& head, Seen& seen, BootProfile profile, std::uint64_t offset,
                      std::uint64_t size) {
  TRY_CTX(validate_boot_profile(profile), at(offset) + ": boot profile '" + profile.id + "'");
  TRY(seen.add(seen.boot, profile.id, offset, "boot profile"));
  head.records.push_back({ChannelRecordKind::BootProfile, offset, size, profile.id, {}, 0, 0});
  head.boot_profiles.push_back(std::move(profile));
  return ok();
}

Result<void> add_device(ChannelHead& head, Seen& seen, DeviceProfile profile, std::uint64_t offset,
                        std::uint64_t size) {
  TRY(seen.add(seen.device, profile.id, offset, "device profile"));
  head.records.push_back({ChannelRecordKind::DeviceProfile, offset, size, profile.id, {}, 0, 0});
  head.device_profiles.push_back(std::move(profile));
  return ok();
}

Result<void> add_hints(ChannelHead& head, Seen& seen, ChannelRecord record) {
  for (const auto& id : record.identities)
    TRY(seen.add(seen.identity, id, record.offset, "pipeline identity"));
  head.records.push_back(std::move(record));
  return ok();
}

// FBPHINT0: the header and metadata only; the payload is skipped.
Result<ChannelRecord> read_hints_location(HeadReader& in, std::uint64_t offset) {
  const std::uint64_t remaining = in.total() - offset;
  if (remaining < kHintsHeader)
    return Error(at(offset) + ": FBPHINT0 record truncated: " + std::to_string(remaining) +
                 " of its " + std::to_string(kHintsHeader) + "-byte header");
  const ByteSpan h = TRY(in.window(offset, kHintsHeader));
  const auto version = load_le<std::uint16_t>(h.data() + 8);
  if (version != 0)
    return Error(at(offset) + ": FBPHINT0 record: unsupported format version " +
                 std::to_string(version));
  const std::uint64_t meta = load_le<std::uint32_t>(h.data() + 10);
  const std::uint64_t payload = load_le<std::uint32_t>(h.data() + 14);
  if (kHintsHeader + meta + payload > remaining)
    return Error(at(offset) + ": FBPHINT0 record claims " +
                 std::to_string(kHintsHeader + meta + payload) + " bytes; only " +
                 std::to_string(remaining) + " remain in the stream");
  if (meta > kChannelMaxIndexBytes)
    return Error(at(offset) + ": FBPHINT0 metadata of " + std::to_string(meta) +
                 " bytes exceeds the " + std::to_string(kChannelMaxIndexBytes >> 20) +
                 " MiB limit");
  const ByteSpan m = TRY(in.window(offset + kHintsHeader, static_cast<std::size_t>(meta)));
  ChannelRecord r;
  r.kind = ChannelRecordKind::PipelineHints;
  r.offset = offset;
  r.size = kHintsHeader + meta + payload;
  r.identities = TRY_CTX(decode_pipeline_hints_metadata(m), at(offset) + ": FBPHINT0 record");
  // An empty identity list is legal upstream (its optimize writes one when a
  // profile has nothing to hint); it simply hints nothing.
  r.payload_offset = offset + kHintsHeader + meta;
  r.payload_size = payload;
  return r;
}

// A block-hash table record is at most this large (a 64 KiB-block table for
// a 128 GiB artifact).
constexpr std::uint64_t kMaxBlockTableRecordBytes = std::uint64_t{64} << 20;

// FBBLKTB0 at `offset`: its tables join the head's; returns its size.
Result<std::uint64_t> read_block_tables(HeadReader& in, std::uint64_t offset, ChannelHead& head) {
  if (in.total() - offset < 14)
    return Error(at(offset) + ": FBBLKTB0 header truncated");
  const ByteSpan h = TRY(in.window(offset, 14));
  const std::uint64_t size = 14 + std::uint64_t{load_le<std::uint32_t>(h.data() + 10)};
  if (size > in.total() - offset || size > kMaxBlockTableRecordBytes)
    return Error(at(offset) + ": FBBLKTB0 record of " + std::to_string(size) + " bytes runs past the end or the " +
                 std::to_string(kMaxBlockTableRecordBytes >> 20) + " MiB limit");
  const ByteSpan bytes = TRY(in.window(offset, static_cast<std::size_t>(size)));
  std::size_t used = 0;
  auto tables = TRY_CTX(pipeline::decode_block_table_record(bytes, &used), at(offset));
  if (!head.block_tables)
    head.block_tables = std::make_shared<pipeline::BlockTables>();
  for (auto& t : tables)
    head.block_tables->add(std::move(t));
  head.block_table_spans.emplace_back(offset, size);
  return size;
}

// FBBLKTB0 records right after `cursor` (after an index's records).
Result<std::uint64_t> read_trailing_block_tables(HeadReader& in, std::uint64_t cursor, ChannelHead& head) {
  while (in.total() - cursor >= 8 && has_magic(TRY(in.window(cursor, 8)), pipeline::kBlockTableMagic)) {
    if (head.block_table_spans.size() == kChannelMaxRecords)
      return Error(at(cursor) + ": more than " + std::to_string(kChannelMaxRecords) + " FBBLKTB0 records");
    cursor += TRY(read_block_tables(in, cursor, head));
  }
  return cursor;
}

Result<ChannelHead> read_sequential(HeadReader& in) {
  ChannelHead head;
  head.total = in.total();
  Seen seen;
  std::uint64_t cursor = 0;
  while (in.total() - cursor >= 8) {
    const ByteSpan magic = TRY(in.window(cursor, 8));
    const bool boot = has_magic(magic, kBootMagic), device = has_magic(magic, kDeviceMagic),
               hints = has_magic(magic, kHintsMagic);
    if (has_magic(magic, kIndexMagic))
      return Error(at(cursor) + ": a FBCHIDX0 index is only valid at the start of a channel");
    if (has_magic(magic, pipeline::kBlockTableMagic)) {
      cursor = TRY(read_trailing_block_tables(in, cursor, head));
      continue;
    }
    if (!boot && !device && !hints)
      break; // the artifact (or nothing) follows
    if (head.records.size() == kChannelMaxRecords)
      return Error(at(cursor) + ": more than " + std::to_string(kChannelMaxRecords) +
                   " records in the head");
    std::uint64_t used = 0;
    if (boot) {
      BootProfile p;
      used = TRY(decode_growing(in, cursor, [&](ByteSpan b, std::size_t* n) -> Result<void> {
        p = TRY(decode_boot_profile_prefix(b, n));
        return ok();
      }));
      TRY(add_boot(head, seen, std::move(p), cursor, used));
    } else if (device) {
      DeviceProfile p;
      used = TRY(decode_growing(in, cursor, [&](ByteSpan b, std::size_t* n) -> Result<void> {
        p = TRY(decode_device_profile_prefix(b, n));
        return ok();
      }));
      TRY(add_device(head, seen, std::move(p), cursor, used));
    } else {
      auto r = TRY(read_hints_location(in, cursor));
      used = r.size;
      TRY(add_hints(head, seen, std::move(r)));
    }
    cursor += used;
  }
  head.consumed = cursor;
  return head;
}

// --- FBCHIDX0 -----------------------------------------------------------------

enum class EntryVariant : std::uint32_t { BootProfile = 0, DeviceProfile = 1, PipelineHints = 2 };

ChannelRecordKind kind_of(EntryVariant v) {
  switch (v) {
  case EntryVariant::BootProfile:
    return ChannelRecordKind::BootProfile;
  case EntryVariant::DeviceProfile:
    return ChannelRecordKind::DeviceProfile;
  case EntryVariant::PipelineHints:
    break;
  }
  return ChannelRecordKind::PipelineHints;
}

EntryVariant variant_of(ChannelRecordKind k) {
  switch (k) {
  case ChannelRecordKind::BootProfile:
    return EntryVariant::BootProfile;
  case ChannelRecordKind::DeviceProfile:
    return EntryVariant::DeviceProfile;
  case ChannelRecordKind::PipelineHints:
    break;
  }
  return EntryVariant::PipelineHints;
}

std::string entry_name(std::size_t i, const ChannelRecord& e) {
  return "index entry " + std::to_string(i) + " (" + std::string(channel_record_kind_name(e.kind)) +
         (e.id.empty() ? "" : " '" + e.id + "'") + ")";
}

// Spec §2.6 validation; offsets relative to the records region of `region` bytes.
Result<void> validate_index(const std::vector<ChannelRecord>& entries, std::uint64_t region) {
  if (entries.empty())
    return Error("FBCHIDX0: the index lists no record");
  if (entries.size() > kChannelMaxRecords)
    return Error("FBCHIDX0: " + std::to_string(entries.size()) + " entries; at most " +
                 std::to_string(kChannelMaxRecords));
  std::uint64_t previous_end = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const std::string name = "FBCHIDX0 " + entry_name(i, e);
    if (e.size == 0)
      return Error(name + ": size 0");
    if (e.offset < previous_end)
      return Error(name + ": offset " + std::to_string(e.offset) +
                   " lies inside the previous entry (which ends at " +
                   std::to_string(previous_end) + ")");
    if (e.offset > region || e.size > region - e.offset)
      return Error(name + ": [" + std::to_string(e.offset) + ", +" + std::to_string(e.size) +
                   ") runs past the end of the channel (" + std::to_string(region) +
                   " bytes after the index)");
    if (e.kind == ChannelRecordKind::PipelineHints) {
      if (e.payload_offset < e.offset + kHintsHeader || e.payload_offset > e.offset + e.size ||
          e.payload_size > e.offset + e.size - e.payload_offset)
        return Error(name + ": payload [" + std::to_string(e.payload_offset) + ", +" +
                     std::to_string(e.payload_size) + ") is not inside its record");
      for (std::size_t k = 1; k < e.identities.size(); ++k)
        if (!(e.identities[k - 1] < e.identities[k]))
          return Error(name + ": pipeline identities not sorted and unique");
    } else if (e.id.empty()) {
      return Error(name + ": no profile id");
    }
    previous_end = e.offset + e.size;
  }
  return ok();
}

Result<std::vector<ChannelRecord>> decode_index_payload(ByteSpan payload) {
  postcard::Reader r(payload, kIndexHeader);
  const auto n = TRY(r.length("entries", 3));
  if (n > kChannelMaxRecords)
    return r.error("entries",
                   std::to_string(n) + " entries; at most " + std::to_string(kChannelMaxRecords));
  std::vector<ChannelRecord> out;
  for (std::size_t i = 0; i < n; ++i) {
    ChannelRecord e;
    const auto v = static_cast<EntryVariant>(TRY(r.variant("entry", 3)));
    e.kind = kind_of(v);
    e.offset = TRY(r.varint("entry.offset", 64));
    e.size = TRY(r.varint("entry.size", 64));
    if (v == EntryVariant::PipelineHints) {
      e.payload_offset = TRY(r.varint("entry.payload_offset", 64));
      e.payload_size = TRY(r.varint("entry.payload_size", 64));
      const auto k = TRY(r.length("entry.pipeline_identities"));
      for (std::size_t j = 0; j < k; ++j)
        e.identities.push_back(TRY(r.string("entry.pipeline_identities")));
    } else {
      e.id = TRY(r.string("entry.id"));
    }
    out.push_back(std::move(e));
  }
  if (r.remaining() != 0)
    return r.error("entries", std::to_string(r.remaining()) + " byte(s) after the last entry");
  return out;
}

// The FBCHIDX0 header, checked, and the index payload it announces.
Result<ByteSpan> read_index_payload(HeadReader& in) {
  if (in.total() < kIndexHeader)
    return Error(at(0) + ": FBCHIDX0 header truncated (" + std::to_string(in.total()) + " bytes)");
  const ByteSpan h = TRY(in.window(0, kIndexHeader));
  const auto version = load_le<std::uint16_t>(h.data() + 8);
  if (version != 0)
    return Error(at(0) + ": FBCHIDX0: unsupported format version " + std::to_string(version));
  const std::uint64_t length = load_le<std::uint32_t>(h.data() + 10);
  if (length > in.total() - kIndexHeader)
    return Error(at(0) + ": FBCHIDX0 claims a " + std::to_string(length) +
                 "-byte payload; the channel has " + std::to_string(in.total()) + " bytes");
  if (length > kChannelMaxIndexBytes)
    return Error(at(0) + ": FBCHIDX0 payload of " + std::to_string(length) + " bytes exceeds the " +
                 std::to_string(kChannelMaxIndexBytes >> 20) + " MiB limit");
  return in.window(kIndexHeader, static_cast<std::size_t>(length));
}

// Where one read starting at profile record `i` should end: it takes in the
// profile records close behind (what the index is for: over http a head
// costs a request or two). Entry offsets are relative to `base`; `first` is
// record i, already rebased.
std::uint64_t read_run_end(const std::vector<ChannelRecord>& entries, std::size_t i,
                           std::uint64_t base, const ChannelRecord& first) {
  std::uint64_t run_end = first.offset + first.size;
  for (std::size_t k = i + 1; k < entries.size(); ++k) {
    const auto& next = entries[k];
    if (next.kind == ChannelRecordKind::PipelineHints)
      continue;
    const std::uint64_t next_end = base + next.offset + next.size;
    if (base + next.offset > run_end + kReadAhead ||
        next_end - first.offset > kChannelMaxRecordBytes)
      break;
    run_end = next_end;
  }
  return run_end;
}

// Decodes the profile record `e` from `bytes`, checks it against its index
// entry and adds it to `head`.
Result<void> add_indexed_record(ChannelHead& head, Seen& seen, ByteSpan bytes,
                                const ChannelRecord& e, const std::string& name) {
  const std::string_view want =
      e.kind == ChannelRecordKind::BootProfile ? kBootMagic : kDeviceMagic;
  if (!has_magic(bytes, want))
    return Error(name + ": the bytes there are not a " + std::string(want) + " record");
  std::size_t used = 0;
  std::optional<BootProfile> boot;
  std::optional<DeviceProfile> device;
  if (e.kind == ChannelRecordKind::BootProfile)
    boot = TRY_CTX(decode_boot_profile_prefix(bytes, &used), name);
  else
    device = TRY_CTX(decode_device_profile_prefix(bytes, &used), name);
  const std::string& decoded_id = boot ? boot->id : device->id;
  if (used != e.size)
    return Error(name + ": the record there is " + std::to_string(used) +
                 " bytes, the index says " + std::to_string(e.size));
  if (decoded_id != e.id)
    return Error(name + ": the record there is '" + decoded_id + "'");
  if (boot)
    TRY(add_boot(head, seen, std::move(*boot), e.offset, e.size));
  else
    TRY(add_device(head, seen, std::move(*device), e.offset, e.size));
  return ok();
}

Result<ChannelHead> read_indexed(HeadReader& in) {
  ChannelHead head;
  head.indexed = true;
  head.total = in.total();
  const ByteSpan payload = TRY(read_index_payload(in));
  auto entries = TRY_CTX(decode_index_payload(payload), "channel: FBCHIDX0");
  const std::uint64_t base = kIndexHeader + payload.size();
  TRY_CTX(validate_index(entries, in.total() - base), "channel");
  head.index_size = base;
  Seen seen;
  std::uint64_t fetched_until = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto e = std::move(entries[i]);
    e.offset += base;
    const std::string name = at(e.offset) + ": " + entry_name(i, e);
    if (e.kind == ChannelRecordKind::PipelineHints) {
      e.payload_offset += base;
      TRY(add_hints(head, seen, std::move(e)));
      continue;
    }
    if (e.size > kChannelMaxRecordBytes)
      return Error(name + ": " + std::to_string(e.size) + " bytes exceeds the " +
                   std::to_string(kChannelMaxRecordBytes >> 20) + " MiB record limit");
    if (e.offset + e.size > fetched_until) {
      const std::uint64_t run_end = read_run_end(entries, i, base, e);
      // Eight bytes more: the magic of a block-hash table that may follow
      // the records rides in the same read.
      const std::uint64_t peek = std::min<std::uint64_t>(8, in.total() - run_end);
      TRY(in.window(e.offset, static_cast<std::size_t>(run_end + peek - e.offset)));
      fetched_until = run_end;
    }
    const ByteSpan bytes = TRY(in.window(e.offset, static_cast<std::size_t>(e.size)));
    TRY(add_indexed_record(head, seen, bytes, e, name));
  }
  head.consumed = TRY(read_trailing_block_tables(
      in, head.records.empty() ? base : head.records.back().offset + head.records.back().size, head));
  return head;
}

void add_stage_identities(const PipelineSource& s, std::set<std::string>& out) {
  for (const PipelineSource* p = &s; p; p = p->source ? &**p->source : nullptr)
    out.insert(pipeline::stage_identity(*p));
}

} // namespace

std::string_view channel_record_kind_name(ChannelRecordKind kind) {
  switch (kind) {
  case ChannelRecordKind::BootProfile:
    return "boot_profile";
  case ChannelRecordKind::DeviceProfile:
    return "device_profile";
  case ChannelRecordKind::PipelineHints:
    return "pipeline_hints";
  }
  return "?";
}

bool starts_with_channel_record(ByteSpan prefix) {
  return has_magic(prefix, kIndexMagic) || has_magic(prefix, kBootMagic) ||
         has_magic(prefix, kDeviceMagic) || has_magic(prefix, kHintsMagic);
}

Result<ChannelHead> read_channel_head(pipeline::BlockSource& source) {
  HeadReader in(source);
  if (in.total() >= 8 && has_magic(TRY(in.window(0, 8)), kIndexMagic))
    return read_indexed(in);
  return read_sequential(in);
}

Result<pipeline::PipelineHints> read_channel_hints(pipeline::BlockSource& source,
                                                   const ChannelHead& head,
                                                   const std::set<std::string>* identities) {
  std::vector<pipeline::PipelineHints> parts;
  for (const auto& r : head.records) {
    if (r.kind != ChannelRecordKind::PipelineHints)
      continue;
    if (identities &&
        std::none_of(r.identities.begin(), r.identities.end(),
                     [&](const std::string& id) { return identities->count(id) > 0; }))
      continue;
    const std::string name = at(r.offset) + ": FBPHINT0 record";
    if (r.size > kMaxHintRecordBytes)
      return Error(name + ": " + std::to_string(r.size) + " bytes exceeds the " +
                   std::to_string(kMaxHintRecordBytes >> 20) + " MiB limit");
    Bytes bytes =
        TRY_CTX(pipeline::read_bytes(source, r.offset, static_cast<std::size_t>(r.size)), name);
    if (!has_magic(bytes, kHintsMagic))
      return Error(name + ": the bytes there are not a FBPHINT0 record");
    std::size_t used = 0;
    auto hints = TRY_CTX(decode_pipeline_hints_record(bytes, &used), name);
    const std::uint64_t payload_at =
        r.offset + kHintsHeader + load_le<std::uint32_t>(bytes.data() + 10);
    if (used != r.size || payload_at != r.payload_offset ||
        used - (payload_at - r.offset) != r.payload_size)
      return Error(name + ": its header does not match the index (record of " +
                   std::to_string(used) + " bytes, payload at " + std::to_string(payload_at) + ")");
    std::vector<std::string> ids;
    for (const auto& e : hints.entries)
      ids.push_back(e.pipeline_identity);
    if (ids != r.identities)
      return Error(name + ": its pipeline identities differ from the ones the " +
                   std::string(head.indexed ? "index" : "record's metadata") + " lists");
    parts.push_back(std::move(hints));
  }
  return TRY_CTX(pipeline::merge_pipeline_hints(parts), "channel");
}

std::set<std::string> boot_profile_pipeline_identities(const BootProfile& profile,
                                                       bool with_rootfs) {
  std::set<std::string> out;
  if (with_rootfs)
    add_stage_identities(profile.rootfs.source, out);
  if (profile.kernel)
    add_stage_identities(profile.kernel->source.source, out);
  if (profile.dtbs)
    add_stage_identities(profile.dtbs->source.source, out);
  return out;
}

Result<Bytes> encode_channel_index(const std::vector<ChannelRecord>& records) {
  std::uint64_t region = 0;
  for (const auto& r : records)
    region = std::max(region, r.offset + r.size);
  TRY(validate_index(records, region));
  postcard::Writer w;
  w.varint(records.size());
  for (const auto& r : records) {
    w.varint(static_cast<std::uint32_t>(variant_of(r.kind)));
    w.varint(r.offset);
    w.varint(r.size);
    if (r.kind == ChannelRecordKind::PipelineHints) {
      w.varint(r.payload_offset);
      w.varint(r.payload_size);
      w.varint(r.identities.size());
      for (const auto& id : r.identities)
        w.string(id);
    } else {
      w.string(r.id);
    }
  }
  if (w.data().size() > kChannelMaxIndexBytes)
    return Error("FBCHIDX0: the index would be " + std::to_string(w.data().size()) +
                 " bytes, over the " + std::to_string(kChannelMaxIndexBytes >> 20) + " MiB limit");
  Bytes out;
  append(out, kIndexMagic);
  append_le<std::uint16_t>(out, 0);
  append_le<std::uint32_t>(out, static_cast<std::uint32_t>(w.data().size()));
  append(out, w.data());
  return out;
}

Result<Bytes> index_for_channel(pipeline::BlockSource& channel) {
  auto head = TRY(read_channel_head(channel));
  if (head.indexed)
    return Error("channel " + channel.describe() + " already starts with a FBCHIDX0 index",
                 ErrorKind::Usage);
  if (head.records.empty())
    return Error("channel " + channel.describe() +
                     " has no records to index (it is a bare artifact)",
                 ErrorKind::Usage);
  return encode_channel_index(head.records);
}

namespace {

// Copies `source` to `out` in bounded chunks (an artifact can be gigabytes).
Result<void> copy_source(pipeline::BlockSource& source, AtomicFile& out) {
  Bytes chunk(std::size_t{1} << 20);
  for (std::uint64_t at_ = 0; at_ < source.size();) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), source.size() - at_));
    TRY(source.read_at(at_, std::span(chunk).first(n)));
    TRY(out.write(ByteSpan(chunk).first(n)));
    at_ += n;
  }
  return ok();
}

} // namespace

Result<void> pack_channel(const ChannelPackRequest& request, const std::filesystem::path& output) {
  TRY(check_output_path(output));
  if (request.record_files.empty())
    return Error("channel pack: no record files", ErrorKind::Usage);
  Bytes records, tables;
  for (const auto& file : request.record_files) {
    Bytes bytes = TRY(read_file(file, std::uint64_t{kChannelMaxRecords} * kChannelMaxRecordBytes));
    if (!starts_with_channel_record(bytes)) {
      // A Device Profile source is compiled here (a distro lists its DevPro
      // YAML files as they are); other text must be compiled first.
      const std::string_view text = as_chars(bytes);
      if (TRY(classify_source(text, file.string())) != SourceKind::DeviceProfileYaml)
        return Error(file.string() +
                         ": a Boot Profile manifest; compile it first (fastboop-profile compile)",
                     ErrorKind::Usage);
      const DeviceProfile profile = TRY(parse_device_profile(text, file.string()));
      bytes = TRY(encode_device_profile(profile));
    }
    auto one = pipeline::make_memory_source(bytes, file.string());
    auto head = TRY_CTX(read_channel_head(*one), file.string());
    if (head.records.empty())
      return Error(file.string() +
                       ": not compiled records (FBOODEVP, FBOOPROF, FBPHINT0); compile it first",
                   ErrorKind::Usage);
    if (head.has_artifact())
      return Error(file.string() + ": " + std::to_string(head.total - head.consumed) +
                   " byte(s) after its records at byte offset " + std::to_string(head.consumed) +
                   " (a channel with an artifact cannot be packed again)");
    // Records first, block-hash tables after all of them (an index lists
    // only records; the reader takes the tables that follow them).
    for (const auto& r : head.records)
      append(records, ByteSpan(bytes).subspan(static_cast<std::size_t>(r.offset), static_cast<std::size_t>(r.size)));
    for (const auto& [offset, size] : head.block_table_spans)
      append(tables, ByteSpan(bytes).subspan(static_cast<std::size_t>(offset), static_cast<std::size_t>(size)));
  }
  append(records, tables);
  auto all = pipeline::make_memory_source(records, "records");
  auto head = TRY_CTX(read_channel_head(*all), "channel pack");
  pipeline::BlockSourcePtr artifact;
  if (request.artifact) {
    artifact = TRY(pipeline::open_file_source(*request.artifact));
    Bytes magic(static_cast<std::size_t>(std::min<std::uint64_t>(artifact->size(), 8)));
    TRY(artifact->read_at(0, magic));
    if (starts_with_channel_record(magic))
      return Error("--artifact " + request.artifact->string() +
                       " starts with a record magic; it would be read as part of the head",
                   ErrorKind::Usage);
  }
  Bytes index;
  if (request.indexing == ChannelIndexing::Index)
    index = TRY(encode_channel_index(head.records));
  auto out = TRY(AtomicFile::create(output));
  TRY(out.write(index));
  TRY(out.write(records));
  if (artifact)
    TRY(copy_source(*artifact, out));
  return out.commit();
}

Result<void> index_channel_file(const std::filesystem::path& input,
                                const std::filesystem::path& output) {
  TRY(check_output_path(output));
  auto in = TRY(pipeline::open_file_source(input));
  const Bytes index = TRY_CTX(index_for_channel(*in), input.string());
  auto out = TRY(AtomicFile::create(output));
  TRY(out.write(index));
  TRY(copy_source(*in, out));
  return out.commit();
}

Result<ChannelShow> show_channel(pipeline::BlockSource& channel, std::string_view origin,
                                 bool json) {
  auto head = TRY_CTX(read_channel_head(channel), std::string(origin));
  Bytes records;
  for (const auto& r : head.records) {
    if (r.size > kMaxHintRecordBytes)
      return Error(at(r.offset) + ": record of " + std::to_string(r.size) + " bytes exceeds the " +
                   std::to_string(kMaxHintRecordBytes >> 20) + " MiB limit of show");
    append(records, TRY(pipeline::read_bytes(channel, r.offset, static_cast<std::size_t>(r.size))));
  }
  for (const auto& [offset, size] : head.block_table_spans)
    append(records, TRY(pipeline::read_bytes(channel, offset, static_cast<std::size_t>(size))));
  ChannelShow out;
  if (!records.empty())
    out.records = TRY(show_bytes(records, origin, json ? ShowFormat::Json : ShowFormat::Yaml));
  out.summary = std::string(origin) + ": channel, " + (head.indexed ? "indexed, " : "") +
                std::to_string(head.records.size()) + " record(s)";
  if (head.has_artifact())
    out.summary += ", artifact of " + std::to_string(head.total - head.consumed) +
                   " bytes at byte offset " + std::to_string(head.consumed);
  else
    out.summary += ", no artifact";
  return out;
}

} // namespace fastboop::profiles
