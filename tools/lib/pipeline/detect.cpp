// Auto-detection of a bare path or URL: layers are peeled by their magic
// (xz, android sparse, GPT, MBR) until a filesystem superblock or unknown
// data remains. The chain found is returned as a PipelineSource too, so it
// can be printed or turned into a Boot Profile.
#include "pipeline/pipeline.hpp"

#include "common/log.hpp"

#include <cstring>

namespace fastboop::pipeline {

namespace {

using profiles::PipelineSource;
using profiles::StageKind;

constexpr int kMaxDetectDepth = 16;

Result<Bytes> head(BlockSource& s, std::uint64_t offset, std::size_t n) {
  if (offset >= s.size())
    return Bytes{};
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, s.size() - offset));
  Bytes b(n);
  TRY(s.read_at(offset, b));
  return b;
}

bool is_fat_boot_sector(const Bytes& b) {
  if (b.size() < 512 || b[510] != 0x55 || b[511] != 0xAA)
    return false;
  bool jump = b[0] == 0xEB || b[0] == 0xE9;
  std::uint16_t bps = load_le<std::uint16_t>(&b[11]);
  std::uint8_t spc = b[13];
  bool bpb = (bps == 512 || bps == 1024 || bps == 2048 || bps == 4096) && spc != 0 && (spc & (spc - 1)) == 0 &&
             load_le<std::uint16_t>(&b[14]) != 0 && b[16] != 0;
  bool label = std::memcmp(&b[54], "FAT", 3) == 0 || std::memcmp(&b[82], "FAT32", 5) == 0;
  return jump && bpb && label;
}

bool mbr_looks_valid(const Bytes& b) {
  if (b.size() < 512 || b[510] != 0x55 || b[511] != 0xAA)
    return false;
  bool any = false;
  for (int i = 0; i < 4; ++i) {
    const std::uint8_t* e = &b[446 + 16 * i];
    if (e[0] != 0 && e[0] != 0x80)
      return false;
    any |= e[4] != 0 && load_le<std::uint32_t>(e + 12) != 0;
  }
  return any;
}

PipelineSource wrap(StageKind kind, PipelineSource inner) {
  PipelineSource s;
  s.kind = kind;
  s.source = Box<PipelineSource>(std::move(inner));
  return s;
}

// A non-owning view, for probing partitions without giving up the disk.
class BorrowedSource final : public BlockSource {
public:
  explicit BorrowedSource(BlockSource& s) : m_source(s) {}
  std::uint64_t size() const override { return m_source.size(); }
  std::string describe() const override { return m_source.describe(); }
  Result<void> read_at(std::uint64_t o, std::span<std::uint8_t> d) override { return m_source.read_at(o, d); }

private:
  BlockSource& m_source;
};

struct Candidate {
  std::uint32_t index;
  std::uint64_t size;
  std::string label;
};

// The terminal of a bare path or URL; with an expected digest it gets that
// content (local artifact, eager check of a file, digest-keyed http cache).
Result<BlockSourcePtr> open_leaf(PipelineSource& chain, const DetectOptions& options) {
  if (!options.expect_digest)
    return open_pipeline(chain, options.open);
  const std::string& digest = *options.expect_digest;
  if (auto hit = options.open.local_artifacts.find_digest(digest)) {
    chain.content = profiles::ContentDigest{digest, hit->second};
    return open_pipeline(chain, options.open);
  }
  if (chain.kind == StageKind::File) {
    BlockSourcePtr f = TRY(open_file_source(chain.location));
    chain.content = profiles::ContentDigest{digest, f->size()};
    TRY(verify_content(*f, *chain.content, "file(" + chain.location + ")"));
    return f;
  }
  HttpOptions h;
  h.cache_dir = options.open.cache_dir.empty() ? default_cache_dir() : options.open.cache_dir;
  h.network = options.open.network.value_or(offline_from_env() ? NetworkMode::Offline : NetworkMode::Online);
  h.on_fetch = options.open.on_fetch;
  h.set_timeouts(options.open.http_timeouts ? *options.open.http_timeouts
                                            : TRY(http_timeouts_from_env()));
  h.content_digest = digest;
  auto src = TRY(open_http(chain.location, h));
  chain.content = profiles::ContentDigest{digest, src->size()};
  if (options.open.digest_check == DigestCheck::Upfront)
    TRY(verify_content(*src, *chain.content, "http(" + chain.location + ")"));
  else
    log::warn("http(" + chain.location + "): --unverified-ranged-reads: its bytes are used before its SHA-512 " +
              "is checked (only once every byte has been read), so what is built or served from them is not " +
              "verified");
  return BlockSourcePtr(std::move(src));
}

} // namespace

