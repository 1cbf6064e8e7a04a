#include "filesystems/filesystem.hpp"

#include <algorithm>
#include <vector>

namespace fastboop::filesystems {

namespace {

constexpr int max_symlinks = 40;

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/')
      ++i;
    std::size_t j = i;
    while (j < path.size() && path[j] != '/')
      ++j;
    if (j > i)
      parts.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

// Walks components with an explicit stack of parent nodes so ".." and
// absolute symlink targets stay inside the filesystem.
Result<std::optional<NodeId>> walk(Filesystem& fs, std::string_view path, FollowFinal follow,
                                   bool missing_is_error) {
  std::vector<NodeId> stack{fs.root()};
  std::vector<std::string> pending = split(path);
  std::reverse(pending.begin(), pending.end()); // pop from the back
  int links = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.back());
    pending.pop_back();
    if (part == ".")
      continue;
    if (part == "..") {
      if (stack.size() > 1)
        stack.pop_back();
      continue;
    }
    NodeId dir = stack.back();
    auto dir_stat = TRY(fs.stat(dir));
    if (dir_stat.type != FileType::Directory)
      return Error(std::string(path) + ": a component before '" + part + "' is not a directory");
    auto entry = TRY(fs.lookup(dir, part));
    if (!entry) {
      if (!missing_is_error && pending.empty())
        return std::optional<NodeId>{};
      return Error(std::string(path) + ": '" + part + "' not found");
    }
    bool is_last = pending.empty();
    auto st = TRY(fs.stat(entry->node));
    if (st.type == FileType::Symlink && (!is_last || follow == FollowFinal::Yes)) {
      if (++links > max_symlinks)
        return Error(std::string(path) + ": too many levels of symbolic links (loop?)");
      std::string target = TRY(fs.read_link(entry->node));
      if (target.empty())
        return Error(std::string(path) + ": empty symbolic link '" + part + "'");
      auto target_parts = split(target);
      for (auto it = target_parts.rbegin(); it != target_parts.rend(); ++it)
        pending.push_back(*it);
      if (target.front() == '/')
        stack.resize(1); // absolute: restart at our root, not the host's
      continue;
    }
    stack.push_back(entry->node);
  }
  return std::optional<NodeId>{stack.back()};
}

} // namespace

Result<NodeId> resolve_path(Filesystem& fs, std::string_view path, FollowFinal follow) {
  auto node = TRY(walk(fs, path, follow, true));
  return *node;
}

Result<std::optional<NodeId>> try_resolve_path(Filesystem& fs, std::string_view path,
                                               FollowFinal follow) {
  return walk(fs, path, follow, false);
}

Result<Bytes> read_file(Filesystem& fs, std::string_view path, std::uint64_t max_bytes) {
  NodeId node = TRY(resolve_path(fs, path));
  auto st = TRY(fs.stat(node));
  if (st.type != FileType::Regular)
    return Error(std::string(path) + ": not a regular file");
  if (st.size > max_bytes)
    return Error(std::string(path) + ": " + std::to_string(st.size) + " bytes exceeds the limit of " +
                 std::to_string(max_bytes));
  Bytes out(static_cast<std::size_t>(st.size));
  TRY(fs.read(node, 0, out));
  return out;
}

} // namespace fastboop::filesystems
