// EROFS reader, written from the on-disk format description (Linux
// Documentation/filesystems/erofs.rst and erofs_fs.h). Supports compact and
// extended inodes; flat, tail-inline and chunk-based data; compressed files
// with full (legacy) or compact lcluster indexes, big pclusters and
// tail-packed pclusters; lz4/lz4hc (liblz4), MicroLZMA (liblzma), deflate
// (zlib) and zstd (libzstd). Extended attributes are skipped by size.
#include "filesystems/fs_util.hpp"
#include "common/text.hpp"
#include "filesystems/open.hpp"

#include <lz4.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace fastboop::filesystems {

namespace {

using pipeline::BlockSource;

constexpr std::uint64_t super_offset = 1024;
constexpr std::uint32_t erofs_magic = 0xE0F5E1E2;
constexpr std::uint32_t null_addr = 0xFFFFFFFF;

// Incompatible feature bits (several names share a bit on disk).
constexpr std::uint32_t feat_zero_padding = 0x01;
constexpr std::uint32_t feat_compr_cfgs = 0x02; // also BIG_PCLUSTER
constexpr std::uint32_t feat_chunked_file = 0x04;
constexpr std::uint32_t feat_device_table = 0x08; // also COMPR_HEAD2
constexpr std::uint32_t feat_ztailpacking = 0x10;
constexpr std::uint32_t feat_xattr_prefixes = 0x40;
constexpr std::uint32_t supported_incompat = feat_zero_padding | feat_compr_cfgs | feat_chunked_file |
                                             feat_device_table | feat_ztailpacking | feat_xattr_prefixes;

std::string incompat_name(std::uint32_t bit) {
  switch (bit) {
  case 0x01: return "zero_padding";
  case 0x02: return "compr_cfgs/big_pcluster";
  case 0x04: return "chunked_file";
  case 0x08: return "device_table/compr_head2";
  case 0x10: return "ztailpacking";
  case 0x20: return "fragments/dedupe";
  case 0x40: return "xattr_prefixes";
  case 0x80: return "48bit";
  default: return "bit " + format_hex(bit, 1);
  }
}

enum Layout : std::uint8_t {
  FlatPlain = 0,
  CompressedFull = 1,
  FlatInline = 2,
  CompressedCompact = 3,
  ChunkBased = 4,
};

// Map header advise bits for compressed inodes.
constexpr std::uint16_t advise_compacted_2b = 0x01;
constexpr std::uint16_t advise_big_pcluster_1 = 0x02;
constexpr std::uint16_t advise_big_pcluster_2 = 0x04;
constexpr std::uint16_t advise_inline_pcluster = 0x08;
constexpr std::uint16_t advise_interlaced_pcluster = 0x10;
constexpr std::uint16_t advise_fragment_pcluster = 0x20;

enum LclusterType : std::uint8_t { LcPlain = 0, LcHead1 = 1, LcNonHead = 2, LcHead2 = 3 };
constexpr std::uint32_t d0_cblkcnt = 1u << 11;

enum Algorithm : std::uint8_t { AlgLz4 = 0, AlgLzma = 1, AlgDeflate = 2, AlgZstd = 3, AlgRaw = 0xff };

// Limits that keep hostile images bounded in memory.
constexpr std::uint64_t max_extent_bytes = 64ull << 20;
constexpr std::uint64_t max_lclusters = 1ull << 24;
constexpr std::uint64_t max_dir_bytes = 64ull << 20;

std::uint32_t crc32c_raw(std::uint32_t crc, ByteSpan data) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  for (auto b : data)
    crc = table[(crc ^ b) & 0xff] ^ (crc >> 8);
  return crc;
}

struct Inode {
  NodeId nid = 0;
  std::uint64_t pos = 0; // absolute byte offset of the on-disk inode
  std::uint32_t isize = 0;
  std::uint32_t xattr_size = 0;
  std::uint8_t layout = 0;
  std::uint32_t mode = 0;
  std::uint64_t size = 0;
  std::uint32_t iu = 0; // raw_blkaddr / compressed_blocks / chunk info
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t data_pos() const { return pos + isize + xattr_size; }
};

struct Extent {
  std::uint64_t lstart = 0;
  std::uint64_t llen = 0;
  std::uint64_t pstart = 0; // byte offset in the image
  std::uint64_t plen = 0;
  std::uint8_t alg = AlgRaw;
  bool interlaced = false;
};

struct ZMap {
  std::vector<Extent> extents; // sorted by lstart, contiguous from 0 to size
};

// One logical cluster's index entry, decoded.
struct Lcluster {
  std::uint8_t type = 0;
  std::uint32_t lo = 0;   // clusterofs for heads, delta/cblkcnt for non-heads
  std::uint64_t pblk = 0; // heads only
};

// A compressed inode's map header (z_erofs_map_header), checked, and what
// follows from it.
struct ZMapHeader {
  std::uint64_t pos = 0; // where the header is in the image
  std::uint16_t idata_size = 0;
  std::uint16_t advise = 0;
  std::uint8_t algs[2] = {0, 0};
  std::uint32_t lclusterbits = 0;
  bool compact = false; // compact (not full) lcluster indexes
  bool big = false;     // big pclusters: sizes come from CBLKCNT entries
  std::uint64_t lcsz = 0;
  std::uint64_t total = 0; // logical clusters of the file
};

