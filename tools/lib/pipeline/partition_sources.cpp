// MBR and GPT partition selectors (spec §3.3). The tables are parsed strictly:
// boot signature, boot indicators, GPT header and entry-array CRC32s, and every
// selected range must lie inside the disk.
#include "pipeline/sources.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <zlib.h>

namespace fastboop::pipeline {

namespace {

bool is_pow2(std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::uint32_t crc32_of(ByteSpan data) {
  uLong c = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; the spans here are bounded well below 4 GiB.
  return static_cast<std::uint32_t>(crc32(c, data.data(), static_cast<uInt>(data.size())));
}

std::string guid_text(const std::uint8_t* g) {
  char b[40];
  std::snprintf(b, sizeof b, "%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X",
                load_le<std::uint32_t>(g), load_le<std::uint16_t>(g + 4),
                load_le<std::uint16_t>(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
  return b;
}

// "32 hex digits, dashes anywhere ignored" -> the 16 on-disk (mixed-endian) bytes.
Result<std::array<std::uint8_t, 16>> parse_guid(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (c == '-')
      continue;
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return Error("gpt: partuuid '" + std::string(text) + "' contains '" + std::string(1, c) + "' (want 32 hex digits)");
    digits.push_back(c);
  }
  if (digits.size() != 32)
    return Error("gpt: partuuid '" + std::string(text) + "' has " + std::to_string(digits.size()) + " hex digits (want 32)");
  std::uint8_t raw[16];
  for (int i = 0; i < 16; ++i)
    raw[i] = static_cast<std::uint8_t>(std::stoul(digits.substr(i * 2, 2), nullptr, 16));
  std::array<std::uint8_t, 16> g{};
  const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; ++i)
    g[i] = raw[order[i]];
  return g;
}

std::string utf16le_name(const std::uint8_t* p, std::size_t bytes) {
  std::vector<std::uint16_t> units(bytes / 2);
  for (std::size_t i = 0; i < units.size(); ++i)
    units[i] = load_le<std::uint16_t>(p + 2 * i);
  return utf16_to_utf8(units);
}

struct RawGpt {
  GptTable table;
  std::vector<std::array<std::uint8_t, 16>> unique_guids; // parallel to table.partitions
};

constexpr std::uint64_t kMaxEntryArrayBytes = 16u << 20;

Result<RawGpt> read_gpt_at(BlockSource& inner, std::uint32_t lba) {
  if (inner.size() < 2ull * lba)
    return layer_error("gpt", lba, "disk of " + std::to_string(inner.size()) + " bytes has no LBA1");
  Bytes hdr(lba);
  TRY_CTX(inner.read_at(lba, hdr), "gpt: header");
  if (std::memcmp(hdr.data(), "EFI PART", 8) != 0)
    return layer_error("gpt", lba, "no 'EFI PART' signature at LBA1 (lba_size " + std::to_string(lba) + ")");
  std::uint32_t header_size = load_le<std::uint32_t>(&hdr[12]);
  if (header_size < 92 || header_size > lba)
    return layer_error("gpt", lba + 12, "header size " + std::to_string(header_size) + " out of range 92.." + std::to_string(lba));
  std::uint32_t want_crc = load_le<std::uint32_t>(&hdr[16]);
  Bytes copy(hdr.begin(), hdr.begin() + header_size);
  std::memset(&copy[16], 0, 4);
  std::uint32_t got_crc = crc32_of(copy);
  if (got_crc != want_crc)
    return layer_error("gpt", lba + 16, "header CRC32 mismatch (stored " + std::to_string(want_crc) + ", computed " + std::to_string(got_crc) + ")");
  std::uint64_t entries_lba = load_le<std::uint64_t>(&hdr[72]);
  std::uint32_t count = load_le<std::uint32_t>(&hdr[80]);
  std::uint32_t entry_size = load_le<std::uint32_t>(&hdr[84]);
  std::uint32_t entries_crc = load_le<std::uint32_t>(&hdr[88]);
  if (entry_size < 128 || entry_size % 8 != 0)
    return layer_error("gpt", lba + 84, "partition entry size " + std::to_string(entry_size) + " invalid");
  std::uint64_t array_bytes = std::uint64_t{count} * entry_size;
  if (array_bytes > kMaxEntryArrayBytes)
    return layer_error("gpt", lba + 80, "partition entry array of " + std::to_string(array_bytes) + " bytes is absurd");
  if (entries_lba > inner.size() / lba || entries_lba * lba + array_bytes > inner.size())
    return layer_error("gpt", lba + 72, "partition entry array lies past the end of the disk");
  Bytes arr(static_cast<std::size_t>(array_bytes));
  TRY_CTX(inner.read_at(entries_lba * lba, arr), "gpt: entry array");
  std::uint32_t got_arr = crc32_of(arr);
  if (got_arr != entries_crc)
    return layer_error("gpt", entries_lba * lba, "partition entry array CRC32 mismatch (stored " + std::to_string(entries_crc) + ", computed " + std::to_string(got_arr) + ")");
  RawGpt out;
  out.table.lba_size = lba;
  static const std::uint8_t zero[16] = {};
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::uint8_t* e = &arr[std::size_t{i} * entry_size];
    if (std::memcmp(e, zero, 16) == 0)
      continue;
    GptPartition p;
    p.index = i;
    p.type_guid = guid_text(e);
    p.partuuid = guid_text(e + 16);
    p.first_lba = load_le<std::uint64_t>(e + 32);
    p.last_lba = load_le<std::uint64_t>(e + 40);
    p.label = utf16le_name(e + 56, std::min<std::size_t>(72, entry_size - 56));
    std::array<std::uint8_t, 16> g{};
    std::memcpy(g.data(), e + 16, 16);
    out.table.partitions.push_back(std::move(p));
    out.unique_guids.push_back(g);
  }
  return out;
}

Result<RawGpt> probe_gpt(BlockSource& inner, std::optional<std::uint32_t> lba_size) {
  if (lba_size) {
    if (!is_pow2(*lba_size) || *lba_size < 512)
      return Error("gpt: lba_size " + std::to_string(*lba_size) + " is not a power of two >= 512");
    return read_gpt_at(inner, *lba_size);
  }
  std::optional<Error> first;
  for (std::uint32_t lba : {512u, 4096u}) {
    if (inner.size() < 2ull * lba)
      continue;
    std::uint8_t sig[8];
    TRY_CTX(inner.read_at(lba, sig), "gpt: probe");
    if (std::memcmp(sig, "EFI PART", 8) == 0)
      return read_gpt_at(inner, lba);
  }
  return layer_error("gpt", 512, "no 'EFI PART' signature at LBA1 for lba_size 512 or 4096");
}

Result<BlockSourcePtr> slice_lbas(BlockSourcePtr inner, std::uint64_t first, std::uint64_t count,
                                  std::uint32_t lba, std::string description) {
  if (count == 0)
    return Error(description + ": partition is empty");
  if (first > inner->size() / lba || count > inner->size() / lba - first)
    return Error(description + ": partition (LBA " + std::to_string(first) + ", " + std::to_string(count) +
                 " sectors of " + std::to_string(lba) + ") lies past the end of the disk (" +
                 std::to_string(inner->size()) + " bytes)");
  return open_slice(std::move(inner), first * lba, count * lba, std::move(description));
}

} // namespace

Result<GptTable> read_gpt(BlockSource& inner, std::optional<std::uint32_t> lba_size) {
  RawGpt raw = TRY(probe_gpt(inner, lba_size));
  return std::move(raw.table);
}

Result<BlockSourcePtr> open_gpt_partition(BlockSourcePtr inner, const GptSelector& sel) {
  int n = (sel.partlabel ? 1 : 0) + (sel.partuuid ? 1 : 0) + (sel.index ? 1 : 0);
  if (n != 1)
    return Error("pipeline gpt step must specify exactly one selector (partlabel, partuuid or index); found " + std::to_string(n));
  RawGpt raw = TRY(probe_gpt(*inner, sel.lba_size));
  const auto& parts = raw.table.partitions;
  std::optional<std::size_t> found;
  std::string what;
  if (sel.partlabel) {
    std::string want(trim(*sel.partlabel));
    what = "partlabel=" + want;
    if (want.empty())
      return Error("gpt: partlabel is blank");
    for (std::size_t i = 0; i < parts.size() && !found; ++i)
      if (parts[i].label == want)
        found = i;
  } else if (sel.partuuid) {
    what = "partuuid=" + *sel.partuuid;
    auto want = TRY(parse_guid(*sel.partuuid));
    for (std::size_t i = 0; i < parts.size() && !found; ++i)
      if (raw.unique_guids[i] == want)
        found = i;
  } else {
    what = "index=" + std::to_string(*sel.index);
    for (std::size_t i = 0; i < parts.size() && !found; ++i)
      if (parts[i].index == *sel.index)
        found = i;
    if (!found)
      return Error("gpt[" + what + "]: entry " + std::to_string(*sel.index) + " is unused or beyond the entry array");
  }
  if (!found) {
    std::string have;
    for (const auto& p : parts)
      have += (have.empty() ? "" : ", ") + std::to_string(p.index) + ":'" + p.label + "'";
    return Error("gpt[" + what + "]: no matching partition (entries: " + have + ")");
  }
  const GptPartition& p = parts[*found];
  if (p.last_lba < p.first_lba)
    return Error("gpt[" + what + "]: entry " + std::to_string(p.index) + " ends before it starts");
  return slice_lbas(std::move(inner), p.first_lba, p.last_lba - p.first_lba + 1, raw.table.lba_size,
                    "gpt[" + what + "]");
}

Result<MbrTable> read_mbr(BlockSource& inner) {
  if (inner.size() < 512)
    return layer_error("mbr", 0, "disk of " + std::to_string(inner.size()) + " bytes has no MBR");
  Bytes s(512);
  TRY_CTX(inner.read_at(0, s), "mbr: sector 0");
  if (s[510] != 0x55 || s[511] != 0xAA)
    return layer_error("mbr", 510, "missing boot signature 55 AA");
  MbrTable t;
  t.disk_signature = load_le<std::uint32_t>(&s[0x1B8]);
  for (std::uint32_t i = 0; i < 4; ++i) {
    const std::uint8_t* e = &s[446 + 16 * i];
    if (e[0] != 0x00 && e[0] != 0x80)
      return layer_error("mbr", 446 + 16 * i, "entry " + std::to_string(i) + " has boot indicator " + std::to_string(e[0]) + " (want 0x00 or 0x80)");
    MbrPartition p;
    p.index = i;
    p.type = e[4];
    p.start_lba = load_le<std::uint32_t>(e + 8);
    p.sectors = load_le<std::uint32_t>(e + 12);
    if (p.type != 0 && p.sectors != 0)
      t.partitions.push_back(p);
  }
  return t;
}

Result<BlockSourcePtr> open_mbr_partition(BlockSourcePtr inner, const MbrSelector& sel) {
  int n = (sel.partuuid ? 1 : 0) + (sel.index ? 1 : 0);
  if (n != 1)
    return Error("pipeline mbr step must specify exactly one selector (partuuid or index); found " + std::to_string(n));
  std::uint32_t lba = sel.lba_size.value_or(512);
  if (!is_pow2(lba))
    return Error("mbr: lba_size " + std::to_string(lba) + " is not a power of two");
  MbrTable t = TRY(read_mbr(*inner));
  std::uint32_t want = 0;
  std::string what;
  if (sel.index) {
    want = *sel.index;
    what = "index=" + std::to_string(want);
    if (want > 3)
      return Error("mbr[" + what + "]: only primary partitions 0..3 can be selected");
  } else {
    std::string text(trim(*sel.partuuid));
    what = "partuuid=" + text;
    auto dash = text.find('-');
    bool shape = dash == 8 && text.size() > 9 && text.size() <= 11 &&
                 std::all_of(text.begin(), text.end(), [](char c) { return c == '-' || std::isxdigit(static_cast<unsigned char>(c)); }) &&
                 text.find('-', 9) == std::string::npos;
    if (!shape)
      return Error("mbr: partuuid '" + text + "' is not of the form DDDDDDDD-NN");
    std::uint32_t sig = static_cast<std::uint32_t>(std::stoul(text.substr(0, 8), nullptr, 16));
    std::uint32_t num = static_cast<std::uint32_t>(std::stoul(text.substr(9), nullptr, 16));
    if (sig != t.disk_signature) {
      char b[16];
      std::snprintf(b, sizeof b, "%08x", t.disk_signature);
      return Error("mbr[" + what + "]: disk signature is " + b);
    }
    if (num < 1 || num > 4)
      return Error("mbr[" + what + "]: partition number must be 1..4");
    want = num - 1;
  }
  auto it = std::find_if(t.partitions.begin(), t.partitions.end(), [&](const MbrPartition& p) { return p.index == want; });
  if (it == t.partitions.end())
    return Error("mbr[" + what + "]: entry " + std::to_string(want) + " is unused");
  if (it->type == 0x05 || it->type == 0x0F || it->type == 0x85)
    return Error("mbr[" + what + "]: entry " + std::to_string(want) + " is an extended partition");
  return slice_lbas(std::move(inner), it->start_lba, it->sectors, lba, "mbr[" + what + "]");
}

} // namespace fastboop::pipeline
