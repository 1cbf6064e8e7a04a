// iso9660 stage: a file inside an ISO 9660 image is one contiguous extent (or
// several contiguous sections), so the stage is a slice of the ISO. We walk the
// directory records ourselves rather than through libarchive: libarchive's
// reader streams entries and never reports where an extent starts, and the
// slice needs exactly that offset. The walk reads only the volume descriptors
// and the directories on the path (a few sectors, so a ranged HTTP read of a
// published ISO fetches little), with Rock Ridge names (NM, CE continuations).
#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <cstring>

namespace fastboop::pipeline {

namespace {

constexpr std::uint64_t kSystemArea = 16;         // sectors before the first volume descriptor
constexpr int kMaxDescriptors = 64;               // volume descriptors scanned for the PVD
constexpr std::uint64_t kMaxDirBytes = 16u << 20; // one directory's extent
constexpr std::size_t kMaxComponents = 64;        // path depth
constexpr int kMaxContinuations = 16;             // Rock Ridge CE areas per record
constexpr std::size_t kMaxSections = 64;          // sections of one multi-extent file

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::uint32_t le32(const std::uint8_t* p) {
  return load_le<std::uint32_t>(p);
}

struct Volume {
  BlockSource& iso;
  std::uint32_t block_size = 2048;
  std::uint64_t root_lba = 0;
  std::uint64_t root_size = 0;
  std::string layer = "iso9660";

  Error bad(std::uint64_t offset, const std::string& what) const {
    return layer_error(layer, offset, what);
  }