// The decoded lcluster indexes and where their pack ends (a tail-packed
// pcluster follows it).
struct LclusterIndexes {
  std::vector<Lcluster> lcs;
  std::uint64_t end = 0;
};

class Erofs final : public Filesystem {
public:
  explicit Erofs(pipeline::BlockSourcePtr source) : m_src(std::move(source)) {}

  Result<void> load_super();

  std::string_view kind() const override { return "erofs"; }
  NodeId root() const override { return m_root; }

  Result<FileStat> stat(NodeId node) override {
    Inode ino = TRY(inode(node));
    FileStat st;
    st.type = detail::file_type_from_mode(ino.mode);
    st.size = detail::stat_size(st.type, ino.size);
    st.mode = ino.mode & 07777;
    st.uid = ino.uid;
    st.gid = ino.gid;
    return st;
  }

  Result<std::optional<DirEntry>> lookup(NodeId dir, std::string_view name) override {
    return detail::find_in_sorted(*TRY(directory(dir)), name);
  }

  Result<std::vector<DirEntry>> list(NodeId dir) override { return *TRY(directory(dir)); }

  Result<void> read(NodeId file, std::uint64_t offset, std::span<std::uint8_t> out) override {
    Inode ino = TRY(inode(file));
    if (detail::file_type_from_mode(ino.mode) != FileType::Regular)
      return err(ino, "read of a non-regular file");
    if (offset > ino.size || out.size() > ino.size - offset)
      return err(ino, "read of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) +
                          " past the end (size " + std::to_string(ino.size) + ")");
    return read_data(ino, offset, out);
  }

  Result<std::string> read_link(NodeId node) override {
    Inode ino = TRY(inode(node));
    if (detail::file_type_from_mode(ino.mode) != FileType::Symlink)
      return err(ino, "not a symbolic link");
    if (ino.size > detail::max_link_target)
      return err(ino, "symbolic link target of " + std::to_string(ino.size) + " bytes is too long");
    std::string target(ino.size, '\0');
    TRY(read_data(ino, 0, {reinterpret_cast<std::uint8_t*>(target.data()), target.size()}));
    return target;
  }

private:
  // Every error names the image (its block source), then the structure.
  std::string where() const { return "erofs " + m_src->describe() + ": "; }

  Error err(const Inode& ino, const std::string& what) const {
    return Error(where() + "inode " + std::to_string(ino.nid) + " (at offset " +
                 std::to_string(ino.pos) + "): " + what);
  }

  Result<void> read_raw(std::uint64_t offset, std::span<std::uint8_t> out) {
    if (out.empty())
      return ok();
    if (offset > m_src->size() || out.size() > m_src->size() - offset)
      return Error("read of " + std::to_string(out.size()) + " bytes at offset " +
                   std::to_string(offset) + " is past the end of the image (" +
                   std::to_string(m_src->size()) + " bytes)");
    return m_src->read_at(offset, out);
  }

  Result<Inode> inode(NodeId nid);
  Result<void> read_data(const Inode& ino, std::uint64_t offset, std::span<std::uint8_t> out);
  Result<void> read_flat(const Inode& ino, std::uint64_t offset, std::span<std::uint8_t> out);
  Result<void> read_chunked(const Inode& ino, std::uint64_t offset, std::span<std::uint8_t> out);
  Result<void> read_compressed(const Inode& ino, std::uint64_t offset, std::span<std::uint8_t> out);
  Result<std::shared_ptr<ZMap>> zmap(const Inode& ino);
  Result<ZMapHeader> read_zmap_header(const Inode& ino);
  Result<LclusterIndexes> read_full_indexes(const Inode& ino, const ZMapHeader& h);
  Result<LclusterIndexes> read_compact_indexes(const Inode& ino, const ZMapHeader& h);
  Result<std::vector<std::uint64_t>> extent_heads(const Inode& ino, const ZMapHeader& h,
                                                  const std::vector<Lcluster>& lcs);
  Result<Extent> head_extent(const Inode& ino, const ZMapHeader& h, const LclusterIndexes& idx,
                             const std::vector<std::uint64_t>& heads, std::size_t k);
  Result<Bytes> decode_extent(const Inode& ino, const Extent& e);
  Result<const std::vector<DirEntry>*> directory(NodeId dir);

  pipeline::BlockSourcePtr m_src;
  std::uint32_t m_blkszbits = 12;
  std::uint64_t m_blksz = 4096;
  std::uint64_t m_meta_base = 0;
  std::uint32_t m_incompat = 0;
  std::uint16_t m_algs = 1; // available algorithms bitmap
  std::uint32_t m_lzma_dict = 0;
  NodeId m_root = 0;

  detail::BoundedCache<NodeId, Inode> m_inodes{1 << 16};
  detail::BoundedCache<NodeId, std::shared_ptr<ZMap>> m_zmaps{256};
  detail::BoundedCache<NodeId, std::vector<DirEntry>> m_dirs{1024};
  // The last decompressed extent: sequential reads decode each extent once.
  NodeId m_cached_nid = ~NodeId{0};
  std::uint64_t m_cached_lstart = 0;
  Bytes m_cached_data;
};

