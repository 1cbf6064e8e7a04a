// FAT12/16/32 reader with VFAT long file names, written from Microsoft's
// FAT specification (fatgen103). Short names honour the NT lower-case bits;
// lookups try the exact name first and fall back to ASCII case-insensitive
// matching, as FAT names are case-insensitive on every real implementation.
#include "filesystems/fs_util.hpp"
#include "filesystems/open.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

namespace fastboop::filesystems {

namespace {


constexpr std::uint64_t max_dir_bytes = 65536 * 32; // the spec's 65536-entry limit
constexpr std::uint64_t dir_key_bit = std::uint64_t{1} << 62;

struct Node {
  std::uint32_t cluster = 0; // first cluster (0: empty file, or the FAT12/16 root)
  std::uint32_t size = 0;
  bool directory = false;
  bool read_only = false;
  std::string path; // for error messages
};

std::uint8_t sfn_checksum(const std::uint8_t* name11) {
  std::uint8_t sum = 0;
  for (int i = 0; i < 11; ++i)
    sum = static_cast<std::uint8_t>(((sum & 1) << 7) + (sum >> 1) + name11[i]);
  return sum;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lx = (x >= 'A' && x <= 'Z') ? x - 'A' + 'a' : x;
           auto ly = (y >= 'A' && y <= 'Z') ? y - 'A' + 'a' : y;
           return lx == ly;
         });
}

// A VFAT long name, assembled from fragments stored last-first before the
// short entry they belong to.
class LongName {
public:
  void reset() {
    m_units.clear();
    m_next_seq = 0;
  }

  void add_fragment(const std::uint8_t* e) {
    int seq = e[0] & 0x1F;
    if (e[0] & 0x40) {
      m_units.assign(static_cast<std::size_t>(seq) * 13, 0xFFFF);
      m_sum = e[13];
      m_next_seq = seq;
    }
    if (m_units.empty() || seq == 0 || seq > 20 || seq != m_next_seq || e[13] != m_sum) {
      reset();
      return;
    }
    std::size_t base = static_cast<std::size_t>(seq - 1) * 13;
    static constexpr int offsets[13] = {1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30};
    for (int k = 0; k < 13; ++k)
      m_units[base + static_cast<std::size_t>(k)] = load_le<std::uint16_t>(e + offsets[k]);
    m_next_seq = seq - 1;
  }

  // The name for short entry `e` when complete and its checksum matches, else
  // empty; either way the next entry starts afresh.
  std::string take(const std::uint8_t* e) {
    bool complete = !m_units.empty() && m_next_seq == 0 && sfn_checksum(e) == m_sum;
    std::string name = complete ? utf16_to_utf8(m_units) : std::string();
    reset();
    return name;
  }

private:
  std::vector<std::uint16_t> m_units;
  int m_next_seq = 0; // sequence number of the next fragment; 0 once complete
  std::uint8_t m_sum = 0;
};

// One part of an 8.3 name, lower-cased when the NT bit says so.
std::string short_name_part(const std::uint8_t* e, int from, int len, bool lower) {
  std::string s;
  for (int k = from; k < from + len; ++k) {
    std::uint8_t c = e[k];
    if (k == 0 && c == 0x05)
      c = 0xE5;
    if (lower && c >= 'A' && c <= 'Z')
      c = static_cast<std::uint8_t>(c - 'A' + 'a');
    if (c < 0x80)
      s.push_back(static_cast<char>(c));
    else
      append_utf8(s, c); // OEM code page byte, shown as Latin-1
  }
  while (!s.empty() && s.back() == ' ')
    s.pop_back();
  return s;
}

std::string short_name(const std::uint8_t* e) {
  const std::uint8_t nt = e[12];
  std::string name = short_name_part(e, 0, 8, nt & 0x08);
  std::string ext = short_name_part(e, 8, 3, nt & 0x10);
  if (!ext.empty())
    name += "." + ext;
  return name;
}

class Fat final : public Filesystem {
public:
  explicit Fat(pipeline::BlockSourcePtr source) : m_src(std::move(source)) {}

  Result<void> load();

  std::string_view kind() const override { return "fat"; }
  NodeId root() const override { return 0; }

