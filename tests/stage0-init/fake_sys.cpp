#include "fake_sys.hpp"

#include <cerrno>

namespace fastboop::stage0_init::test {

namespace {
std::string flag_text(unsigned long flags) {
  std::string out;
  auto add = [&out](const char* name) { out += out.empty() ? name : std::string("|") + name; };
  if (flags & kMsRdonly)
    add("RDONLY");
  if (flags & kMsBind)
    add("BIND");
  if (flags & kMsMove)
    add("MOVE");
  if (flags & kMsRec)
    add("REC");
  if (flags & kMsPrivate)
    add("PRIVATE");
  return out.empty() ? "0" : out;
}
} // namespace

FakeSys::FakeSys() {
  m_nodes["/"] = {FileType::Directory, {}};
}

std::string FakeSys::raw(const std::string& path) const {
  std::string abs = path;
  if (abs.empty() || abs[0] != '/')
    abs = (m_cwd == "/" ? std::string() : m_cwd) + "/" + path; // relative to cwd (raw)
  else
    abs = root + abs;
  while (abs.size() > 1 && abs.back() == '/')
    abs.pop_back();
  if (abs.size() > 2 && abs.compare(abs.size() - 2, 2, "/.") == 0)
    abs.resize(abs.size() - 2);
  if (abs.empty())
    abs = "/";
  // Bind mounts: a path under a bind target is the same path under its source.
  for (int hops = 0; hops < 8; ++hops) {
    const std::pair<const std::string, std::string>* best = nullptr;
    for (const auto& bind : m_binds)
      if ((abs == bind.first || abs.starts_with(bind.first + "/")) &&
          (!best || bind.first.size() > best->first.size()))
        best = &bind;
    if (!best)
      break;
    abs = best->second + abs.substr(best->first.size());
  }
  return abs;
}

std::string FakeSys::parent(const std::string& raw_path) const {
  const std::size_t slash = raw_path.rfind('/');
  return slash == 0 ? "/" : raw_path.substr(0, slash);
}

const FakeNode* FakeSys::node(const std::string& raw_path) const {
  auto it = m_nodes.find(raw_path);
  return it == m_nodes.end() ? nullptr : &it->second;
}

const FakeNode* FakeSys::follow(const std::string& raw_path) const {
  const FakeNode* n = node(raw_path);
  for (int hops = 0; n && n->type == FileType::Symlink && hops < 8; ++hops) {
    std::string target = n->content;
    if (target.empty() || target[0] != '/')
      target = parent(raw_path) + "/" + target;
    else
      target = root + target;
    n = node(target);
  }
  return n;
}

void FakeSys::add_dir(const std::string& path) {
  std::string p;
  for (std::size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/')
      m_nodes.emplace(path.substr(0, i), FakeNode{FileType::Directory, {}});
}

void FakeSys::add_file(const std::string& path, std::string content) {
  add_node(path, FileType::Regular, std::move(content));
}

void FakeSys::add_node(const std::string& path, FileType type, std::string content) {
  add_dir(parent(path));
  m_nodes[path] = {type, std::move(content)};
}

void FakeSys::remove(const std::string& path) {
  m_nodes.erase(path);
}

bool FakeSys::has(const std::string& path) const {
  return node(path) != nullptr;
}

int FakeSys::mount(const std::string& source, const std::string& target, const std::string& fstype,
                   unsigned long flags, const std::string& data) {
  calls.push_back("mount " + (source.empty() ? "-" : source) + " " + target + " " +
                  (fstype.empty() ? "-" : fstype) + " " + flag_text(flags) +
                  (data.empty() ? "" : " " + data));
  if (auto it = mount_errors.find(target); it != mount_errors.end())
    return it->second;
  if (flags & kMsMove) {
    if (target == "/")
      root = raw(source);
    return 0;
  }
  if (!(flags & kMsPrivate) && !node(raw(target)))
    return ENOENT;
  if ((flags & kMsBind) && raw(source) != raw(target))
    m_binds[raw(target)] = raw(source);
  return 0;
}

int FakeSys::mkdir(const std::string& path, unsigned) {
  const std::string p = raw(path);
  if (node(p))
    return EEXIST;
  if (p.starts_with(root + "/sys/kernel/config/"))
    add_dir(parent(p)); // configfs creates a gadget's subdirectories with it
  if (!node(parent(p)))
    return ENOENT;
  calls.push_back("mkdir " + path);
  m_nodes[p] = {FileType::Directory, {}};
  return 0;
}

int FakeSys::symlink(const std::string& target, const std::string& link) {
  const std::string p = raw(link);
  if (node(p))
    return EEXIST;
  if (!node(parent(p)))
    return ENOENT;
  calls.push_back("symlink " + link + " -> " + target);
  m_nodes[p] = {FileType::Symlink, target};
  return 0;
}

int FakeSys::unlink(const std::string& path) {
  const std::string p = raw(path);
  if (!node(p))
    return ENOENT;
  calls.push_back("unlink " + path);
  m_nodes.erase(p);
  return 0;
}

int FakeSys::chmod(const std::string& path, unsigned mode) {
  if (!node(raw(path)))
    return ENOENT;
  calls.push_back("chmod " + path + " " + std::to_string(mode));
  return 0;
}

int FakeSys::write_file(const std::string& path, std::string_view data, Create create, unsigned) {
  if (on_write_error)
    if (const int err = on_write_error(path); err != 0)
      return err;
  const std::string p = raw(path);
  FakeNode* n = m_nodes.count(p) ? &m_nodes[p] : nullptr;
  if (!n) {
    // configfs creates a directory's attribute files along with it.
    const bool configfs_attr = p.starts_with(root + "/sys/kernel/config/");
    if ((create == Create::No && !configfs_attr) || !node(parent(p)))
      return ENOENT;
    n = &m_nodes[p];
  }
  calls.push_back("write " + path + " = " + std::string(data));
  n->type = FileType::Regular;
  n->content = std::string(data);
  if (on_write)
    on_write(path, std::string(data));
  return 0;
}

int FakeSys::read_file(const std::string& path, std::string& out, std::size_t limit) {
  const FakeNode* n = follow(raw(path));
  if (!n)
    return ENOENT;
  if (n->type == FileType::Directory)
    return EISDIR;
  out = n->content.substr(0, limit);
  return 0;
}

int FakeSys::list_dir(const std::string& path, std::vector<DirEntry>& out) {
  out.clear();
  const std::string p = raw(path);
  const FakeNode* n = follow(p);
  if (!n)
    return ENOENT;
  if (n->type != FileType::Directory)
    return ENOTDIR;
  const std::string prefix = p == "/" ? "/" : p + "/";
  for (auto it = m_nodes.lower_bound(prefix); it != m_nodes.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0)
      break;
    const std::string rest = it->first.substr(prefix.size());
    if (!rest.empty() && rest.find('/') == std::string::npos)
      out.push_back({rest, it->second.type});
  }
  return 0;
}

FileType FakeSys::stat(const std::string& path) {
  const FakeNode* n = follow(raw(path));
  return n ? n->type : FileType::Missing;
}

FileType FakeSys::lstat(const std::string& path) {
  const FakeNode* n = node(raw(path));
  return n ? n->type : FileType::Missing;
}

int FakeSys::loop_attach(const std::string& path, std::uint64_t offset, std::uint64_t size,
                         std::string& device) {
  calls.push_back("loop-attach " + path +
                  (offset || size
                       ? " offset=" + std::to_string(offset) + " size=" + std::to_string(size)
                       : std::string()));
  if (fail_loop_attach)
    return fail_loop_attach;
  const FakeNode* n = follow(raw(path));
  if (!n)
    return ENOENT;
  if (n->type != FileType::Regular && n->type != FileType::BlockDevice)
    return EINVAL;
  device = "/dev/loop" + std::to_string(m_loops++);
  add_node(raw(device), FileType::BlockDevice);
  return 0;
}

int FakeSys::block_device_size(const std::string& path, std::uint64_t& bytes) {
  calls.push_back("open-block " + path);
  const FakeNode* n = follow(raw(path));
  if (!n)
    return ENOENT;
  if (n->type != FileType::BlockDevice)
    return ENOTBLK;
  if (on_block_open)
    if (const int err = on_block_open(path); err != 0)
      return err;
  auto it = block_sizes.find(path);
  bytes = it == block_sizes.end() ? 64ull << 20 : it->second;
  return 0;
}

int FakeSys::realpath(const std::string& path, std::string& out) {
  std::string p = raw(path);
  for (int hops = 0; hops < 8; ++hops) {
    const FakeNode* n = node(p);
    if (!n)
      return ENOENT;
    if (n->type != FileType::Symlink)
      break;
    p = n->content.empty() || n->content[0] != '/' ? parent(p) + "/" + n->content
                                                   : root + n->content;
    // Collapse "a/b/../c" the way a kernel walk would.
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i < p.size()) {
      std::size_t j = p.find('/', i + 1);
      std::string part = p.substr(i + 1, j == std::string::npos ? std::string::npos : j - i - 1);
      if (part == "..") {
        if (!parts.empty())
          parts.pop_back();
      } else if (!part.empty() && part != ".") {
        parts.push_back(part);
      }
      if (j == std::string::npos)
        break;
      i = j;
    }
    p.clear();
    for (const std::string& part : parts)
      p += "/" + part;
  }
  out = p.compare(0, root.size(), root) == 0 ? p.substr(root.size()) : p;
  if (out.empty())
    out = "/";
  return 0;
}

