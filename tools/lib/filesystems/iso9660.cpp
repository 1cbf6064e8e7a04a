// ISO 9660 (with Rock Ridge or Joliet names, as libarchive picks them)
// through libarchive reading our BlockSource with read/seek/skip callbacks.
// libarchive is a streaming reader: the tree is indexed once at open, and a
// file is read by re-opening and streaming to its entry; the open stream is
// kept so sequential reads of one file continue where the last one ended.
#include "filesystems/fs_util.hpp"
#include "filesystems/iso9660_check.hpp"
#include "common/archive_message.hpp"
#include "filesystems/open.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <map>

namespace fastboop::filesystems {

namespace {

constexpr std::size_t chunk_size = 64 * 1024;
constexpr std::size_t max_entries = 1'000'000;

struct Node {
  FileStat stat;
  std::string path;
  std::string link_target;
  std::size_t entry_index = 0; // position in libarchive's entry order (regular files)
  std::map<std::string, NodeId, std::less<>> children;
};

struct Stream {
  pipeline::BlockSource* source = nullptr;
  std::uint64_t pos = 0;
  Bytes buf;
  std::string error;
};

la_ssize_t read_cb(archive* a, void* client, const void** out) {
  auto* s = static_cast<Stream*>(client);
  std::uint64_t size = s->source->size();
  if (s->pos >= size)
    return 0;
  std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, size - s->pos));
  s->buf.resize(n);
  auto r = s->source->read_at(s->pos, s->buf);
  if (!r.ok()) {
    s->error = r.error().message();
    archive_set_error(a, EIO, "%s", s->error.c_str());
    return -1;
  }
  s->pos += n;
  *out = s->buf.data();
  return static_cast<la_ssize_t>(n);
}

la_int64_t seek_cb(archive*, void* client, la_int64_t offset, int whence) {
  auto* s = static_cast<Stream*>(client);
  std::int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? static_cast<std::int64_t>(s->pos)
                                                                  : static_cast<std::int64_t>(s->source->size());
  std::int64_t target = base + offset;
  if (target < 0)
    return ARCHIVE_FATAL;
  s->pos = std::min<std::uint64_t>(static_cast<std::uint64_t>(target), s->source->size());
  return static_cast<la_int64_t>(s->pos);
}

la_int64_t skip_cb(archive*, void* client, la_int64_t request) {
  auto* s = static_cast<Stream*>(client);
  if (request <= 0)
    return 0;
  std::uint64_t n = std::min<std::uint64_t>(static_cast<std::uint64_t>(request), s->source->size() - s->pos);
  s->pos += n;
  return static_cast<la_int64_t>(n);
}

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

class Iso9660 final : public Filesystem {
public:
  explicit Iso9660(pipeline::BlockSourcePtr source) : m_src(std::move(source)) {
    Node root;
    root.stat.type = FileType::Directory;
    root.stat.mode = 0755;
    m_nodes.push_back(std::move(root));
  }

  Result<void> index();

  std::string_view kind() const override { return "iso9660"; }
  NodeId root() const override { return 0; }

  Result<FileStat> stat(NodeId node) override { return TRY(get(node))->stat; }

  Result<std::optional<DirEntry>> lookup(NodeId dir, std::string_view name) override {
    const Node* d = TRY(get(dir));
    if (d->stat.type != FileType::Directory)
      return Error("iso9660: " + d->path + ": not a directory");
    auto it = d->children.find(name);
    if (it == d->children.end())
      return std::optional<DirEntry>{};
    return std::optional<DirEntry>{DirEntry{it->first, it->second, m_nodes[it->second].stat.type}};
  }

  Result<std::vector<DirEntry>> list(NodeId dir) override {
    const Node* d = TRY(get(dir));
    if (d->stat.type != FileType::Directory)
      return Error("iso9660: " + d->path + ": not a directory");
    std::vector<DirEntry> out;
    for (const auto& [name, id] : d->children)
      out.push_back(DirEntry{name, id, m_nodes[id].stat.type});
    return out;
  }

  Result<void> read(NodeId file, std::uint64_t offset, std::span<std::uint8_t> out) override;

  Result<std::string> read_link(NodeId node) override {
    const Node* n = TRY(get(node));
    if (n->stat.type != FileType::Symlink)
      return Error("iso9660: " + n->path + ": not a symbolic link");
    return n->link_target;
  }

private:
  Result<const Node*> get(NodeId id) const {
    if (id >= m_nodes.size())
      return Error("iso9660: invalid node " + std::to_string(id));
    return &m_nodes[id];
  }

