// ext2/3/4 through libext2fs, reading from a BlockSource via a custom
// io_manager. libext2fs is not thread-safe and finds its io channel by name
// through a manager-level open(), so every libext2fs call made here holds one
// process-wide lock, and the name -> BlockSource registry lives behind it.
#include "filesystems/fs_util.hpp"
#include "filesystems/open.hpp"

extern "C" {
#include <com_err.h>
}
#include <ext2fs/ext2fs.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

namespace fastboop::filesystems {

namespace {

std::mutex g_ext2fs_lock;

struct ChannelData {
  pipeline::BlockSource* source = nullptr;
  std::string last_error; // the BlockSource's message behind a failed read
};

// Sources waiting to be opened by ext2fs_open2(), keyed by channel name.
std::map<std::string, pipeline::BlockSource*> g_pending;
std::uint64_t g_next_id = 0;

errcode_t bs_open(const char* name, int flags, io_channel* channel);

errcode_t bs_close(io_channel channel) {
  if (--channel->refcount > 0)
    return 0;
  delete static_cast<ChannelData*>(channel->private_data);
  delete[] channel->name;
  delete channel;
  return 0;
}

errcode_t bs_set_blksize(io_channel channel, int blksize) {
  if (blksize <= 0)
    return EXT2_ET_INVALID_ARGUMENT;
  channel->block_size = blksize;
  return 0;
}

errcode_t bs_read_blk64(io_channel channel, unsigned long long block, int count, void* data) {
  auto* cd = static_cast<ChannelData*>(channel->private_data);
  std::uint64_t bytes = count < 0 ? static_cast<std::uint64_t>(-static_cast<std::int64_t>(count))
                                  : static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(channel->block_size);
  std::uint64_t offset = block * static_cast<std::uint64_t>(channel->block_size);
  if (block > (std::uint64_t{1} << 48) || offset > cd->source->size() || bytes > cd->source->size() - offset) {
    cd->last_error = "read of " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset) +
                     " is past the end of the image (" + std::to_string(cd->source->size()) + " bytes)";
    return EXT2_ET_SHORT_READ;
  }
  if (bytes == 0)
    return 0;
  auto r = cd->source->read_at(offset, {static_cast<std::uint8_t*>(data), static_cast<std::size_t>(bytes)});
  if (!r.ok()) {
    cd->last_error = r.error().message();
    return EXT2_ET_SHORT_READ;
  }
  return 0;
}

errcode_t bs_read_blk(io_channel channel, unsigned long block, int count, void* data) {
  return bs_read_blk64(channel, block, count, data);
}
errcode_t bs_write_blk(io_channel, unsigned long, int, const void*) { return EXT2_ET_RO_FILSYS; }
errcode_t bs_write_blk64(io_channel, unsigned long long, int, const void*) { return EXT2_ET_RO_FILSYS; }
errcode_t bs_write_byte(io_channel, unsigned long, int, const void*) { return EXT2_ET_RO_FILSYS; }
errcode_t bs_flush(io_channel) { return 0; }
errcode_t bs_set_option(io_channel, const char*, const char*) { return EXT2_ET_INVALID_ARGUMENT; }

struct_io_manager g_manager = [] {
  struct_io_manager m{};
  m.magic = EXT2_ET_MAGIC_IO_MANAGER;
  m.name = "fastboop BlockSource";
  m.open = bs_open;
  m.close = bs_close;
  m.set_blksize = bs_set_blksize;
  m.read_blk = bs_read_blk;
  m.write_blk = bs_write_blk;
  m.flush = bs_flush;
  m.write_byte = bs_write_byte;
  m.set_option = bs_set_option;
  m.read_blk64 = bs_read_blk64;
  m.write_blk64 = bs_write_blk64;
  return m;
}();

errcode_t bs_open(const char* name, int flags, io_channel* channel) {
  if (flags & IO_FLAG_RW)
    return EXT2_ET_RO_FILSYS;
  auto it = g_pending.find(name);
  if (it == g_pending.end())
    return EXT2_ET_BAD_DEVICE_NAME;
  auto* ch = new struct_io_channel{};
  ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
  ch->manager = &g_manager;
  ch->name = new char[std::strlen(name) + 1];
  std::strcpy(ch->name, name);
  ch->block_size = 1024;
  ch->refcount = 1;
  ch->private_data = new ChannelData{it->second, {}};
  *channel = ch;
  return 0;
}

FileType type_from_dirent(int t) {
  switch (t) {
  case EXT2_FT_REG_FILE: return FileType::Regular;
  case EXT2_FT_DIR: return FileType::Directory;
  case EXT2_FT_SYMLINK: return FileType::Symlink;
  case EXT2_FT_CHRDEV: return FileType::CharDevice;
  case EXT2_FT_BLKDEV: return FileType::BlockDevice;
  case EXT2_FT_FIFO: return FileType::Fifo;
  case EXT2_FT_SOCK: return FileType::Socket;
  default: return FileType::Unknown;
  }
}

constexpr std::uint64_t max_dir_entries = 10'000'000;

class Ext4 final : public Filesystem {
public:
  Ext4(pipeline::BlockSourcePtr source) : m_src(std::move(source)) {}
  ~Ext4() override {
    std::lock_guard lock(g_ext2fs_lock);
    if (m_fs)
      ext2fs_close_free(&m_fs);
  }

