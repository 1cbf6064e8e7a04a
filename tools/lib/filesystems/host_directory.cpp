// A host directory exposed through the Filesystem interface. Nodes are
// relative paths interned in a table; lookups use lstat so a symlink in the
// tree is resolved by resolve_path() inside the tree, never by the host.
#include "filesystems/filesystem.hpp"
#include "common/fd.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <unordered_map>

namespace fastboop::filesystems {

namespace {

FileType type_of(mode_t m) {
  if (S_ISREG(m))
    return FileType::Regular;
  if (S_ISDIR(m))
    return FileType::Directory;
  if (S_ISLNK(m))
    return FileType::Symlink;
  if (S_ISCHR(m))
    return FileType::CharDevice;
  if (S_ISBLK(m))
    return FileType::BlockDevice;
  if (S_ISFIFO(m))
    return FileType::Fifo;
  if (S_ISSOCK(m))
    return FileType::Socket;
  return FileType::Unknown;
}

class HostDirectory final : public Filesystem {
public:
  explicit HostDirectory(std::string root) : m_root(std::move(root)) { m_paths.push_back(""); }

  std::string_view kind() const override { return "dir"; }
  NodeId root() const override { return 0; }

  Result<FileStat> stat(NodeId node) override {
    auto path = TRY(host_path(node));
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0)
      return Error("cannot stat " + path + ": " + std::strerror(errno), ErrorKind::Io);
    FileStat out;
    out.type = type_of(st.st_mode);
    out.size = static_cast<std::uint64_t>(st.st_size);
    out.mode = st.st_mode & 07777;
    out.uid = st.st_uid;
    out.gid = st.st_gid;
    return out;
  }

  Result<std::optional<DirEntry>> lookup(NodeId dir, std::string_view name) override {
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
      return Error("invalid name '" + std::string(name) + "'");
    auto dir_path = TRY(host_path(dir));
    std::string path = dir_path + "/" + std::string(name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR)
        return std::optional<DirEntry>{};
      return Error("cannot stat " + path + ": " + std::strerror(errno), ErrorKind::Io);
    }
    return std::optional<DirEntry>{DirEntry{std::string(name), intern(m_paths[dir] + "/" + std::string(name)),
                                            type_of(st.st_mode)}};
  }

  Result<std::vector<DirEntry>> list(NodeId dir) override {
    auto dir_path = TRY(host_path(dir));
    DIR* d = ::opendir(dir_path.c_str());
    if (!d)
      return Error("cannot list " + dir_path + ": " + std::strerror(errno), ErrorKind::Io);
    std::vector<std::string> names;
    while (auto* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..")
        names.push_back(std::move(n));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    std::vector<DirEntry> out;
    for (const auto& n : names) {
      auto entry = TRY(lookup(dir, n));
      if (entry)
        out.push_back(std::move(*entry));
    }
    return out;
  }

  Result<void> read(NodeId file, std::uint64_t offset, std::span<std::uint8_t> out) override {
    auto path = TRY(host_path(file));
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd)
      return Error("cannot open " + path + ": " + std::strerror(errno), ErrorKind::Io);
    const std::size_t done = TRY_CTX(pread_full(fd.get(), out, offset),
                                     "cannot read " + path + " at offset " + std::to_string(offset));
    if (done < out.size())
      return Error("short read from " + path + " at offset " + std::to_string(offset + done), ErrorKind::Io);
    return ok();
  }

  Result<std::string> read_link(NodeId node) override {
    auto path = TRY(host_path(node));
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    if (n < 0)
      return Error("cannot read link " + path + ": " + std::strerror(errno), ErrorKind::Io);
    return std::string(buf, static_cast<std::size_t>(n));
  }

private:
  Result<std::string> host_path(NodeId node) const {
    if (node >= m_paths.size())
      return Error("invalid node " + std::to_string(node));
    return m_root + m_paths[node];
  }
  NodeId intern(const std::string& rel) {
    auto it = m_ids.find(rel);
    if (it != m_ids.end())
      return it->second;
    m_paths.push_back(rel);
    NodeId id = m_paths.size() - 1;
    m_ids.emplace(rel, id);
    return id;
  }

  std::string m_root;
  std::vector<std::string> m_paths;
  std::unordered_map<std::string, NodeId> m_ids;
};

} // namespace

Result<FilesystemPtr> open_host_directory(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Error("cannot open directory " + path + ": " + std::strerror(errno), ErrorKind::Io);
  if (!S_ISDIR(st.st_mode))
    return Error(path + " is not a directory");
  std::string root = path;
  while (root.size() > 1 && root.back() == '/')
    root.pop_back();
  return FilesystemPtr(std::make_unique<HostDirectory>(root));
}

} // namespace fastboop::filesystems