Result<void> Erofs::load_super() {
  if (m_src->size() < super_offset + 128)
    return Error(where() + "image of " + std::to_string(m_src->size()) +
                 " bytes is too small for a superblock");
  std::uint8_t sb[128];
  TRY_CTX(read_raw(super_offset, sb), where() + "superblock");
  std::uint32_t magic = load_le<std::uint32_t>(sb);
  if (magic != erofs_magic)
    return Error(where() + "bad superblock magic " + format_hex(magic, 1) + " at offset 1024");
  std::uint32_t compat = load_le<std::uint32_t>(sb + 8);
  m_blkszbits = sb[12];
  if (m_blkszbits < 9 || m_blkszbits > 16)
    return Error(where() + "superblock: unsupported block size 2^" + std::to_string(m_blkszbits));
  m_blksz = std::uint64_t{1} << m_blkszbits;
  std::uint8_t extslots = sb[13];
  m_root = load_le<std::uint16_t>(sb + 14);
  std::uint32_t meta_blkaddr = load_le<std::uint32_t>(sb + 40);
  m_meta_base = std::uint64_t{meta_blkaddr} << m_blkszbits;
  m_incompat = load_le<std::uint32_t>(sb + 80);
  std::uint16_t u1 = load_le<std::uint16_t>(sb + 84);
  std::uint16_t extra_devices = load_le<std::uint16_t>(sb + 86);

  if (compat & 0x1) { // SB_CHKSUM: crc32c of the superblock's block from offset 1024
    if (m_blksz > super_offset) {
      Bytes blk(m_blksz - super_offset);
      TRY_CTX(read_raw(super_offset, blk), where() + "superblock block");
      std::uint32_t expected = load_le<std::uint32_t>(blk.data() + 4);
      store_le<std::uint32_t>(blk.data() + 4, 0);
      std::uint32_t actual = crc32c_raw(0xFFFFFFFF, blk);
      if (actual != expected)
        return Error(where() + "superblock checksum mismatch at offset 1024 (stored " +
                     format_hex(expected, 1) + ", computed " + format_hex(actual, 1) + ")");
    }
  }
  std::uint32_t unknown = m_incompat & ~supported_incompat;
  if (unknown) {
    std::uint32_t bit = unknown & (~unknown + 1);
    return Error(where() + "unsupported incompatible feature '" + incompat_name(bit) +
                     "' (superblock at offset 1024)",
                 ErrorKind::Unsupported);
  }
  if (extra_devices != 0)
    return Error(where() + "unsupported feature 'device_table' (" + std::to_string(extra_devices) +
                     " extra devices)",
                 ErrorKind::Unsupported);
  if (m_incompat & feat_compr_cfgs) {
    m_algs = u1;
    // Per-algorithm configuration records follow the (extended) superblock,
    // each a 4-aligned le16 length then its payload.
    std::uint64_t off = super_offset + 128 + std::uint64_t{extslots} * 16;
    for (unsigned alg = 0; alg < 16; ++alg) {
      if (!(m_algs & (1u << alg)))
        continue;
      off = align_up(off, 4);
      std::uint8_t lenb[2];
      TRY_CTX(read_raw(off, lenb), where() + "compression configuration");
      std::uint16_t len = load_le<std::uint16_t>(lenb);
      off += 2;
      if (alg == AlgLzma && len >= 4) {
        std::uint8_t dict[4];
        TRY_CTX(read_raw(off, dict), where() + "lzma configuration");
        m_lzma_dict = load_le<std::uint32_t>(dict);
      }
      off += len;
    }
    if (m_algs & ~0xFu)
      return Error(where() + "unsupported compression algorithm bitmap " + format_hex(m_algs, 1),
                   ErrorKind::Unsupported);
  }
  auto root_stat = TRY_CTX(stat(m_root), where() + "root directory");
  if (root_stat.type != FileType::Directory)
    return Error(where() + "root inode " + std::to_string(m_root) + " is not a directory");
  return ok();
}

