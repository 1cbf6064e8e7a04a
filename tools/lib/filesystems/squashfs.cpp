// squashfs through libsquashfs (squashfs-tools-ng) over our BlockSource: the
// library's sqfs_file_t is implemented on the source, so an image inside an
// ISO, behind xz or an HTTP range cache reads only the blocks it needs. Every
// compressor the library was built with works. Nodes are the inodes met so far
// (directory listings and lookups register them); their number is bounded.
#include "filesystems/open.hpp"

#include <algorithm>
#include <map>
#include <mutex>

extern "C" {
#include <sqfs/compressor.h>
#include <sqfs/data_reader.h>
#include <sqfs/dir.h>
#include <sqfs/dir_reader.h>
#include <sqfs/error.h>
#include <sqfs/id_table.h>
#include <sqfs/inode.h>
#include <sqfs/io.h>
#include <sqfs/super.h>
}

namespace fastboop::filesystems {

namespace {

constexpr std::size_t max_nodes = 4u << 20;         // inodes registered per open image
constexpr std::size_t max_dir_entries = 1u << 20;   // entries listed in one directory
constexpr std::uint64_t max_symlink_bytes = 4096;

// sqfs_file_t on a BlockSource (read-only: writes fail).
struct SourceFile {
  sqfs_file_t base; // first member: libsquashfs casts between the two
  pipeline::BlockSource* source;
  std::string* last_error;
};

int source_read_at(sqfs_file_t* file, sqfs_u64 offset, void* buffer, size_t size) {
  auto* f = reinterpret_cast<SourceFile*>(file);
  if (offset > f->source->size() || size > f->source->size() - offset)
    return SQFS_ERROR_OUT_OF_BOUNDS;
  auto r = f->source->read_at(offset, std::span(static_cast<std::uint8_t*>(buffer), size));
  if (!r) {
    *f->last_error = r.error().message();
    return SQFS_ERROR_IO;
  }
  return 0;
}
int source_write_at(sqfs_file_t*, sqfs_u64, const void*, size_t) { return SQFS_ERROR_UNSUPPORTED; }
sqfs_u64 source_get_size(const sqfs_file_t* file) {
  return reinterpret_cast<const SourceFile*>(file)->source->size();
}
int source_truncate(sqfs_file_t*, sqfs_u64) { return SQFS_ERROR_UNSUPPORTED; }
void source_destroy(sqfs_object_t*) {} // owned by SquashfsFs

std::string sqfs_error_name(int code) {
  switch (code) {
  case SQFS_ERROR_ALLOC: return "out of memory";
  case SQFS_ERROR_IO: return "read error";
  case SQFS_ERROR_COMPRESSOR: return "decompression failed";
  case SQFS_ERROR_INTERNAL: return "internal error";
  case SQFS_ERROR_CORRUPTED: return "corrupted image";
  case SQFS_ERROR_UNSUPPORTED: return "unsupported feature";
  case SQFS_ERROR_OVERFLOW: return "size overflow";
  case SQFS_ERROR_OUT_OF_BOUNDS: return "offset out of bounds";
  case SFQS_ERROR_SUPER_MAGIC: return "not a squashfs image (bad magic)";
  case SFQS_ERROR_SUPER_VERSION: return "unsupported squashfs version";
  case SQFS_ERROR_SUPER_BLOCK_SIZE: return "invalid block size";
  case SQFS_ERROR_NOT_DIR: return "not a directory";
  case SQFS_ERROR_NO_ENTRY: return "no such entry";
  case SQFS_ERROR_LINK_LOOP: return "hard link loop";
  case SQFS_ERROR_NOT_FILE: return "not a regular file";
  case SQFS_ERROR_ARG_INVALID: return "invalid argument";
  case SQFS_ERROR_SEQUENCE: return "call sequence error";
  default: return "error " + std::to_string(code);
  }
}

FileType type_of(const sqfs_inode_generic_t& inode) {
  switch (inode.base.type) {
  case SQFS_INODE_DIR:
  case SQFS_INODE_EXT_DIR: return FileType::Directory;
  case SQFS_INODE_FILE:
  case SQFS_INODE_EXT_FILE: return FileType::Regular;
  case SQFS_INODE_SLINK:
  case SQFS_INODE_EXT_SLINK: return FileType::Symlink;
  case SQFS_INODE_BDEV:
  case SQFS_INODE_EXT_BDEV: return FileType::BlockDevice;
  case SQFS_INODE_CDEV:
  case SQFS_INODE_EXT_CDEV: return FileType::CharDevice;
  case SQFS_INODE_FIFO:
  case SQFS_INODE_EXT_FIFO: return FileType::Fifo;
  case SQFS_INODE_SOCKET:
  case SQFS_INODE_EXT_SOCKET: return FileType::Socket;
  }
  return FileType::Unknown;
}

struct InodeFree {
  void operator()(sqfs_inode_generic_t* p) const { sqfs_free(p); }
};
using InodePtr = std::unique_ptr<sqfs_inode_generic_t, InodeFree>;

class SquashfsFs final : public Filesystem {
public:
  ~SquashfsFs() override {
    sqfs_destroy(m_data);
    sqfs_destroy(m_dir);
    sqfs_destroy(m_ids);
    sqfs_destroy(m_cmp);
  }