  Result<Bytes> read_extent(std::uint64_t lba, std::uint64_t size) {
    std::uint64_t off = lba * block_size;
    if (off > iso.size() || size > iso.size() - off)
      return bad(off, "extent of " + std::to_string(size) + " bytes past the end of the image");
    return read_bytes(iso, off, static_cast<std::size_t>(size));
  }
};

Result<Volume> read_volume(BlockSource& iso) {
  Volume v{iso};
  for (int i = 0; i < kMaxDescriptors; ++i) {
    std::uint64_t off = (kSystemArea + static_cast<std::uint64_t>(i)) * 2048;
    if (off + 2048 > iso.size())
      break;
    Bytes d = TRY(read_bytes(iso, off, 2048));
    if (std::memcmp(&d[1], "CD001", 5) != 0)
      return v.bad(off, "no ISO 9660 volume descriptor");
    if (d[0] == 255)
      break;
    if (d[0] != 1)
      continue;
    std::uint16_t bs = load_le<std::uint16_t>(&d[128]);
    if (bs != 512 && bs != 1024 && bs != 2048)
      return v.bad(off + 128,
                   "logical block size " + std::to_string(bs) + " is not 512, 1024 or 2048");
    v.block_size = bs;
    const std::uint8_t* root = &d[156];
    if (root[0] < 34)
      return v.bad(off + 156, "root directory record too short");
    v.root_lba = le32(root + 2);
    v.root_size = le32(root + 10);
    return v;
  }
  return v.bad(kSystemArea * 2048, "no primary volume descriptor");
}

struct Record {
  std::string name; // Rock Ridge name, else the ISO name without ";version"
  bool rock_ridge = false;
  bool directory = false;
  bool more_sections = false; // multi-extent: another section follows
  bool zisofs = false;        // Rock Ridge ZF: the extent holds compressed data
  std::uint64_t lba = 0;
  std::uint64_t size = 0;
};

// Rock Ridge entries of one system use area, following CE continuations.
Result<void> parse_susp(Volume& v, ByteSpan area, Record& rec, int& continuations) {
  std::string nm;
  bool have_nm = false;
  while (area.size() >= 4) {
    std::uint8_t len = area[2];
    if (len < 4 || len > area.size())
      break;
    std::string_view sig(reinterpret_cast<const char*>(area.data()), 2);
    if (sig == "NM" && len >= 5) {
      std::uint8_t flags = area[4];
      if ((flags & 0x06) == 0) {
        nm.append(reinterpret_cast<const char*>(area.data() + 5), len - 5u);
        have_nm = true;
      }
    } else if (sig == "ZF") {
      rec.zisofs = true;
    } else if (sig == "CE" && len >= 28) {
      if (++continuations > kMaxContinuations)
        return v.bad(0, "too many Rock Ridge continuation areas");
      std::uint64_t lba = le32(area.data() + 4);
      std::uint64_t offset = le32(area.data() + 12);
      std::uint64_t length = le32(area.data() + 20);
      if (length > v.block_size || offset + length > v.block_size)
        return v.bad(lba * v.block_size, "Rock Ridge continuation area outside its block");
      Bytes block = TRY(v.read_extent(lba, v.block_size));
      Record cont;
      TRY(parse_susp(v, ByteSpan(block.data() + offset, static_cast<std::size_t>(length)), cont,
                     continuations));
      if (cont.rock_ridge) {
        nm += cont.name;
        have_nm = true;
      }
      rec.zisofs |= cont.zisofs;
    } else if (sig == "ST") {
      break;
    }
    area = area.subspan(len);
  }
  if (have_nm) {
    rec.name = rec.rock_ridge ? rec.name + nm : nm;
    rec.rock_ridge = true;
  }
  return ok();
}

// Every record of one directory except "." and "..".
Result<std::vector<Record>> read_directory(Volume& v, std::uint64_t lba, std::uint64_t size) {
  if (size > kMaxDirBytes)
    return v.bad(lba * v.block_size,
                 "directory of " + std::to_string(size) + " bytes exceeds the limit");
  Bytes dir = TRY(v.read_extent(lba, size));
  std::vector<Record> out;
  std::size_t pos = 0;
  while (pos < dir.size()) {
    std::uint8_t len = dir[pos];
    if (len == 0) { // records never cross a block: the rest of this block is padding
      pos = (pos / v.block_size + 1) * v.block_size;
      continue;
    }
    if (len < 34 || pos + len > dir.size())
      return v.bad(lba * v.block_size + pos,
                   "directory record of length " + std::to_string(len) + " overruns");
    const std::uint8_t* r = &dir[pos];
    std::uint8_t name_len = r[32];
    if (33u + name_len > len)
      return v.bad(lba * v.block_size + pos, "directory record name overruns the record");
    Record rec;
    rec.lba = le32(r + 2) + std::uint64_t{r[1]}; // data follows an extended attribute record
    rec.size = le32(r + 10);
    rec.directory = (r[25] & 0x02) != 0;
    rec.more_sections = (r[25] & 0x80) != 0;
    bool self_or_parent = name_len == 1 && (r[33] == 0 || r[33] == 1);
    if (!self_or_parent) {
      std::string name(reinterpret_cast<const char*>(r + 33), name_len);
      if (auto semi = name.find(';'); semi != std::string::npos)
        name.resize(semi);
      if (!name.empty() && name.back() == '.')
        name.pop_back();
      rec.name = std::move(name);
      std::size_t su = 33u + name_len + ((name_len % 2) == 0 ? 1u : 0u);
      if (su < len) {
        int continuations = 0;
        Record rr;
        TRY(parse_susp(v, ByteSpan(r + su, len - su), rr, continuations));
        if (rr.rock_ridge) {
          rec.name = std::move(rr.name);
          rec.rock_ridge = true;
        }
        rec.zisofs = rr.zisofs;
      }
      out.push_back(std::move(rec));
    }
    pos += len;
  }
  return out;
}

bool name_matches(const Record& r, std::string_view want) {
  return r.rock_ridge ? r.name == want : lower(r.name) == lower(std::string(want));
}

Result<std::vector<std::string>> split_path(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    std::string_view c = path.substr(start, slash == std::string_view::npos ? std::string_view::npos
                                                                            : slash - start);
    if (c == "..")
      return Error("iso9660: path '" + std::string(path) + "' must not contain '..'");
    if (!c.empty() && c != ".")
      parts.emplace_back(c);
    if (parts.size() > kMaxComponents)
      return Error("iso9660: path '" + std::string(path) + "' is too deep");
    if (slash == std::string_view::npos)
      break;
    start = slash + 1;
  }
  return parts;
}

struct Found {
  std::vector<Record> sections; // one, or the sections of a multi-extent file
};

Result<std::optional<Found>> lookup(Volume& v, std::string_view path) {
  std::vector<std::string> parts = TRY(split_path(path));
  std::uint64_t lba = v.root_lba, size = v.root_size;
  if (parts.empty()) {
    Record root;
    root.directory = true;
    root.lba = lba;
    root.size = size;
    return std::optional(Found{{root}});
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::vector<Record> entries = TRY(read_directory(v, lba, size));
    Found f;
    for (std::size_t k = 0; k < entries.size(); ++k) {
      if (!name_matches(entries[k], parts[i]))
        continue;
      // A multi-extent file is consecutive records with the same name.
      f.sections.push_back(entries[k]);
      while (f.sections.back().more_sections && k + 1 < entries.size() &&
             f.sections.size() < kMaxSections)
        f.sections.push_back(entries[++k]);
      break;
    }
    if (f.sections.empty())
      return std::optional<Found>();
    const Record& r = f.sections.front();
    if (i + 1 == parts.size())
      return std::optional(std::move(f));
    if (!r.directory)
      return std::optional<Found>();
    lba = r.lba;
    size = r.size;
  }
  return std::optional<Found>();
}

bool has_file(const std::vector<IsoDirEntry>& dir, std::string_view name) {
  return std::any_of(dir.begin(), dir.end(),
                     [&](const IsoDirEntry& e) { return !e.directory && e.name == name; });
}

// Files of `dir` whose names start with `prefix`, as ISO paths.
std::vector<std::string> files_starting(const std::vector<IsoDirEntry>& dir,
                                        const std::string& dir_path, std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto& e : dir)
    if (!e.directory && e.name.starts_with(prefix))
      out.push_back(dir_path + "/" + e.name);
  return out;
}

} // namespace