  Result<ArchivePtr> open_archive(Stream& stream) {
    ArchivePtr a(archive_read_new());
    if (!a)
      return Error("iso9660: cannot allocate a libarchive reader");
    archive_read_support_format_iso9660(a.get());
    stream.source = m_src.get();
    stream.pos = 0;
    archive_read_set_callback_data(a.get(), &stream);
    archive_read_set_read_callback(a.get(), read_cb);
    archive_read_set_seek_callback(a.get(), seek_cb);
    archive_read_set_skip_callback(a.get(), skip_cb);
    if (archive_read_open1(a.get()) != ARCHIVE_OK)
      return Error(std::string("iso9660: cannot open ") + m_src->describe() + ": " + archive_message(a.get()));
    return a;
  }

  Error archive_err(archive* a, const std::string& what) const {
    const char* msg = archive_error_string(a);
    return Error("iso9660: " + what + ": " + (msg ? msg : "unknown libarchive error"));
  }

  // Directory node for a path, creating missing parents.
  Result<NodeId> make_dirs(const std::vector<std::string>& parts, std::size_t count) {
    NodeId cur = 0;
    for (std::size_t i = 0; i < count; ++i) {
      auto& children = m_nodes[cur].children;
      auto it = children.find(parts[i]);
      if (it != children.end()) {
        cur = it->second;
        if (m_nodes[cur].stat.type != FileType::Directory)
          return Error("iso9660: " + m_nodes[cur].path + " is both a file and a directory");
        continue;
      }
      Node d;
      d.stat.type = FileType::Directory;
      d.stat.mode = 0755;
      d.path = m_nodes[cur].path + "/" + parts[i];
      m_nodes.push_back(std::move(d));
      NodeId id = m_nodes.size() - 1;
      m_nodes[cur].children.emplace(parts[i], id);
      cur = id;
    }
    return cur;
  }

  Result<std::vector<std::string>> split(const char* raw) {
    std::vector<std::string> parts;
    std::string_view p = raw ? raw : "";
    std::size_t i = 0;
    while (i <= p.size()) {
      std::size_t j = p.find('/', i);
      if (j == std::string_view::npos)
        j = p.size();
      std::string_view part = p.substr(i, j - i);
      if (part == "..")
        return Error("iso9660: entry path '" + std::string(p) + "' climbs out with '..'");
      if (!part.empty() && part != ".") {
        if (part.find('\0') != std::string_view::npos)
          return Error("iso9660: entry path with a NUL byte");
        parts.emplace_back(part);
      }
      i = j + 1;
    }
    return parts;
  }

  pipeline::BlockSourcePtr m_src;
  std::vector<Node> m_nodes;
  // The stream left inside a file's data by the previous read.
  Stream m_stream;
  ArchivePtr m_archive;
  NodeId m_stream_node = 0;
  std::uint64_t m_stream_pos = 0; // bytes of that file's data consumed
};