  static Result<FilesystemPtr> open(pipeline::BlockSourcePtr source) {
    auto fs = std::unique_ptr<SquashfsFs>(new SquashfsFs(std::move(source)));
    TRY(fs->init());
    return FilesystemPtr(std::move(fs));
  }

  std::string_view kind() const override { return "squashfs"; }
  NodeId root() const override { return 0; }

  Result<FileStat> stat(NodeId node) override {
    std::lock_guard lock(m_mutex);
    const auto* inode = TRY(get(node));
    FileStat st;
    st.type = type_of(*inode);
    st.mode = inode->base.mode & 07777;
    sqfs_u32 uid = 0, gid = 0;
    if (sqfs_id_table_index_to_id(m_ids, inode->base.uid_idx, &uid) != 0 ||
        sqfs_id_table_index_to_id(m_ids, inode->base.gid_idx, &gid) != 0)
      return err("inode " + std::to_string(inode->base.inode_number) + ": owner index outside the id table");
    st.uid = uid;
    st.gid = gid;
    if (st.type == FileType::Regular) {
      sqfs_u64 size = 0;
      sqfs_inode_get_file_size(inode, &size);
      st.size = size;
    } else if (st.type == FileType::Symlink) {
      st.size = symlink_size(*inode);
    }
    return st;
  }

  Result<std::optional<DirEntry>> lookup(NodeId dir, std::string_view name) override {
    std::lock_guard lock(m_mutex);
    const auto* inode = TRY(get(dir));
    if (type_of(*inode) != FileType::Directory)
      return err("lookup of '" + std::string(name) + "' in a node that is not a directory");
    TRY(call("opening a directory", sqfs_dir_reader_open_dir(m_dir, inode, 0)));
    const std::string key(name);
    const int found = sqfs_dir_reader_find(m_dir, key.c_str());
    if (found == SQFS_ERROR_NO_ENTRY)
      return std::optional<DirEntry>{};
    TRY(call("looking up '" + key + "'", found));
    sqfs_inode_generic_t* child = nullptr;
    TRY(call("reading the inode of '" + key + "'", sqfs_dir_reader_get_inode(m_dir, &child)));
    DirEntry e;
    e.name = key;
    e.type = type_of(*child);
    e.node = TRY(add(InodePtr(child)));
    return std::optional<DirEntry>{std::move(e)};
  }