  Result<FileStat> stat(NodeId node) override {
    Node n = TRY(get(node));
    FileStat st;
    st.type = n.directory ? FileType::Directory : FileType::Regular;
    st.size = n.directory ? 0 : n.size;
    st.mode = n.directory ? 0755 : (n.read_only ? 0444 : 0644);
    return st;
  }

  Result<std::optional<DirEntry>> lookup(NodeId dir, std::string_view name) override {
    const auto& entries = *TRY(directory(dir));
    for (const auto& e : entries)
      if (e.name == name)
        return std::optional<DirEntry>{e};
    for (const auto& e : entries)
      if (iequal(e.name, name))
        return std::optional<DirEntry>{e};
    return std::optional<DirEntry>{};
  }

  Result<std::vector<DirEntry>> list(NodeId dir) override { return *TRY(directory(dir)); }

  Result<void> read(NodeId file, std::uint64_t offset, std::span<std::uint8_t> out) override {
    Node n = TRY(get(file));
    if (n.directory)
      return err(n, "read of a directory");
    if (offset > n.size || out.size() > n.size - offset)
      return err(n, "read of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) +
                        " past the end (size " + std::to_string(n.size) + ")");
    if (out.empty())
      return ok();
    auto chain = TRY(cluster_chain(n, n.size));
    return read_chain(n, *chain, offset, out);
  }

  Result<std::string> read_link(NodeId node) override {
    Node n = TRY(get(node));
    return err(n, "FAT has no symbolic links");
  }

private:
  Error err(const Node& n, const std::string& what) const {
    return Error("fat: " + (n.path.empty() ? std::string("/") : n.path) + " (cluster " + std::to_string(n.cluster) +
                 "): " + what);
  }

  Result<Node> get(NodeId id) const {
    if (id >= m_nodes.size())
      return Error("fat: invalid node " + std::to_string(id));
    return m_nodes[id];
  }

  std::uint64_t cluster_offset(std::uint32_t cluster) const {
    return m_data_offset + std::uint64_t{cluster - 2} * m_cluster_bytes;
  }

  Result<void> read_raw(std::uint64_t offset, std::span<std::uint8_t> out) {
    if (out.empty())
      return ok();
    if (offset > m_src->size() || out.size() > m_src->size() - offset)
      return Error("fat: read of " + std::to_string(out.size()) + " bytes at offset " + std::to_string(offset) +
                   " is past the end of the image (" + std::to_string(m_src->size()) + " bytes)");
    return m_src->read_at(offset, out);
  }

  std::uint32_t fat_entry(std::uint32_t cluster) const {
    switch (m_fat_bits) {
    case 12: {
      std::size_t off = cluster + cluster / 2;
      std::uint16_t v = load_le<std::uint16_t>(m_fat.data() + off);
      return (cluster & 1) ? v >> 4 : v & 0xFFF;
    }
    case 16: return load_le<std::uint16_t>(m_fat.data() + std::size_t{cluster} * 2);
    default: return load_le<std::uint32_t>(m_fat.data() + std::size_t{cluster} * 4) & 0x0FFFFFFF;
    }
  }

  // The clusters of a chain, bounded by `max_bytes` worth of clusters and
  // by the cluster count (so a cycle is an error, not a hang).
  Result<std::shared_ptr<std::vector<std::uint32_t>>> cluster_chain(const Node& n, std::uint64_t max_bytes) {
    std::uint64_t need = (max_bytes + m_cluster_bytes - 1) / m_cluster_bytes;
    // Entries may share a first cluster (cross-linked files): reuse only a long enough chain.
    if (const auto* cached = m_chains.find(n.cluster); cached && (*cached)->size() >= need)
      return *cached;
    auto chain = std::make_shared<std::vector<std::uint32_t>>();
    std::uint32_t eoc = m_fat_bits == 12 ? 0xFF8 : m_fat_bits == 16 ? 0xFFF8 : 0x0FFFFFF8;
    std::uint32_t c = n.cluster;
    while (chain->size() < need) {
      if (c < 2 || c >= m_clusters + 2)
        return err(n, "cluster chain reaches invalid cluster " + std::to_string(c) + " after " +
                          std::to_string(chain->size()) + " clusters");
      chain->push_back(c);
      if (chain->size() > m_clusters)
        return err(n, "cluster chain loops");
      std::uint32_t next = fat_entry(c);
      if (next >= eoc)
        break;
      c = next;
    }
    if (chain->size() < need)
      return err(n, "cluster chain of " + std::to_string(chain->size()) + " clusters is shorter than the " +
                        std::to_string(max_bytes) + " bytes it must hold");
    return m_chains.insert(n.cluster, chain);
  }