Result<Inode> Erofs::inode(NodeId nid) {
  if (const Inode* cached = m_inodes.find(nid))
    return *cached;
  if (nid > (m_src->size() >> 5) || m_meta_base + nid * 32 + 32 > m_src->size())
    return Error(where() + "inode " + std::to_string(nid) + " at offset " +
                 std::to_string(m_meta_base + nid * 32) + " is past the end of the image (" +
                 std::to_string(m_src->size()) + " bytes)");
  Inode ino;
  ino.nid = nid;
  ino.pos = m_meta_base + nid * 32;
  std::uint8_t raw[64];
  TRY_CTX(read_raw(ino.pos, {raw, 32}), where() + "inode " + std::to_string(nid));
  std::uint16_t format = load_le<std::uint16_t>(raw);
  bool extended = format & 1;
  ino.layout = static_cast<std::uint8_t>((format >> 1) & 0x7);
  if (format >> 4)
    return err(ino, "unknown inode format bits " + format_hex(format, 1));
  if (ino.layout > ChunkBased)
    return err(ino, "unknown data layout " + std::to_string(ino.layout));
  std::uint16_t xattr_icount = load_le<std::uint16_t>(raw + 2);
  ino.xattr_size = xattr_icount ? 12 + (std::uint32_t{xattr_icount} - 1) * 4 : 0;
  ino.mode = load_le<std::uint16_t>(raw + 4);
  if (extended) {
    TRY_CTX(read_raw(ino.pos + 32, {raw + 32, 32}), where() + "inode " + std::to_string(nid));
    ino.isize = 64;
    ino.size = load_le<std::uint64_t>(raw + 8);
    ino.iu = load_le<std::uint32_t>(raw + 16);
    ino.uid = load_le<std::uint32_t>(raw + 24);
    ino.gid = load_le<std::uint32_t>(raw + 28);
  } else {
    ino.isize = 32;
    ino.size = load_le<std::uint32_t>(raw + 8);
    ino.iu = load_le<std::uint32_t>(raw + 16);
    ino.uid = load_le<std::uint16_t>(raw + 24);
    ino.gid = load_le<std::uint16_t>(raw + 26);
  }
  if (ino.size > (std::uint64_t{1} << 52))
    return err(ino, "absurd size " + std::to_string(ino.size));
  bool compressed = ino.layout == CompressedFull || ino.layout == CompressedCompact;
  if (compressed && detail::file_type_from_mode(ino.mode) != FileType::Regular)
    return err(ino, "compressed layout on a non-regular file");
  if (ino.layout == ChunkBased && !(m_incompat & feat_chunked_file))
    return err(ino, "chunk-based layout without the chunked_file feature");
  return m_inodes.insert(nid, ino);
}

Result<void> Erofs::read_data(const Inode& ino, std::uint64_t offset, std::span<std::uint8_t> out) {
  if (out.empty())
    return ok();
  switch (ino.layout) {
  case FlatPlain:
  case FlatInline:
    return read_flat(ino, offset, out);
  case ChunkBased:
    return read_chunked(ino, offset, out);
  default:
    return read_compressed(ino, offset, out);
  }
}

Result<void> Erofs::read_flat(const Inode& ino, std::uint64_t offset, std::span<std::uint8_t> out) {
  std::uint64_t nblocks = (ino.size + m_blksz - 1) >> m_blkszbits;
  bool tail = ino.layout == FlatInline && nblocks > 0;
  std::uint64_t flat_end = (nblocks - (tail ? 1 : 0)) << m_blkszbits;
  std::uint64_t base = std::uint64_t{ino.iu} << m_blkszbits;
  std::size_t done = 0;
  if (offset < flat_end) {
    if (ino.iu == null_addr)
      return err(ino, "data block address is unset");
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), flat_end - offset));
    TRY_CTX(read_raw(base + offset, out.first(n)),
            where() + "inode " + std::to_string(ino.nid) + " data");
    done = n;
  }
  if (done < out.size()) {
    std::uint64_t tail_len = ino.size - flat_end;
    std::uint64_t tail_pos = ino.data_pos();
    if ((tail_pos & (m_blksz - 1)) + tail_len > m_blksz)
      return err(ino, "inline tail of " + std::to_string(tail_len) + " bytes crosses a block boundary");
    TRY_CTX(read_raw(tail_pos + (offset + done - flat_end), out.subspan(done)),
            where() + "inode " + std::to_string(ino.nid) + " inline data");
  }
  return ok();
}

Result<void> Erofs::read_chunked(const Inode& ino, std::uint64_t offset, std::span<std::uint8_t> out) {
  std::uint32_t format = ino.iu & 0xffff;
  bool indexes = format & 0x20;
  std::uint32_t chunkbits = m_blkszbits + (format & 0x1f);
  if (format & ~0x3fu)
    return err(ino, "unknown chunk format " + format_hex(format, 1));
  if (chunkbits > 47)
    return err(ino, "absurd chunk size 2^" + std::to_string(chunkbits));
  std::uint64_t chunk = std::uint64_t{1} << chunkbits;
  std::uint64_t unit = indexes ? 8 : 4;
  std::uint64_t table = align_up(ino.data_pos(), unit);
  std::size_t done = 0;
  while (done < out.size()) {
    std::uint64_t pos = offset + done;
    std::uint64_t index = pos >> chunkbits;
    std::uint64_t in_chunk = pos & (chunk - 1);
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, chunk - in_chunk));
    std::uint8_t entry[8];
    TRY_CTX(read_raw(table + index * unit, {entry, static_cast<std::size_t>(unit)}),
            where() + "inode " + std::to_string(ino.nid) + " chunk index " + std::to_string(index));
    std::uint32_t blkaddr;
    if (indexes) {
      std::uint16_t device = load_le<std::uint16_t>(entry + 2);
      blkaddr = load_le<std::uint32_t>(entry + 4);
      if (device != 0)
        return err(ino, "chunk " + std::to_string(index) + " is on extra device " + std::to_string(device));
    } else {
      blkaddr = load_le<std::uint32_t>(entry);
    }
    if (blkaddr == null_addr) {
      std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(done), n, 0);
    } else {
      TRY_CTX(read_raw((std::uint64_t{blkaddr} << m_blkszbits) + in_chunk, out.subspan(done, n)),
              where() + "inode " + std::to_string(ino.nid) + " chunk " + std::to_string(index));
    }
    done += n;
  }
  return ok();
}