Result<void> Iso9660::index() {
  Stream stream;
  auto a = TRY(open_archive(stream));
  archive_entry* entry = nullptr;
  std::size_t index = 0;
  std::vector<std::pair<NodeId, std::string>> hardlinks;
  for (;; ++index) {
    int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF)
      break;
    if (r < ARCHIVE_WARN)
      return archive_err(a.get(), "reading entry " + std::to_string(index) +
                                      (stream.error.empty() ? std::string() : " (" + stream.error + ")"));
    if (index >= max_entries)
      return Error("iso9660: more than " + std::to_string(max_entries) + " entries");
    auto parts = TRY(split(archive_entry_pathname(entry)));
    if (parts.empty())
      continue; // the root itself
    NodeId parent = TRY(make_dirs(parts, parts.size() - 1));
    const std::string& name = parts.back();
    mode_t mode = archive_entry_mode(entry);
    FileType type = detail::file_type_from_mode(mode);
    if (const char* hl = archive_entry_hardlink(entry); hl && type != FileType::Directory) {
      hardlinks.emplace_back(parent, name);
      hardlinks.back().second += std::string(1, '\0') + hl;
      continue;
    }
    auto existing = m_nodes[parent].children.find(name);
    if (existing != m_nodes[parent].children.end()) {
      if (type == FileType::Directory && m_nodes[existing->second].stat.type == FileType::Directory) {
        Node& d = m_nodes[existing->second];
        d.stat.mode = mode & 07777;
        d.stat.uid = static_cast<std::uint32_t>(archive_entry_uid(entry));
        d.stat.gid = static_cast<std::uint32_t>(archive_entry_gid(entry));
        continue;
      }
      return Error("iso9660: duplicate entry " + m_nodes[existing->second].path);
    }
    Node n;
    n.stat.type = type;
    n.stat.mode = mode & 07777;
    n.stat.uid = static_cast<std::uint32_t>(archive_entry_uid(entry));
    n.stat.gid = static_cast<std::uint32_t>(archive_entry_gid(entry));
    n.stat.size = type == FileType::Regular ? static_cast<std::uint64_t>(archive_entry_size(entry)) : 0;
    n.path = m_nodes[parent].path + "/" + name;
    n.entry_index = index;
    if (type == FileType::Symlink) {
      const char* target = archive_entry_symlink(entry);
      n.link_target = target ? target : "";
      if (n.link_target.size() > detail::max_link_target)
        return Error("iso9660: " + n.path + ": symbolic link target too long");
      n.stat.size = n.link_target.size();
    }
    m_nodes.push_back(std::move(n));
    m_nodes[parent].children.emplace(name, m_nodes.size() - 1);
  }
  // Hard links name an earlier entry by path; they share its node.
  for (auto& [parent, both] : hardlinks) {
    std::string name = both.substr(0, both.find('\0'));
    std::string target = both.substr(both.find('\0') + 1);
    auto parts = TRY(split(target.c_str()));
    NodeId cur = 0;
    for (const auto& p : parts) {
      auto it = m_nodes[cur].children.find(p);
      if (it == m_nodes[cur].children.end())
        return Error("iso9660: hard link to missing '" + target + "'");
      cur = it->second;
    }
    if (m_nodes[cur].stat.type == FileType::Directory)
      return Error("iso9660: hard link to directory '" + target + "'");
    m_nodes[parent].children.emplace(name, cur);
  }
  return ok();
}

Result<void> Iso9660::read(NodeId file, std::uint64_t offset, std::span<std::uint8_t> out) {
  const Node* n = TRY(get(file));
  if (n->stat.type != FileType::Regular)
    return Error("iso9660: " + n->path + ": read of a non-regular file");
  if (offset > n->stat.size || out.size() > n->stat.size - offset)
    return Error("iso9660: " + n->path + ": read of " + std::to_string(out.size()) + " bytes at " +
                 std::to_string(offset) + " past the end (size " + std::to_string(n->stat.size) + ")");
  if (out.empty())
    return ok();
  if (!m_archive || m_stream_node != file || m_stream_pos > offset) {
    m_archive.reset();
    m_archive = TRY(open_archive(m_stream));
    archive_entry* entry = nullptr;
    for (std::size_t i = 0;; ++i) {
      int r = archive_read_next_header(m_archive.get(), &entry);
      if (r == ARCHIVE_EOF || r < ARCHIVE_WARN) {
        Error e = archive_err(m_archive.get(), n->path + ": locating entry " + std::to_string(n->entry_index));
        m_archive.reset();
        return e;
      }
      if (i == n->entry_index)
        break;
    }
    m_stream_node = file;
    m_stream_pos = 0;
  }
  // Stream forward to `offset`, then copy.
  Bytes scratch;
  std::size_t done = 0;
  while (done < out.size()) {
    std::uint8_t* dst;
    std::size_t want;
    if (m_stream_pos < offset) {
      scratch.resize(static_cast<std::size_t>(std::min<std::uint64_t>(offset - m_stream_pos, chunk_size)));
      dst = scratch.data();
      want = scratch.size();
    } else {
      dst = out.data() + done;
      want = out.size() - done;
    }
    la_ssize_t got = archive_read_data(m_archive.get(), dst, want);
    if (got <= 0) {
      Error e = archive_err(m_archive.get(), n->path + ": data ends at " + std::to_string(m_stream_pos) +
                                                 (m_stream.error.empty() ? "" : " (" + m_stream.error + ")"));
      m_archive.reset();
      return e;
    }
    if (m_stream_pos >= offset)
      done += static_cast<std::size_t>(got);
    m_stream_pos += static_cast<std::uint64_t>(got);
  }
  return ok();
}

} // namespace

Result<FilesystemPtr> open_iso9660(pipeline::BlockSourcePtr source) {
  TRY(check_iso9660_directories(*source));
  auto fs = std::make_unique<Iso9660>(std::move(source));
  TRY(fs->index());
  return FilesystemPtr(std::move(fs));
}

} // namespace fastboop::filesystems