  Result<void> open() {
    std::lock_guard lock(g_ext2fs_lock);
    std::string name = "fastboop-blocksource-" + std::to_string(g_next_id++);
    g_pending[name] = m_src.get();
    errcode_t rc = ext2fs_open2(name.c_str(), nullptr, EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP, 0, 0, &g_manager, &m_fs);
    g_pending.erase(name);
    if (rc) {
      m_fs = nullptr;
      return Error("ext4: cannot open the filesystem in " + m_src->describe() + ": " + error_message(rc));
    }
    return ok();
  }

  std::string_view kind() const override { return "ext4"; }
  NodeId root() const override { return EXT2_ROOT_INO; }

  Result<FileStat> stat(NodeId node) override {
    std::lock_guard lock(g_ext2fs_lock);
    ext2_inode inode{};
    TRY(read_inode(node, inode));
    FileStat st;
    st.type = detail::file_type_from_mode(inode.i_mode);
    st.size = detail::stat_size(st.type, EXT2_I_SIZE(&inode));
    st.mode = inode.i_mode & 07777;
    st.uid = inode_uid(inode);
    st.gid = inode_gid(inode);
    return st;
  }

  Result<std::optional<DirEntry>> lookup(NodeId dir, std::string_view name) override {
    return detail::find_in_sorted(*TRY(directory(dir)), name);
  }

  Result<std::vector<DirEntry>> list(NodeId dir) override { return *TRY(directory(dir)); }

  Result<void> read(NodeId file, std::uint64_t offset, std::span<std::uint8_t> out) override {
    std::lock_guard lock(g_ext2fs_lock);
    ext2_inode inode{};
    TRY(read_inode(file, inode));
    if (!LINUX_S_ISREG(inode.i_mode))
      return err(file, "read of a non-regular file");
    std::uint64_t size = EXT2_I_SIZE(&inode);
    if (offset > size || out.size() > size - offset)
      return err(file, "read of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) +
                           " past the end (size " + std::to_string(size) + ")");
    return read_contents(file, offset, out);
  }

  Result<std::string> read_link(NodeId node) override {
    std::lock_guard lock(g_ext2fs_lock);
    ext2_inode inode{};
    TRY(read_inode(node, inode));
    if (!LINUX_S_ISLNK(inode.i_mode))
      return err(node, "not a symbolic link");
    std::uint64_t size = EXT2_I_SIZE(&inode);
    if (size > detail::max_link_target)
      return err(node, "symbolic link target of " + std::to_string(size) + " bytes is too long");
    std::string target(size, '\0');
    if (ext2fs_is_fast_symlink(&inode)) {
      if (size > sizeof inode.i_block)
        return err(node, "fast symbolic link longer than its inode");
      std::memcpy(target.data(), inode.i_block, size);
    } else {
      TRY(read_contents(node, 0, {reinterpret_cast<std::uint8_t*>(target.data()), target.size()}));
    }
    return target;
  }

private:
  Error err(NodeId node, const std::string& what) const {
    return Error("ext4: inode " + std::to_string(node) + ": " + what);
  }
  Error lib_err(NodeId node, const std::string& step, errcode_t rc) const {
    std::string msg = step + ": " + error_message(rc);
    auto* cd = static_cast<ChannelData*>(m_fs->io->private_data);
    if (!cd->last_error.empty()) {
      msg += " (" + cd->last_error + ")";
      cd->last_error.clear();
    }
    return err(node, msg);
  }