Result<ZMapHeader> Erofs::read_zmap_header(const Inode& ino) {
  ZMapHeader z;
  z.pos = align_up(ino.data_pos(), 8);
  std::uint8_t h[8];
  TRY_CTX(read_raw(z.pos, h), where() + "inode " + std::to_string(ino.nid) + " map header");
  z.idata_size = load_le<std::uint16_t>(h + 2);
  z.advise = load_le<std::uint16_t>(h + 4);
  z.algs[0] = static_cast<std::uint8_t>(h[6] & 0xf);
  z.algs[1] = static_cast<std::uint8_t>(h[6] >> 4);
  z.lclusterbits = m_blkszbits + (h[7] & 0x7);
  if (z.advise & advise_fragment_pcluster)
    return err(ino, "unsupported feature 'fragments'");
  if (z.advise & ~0x3fu)
    return err(ino, "unknown compression advise bits " + format_hex(z.advise, 1));
  z.compact = ino.layout == CompressedCompact;
  if (z.compact && !(z.advise & advise_big_pcluster_1) != !(z.advise & advise_big_pcluster_2))
    return err(ino, "big pcluster flags of compact indexes are inconsistent");
  z.big = z.advise & (advise_big_pcluster_1 | advise_big_pcluster_2);
  z.lcsz = std::uint64_t{1} << z.lclusterbits;
  z.total = (ino.size + z.lcsz - 1) >> z.lclusterbits;
  if (z.total > max_lclusters)
    return err(ino, std::to_string(z.total) + " logical clusters exceed the limit");
  return z;
}

// Full indexes: 8 bytes per lcluster, after the map header plus 8 reserved bytes.
Result<LclusterIndexes> Erofs::read_full_indexes(const Inode& ino, const ZMapHeader& h) {
  LclusterIndexes idx;
  idx.lcs.resize(h.total);
  const std::uint64_t ebase = h.pos + 16;
  Bytes raw(h.total * 8);
  TRY_CTX(read_raw(ebase, raw), where() + "inode " + std::to_string(ino.nid) + " lcluster indexes");
  for (std::uint64_t i = 0; i < h.total; ++i) {
    const std::uint8_t* p = raw.data() + i * 8;
    std::uint16_t di_advise = load_le<std::uint16_t>(p);
    Lcluster& lc = idx.lcs[i];
    lc.type = di_advise & 3;
    if (lc.type == LcNonHead) {
      lc.lo = load_le<std::uint16_t>(p + 4);
    } else {
      lc.lo = load_le<std::uint16_t>(p + 2);
      lc.pblk = load_le<std::uint32_t>(p + 4);
    }
  }
  idx.end = ebase + h.total * 8;
  return idx;
}

namespace {

// Decodes one compact pack of `vcnt` entries (2 or 16) sharing a trailing le32
// block base into lcs[first_lcn...]; `in` holds vcnt << shift bytes.
void unpack_compact(const std::uint8_t* in, const ZMapHeader& h, std::vector<Lcluster>& lcs,
                    std::uint64_t first_lcn, unsigned vcnt, unsigned shift) {
  const std::uint32_t lomask = (1u << h.lclusterbits) - 1;
  const unsigned packsize = vcnt << shift;
  const unsigned encodebits = (packsize - 4) * 8 / vcnt;
  const std::uint32_t base = load_le<std::uint32_t>(in + packsize - 4);
  auto entry = [&](unsigned i) {
    const unsigned bitpos = encodebits * i;
    return load_le<std::uint32_t>(in + bitpos / 8) >> (bitpos & 7);
  };
  std::uint64_t nblk = h.big ? 0 : 1;
  for (unsigned i = 0; i < vcnt && first_lcn + i < h.total; ++i) {
    const std::uint32_t v = entry(i);
    Lcluster& lc = lcs[first_lcn + i];
    lc.lo = v & lomask;
    lc.type = (v >> h.lclusterbits) & 3;
    if (h.big) {
      if (lc.type == LcNonHead) {
        if (lc.lo & d0_cblkcnt)
          nblk += lc.lo & ~d0_cblkcnt;
      } else {
        lc.pblk = base + nblk;
        // A following CBLKCNT entry adds this pcluster's size; otherwise one block.
        bool counted_next = false;
        if (i + 1 < vcnt) {
          const std::uint32_t nv = entry(i + 1);
          counted_next = ((nv >> h.lclusterbits) & 3) == LcNonHead && ((nv & lomask) & d0_cblkcnt);
        }
        if (!counted_next)
          nblk += 1;
      }
    } else if (lc.type != LcNonHead) {
      lc.pblk = base + nblk;
      nblk += 1;
    }
  }
}

} // namespace

