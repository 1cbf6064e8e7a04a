#include "stage0/source.hpp"

#include "filesystems/open.hpp"
#include "pipeline/pipeline.hpp"
#include "profiles/profiles.hpp"
#include "stage0/fsutil.hpp"

#include <cstring>
#include <fstream>
#include <sys/stat.h>

namespace fastboop::stage0 {

namespace fs = fastboop::filesystems;

namespace {

fs::FsKind fs_kind_of(profiles::FilesystemKind k) {
  switch (k) {
  case profiles::FilesystemKind::Erofs: return fs::FsKind::Erofs;
  case profiles::FilesystemKind::Ext4: return fs::FsKind::Ext4;
  case profiles::FilesystemKind::Fat: return fs::FsKind::Fat;
  }
  return fs::FsKind::Auto;
}

Result<fs::FilesystemPtr> open_profile_fs(const profiles::FilesystemSource& src, const pipeline::OpenOptions& opts,
                                          const std::string& what, std::vector<std::string>& layers) {
  if (src.ostree)
    return Error("boot profile " + what + ": OSTree deployments are not supported by fastboop-stage0 "
                 "(give the deployment's rootfs directly)",
                 ErrorKind::Unsupported);
  auto block = TRY_CTX(pipeline::open_pipeline(src.source, opts), "boot profile " + what);
  layers.push_back(block->describe());
  return TRY_CTX(fs::open_filesystem(std::move(block), fs_kind_of(src.filesystem)), "boot profile " + what);
}

bool has_magic(const std::string& path, std::string_view magic) {
  std::ifstream in(path, std::ios::binary);
  std::string head(magic.size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  return in.gcount() == static_cast<std::streamsize>(magic.size()) && head == magic;
}

} // namespace

Result<SourcePart> parse_source_part(std::string_view name) {
  if (name == "rootfs")
    return SourcePart::Rootfs;
  if (name == "kernel")
    return SourcePart::Kernel;
  if (name == "dtbs")
    return SourcePart::Dtbs;
  return Error("--part '" + std::string(name) + "': expected rootfs, kernel or dtbs", ErrorKind::Usage);
}

fs::Filesystem* OpenedSource::part(SourcePart p) const {
  switch (p) {
  case SourcePart::Rootfs: return fs.get();
  case SourcePart::Kernel: return kernel_fs.get();
  case SourcePart::Dtbs: return dtbs_fs.get();
  }
  return nullptr;
}

Result<OpenedSource> open_source(const std::string& spec, const SourceOptions& options) {
  OpenedSource s;
  pipeline::OpenOptions opts;
  if (options.offline)
    opts.network = pipeline::NetworkMode::Offline;
  const bool url = spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0;
  if (!url) {
    struct stat st {};
    if (::stat(spec.c_str(), &st) != 0)
      return Error("SOURCE " + spec + ": no such file or directory", ErrorKind::Usage);
    if (S_ISDIR(st.st_mode)) {
      s.fs = TRY(fs::open_host_directory(spec));
      s.layers = {"directory(" + spec + ")"};
      s.host_root = spec;
      return s;
    }
    s.host_file = spec;
    if (has_magic(spec, "FBOOPROF")) {
      auto bp = TRY(profiles::load_boot_profile_file(spec));
      s.fs = TRY(open_profile_fs(bp.rootfs, opts, "rootfs", s.layers));
      if (bp.kernel)
        s.kernel_fs = TRY(open_profile_fs(bp.kernel->source, opts, "kernel", s.kernel_layers));
      if (bp.dtbs)
        s.dtbs_fs = TRY(open_profile_fs(bp.dtbs->source, opts, "dtbs", s.dtbs_layers));
      s.layers.insert(s.layers.begin(), "boot-profile(" + bp.id + ")");
      s.boot_profile = std::move(bp);
      return s;
    }
  }
  pipeline::DetectOptions dopts;
  dopts.open = std::move(opts);
  auto detected = TRY(pipeline::detect_pipeline(spec, dopts));
  s.layers = detected.layers;
  if (!detected.filesystem)
    return Error("SOURCE " + spec + ": no filesystem found (layers: " +
                 [&] {
                   std::string l;
                   for (const auto& x : detected.layers)
                     l += (l.empty() ? "" : " <- ") + x;
                   return l;
                 }() +
                 ")");
  s.fs = TRY_CTX(fs::open_filesystem(std::move(detected.source), fs::FsKind::Auto), "SOURCE " + spec);
  return s;
}

Result<std::pair<std::string, Bytes>> read_profile_dtb(fs::Filesystem& fsys, const std::string& path,
                                                       const std::string& devicetree_name) {
  std::string name = devicetree_name;
  while (!name.empty() && name[0] == '/')
    name.erase(0, 1);
  if (name.empty())
    return Error("device profile devicetree_name is empty");
  std::vector<std::string> candidates;
  if (path.size() >= 4 && path.substr(path.size() - 4) == ".dtb")
    candidates = {path};
  else
    candidates = {path + "/" + name + ".dtb", path + "/" + name, path};
  for (const auto& c : candidates) {
    auto t = TRY(path_type(fsys, c));
    if (t && *t == fs::FileType::Regular)
      return std::pair<std::string, Bytes>(c, TRY(fs::read_file(fsys, c, std::uint64_t{64} << 20)));
  }
  std::string list;
  for (const auto& c : candidates)
    list += " " + c;
  return Error("boot profile dtbs: no DTB for " + devicetree_name + " (tried" + list + ")");
}

} // namespace fastboop::stage0
