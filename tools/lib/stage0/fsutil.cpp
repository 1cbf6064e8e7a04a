#include "stage0/fsutil.hpp"

namespace fastboop::stage0 {

namespace fs = fastboop::filesystems;

Result<std::optional<fs::NodeId>> find_path(fs::Filesystem& fsys, const std::string& path) {
  // try_resolve_path reports a missing *final* component as nullopt; check
  // each ancestor the same way so a missing directory is nullopt too.
  for (std::size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    auto parent = TRY(fs::try_resolve_path(fsys, path.substr(0, slash)));
    if (!parent)
      return std::optional<fs::NodeId>{};
    auto st = TRY(fsys.stat(*parent));
    if (st.type != fs::FileType::Directory)
      return std::optional<fs::NodeId>{};
  }
  return fs::try_resolve_path(fsys, path);
}

Result<std::optional<fs::FileType>> path_type(fs::Filesystem& fsys, const std::string& path) {
  auto node = TRY(find_path(fsys, path));
  if (!node)
    return std::optional<fs::FileType>{};
  auto st = TRY(fsys.stat(*node));
  return std::optional<fs::FileType>(st.type);
}

} // namespace fastboop::stage0