// Compact indexes, right after the map header: 4-byte entries up to a 32-byte
// boundary, then (with COMPACTED_2B) 2-byte entries in packs of 16, then
// 4-byte entries again.
Result<LclusterIndexes> Erofs::read_compact_indexes(const Inode& ino, const ZMapHeader& h) {
  const std::uint64_t ebase = h.pos + 8;
  const std::uint64_t total = h.total;
  std::uint64_t initial = ((32 - ebase % 32) / 4) & 7;
  std::uint64_t n2b = 0;
  if ((h.advise & advise_compacted_2b) && initial < total)
    n2b = (total - initial) / 16 * 16;
  if (n2b && h.lclusterbits > 12)
    return err(ino, "2-byte compact indexes with logical cluster size 2^" +
                        std::to_string(h.lclusterbits));
  if (h.lclusterbits > 14)
    return err(ino,
               "compact indexes with logical cluster size 2^" + std::to_string(h.lclusterbits));
  std::uint64_t first4 = std::min(initial, total);
  std::uint64_t rest4 = total - first4 - n2b;
  std::uint64_t bytes = align_up(first4 * 4, 8) + n2b * 2 + align_up(rest4 * 4, 8);
  Bytes raw(bytes);
  TRY_CTX(read_raw(ebase, raw), where() + "inode " + std::to_string(ino.nid) + " compact indexes");
  LclusterIndexes idx;
  idx.lcs.resize(total);
  idx.end = ebase + bytes;
  std::uint64_t off = 0, lcn = 0;
  for (; lcn < first4; lcn += 2, off += 8)
    unpack_compact(raw.data() + off, h, idx.lcs, lcn, 2, 2);
  for (; lcn < first4 + n2b; lcn += 16, off += 32)
    unpack_compact(raw.data() + off, h, idx.lcs, lcn, 16, 1);
  for (; lcn < total; lcn += 2, off += 8)
    unpack_compact(raw.data() + off, h, idx.lcs, lcn, 2, 2);
  return idx;
}

// Extents start at head lclusters (those that start inside the file); the
// first must start at 0.
Result<std::vector<std::uint64_t>> Erofs::extent_heads(const Inode& ino, const ZMapHeader& h,
                                                       const std::vector<Lcluster>& lcs) {
  std::vector<std::uint64_t> heads;
  for (std::uint64_t i = 0; i < h.total; ++i) {
    const Lcluster& lc = lcs[i];
    if (lc.type == LcNonHead)
      continue;
    if (lc.lo >= h.lcsz)
      return err(ino, "lcluster " + std::to_string(i) + " offset " + std::to_string(lc.lo) + " out of range");
    std::uint64_t start = (i << h.lclusterbits) + lc.lo;
    if (start >= ino.size)
      break;
    heads.push_back(i);
  }
  if (heads.empty() || heads.front() != 0 || lcs[0].lo != 0)
    return err(ino, "first logical cluster is not the head of an extent");
  return heads;
}

// The extent of heads[k]: it ends where the next one starts (or at the file's
// end); its pcluster is one block, a CBLKCNT count, or the tail-packed data.
Result<Extent> Erofs::head_extent(const Inode& ino, const ZMapHeader& h, const LclusterIndexes& idx,
                                  const std::vector<std::uint64_t>& heads, std::size_t k) {
  const std::vector<Lcluster>& lcs = idx.lcs;
  const Lcluster& lc = lcs[heads[k]];
  Extent e;
  e.lstart = (heads[k] << h.lclusterbits) + lc.lo;
  std::uint64_t end = ino.size;
  if (k + 1 < heads.size())
    end = (heads[k + 1] << h.lclusterbits) + lcs[heads[k + 1]].lo;
  if (end <= e.lstart)
    return err(ino, "extents out of order at lcluster " + std::to_string(heads[k]));
  e.llen = end - e.lstart;
  std::uint64_t blocks = 1;
  if (h.big && heads[k] + 1 < h.total) {
    const Lcluster& next = lcs[heads[k] + 1];
    if (next.type == LcNonHead && (next.lo & d0_cblkcnt))
      blocks = next.lo & ~d0_cblkcnt;
  }
  if (blocks == 0)
    return err(ino, "pcluster of zero blocks at lcluster " + std::to_string(heads[k]));
  e.pstart = lc.pblk << m_blkszbits;
  e.plen = blocks << m_blkszbits;
  const bool tail = k + 1 == heads.size();
  if (tail && (h.advise & advise_inline_pcluster)) {
    if (!(m_incompat & feat_ztailpacking))
      return err(ino, "tail-packed pcluster without the ztailpacking feature");
    e.pstart = idx.end;
    e.plen = h.idata_size;
    if (h.idata_size == 0 || (e.pstart & (m_blksz - 1)) + h.idata_size > m_blksz)
      return err(ino, "inline pcluster of " + std::to_string(h.idata_size) + " bytes at offset " +
                          std::to_string(e.pstart) + " crosses a block boundary");
  }
  if (lc.type == LcPlain) {
    e.alg = AlgRaw;
    e.interlaced = h.advise & advise_interlaced_pcluster;
    if (e.llen > e.plen && !e.interlaced)
      return err(ino, "uncompressed extent at " + std::to_string(e.lstart) +
                          " is longer than its pcluster");
  } else {
    e.alg = h.algs[lc.type == LcHead1 ? 0 : 1];
    if (e.alg > AlgZstd)
      return err(ino, "unknown compression algorithm " + std::to_string(e.alg));
    if ((m_incompat & feat_compr_cfgs) && !(m_algs & (1u << e.alg)))
      return err(ino, "compression algorithm " + std::to_string(e.alg) +
                          " is not enabled in the superblock");
  }
  if (e.llen > max_extent_bytes || e.plen > max_extent_bytes)
    return err(ino, "extent at " + std::to_string(e.lstart) + " is too large (" +
                        std::to_string(e.llen) + " bytes from " + std::to_string(e.plen) + ")");
  return e;
}

