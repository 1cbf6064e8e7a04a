#include "stage0/source.hpp"

#include "common/file_io.hpp"
#include "common/log.hpp"
#include "filesystems/open.hpp"
#include "pipeline/pipeline.hpp"
#include "profiles/hints.hpp"
#include "profiles/profiles.hpp"
#include "stage0/fsutil.hpp"

#include <algorithm>
#include <set>

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
  // Read the superblock area first: a failing stage (offline, unreachable,
  // corrupt) reports its own message here, which a filesystem library would
  // reduce to a bare error code.
  Bytes head(static_cast<std::size_t>(std::min<std::uint64_t>(block->size(), 4096)));
  TRY_CTX(block->read_at(0, head), "boot profile " + what + ": reading " + block->describe());
  return TRY_CTX(fs::open_filesystem(std::move(block), fs_kind_of(src.filesystem)), "boot profile " + what);
}

bool has_magic(const std::string& path, std::string_view magic) {
  std::ifstream in(path, std::ios::binary);
  std::string head(magic.size(), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  return in.gcount() == static_cast<std::streamsize>(magic.size()) && head == magic;
}

// A compiled Boot Profile and the FBPHINT0 records appended to it (what
// `fastboop-profile compile --optimize` / `optimize` produce). Identities
// repeated across records are an error (spec §4); other trailing bytes end
// the head with a warning, as a channel reader does.
struct ProfileWithHints {
  profiles::BootProfile profile;
  pipeline::PipelineHints hints;
};

Result<ProfileWithHints> load_profile_with_hints(const std::string& path) {
  Bytes bytes = TRY(read_file(path, std::uint64_t{256} << 20));
  ProfileWithHints out;
  std::size_t offset = 0;
  out.profile = TRY_CTX(profiles::decode_boot_profile_prefix(bytes, &offset), path);
  std::vector<pipeline::PipelineHints> records;
  std::set<std::string> seen;
  while (offset < bytes.size()) {
    const ByteSpan rest = ByteSpan(bytes).subspan(offset);
    if (rest.size() < 8 || as_chars(rest.first(8)) != "FBPHINT0") {
      log::warn(path + ": " + std::to_string(rest.size()) + " byte(s) after the profile at offset " +
                std::to_string(offset) + " are not a FBPHINT0 record; ignored");
      break;
    }
    std::size_t used = 0;
    auto h = TRY_CTX(profiles::decode_pipeline_hints_record(rest, &used),
                     path + ": record at byte offset " + std::to_string(offset));
    for (const auto& e : h.entries)
      if (!seen.insert(e.pipeline_identity).second)
        return Error(path + ": pipeline identity " + e.pipeline_identity + " appears in two FBPHINT0 records");
    records.push_back(std::move(h));
    offset += used;
  }
  out.hints = TRY_CTX(pipeline::merge_pipeline_hints(records), path);
  return out;
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace

Result<std::string> parse_expected_sha512(std::string_view text) {
  std::string_view hex = text;
  if (hex.starts_with("sha512:"))
    hex.remove_prefix(7);
  if (hex.size() != 128 || !is_lower_hex(hex))
    return Error("--expect-sha512 '" + std::string(text) + "': expected 128 lowercase hex digits (a SHA-512)",
                 ErrorKind::Usage);
  return "sha512:" + std::string(hex);
}

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
  opts.network = options.network;
  opts.on_fetch = options.on_fetch;
  opts.http_timeouts = options.http_timeouts;
  if (!options.local_artifacts.empty())
    opts.local_artifacts = TRY(pipeline::LocalArtifactIndex::build(options.local_artifacts));
  const bool url = spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0;
  if (!url) {
    struct stat st {};
    if (::stat(spec.c_str(), &st) != 0)
      return Error("SOURCE " + spec + ": no such file or directory", ErrorKind::NotFound);
    if (S_ISDIR(st.st_mode)) {
      if (options.expect_digest)
        return Error("--expect-sha512 applies to an image file or URL, not to the directory " + spec, ErrorKind::Usage);
      s.fs = TRY(fs::open_host_directory(spec));
      s.layers = {"directory(" + spec + ")"};
      s.host_root = spec;
      return s;
    }
    s.host_file = spec;
    if (has_magic(spec, "FBOOPROF")) {
      if (options.expect_digest)
        return Error("--expect-sha512 applies to a bare image path or URL, not to a Boot Profile "
                     "(its stages carry their own content digests)",
                     ErrorKind::Usage);
      auto loaded = TRY(load_profile_with_hints(spec));
      s.hints = std::make_unique<pipeline::PipelineHints>(std::move(loaded.hints));
      if (!s.hints->entries.empty())
        opts.hints = s.hints.get();
      auto bp = std::move(loaded.profile);
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
  dopts.expect_digest = options.expect_digest;
  dopts.digest_check = options.digest_check;
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