  Result<void> read_chain(const Node& n, const std::vector<std::uint32_t>& chain, std::uint64_t offset,
                          std::span<std::uint8_t> out) {
    std::size_t done = 0;
    while (done < out.size()) {
      std::uint64_t pos = offset + done;
      std::uint64_t index = pos / m_cluster_bytes;
      std::uint64_t in_cluster = pos % m_cluster_bytes;
      if (index >= chain.size())
        return err(n, "offset " + std::to_string(pos) + " is beyond its cluster chain");
      // Merge physically contiguous clusters into one read.
      std::uint64_t run = 1;
      while (index + run < chain.size() && chain[index + run] == chain[index] + run &&
             (run * m_cluster_bytes - in_cluster) < out.size() - done)
        ++run;
      std::size_t n_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, run * m_cluster_bytes - in_cluster));
      TRY_CTX(read_raw(cluster_offset(chain[index]) + in_cluster, out.subspan(done, n_bytes)),
              "fat: " + n.path);
      done += n_bytes;
    }
    return ok();
  }

  NodeId intern(std::uint64_t key, Node node) {
    auto it = m_ids.find(key);
    if (it != m_ids.end())
      return it->second;
    m_nodes.push_back(std::move(node));
    NodeId id = m_nodes.size() - 1;
    m_ids.emplace(key, id);
    return id;
  }

  Result<const std::vector<DirEntry>*> directory(NodeId dir);
  Result<std::vector<std::uint32_t>> directory_chain(const Node& d) const;
  Result<Bytes> directory_bytes(NodeId dir, const Node& d);
  Result<std::vector<DirEntry>> parse_directory(NodeId dir, const Node& d, const Bytes& data);
  Result<DirEntry> make_entry(NodeId dir, const Node& d, const std::uint8_t* e, std::size_t off,
                              const std::string& name);

  pipeline::BlockSourcePtr m_src;
  unsigned m_fat_bits = 0;
  std::uint64_t m_cluster_bytes = 0;
  std::uint64_t m_data_offset = 0;
  std::uint64_t m_root_offset = 0; // FAT12/16 fixed root directory
  std::uint64_t m_root_bytes = 0;
  std::uint32_t m_clusters = 0;
  Bytes m_fat;
  std::vector<Node> m_nodes;
  std::unordered_map<std::uint64_t, NodeId> m_ids;
  detail::BoundedCache<std::uint32_t, std::shared_ptr<std::vector<std::uint32_t>>> m_chains{256};
  detail::BoundedCache<NodeId, std::vector<DirEntry>> m_dirs{1024};
};