Result<std::shared_ptr<ZMap>> Erofs::zmap(const Inode& ino) {
  if (const auto* cached = m_zmaps.find(ino.nid))
    return *cached;
  auto map = std::make_shared<ZMap>();
  if (ino.size == 0)
    return m_zmaps.insert(ino.nid, map);
  const ZMapHeader h = TRY(read_zmap_header(ino));
  const LclusterIndexes idx =
      TRY(h.compact ? read_compact_indexes(ino, h) : read_full_indexes(ino, h));
  const auto heads = TRY(extent_heads(ino, h, idx.lcs));
  for (std::size_t k = 0; k < heads.size(); ++k)
    map->extents.push_back(TRY(head_extent(ino, h, idx, heads, k)));
  return m_zmaps.insert(ino.nid, map);
}

namespace {

// Each decompressor fills all of `out` from `src`, or says what went wrong.
using DecodeFailure = std::optional<std::string>;

DecodeFailure decompress_lz4(ByteSpan src, Bytes& out) {
  int n = LZ4_decompress_safe_partial(
      reinterpret_cast<const char*>(src.data()), reinterpret_cast<char*>(out.data()),
      static_cast<int>(src.size()), static_cast<int>(out.size()), static_cast<int>(out.size()));
  if (n != static_cast<int>(out.size()))
    return "lz4 decompression failed (" + std::to_string(n) + " of " + std::to_string(out.size()) +
           " bytes)";
  return std::nullopt;
}

DecodeFailure decompress_microlzma(ByteSpan src, Bytes& out, std::uint32_t lzma_dict) {
  lzma_stream strm = LZMA_STREAM_INIT;
  std::uint32_t dict =
      std::max<std::uint32_t>(4096, static_cast<std::uint32_t>(std::min<std::uint64_t>(
                                        std::max<std::uint64_t>(lzma_dict, out.size()), 1u << 30)));
  if (lzma_microlzma_decoder(&strm, src.size(), out.size(), false, dict) != LZMA_OK)
    return "cannot start the MicroLZMA decoder";
  strm.next_in = src.data();
  strm.avail_in = src.size();
  strm.next_out = out.data();
  strm.avail_out = out.size();
  lzma_ret r = lzma_code(&strm, LZMA_FINISH);
  std::size_t got = out.size() - strm.avail_out;
  lzma_end(&strm);
  if ((r != LZMA_OK && r != LZMA_STREAM_END) || got != out.size())
    return "MicroLZMA decompression failed (liblzma code " + std::to_string(r) + ", " +
           std::to_string(got) + " of " + std::to_string(out.size()) + " bytes)";
  return std::nullopt;
}

DecodeFailure decompress_deflate(ByteSpan src, Bytes& out) {
  z_stream zs{};
  if (inflateInit2(&zs, -15) != Z_OK)
    return "cannot start the deflate decoder";
  zs.next_in = const_cast<Bytef*>(src.data());
  zs.avail_in = static_cast<uInt>(src.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int r = inflate(&zs, Z_SYNC_FLUSH);
  std::size_t got = out.size() - zs.avail_out;
  inflateEnd(&zs);
  if ((r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) || got != out.size())
    return "deflate decompression failed (zlib code " + std::to_string(r) + ")";
  return std::nullopt;
}

DecodeFailure decompress_zstd(ByteSpan src, Bytes& out) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  ZSTD_inBuffer zin{src.data(), src.size(), 0};
  ZSTD_outBuffer zout{out.data(), out.size(), 0};
  while (zout.pos < zout.size) {
    std::size_t r = ZSTD_decompressStream(dctx.get(), &zout, &zin);
    if (ZSTD_isError(r))
      return std::string("zstd decompression failed: ") + ZSTD_getErrorName(r);
    if (r == 0 || (zin.pos == zin.size && zout.pos < zout.size))
      break;
  }
  if (zout.pos != out.size())
    return "zstd data ends early";
  return std::nullopt;
}

} // namespace

Result<Bytes> Erofs::decode_extent(const Inode& ino, const Extent& e) {
  Bytes in(e.plen);
  TRY_CTX(read_raw(e.pstart, in), where() + "inode " + std::to_string(ino.nid) +
                                      " pcluster at logical " + std::to_string(e.lstart));
  Bytes out(e.llen);
  auto fail = [&](const std::string& what) {
    return err(ino, what + " in the pcluster at image offset " + std::to_string(e.pstart) + " (logical " +
                        std::to_string(e.lstart) + ")");
  };
  if (e.alg == AlgRaw) {
    if (e.interlaced) {
      // Interlaced: the block is rotated by the extent's offset in its block.
      if (e.plen != m_blksz || e.llen > m_blksz)
        return fail("interlaced uncompressed extent larger than a block");
      std::uint64_t skip = e.lstart & (m_blksz - 1);
      for (std::uint64_t k = 0; k < e.llen; ++k)
        out[k] = in[(skip + k) & (m_blksz - 1)];
    } else {
      std::memcpy(out.data(), in.data(), e.llen);
    }
    return out;
  }
  // Compressed data is right-aligned in its pcluster behind zero padding.
  std::size_t margin = 0;
  if ((m_incompat & feat_zero_padding) || e.alg != AlgLz4)
    while (margin < in.size() && in[margin] == 0)
      ++margin;
  const ByteSpan src(in.data() + margin, in.size() - margin);
  DecodeFailure failure;
  switch (e.alg) {
  case AlgLz4:
    failure = decompress_lz4(src, out);
    break;
  case AlgLzma:
    failure = decompress_microlzma(src, out, m_lzma_dict);
    break;
  case AlgDeflate:
    failure = decompress_deflate(src, out);
    break;
  case AlgZstd:
    failure = decompress_zstd(src, out);
    break;
  default:
    failure = "unknown algorithm";
  }
  if (failure)
    return fail(*failure);
  return out;
}