Result<std::optional<IsoExtent>> locate_iso9660_file(BlockSource& iso, std::string_view path) {
  Volume v = TRY(read_volume(iso));
  auto found = TRY(lookup(v, path));
  if (!found)
    return std::optional<IsoExtent>();
  const auto& secs = found->sections;
  if (secs.front().directory)
    return Error("iso9660: '" + std::string(path) + "' is a directory, not a file");
  if (secs.back().more_sections)
    return Error("iso9660: '" + std::string(path) + "' has more than " +
                     std::to_string(kMaxSections) + " sections",
                 ErrorKind::Unsupported);
  IsoExtent e;
  e.offset = secs.front().lba * v.block_size;
  for (std::size_t i = 0; i < secs.size(); ++i) {
    if (secs[i].zisofs)
      return Error("iso9660: '" + std::string(path) +
                       "' is zisofs-compressed; its bytes are not the file's",
                   ErrorKind::Unsupported);
    // Sections are contiguous when each starts where the previous ended.
    if (secs[i].lba * v.block_size != e.offset + e.size)
      return Error("iso9660: '" + std::string(path) +
                       "' is split into sections that are not contiguous",
                   ErrorKind::Unsupported);
    e.size += secs[i].size;
  }
  if (e.offset > iso.size() || e.size > iso.size() - e.offset)
    return v.bad(e.offset, "file '" + std::string(path) + "' extends past the end of the image");
  return std::optional(e);
}

Result<std::optional<std::vector<IsoDirEntry>>> list_iso9660_dir(BlockSource& iso,
                                                                 std::string_view path) {
  Volume v = TRY(read_volume(iso));
  auto found = TRY(lookup(v, path));
  if (!found || !found->sections.front().directory)
    return std::optional<std::vector<IsoDirEntry>>();
  std::vector<Record> entries =
      TRY(read_directory(v, found->sections.front().lba, found->sections.front().size));
  std::vector<IsoDirEntry> out;
  for (auto& r : entries) {
    std::string name = r.rock_ridge ? r.name : lower(r.name);
    if (out.empty() || out.back().name != name) // sections of one file are consecutive records
      out.push_back(IsoDirEntry{std::move(name), r.directory});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return std::optional(std::move(out));
}

Result<BlockSourcePtr> open_iso9660_file(BlockSourcePtr inner, std::string_view path) {
  auto extent = TRY_CTX(locate_iso9660_file(*inner, path), "iso9660 in " + inner->describe());
  if (!extent)
    return Error("iso9660: no file '" + std::string(path) + "' in " + inner->describe(),
                 ErrorKind::NotFound);
  std::string desc = "iso9660[" + std::string(path) + "]";
  return open_slice(std::move(inner), extent->offset, extent->size, desc);
}

std::string_view live_layout_name(LiveLayoutKind kind) {
  switch (kind) {
  case LiveLayoutKind::DebianLive:
    return "debian-live";
  case LiveLayoutKind::FedoraLive:
    return "fedora-live";
  case LiveLayoutKind::ArchLive:
    return "arch-live";
  }
  return "?";
}

Result<std::optional<LiveLayout>> detect_live_layout(BlockSource& iso) {
  LiveLayout l;
  if (auto live = TRY(list_iso9660_dir(iso, "live"));
      live && has_file(*live, "filesystem.squashfs")) {
    l.kind = LiveLayoutKind::DebianLive;
    l.root_path = "live/filesystem.squashfs";
    l.kernel_paths = files_starting(*live, "live", "vmlinuz");
    return std::optional(std::move(l));
  }
  if (auto liveos = TRY(list_iso9660_dir(iso, "LiveOS"));
      liveos && has_file(*liveos, "squashfs.img")) {
    l.kind = LiveLayoutKind::FedoraLive;
    l.root_path = "LiveOS/squashfs.img";
    for (const char* dir : {"images/pxeboot", "isolinux", "boot"})
      if (auto d = TRY(list_iso9660_dir(iso, dir)))
        for (auto& k : files_starting(*d, dir, "vmlinuz"))
          l.kernel_paths.push_back(std::move(k));
    return std::optional(std::move(l));
  }
  if (auto arch = TRY(list_iso9660_dir(iso, "arch"))) {
    // arch/<arch>/airootfs.sfs, kernel arch/boot/<arch>/vmlinuz-*; the first architecture by name.
    for (const auto& e : *arch) {
      if (!e.directory || e.name == "boot")
        continue;
      auto sub = TRY(list_iso9660_dir(iso, "arch/" + e.name));
      if (!sub || !has_file(*sub, "airootfs.sfs"))
        continue;
      l.kind = LiveLayoutKind::ArchLive;
      l.root_path = "arch/" + e.name + "/airootfs.sfs";
      if (auto boot = TRY(list_iso9660_dir(iso, "arch/boot/" + e.name)))
        l.kernel_paths = files_starting(*boot, "arch/boot/" + e.name, "vmlinuz");
      return std::optional(std::move(l));
    }
  }
  return std::optional<LiveLayout>();
}

} // namespace fastboop::pipeline