Result<void> Fat::load() {
  std::uint8_t bs[512];
  if (m_src->size() < 512)
    return Error("fat: image of " + std::to_string(m_src->size()) + " bytes is too small for a boot sector");
  TRY(read_raw(0, bs));
  auto bad = [](const std::string& what) { return Error("fat: boot sector: " + what); };
  if (bs[510] != 0x55 || bs[511] != 0xAA)
    return bad("missing 0x55AA signature at offset 510");
  std::uint32_t bps = load_le<std::uint16_t>(bs + 11);
  std::uint32_t spc = bs[13];
  std::uint32_t rsvd = load_le<std::uint16_t>(bs + 14);
  std::uint32_t nfats = bs[16];
  std::uint32_t root_entries = load_le<std::uint16_t>(bs + 17);
  std::uint32_t tot16 = load_le<std::uint16_t>(bs + 19);
  std::uint32_t fatsz16 = load_le<std::uint16_t>(bs + 22);
  std::uint32_t tot32 = load_le<std::uint32_t>(bs + 32);
  std::uint32_t fatsz32 = load_le<std::uint32_t>(bs + 36);
  std::uint16_t ext_flags = load_le<std::uint16_t>(bs + 40);
  std::uint32_t root_cluster = load_le<std::uint32_t>(bs + 44);
  if (bps != 512 && bps != 1024 && bps != 2048 && bps != 4096)
    return bad("bytes per sector " + std::to_string(bps) + " at offset 11 is invalid");
  if (spc == 0 || (spc & (spc - 1)) != 0)
    return bad("sectors per cluster " + std::to_string(spc) + " at offset 13 is invalid");
  if (rsvd == 0 || nfats == 0)
    return bad("no reserved sectors or no FAT");
  std::uint64_t fatsz = fatsz16 ? fatsz16 : fatsz32;
  std::uint64_t total = tot16 ? tot16 : tot32;
  if (fatsz == 0 || total == 0)
    return bad("zero FAT size or sector count");
  std::uint64_t root_sectors = (std::uint64_t{root_entries} * 32 + bps - 1) / bps;
  std::uint64_t first_data = rsvd + nfats * fatsz + root_sectors;
  if (first_data >= total)
    return bad("the data region starts past the end of the volume");
  std::uint64_t clusters = (total - first_data) / spc;
  m_fat_bits = clusters < 4085 ? 12 : clusters < 65525 ? 16 : 32;
  if (m_fat_bits == 32 && (fatsz16 != 0 || root_entries != 0))
    return bad("FAT32 cluster count with a FAT12/16 layout");
  m_cluster_bytes = std::uint64_t{spc} * bps;
  m_data_offset = first_data * bps;
  m_root_offset = (rsvd + nfats * fatsz) * std::uint64_t{bps};
  m_root_bytes = root_sectors * bps;
  // Entries 0 and 1 are reserved; the FAT must hold every cluster's entry.
  std::uint64_t fat_bytes = (clusters + 2) * m_fat_bits / 8 + 2;
  if (fat_bytes > fatsz * bps)
    return bad("FAT of " + std::to_string(fatsz * bps) + " bytes cannot map " + std::to_string(clusters) + " clusters");
  if (std::uint64_t{rsvd} * bps + fat_bytes > m_src->size())
    return bad("the FAT (" + std::to_string(fat_bytes) + " bytes at offset " + std::to_string(std::uint64_t{rsvd} * bps) +
               ") is past the end of the image (" + std::to_string(m_src->size()) + " bytes)");
  m_clusters = static_cast<std::uint32_t>(clusters);
  unsigned active = (m_fat_bits == 32 && (ext_flags & 0x80)) ? (ext_flags & 0xF) : 0;
  if (active >= nfats)
    return bad("active FAT " + std::to_string(active) + " does not exist");
  m_fat.resize(fat_bytes + 4);
  TRY_CTX(read_raw(std::uint64_t{rsvd} * bps + active * fatsz * bps, {m_fat.data(), fat_bytes}), "fat: reading the FAT");
  Node root;
  root.directory = true;
  if (m_fat_bits == 32) {
    if (root_cluster < 2 || root_cluster >= m_clusters + 2)
      return bad("root cluster " + std::to_string(root_cluster) + " at offset 44 is invalid");
    root.cluster = root_cluster;
  }
  m_nodes.push_back(root);
  m_ids.emplace(dir_key_bit | root.cluster, 0);
  return ok();
}

Result<std::vector<std::uint32_t>> Fat::directory_chain(const Node& d) const {
  // Directories have no size: take the whole chain, bounded by the entry limit.
  std::vector<std::uint32_t> chain;
  std::uint32_t eoc = m_fat_bits == 12 ? 0xFF8 : m_fat_bits == 16 ? 0xFFF8 : 0x0FFFFFF8;
  for (std::uint32_t c = d.cluster;;) {
    if (c < 2 || c >= m_clusters + 2)
      return err(d, "directory cluster chain reaches invalid cluster " + std::to_string(c));
    chain.push_back(c);
    if (chain.size() * m_cluster_bytes > max_dir_bytes)
      return err(d, "directory larger than " + std::to_string(max_dir_bytes) +
                        " bytes (or its chain loops)");
    std::uint32_t next = fat_entry(c);
    if (next >= eoc)
      break;
    c = next;
  }
  return chain;
}