std::string_view filesystem_type_name(FilesystemType t) {
  switch (t) {
  case FilesystemType::Erofs: return "erofs";
  case FilesystemType::Ext4: return "ext4";
  case FilesystemType::Fat: return "fat";
  case FilesystemType::Iso9660: return "iso9660";
  case FilesystemType::Squashfs: return "squashfs";
  }
  return "?";
}

Result<std::optional<FilesystemType>> probe_filesystem(BlockSource& s) {
  // The one superblock-magic rule; filesystems::detect_filesystem maps it.
  Bytes b = TRY(head(s, 0, 2048));
  if (b.size() >= 4 && std::memcmp(b.data(), "hsqs", 4) == 0)
    return std::optional(FilesystemType::Squashfs);
  if (b.size() >= 1028 && load_le<std::uint32_t>(&b[1024]) == 0xE0F5E1E2)
    return std::optional(FilesystemType::Erofs);
  if (b.size() >= 1082 && load_le<std::uint16_t>(&b[1024 + 56]) == 0xEF53)
    return std::optional(FilesystemType::Ext4);
  Bytes iso = TRY(head(s, 0x8001, 5));
  if (iso.size() == 5 && std::memcmp(iso.data(), "CD001", 5) == 0)
    return std::optional(FilesystemType::Iso9660);
  if (is_fat_boot_sector(b))
    return std::optional(FilesystemType::Fat);
  return std::optional<FilesystemType>();
}

Result<DetectedTerminal> open_detect_terminal(const std::string& location, const DetectOptions& options) {
  DetectedTerminal t;
  t.chain.kind = location.starts_with("http://") || location.starts_with("https://") ? StageKind::Http : StageKind::File;
  t.chain.location = location;
  t.source = TRY(open_leaf(t.chain, options));
  return t;
}

Result<DetectedPipeline> detect_pipeline(const std::string& location, const DetectOptions& options) {
  auto terminal = TRY(open_detect_terminal(location, options));
  return detect_layers(std::move(terminal.source), std::move(terminal.chain), options);
}