  Result<std::vector<DirEntry>> list(NodeId dir) override {
    std::lock_guard lock(m_mutex);
    const auto* inode = TRY(get(dir));
    if (type_of(*inode) != FileType::Directory)
      return err("listing a node that is not a directory");
    TRY(call("opening a directory", sqfs_dir_reader_open_dir(m_dir, inode, 0)));
    std::vector<DirEntry> out;
    while (true) {
      sqfs_dir_entry_t* ent = nullptr;
      const int r = sqfs_dir_reader_read(m_dir, &ent);
      if (r > 0)
        break;
      TRY(call("reading a directory", r));
      std::unique_ptr<sqfs_dir_entry_t, decltype(&sqfs_free)> owned(ent, &sqfs_free);
      DirEntry e;
      e.name.assign(reinterpret_cast<const char*>(ent->name), static_cast<std::size_t>(ent->size) + 1);
      if (e.name.empty() || e.name == "." || e.name == ".." || e.name.find('/') != std::string::npos)
        return err("directory entry with an invalid name '" + e.name + "'");
      sqfs_inode_generic_t* child = nullptr;
      TRY(call("reading the inode of '" + e.name + "'", sqfs_dir_reader_get_inode(m_dir, &child)));
      e.type = type_of(*child);
      e.node = TRY(add(InodePtr(child)));
      out.push_back(std::move(e));
      if (out.size() > max_dir_entries)
        return err("a directory with more than " + std::to_string(max_dir_entries) + " entries");
    }
    std::sort(out.begin(), out.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    return out;
  }

  Result<void> read(NodeId file, std::uint64_t offset, std::span<std::uint8_t> out) override {
    std::lock_guard lock(m_mutex);
    const auto* inode = TRY(get(file));
    if (type_of(*inode) != FileType::Regular)
      return err("reading a node that is not a regular file");
    sqfs_u64 size = 0;
    sqfs_inode_get_file_size(inode, &size);
    if (offset > size || out.size() > size - offset)
      return err("read of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) +
                 " past the end of a " + std::to_string(size) + "-byte file");
    std::size_t done = 0;
    while (done < out.size()) {
      // The library returns a signed 32-bit count: read in pieces.
      const std::size_t want = std::min<std::size_t>(out.size() - done, 1u << 30);
      const sqfs_s32 n = sqfs_data_reader_read(m_data, inode, offset + done, out.data() + done, want);
      if (n < 0)
        return call("reading file data", n);
      if (n == 0)
        return err("file data ends early at " + std::to_string(offset + done));
      done += static_cast<std::size_t>(n);
    }
    return ok();
  }

  Result<std::string> read_link(NodeId symlink) override {
    std::lock_guard lock(m_mutex);
    const auto* inode = TRY(get(symlink));
    if (type_of(*inode) != FileType::Symlink)
      return err("readlink of a node that is not a symlink");
    return std::string(reinterpret_cast<const char*>(inode->extra), symlink_size(*inode));
  }

private:
  explicit SquashfsFs(pipeline::BlockSourcePtr source) : m_source(std::move(source)) {
    m_file.base.base.destroy = source_destroy;
    m_file.base.base.copy = nullptr;
    m_file.base.read_at = source_read_at;
    m_file.base.write_at = source_write_at;
    m_file.base.get_size = source_get_size;
    m_file.base.truncate = source_truncate;
    m_file.source = m_source.get();
    m_file.last_error = &m_last_error;
  }

  sqfs_file_t* file() { return &m_file.base; }

  Error err(const std::string& what) const { return Error("squashfs " + m_source->describe() + ": " + what); }

  // A libsquashfs return code as a Result, naming the step and any error
  // the block source reported underneath.
  Result<void> call(const std::string& step, int code) {
    if (code >= 0)
      return ok();
    std::string message = step + ": " + sqfs_error_name(code);
    if (code == SQFS_ERROR_IO && !m_last_error.empty())
      message += " (" + m_last_error + ")";
    m_last_error.clear();
    return err(message);
  }

  Result<void> init() {
    TRY(call("reading the super block", sqfs_super_read(&m_super, file())));
    // libsquashfs does not hold the image to its own size: a truncated image
    // (a cut download, a bad ISO extent) is named here, not by a later read.
    if (m_super.bytes_used > m_source->size())
      return err("the super block says " + std::to_string(m_super.bytes_used) + " bytes, the image has " +
                 std::to_string(m_source->size()));
    sqfs_compressor_config_t cfg;
    TRY(call("compressor " + std::to_string(m_super.compression_id),
             sqfs_compressor_config_init(&cfg, static_cast<SQFS_COMPRESSOR>(m_super.compression_id),
                                         m_super.block_size, SQFS_COMP_FLAG_UNCOMPRESS)));
    const int created = sqfs_compressor_create(&cfg, &m_cmp);
    if (created != 0) {
      const char* name = sqfs_compressor_name_from_id(static_cast<SQFS_COMPRESSOR>(m_super.compression_id));
      return err(std::string("compressor ") + (name ? name : std::to_string(m_super.compression_id).c_str()) +
                 " is not supported by this libsquashfs (" + sqfs_error_name(created) + ")");
    }
    if (m_super.flags & SQFS_FLAG_COMPRESSOR_OPTIONS)
      TRY(call("reading the compressor options", m_cmp->read_options(m_cmp, file())));
    m_ids = sqfs_id_table_create(0);
    if (!m_ids)
      return err("out of memory");
    TRY(call("reading the id table", sqfs_id_table_read(m_ids, file(), &m_super, m_cmp)));
    m_dir = sqfs_dir_reader_create(&m_super, m_cmp, file(), 0);
    if (!m_dir)
      return err("cannot create a directory reader");
    m_data = sqfs_data_reader_create(file(), m_super.block_size, m_cmp, 0);
    if (!m_data)
      return err("cannot create a data reader");
    TRY(call("reading the fragment table", sqfs_data_reader_load_fragment_table(m_data, &m_super)));
    sqfs_inode_generic_t* root = nullptr;
    TRY(call("reading the root inode", sqfs_dir_reader_get_root_inode(m_dir, &root)));
    InodePtr owned(root);
    if (type_of(*owned) != FileType::Directory)
      return err("the root inode is not a directory");
    TRY(add(std::move(owned)));
    return ok();
  }

  static std::uint64_t symlink_size(const sqfs_inode_generic_t& inode) {
    const std::uint64_t n = inode.base.type == SQFS_INODE_EXT_SLINK ? inode.data.slink_ext.target_size
                                                                    : inode.data.slink.target_size;
    // The library sizes `extra` by target_size when it reads the inode; the
    // cap keeps a hostile size from meaning more than it could.
    return std::min<std::uint64_t>(n, max_symlink_bytes);
  }

  Result<const sqfs_inode_generic_t*> get(NodeId node) const {
    if (node >= m_nodes.size())
      return err("no node " + std::to_string(node));
    return m_nodes[node].get();
  }

  // One node per inode number, so listing a directory twice does not grow
  // the table.
  Result<NodeId> add(InodePtr inode) {
    const sqfs_u32 number = inode->base.inode_number;
    if (auto it = m_by_number.find(number); it != m_by_number.end())
      return it->second;
    if (m_nodes.size() >= max_nodes)
      return err("more than " + std::to_string(max_nodes) + " inodes visited");
    const NodeId id = m_nodes.size();
    m_nodes.push_back(std::move(inode));
    m_by_number.emplace(number, id);
    return id;
  }

  pipeline::BlockSourcePtr m_source;
  SourceFile m_file{};
  std::string m_last_error;
  sqfs_super_t m_super{};
  sqfs_compressor_t* m_cmp = nullptr;
  sqfs_id_table_t* m_ids = nullptr;
  sqfs_dir_reader_t* m_dir = nullptr;
  sqfs_data_reader_t* m_data = nullptr;
  std::vector<InodePtr> m_nodes;
  std::map<sqfs_u32, NodeId> m_by_number;
  std::mutex m_mutex; // libsquashfs readers keep per-call state
};

} // namespace

Result<FilesystemPtr> open_squashfs(pipeline::BlockSourcePtr source) { return SquashfsFs::open(std::move(source)); }

} // namespace fastboop::filesystems