int FakeSys::finit_module(const std::string& path, int flags) {
  calls.push_back("finit_module " + path + " " + std::to_string(flags));
  if (on_finit_module)
    return on_finit_module(path, flags);
  return node(raw(path)) ? 0 : ENOENT;
}

int FakeSys::spawn(const std::string& path, const std::vector<std::string>& argv,
                   const std::vector<std::string>& extra_env, int& pid) {
  std::string line = "spawn " + path;
  for (std::size_t i = 1; i < argv.size(); ++i)
    line += " " + argv[i];
  for (const std::string& e : extra_env)
    line += " [env " + e + "]";
  calls.push_back(line);
  if (!node(raw(path)))
    return ENOENT;
  pid = 42;
  if (on_spawn)
    on_spawn(argv);
  return 0;
}

ChildStatus FakeSys::poll_child(int) {
  return child_status.value_or(ChildStatus{});
}

int FakeSys::start_kmsg_forwarder(int& pid) {
  calls.push_back("start_kmsg_forwarder");
  pid = 43;
  return 0;
}

int FakeSys::chdir(const std::string& path) {
  const std::string p = raw(path);
  if (!node(p))
    return ENOENT;
  calls.push_back("chdir " + path);
  m_cwd = p;
  return 0;
}

int FakeSys::chroot(const std::string& path) {
  const std::string p = raw(path);
  if (!node(p))
    return ENOENT;
  calls.push_back("chroot " + path);
  root = p == "/" ? "" : p;
  return 0;
}

int FakeSys::exec(const std::string& path, const std::vector<std::string>& argv) {
  calls.push_back("exec " + path + " argc=" + std::to_string(argv.size()));
  return exec_result;
}

int FakeSys::random_bytes(std::uint8_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<std::uint8_t>(0xa0 + i);
  return 0;
}

void FakeSys::sleep_ms(unsigned ms) {
  clock_ms += ms;
  if (on_sleep)
    on_sleep(clock_ms);
}

std::uint64_t FakeSys::now_ms() {
  return clock_ms;
}

void FakeSys::attach_console() {
  calls.push_back("attach_console");
}

void FakeSys::log(std::string_view line, bool error) {
  (error ? error_lines : log_lines).emplace_back(line);
}

void FakeSys::terminate(stage0::OnFailure action) {
  terminated = action;
}

} // namespace fastboop::stage0_init::test