Result<Bytes> Fat::directory_bytes(NodeId dir, const Node& d) {
  Bytes data;
  if (dir == 0 && m_fat_bits != 32) {
    data.resize(m_root_bytes);
    TRY_CTX(read_raw(m_root_offset, data), "fat: root directory");
    return data;
  }
  const std::vector<std::uint32_t> chain = TRY(directory_chain(d));
  data.resize(chain.size() * m_cluster_bytes);
  TRY(read_chain(d, chain, 0, data));
  return data;
}

// The problem with a directory entry's start cluster and size, if any.
std::optional<std::string> entry_problem(const Node& n, const std::string& name,
                                         std::uint32_t clusters) {
  if (n.directory && n.cluster == 0)
    return "subdirectory '" + name + "' has no cluster";
  if (n.cluster != 0 && (n.cluster < 2 || n.cluster >= clusters + 2))
    return "entry '" + name + "' starts at invalid cluster " + std::to_string(n.cluster);
  if (!n.directory && n.size > 0 && n.cluster == 0)
    return "file '" + name + "' of " + std::to_string(n.size) + " bytes has no cluster";
  return std::nullopt;
}

Result<DirEntry> Fat::make_entry(NodeId dir, const Node& d, const std::uint8_t* e, std::size_t off,
                                 const std::string& name) {
  const std::uint8_t attr = e[11];
  Node n;
  n.cluster = (m_fat_bits == 32 ? std::uint32_t{load_le<std::uint16_t>(e + 20)} << 16 : 0) |
              load_le<std::uint16_t>(e + 26);
  n.size = load_le<std::uint32_t>(e + 28);
  n.directory = attr & 0x10;
  n.read_only = attr & 0x01;
  n.path = d.path + "/" + name;
  if (auto problem = entry_problem(n, name, m_clusters))
    return err(d, *problem);
  // Directories are keyed by cluster so a loop back to an ancestor is the same node.
  std::uint64_t key =
      n.directory ? (dir_key_bit | n.cluster) : ((std::uint64_t{dir} << 21) | (off / 32));
  FileType type = n.directory ? FileType::Directory : FileType::Regular;
  return DirEntry{name, intern(key, std::move(n)), type};
}

Result<std::vector<DirEntry>> Fat::parse_directory(NodeId dir, const Node& d, const Bytes& data) {
  std::vector<DirEntry> entries;
  LongName lfn;
  for (std::size_t off = 0; off + 32 <= data.size(); off += 32) {
    const std::uint8_t* e = data.data() + off;
    if (e[0] == 0x00)
      break;
    if (e[0] == 0xE5) {
      lfn.reset();
      continue;
    }
    std::uint8_t attr = e[11];
    if ((attr & 0x3F) == 0x0F) { // long-name fragment, stored last-first
      lfn.add_fragment(e);
      continue;
    }
    std::string name = lfn.take(e);
    if (attr & 0x08) // volume label
      continue;
    if (name.empty())
      name = short_name(e);
    if (name == "." || name == "..")
      continue;
    if (!detail::valid_entry_name(name))
      return err(d, "entry at directory offset " + std::to_string(off) + " has an invalid name '" + name + "'");
    entries.push_back(TRY(make_entry(dir, d, e, off, name)));
  }
  return entries;
}

Result<const std::vector<DirEntry>*> Fat::directory(NodeId dir) {
  if (const auto* cached = m_dirs.find(dir))
    return cached;
  Node d = TRY(get(dir));
  if (!d.directory)
    return err(d, "not a directory");
  const Bytes data = TRY(directory_bytes(dir, d));
  std::vector<DirEntry> entries = TRY(parse_directory(dir, d, data));
  std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < entries.size(); ++i)
    if (entries[i].name == entries[i - 1].name)
      return err(d, "duplicate directory entry '" + entries[i].name + "'");
  return &m_dirs.insert(dir, std::move(entries));
}

} // namespace

Result<FilesystemPtr> open_fat(pipeline::BlockSourcePtr source) {
  auto fs = std::make_unique<Fat>(std::move(source));
  TRY(fs->load());
  return FilesystemPtr(std::move(fs));
}

} // namespace fastboop::filesystems