Result<void> Erofs::read_compressed(const Inode& ino, std::uint64_t offset, std::span<std::uint8_t> out) {
  auto mapp = TRY(zmap(ino));
  const ZMap& map = *mapp;
  std::size_t done = 0;
  while (done < out.size()) {
    std::uint64_t pos = offset + done;
    auto it = std::upper_bound(map.extents.begin(), map.extents.end(), pos,
                               [](std::uint64_t p, const Extent& e) { return p < e.lstart; });
    if (it == map.extents.begin())
      return err(ino, "no extent maps offset " + std::to_string(pos));
    const Extent& e = *std::prev(it);
    if (pos >= e.lstart + e.llen)
      return err(ino, "no extent maps offset " + std::to_string(pos));
    if (m_cached_nid != ino.nid || m_cached_lstart != e.lstart || m_cached_data.size() != e.llen) {
      m_cached_nid = ~NodeId{0};
      m_cached_data = TRY(decode_extent(ino, e));
      m_cached_nid = ino.nid;
      m_cached_lstart = e.lstart;
    }
    std::uint64_t in_extent = pos - e.lstart;
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, e.llen - in_extent));
    std::memcpy(out.data() + done, m_cached_data.data() + in_extent, n);
    done += n;
  }
  return ok();
}

Result<const std::vector<DirEntry>*> Erofs::directory(NodeId dir) {
  if (const auto* cached = m_dirs.find(dir))
    return cached;
  Inode ino = TRY(inode(dir));
  if (detail::file_type_from_mode(ino.mode) != FileType::Directory)
    return err(ino, "not a directory");
  if (ino.size > max_dir_bytes)
    return err(ino, "directory of " + std::to_string(ino.size) + " bytes is too large");
  Bytes data(ino.size);
  TRY(read_data(ino, 0, data));
  std::vector<DirEntry> entries;
  for (std::uint64_t blk = 0; blk < data.size(); blk += m_blksz) {
    std::uint64_t len = std::min<std::uint64_t>(m_blksz, data.size() - blk);
    const std::uint8_t* b = data.data() + blk;
    auto bad = [&](const std::string& what) {
      return err(ino, "directory block at data offset " + std::to_string(blk) + ": " + what);
    };
    if (len < 12)
      return bad("truncated");
    std::uint16_t first = load_le<std::uint16_t>(b + 8);
    if (first < 12 || first % 12 != 0 || first > len)
      return bad("bad first name offset " + std::to_string(first));
    unsigned count = first / 12;
    for (unsigned i = 0; i < count; ++i) {
      const std::uint8_t* d = b + i * 12;
      std::uint64_t nid = load_le<std::uint64_t>(d);
      std::uint16_t nameoff = load_le<std::uint16_t>(d + 8);
      std::uint8_t ftype = d[10];
      std::uint64_t end = i + 1 < count ? load_le<std::uint16_t>(d + 12 + 8) : len;
      if (nameoff < first || nameoff > end || end > len)
        return bad("entry " + std::to_string(i) + " has a bad name offset " + std::to_string(nameoff));
      std::string_view name(reinterpret_cast<const char*>(b + nameoff), end - nameoff);
      if (auto nul = name.find('\0'); nul != std::string_view::npos)
        name = name.substr(0, nul);
      if (name == "." || name == "..")
        continue;
      if (!detail::valid_entry_name(name))
        return bad("entry " + std::to_string(i) + " has an invalid name '" + std::string(name) + "'");
      static constexpr FileType types[] = {FileType::Unknown,     FileType::Regular, FileType::Directory,
                                           FileType::CharDevice,  FileType::BlockDevice, FileType::Fifo,
                                           FileType::Socket,      FileType::Symlink};
      entries.push_back(DirEntry{std::string(name), nid, ftype < 8 ? types[ftype] : FileType::Unknown});
    }
  }
  std::sort(entries.begin(), entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  for (std::size_t i = 1; i < entries.size(); ++i)
    if (entries[i].name == entries[i - 1].name)
      return err(ino, "duplicate directory entry '" + entries[i].name + "'");
  return &m_dirs.insert(dir, std::move(entries));
}

} // namespace

Result<FilesystemPtr> open_erofs(pipeline::BlockSourcePtr source) {
  auto fs = std::make_unique<Erofs>(std::move(source));
  TRY(fs->load_super());
  return FilesystemPtr(std::move(fs));
}

} // namespace fastboop::filesystems
