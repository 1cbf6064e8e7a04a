#include "filesystems/walk.hpp"

#include <unordered_set>
#include <vector>

namespace fastboop::filesystems {

Result<void> walk_tree(Filesystem& fs, const std::function<Result<void>(const WalkItem&)>& visit,
                       const WalkLimits& limits) {
  struct Pending {
    std::string path;
    NodeId node;
    unsigned depth;
  };
  std::unordered_set<NodeId> seen_dirs{fs.root()};
  std::vector<Pending> stack{{"", fs.root(), 0}};
  std::uint64_t entries = 0;
  while (!stack.empty()) {
    Pending dir = std::move(stack.back());
    stack.pop_back();
    auto children = TRY_CTX(fs.list(dir.node), std::string(fs.kind()) + ": listing " + (dir.path.empty() ? "/" : dir.path));
    std::vector<Pending> subdirs;
    for (const auto& entry : children) {
      if (++entries > limits.max_entries)
        return Error(std::string(fs.kind()) + ": more than " + std::to_string(limits.max_entries) + " entries");
      WalkItem item;
      item.path = dir.path + "/" + entry.name;
      item.node = entry.node;
      item.stat = TRY_CTX(fs.stat(entry.node), item.path);
      TRY(visit(item));
      if (item.stat.type == FileType::Directory) {
        if (!seen_dirs.insert(entry.node).second)
          return Error(std::string(fs.kind()) + ": directory " + item.path + " (node " + std::to_string(entry.node) +
                       ") was already visited: directory cycle");
        if (dir.depth + 1 > limits.max_depth)
          return Error(std::string(fs.kind()) + ": " + item.path + " is nested deeper than " +
                       std::to_string(limits.max_depth) + " levels");
        subdirs.push_back({item.path, entry.node, dir.depth + 1});
      }
    }
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it)
      stack.push_back(std::move(*it));
  }
  return ok();
}

} // namespace fastboop::filesystems