  Result<void> read_inode(NodeId node, ext2_inode& inode) {
    if (node == 0 || node > m_fs->super->s_inodes_count)
      return err(node, "inode number out of range (1.." + std::to_string(m_fs->super->s_inodes_count) + ")");
    errcode_t rc = ext2fs_read_inode(m_fs, static_cast<ext2_ino_t>(node), &inode);
    if (rc)
      return lib_err(node, "reading the inode", rc);
    return ok();
  }

  // Caller holds the lock.
  Result<void> read_contents(NodeId node, std::uint64_t offset, std::span<std::uint8_t> out) {
    ext2_file_t file = nullptr;
    errcode_t rc = ext2fs_file_open(m_fs, static_cast<ext2_ino_t>(node), 0, &file);
    if (rc)
      return lib_err(node, "opening the file", rc);
    struct Closer {
      ext2_file_t f;
      ~Closer() { ext2fs_file_close(f); }
    } closer{file};
    rc = ext2fs_file_llseek(file, offset, EXT2_SEEK_SET, nullptr);
    if (rc)
      return lib_err(node, "seeking to " + std::to_string(offset), rc);
    std::size_t done = 0;
    while (done < out.size()) {
      unsigned int want = static_cast<unsigned int>(std::min<std::size_t>(out.size() - done, 1u << 30));
      unsigned int got = 0;
      rc = ext2fs_file_read(file, out.data() + done, want, &got);
      if (rc)
        return lib_err(node, "reading at " + std::to_string(offset + done), rc);
      if (got == 0) {
        // Inline-data inodes may be larger than their inline bytes (mke2fs -d
        // writes an all-zero file that way); like the kernel, the rest reads
        // as zeros. Anything else ending early is corrupt.
        ext2_inode inode{};
        TRY(read_inode(node, inode));
        if (!(inode.i_flags & EXT4_INLINE_DATA_FL))
          return err(node, "file data ends at " + std::to_string(offset + done) + " before its size");
        std::fill(out.begin() + static_cast<std::ptrdiff_t>(done), out.end(), 0);
        break;
      }
      done += got;
    }
    return ok();
  }

  Result<const std::vector<DirEntry>*> directory(NodeId dir) {
    if (const auto* cached = m_dirs.find(dir))
      return cached;
    std::lock_guard lock(g_ext2fs_lock);
    ext2_inode inode{};
    TRY(read_inode(dir, inode));
    if (!LINUX_S_ISDIR(inode.i_mode))
      return err(dir, "not a directory");
    struct Ctx {
      std::vector<DirEntry> entries;
      std::string bad;
    } ctx;
    auto cb = [](ext2_ino_t, int, ext2_dir_entry* dirent, int, int, char*, void* priv) -> int {
      auto* c = static_cast<Ctx*>(priv);
      int len = ext2fs_dirent_name_len(dirent);
      std::string_view name(dirent->name, static_cast<std::size_t>(len));
      if (name == "." || name == "..")
        return 0;
      if (!detail::valid_entry_name(name)) {
        c->bad = "invalid entry name '" + std::string(name) + "'";
        return DIRENT_ABORT;
      }
      if (c->entries.size() >= max_dir_entries) {
        c->bad = "more than " + std::to_string(max_dir_entries) + " entries";
        return DIRENT_ABORT;
      }
      c->entries.push_back(DirEntry{std::string(name), dirent->inode, type_from_dirent(ext2fs_dirent_file_type(dirent))});
      return 0;
    };
    errcode_t rc = ext2fs_dir_iterate2(m_fs, static_cast<ext2_ino_t>(dir), 0, nullptr, cb, &ctx);
    if (rc)
      return lib_err(dir, "listing the directory", rc);
    if (!ctx.bad.empty())
      return err(dir, ctx.bad);
    std::sort(ctx.entries.begin(), ctx.entries.end(), [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    for (std::size_t i = 1; i < ctx.entries.size(); ++i)
      if (ctx.entries[i].name == ctx.entries[i - 1].name)
        return err(dir, "duplicate directory entry '" + ctx.entries[i].name + "'");
    return &m_dirs.insert(dir, std::move(ctx.entries));
  }

  pipeline::BlockSourcePtr m_src;
  ext2_filsys m_fs = nullptr;
  detail::BoundedCache<NodeId, std::vector<DirEntry>> m_dirs{1024};
};

} // namespace

Result<FilesystemPtr> open_ext4(pipeline::BlockSourcePtr source) {
  auto fs = std::make_unique<Ext4>(std::move(source));
  TRY(fs->open());
  return FilesystemPtr(std::move(fs));
}

} // namespace fastboop::filesystems