namespace {

// Opens the compression or sparse layer `b` starts with in place of `cur`;
// false when it starts with neither.
Result<bool> unwrap_layer(const Bytes& b, BlockSourcePtr& cur, PipelineSource& chain,
                          DetectedPipeline& out, const DetectOptions& options) {
  static const std::uint8_t xz_magic[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
  if (b.size() >= 6 && std::memcmp(b.data(), xz_magic, 6) == 0) {
    XzOptions xo;
    xo.cache_dir = options.open.cache_dir.empty() ? default_cache_dir() : options.open.cache_dir;
    cur = TRY(open_xz(std::move(cur), xo));
    chain = wrap(StageKind::Xz, std::move(chain));
    out.layers.insert(out.layers.begin(), "xz");
    return true;
  }
  if (b.size() >= 4 && load_le<std::uint32_t>(b.data()) == 0xED26FF3A) {
    cur = TRY(open_android_sparse(std::move(cur)));
    chain = wrap(StageKind::AndroidSparse, std::move(chain));
    out.layers.insert(out.layers.begin(), "android_sparseimg");
    return true;
  }
  return false;
}

// Opens the live root inside the ISO `cur` in its place; false when the ISO
// has no live layout.
Result<bool> enter_live_root(BlockSourcePtr& cur, PipelineSource& chain, DetectedPipeline& out) {
  auto live = TRY_CTX(detect_live_layout(*cur), "detecting a live layout in " + cur->describe());
  if (!live)
    return false;
  live->iso = chain;
  PipelineSource sel = wrap(StageKind::Iso9660, std::move(chain));
  sel.iso_path = live->root_path;
  chain = std::move(sel);
  live->opened_iso = std::shared_ptr<BlockSource>(std::move(cur));
  cur = TRY(open_iso9660_file(make_shared_view(live->opened_iso), live->root_path));
  out.layers.insert(out.layers.begin(), "iso9660[" + live->root_path + "]");
  out.live = std::move(live);
  return true;
}

Result<std::vector<Candidate>> list_partitions(BlockSource& disk, bool gpt) {
  std::vector<Candidate> parts;
  if (gpt) {
    GptTable t = TRY(read_gpt(disk, std::nullopt));
    for (const auto& p : t.partitions)
      parts.push_back({p.index, (p.last_lba - p.first_lba + 1) * t.lba_size, p.label});
  } else {
    MbrTable t = TRY(read_mbr(disk));
    for (const auto& p : t.partitions)
      if (p.type != 0x05 && p.type != 0x0F && p.type != 0x85)
        parts.push_back({p.index, p.sectors * 512, {}});
  }
  return parts;
}

std::optional<Candidate> requested_partition(const std::vector<Candidate>& parts,
                                             const DetectOptions& options) {
  std::optional<Candidate> pick;
  for (const auto& c : parts) {
    if (options.partlabel && c.label == *options.partlabel)
      pick = c;
    if (options.partition_index && c.index == *options.partition_index)
      pick = c;
  }
  return pick;
}

// Probe each partition through a slice of the disk; keep the largest recognised one.
std::optional<Candidate> largest_recognised(BlockSource& disk, bool gpt,
                                            const std::vector<Candidate>& parts) {
  std::optional<Candidate> pick;
  for (const auto& c : parts) {
    auto borrowed = std::make_unique<BorrowedSource>(disk);
    auto view = gpt ? open_gpt_partition(std::move(borrowed), GptSelector{.index = c.index})
                    : open_mbr_partition(std::move(borrowed), MbrSelector{.index = c.index});
    if (!view)
      continue;
    auto fs = probe_filesystem(**view);
    if (fs && *fs && (!pick || c.size > pick->size))
      pick = c;
  }
  return pick;
}

// Which partition: the one asked for, else the largest with a filesystem.
Result<Candidate> pick_partition(BlockSource& disk, bool gpt, const DetectOptions& options) {
  std::vector<Candidate> parts = TRY(list_partitions(disk, gpt));
  std::optional<Candidate> pick = requested_partition(parts, options);
  if ((options.partlabel || options.partition_index) && !pick)
    return Error("detect: no partition matches the requested " +
                 (options.partlabel ? "partlabel '" + *options.partlabel + "'"
                                    : "index " + std::to_string(*options.partition_index)) +
                 " in " + disk.describe());
  if (!pick)
    pick = largest_recognised(disk, gpt, parts);
  if (!pick)
    return Error(
        "detect: " + std::string(gpt ? "GPT" : "MBR") + " disk " + disk.describe() +
        " has no partition with a recognised filesystem; choose one by partlabel or index");
  return std::move(*pick);
}

} // namespace

Result<DetectedPipeline> detect_layers(BlockSourcePtr cur, PipelineSource chain, const DetectOptions& options) {
  DetectedPipeline out;
  out.layers.push_back(cur->describe());
  for (int depth = 0; depth < kMaxDetectDepth; ++depth) {
    Bytes b = TRY_CTX(head(*cur, 0, 4096 + 8), "detecting the format of " + cur->describe());
    if (TRY(unwrap_layer(b, cur, chain, out, options)))
      continue;
    out.filesystem = TRY(probe_filesystem(*cur));
    if (out.filesystem == FilesystemType::Iso9660 && !out.live) {
      if (TRY(enter_live_root(cur, chain, out)))
        continue;
    }
    if (out.filesystem)
      break;
    bool gpt = (b.size() >= 520 && std::memcmp(&b[512], "EFI PART", 8) == 0) ||
               (b.size() >= 4104 && std::memcmp(&b[4096], "EFI PART", 8) == 0);
    bool mbr = !gpt && mbr_looks_valid(b);
    if (!gpt && !mbr)
      break;
    const Candidate pick = TRY(pick_partition(*cur, gpt, options));
    PipelineSource sel = wrap(gpt ? StageKind::Gpt : StageKind::Mbr, std::move(chain));
    sel.index = pick.index;
    chain = std::move(sel);
    cur = gpt ? TRY(open_gpt_partition(std::move(cur), GptSelector{.index = pick.index}))
              : TRY(open_mbr_partition(std::move(cur), MbrSelector{.index = pick.index}));
    out.layers.insert(out.layers.begin(),
                      std::string(gpt ? "gpt" : "mbr") + "[index=" + std::to_string(pick.index) +
                          (pick.label.empty() ? "" : ",partlabel=" + pick.label) + "]");
  }
  out.pipeline = std::move(chain);
  out.source = std::move(cur);
  return out;
}

} // namespace fastboop::pipeline
