#include "stage0/source.hpp"

#include "common/file_io.hpp"
#include "common/hash.hpp"
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
  case profiles::FilesystemKind::Squashfs: return fs::FsKind::Squashfs;
  case profiles::FilesystemKind::Iso9660: return fs::FsKind::Iso9660;
  }
  return fs::FsKind::Auto;
}

Result<pipeline::BlockSourcePtr> open_profile_block(const profiles::FilesystemSource& src,
                                                   const pipeline::OpenOptions& opts, const std::string& what,
                                                   std::vector<std::string>& layers) {
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
  return block;
}

Result<fs::FilesystemPtr> open_profile_fs(const profiles::FilesystemSource& src, const pipeline::OpenOptions& opts,
                                          const std::string& what, std::vector<std::string>& layers) {
  auto block = TRY(open_profile_block(src, opts, what, layers));
  return TRY_CTX(fs::open_filesystem(std::move(block), fs_kind_of(src.filesystem)), "boot profile " + what);
}

// The digest a pipeline declares for its terminal (file, http, casync).
std::optional<std::string> declared_terminal_digest(const profiles::PipelineSource& stage) {
  const profiles::PipelineSource* s = &stage;
  while (!s->is_terminal() && s->source)
    s = &**s->source;
  if (s->content && s->content->digest.starts_with("sha512:"))
    return s->content->digest.substr(7);
  return std::nullopt;
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

// A Boot Profile manifest rather than an image: a .yaml/.yml/.json name, or
// a small file of text (images are binary from their first bytes: xz, sparse,
// MBR/GPT, filesystem superblocks, tar headers hold NULs).
bool looks_like_manifest(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".yaml" || ext == ".yml" || ext == ".json")
    return true;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0 || size > (std::uint64_t{1} << 20))
    return false;
  std::ifstream in(path, std::ios::binary);
  std::string head(static_cast<std::size_t>(std::min<std::uint64_t>(size, 4096)), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  return !head.empty() && std::all_of(head.begin(), head.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 || c == '\n' || c == '\r' || c == '\t';
  });
}

// Compiled in memory exactly as `fastboop-profile compile` does; an error
// says what the file is taken for and how to compile it by hand.
Result<profiles::BootProfile> compile_manifest(const std::string& path,
                                               std::vector<std::filesystem::path>* read) {
  auto text = read_text_file(path, std::uint64_t{1} << 20);
  if (!text)
    return Error("SOURCE " + path + ": " + text.error().message());
  // Relative paths resolve against the manifest's directory, as
  // `fastboop-profile compile` resolves them without --base-dir.
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty())
    dir = ".";
  auto bp = profiles::compile_boot_profile_manifest_text(*text, path, dir,
                                                         profiles::ManifestInputs::Resolve, read);
  if (!bp)
    return Error("SOURCE " + path +
                     " is read as a Boot Profile manifest and does not compile (check it with "
                     "`fastboop-profile compile " +
                     path + " -o profile.fbp`): " + bp.error().message(),
                 bp.error().kind());
  return bp;
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

namespace {

// A file or URL SOURCE (not a directory): a compiled Boot Profile's rootfs
// pipeline, or a bare image with its layers detected. Shared by open_source
// (which mounts the image) and open_rootfs_image (which serves it).
struct ImageSource {
  std::unique_ptr<pipeline::PipelineHints> hints;
  pipeline::OpenOptions opts; // for the Boot Profile's kernel and dtbs pipelines
  std::optional<profiles::BootProfile> boot_profile;
  pipeline::BlockSourcePtr image;
  fs::FsKind fs_kind = fs::FsKind::Auto;
  std::vector<std::string> layers;
  RootfsIdentity identity;
  std::vector<std::string> manifest_inputs; // a manifest SOURCE: the files its compile read
  std::optional<Bytes> profile_bytes;       // a manifest SOURCE: the compiled profile
  std::optional<pipeline::LiveLayout> live; // a bare live ISO
};

std::string join_layers(const std::vector<std::string>& layers) {
  std::string l;
  for (const auto& x : layers)
    l += (l.empty() ? "" : " <- ") + x;
  return l;
}

Result<ImageSource> open_image_source(const std::string& spec, const SourceOptions& options, bool local_file) {
  ImageSource s;
  s.opts.network = options.network;
  s.opts.on_fetch = options.on_fetch;
  s.opts.http_timeouts = options.http_timeouts;
  if (!options.local_artifacts.empty())
    s.opts.local_artifacts = TRY(pipeline::LocalArtifactIndex::build(options.local_artifacts));
  // Absolute, so a boot.img built elsewhere still names the file.
  s.identity.source = local_file ? std::filesystem::absolute(spec).lexically_normal().string() : spec;
  const bool compiled = local_file && has_magic(spec, "FBOOPROF");
  const bool manifest = local_file && !compiled && looks_like_manifest(spec);
  if (compiled || manifest) {
    if (options.expect_digest)
      return Error("--expect-sha512 applies to a bare image path or URL, not to a Boot Profile "
                   "(its stages carry their own content digests)",
                   ErrorKind::Usage);
    ProfileWithHints loaded;
    if (compiled) {
      loaded = TRY(load_profile_with_hints(spec));
    } else {
      std::vector<std::filesystem::path> read;
      loaded.profile = TRY(compile_manifest(spec, &read));
      for (const auto& p : read)
        s.manifest_inputs.push_back(p.string());
      // The profile keeps its `file` paths as written (relative to the
      // manifest); the files compile hashed stand in for those stages, as
      // `fastboop-profile compile --optimize` resolves them.
      if (!read.empty()) {
        std::vector<std::filesystem::path> artifacts = options.local_artifacts;
        artifacts.insert(artifacts.end(), read.begin(), read.end());
        s.opts.local_artifacts = TRY(pipeline::LocalArtifactIndex::build(artifacts));
      }
      // What `fastboop-profile compile` would have written: a compiled
      // profile's bytes identify the SOURCE (artifact cache keys).
      s.profile_bytes = TRY_CTX(profiles::encode_boot_profile(loaded.profile), spec);
    }
    s.hints = std::make_unique<pipeline::PipelineHints>(std::move(loaded.hints));
    if (!s.hints->entries.empty())
      s.opts.hints = s.hints.get();
    auto bp = std::move(loaded.profile);
    s.image = TRY(open_profile_block(bp.rootfs, s.opts, "rootfs", s.layers));
    s.fs_kind = fs_kind_of(bp.rootfs.filesystem);
    s.identity.pipeline = pipeline::stage_identity(bp.rootfs.source);
    s.identity.sha512 = declared_terminal_digest(bp.rootfs.source);
    s.layers.insert(s.layers.begin(),
                    std::string(compiled ? "boot-profile(" : "boot-profile-manifest(") + bp.id + ")");
    s.boot_profile = std::move(bp);
  } else {
    pipeline::DetectOptions dopts;
    dopts.open = s.opts;
    dopts.expect_digest = options.expect_digest;
    dopts.digest_check = options.digest_check;
    auto detected = TRY(pipeline::detect_pipeline(spec, dopts));
    s.layers = detected.layers;
    if (!detected.filesystem)
      return Error("SOURCE " + spec + ": no filesystem found (layers: " + join_layers(detected.layers) + ")");
    s.image = std::move(detected.source);
    s.live = std::move(detected.live);
    s.identity.pipeline = pipeline::stage_identity(detected.pipeline);
    if (options.expect_digest)
      s.identity.sha512 = options.expect_digest->substr(7);
    else if (local_file && options.terminal_digest == TerminalDigest::Compute)
      s.identity.sha512 = TRY_CTX(sha512_file(spec), "SOURCE " + spec).sha512_hex;
  }
  s.identity.size = s.image->size();
  return s;
}

bool is_url(const std::string& spec) { return spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0; }

// A local SOURCE must exist; true when it is a directory.
Result<bool> local_is_directory(const std::string& spec) {
  struct stat st {};
  if (::stat(spec.c_str(), &st) != 0)
    return Error("SOURCE " + spec + ": no such file or directory", ErrorKind::NotFound);
  return S_ISDIR(st.st_mode);
}

} // namespace

Result<OpenedSource> open_source(const std::string& spec, const SourceOptions& options) {
  OpenedSource s;
  const bool url = is_url(spec);
  if (!url) {
    if (TRY(local_is_directory(spec))) {
      if (options.expect_digest)
        return Error("--expect-sha512 applies to an image file or URL, not to the directory " + spec, ErrorKind::Usage);
      s.fs = TRY(fs::open_host_directory(spec));
      s.layers = {"directory(" + spec + ")"};
      s.host_root = spec;
      return s;
    }
    s.host_file = spec;
  }
  auto img = TRY(open_image_source(spec, options, !url));
  s.layers = std::move(img.layers);
  s.rootfs_identity = std::move(img.identity);
  s.hints = std::move(img.hints);
  s.manifest_inputs = std::move(img.manifest_inputs);
  s.profile_bytes = std::move(img.profile_bytes);
  if (!img.boot_profile) {
    s.fs = TRY_CTX(fs::open_filesystem(std::move(img.image), img.fs_kind), "SOURCE " + spec);
    if (img.live)
      TRY_CTX(open_live_parts(s, *img.live, img.opts), "SOURCE " + spec);
    return s;
  }
  s.fs = TRY_CTX(fs::open_filesystem(std::move(img.image), img.fs_kind), "boot profile rootfs");
  const auto& bp = *img.boot_profile;
  if (bp.kernel)
    s.kernel_fs = TRY(open_profile_fs(bp.kernel->source, img.opts, "kernel", s.kernel_layers));
  if (bp.dtbs)
    s.dtbs_fs = TRY(open_profile_fs(bp.dtbs->source, img.opts, "dtbs", s.dtbs_layers));
  s.boot_profile = std::move(img.boot_profile);
  return s;
}

Result<OpenedImage> open_rootfs_image(const std::string& spec, const SourceOptions& options) {
  const bool url = is_url(spec);
  if (!url && TRY(local_is_directory(spec)))
    return Error("SOURCE " + spec + " is a directory; serving the root needs a filesystem image (an image path, "
                 "URL or compiled Boot Profile)",
                 ErrorKind::Usage);
  auto img = TRY(open_image_source(spec, options, !url));
  OpenedImage out;
  out.hints = std::move(img.hints);
  out.image = std::move(img.image);
  out.layers = std::move(img.layers);
  out.identity = std::move(img.identity);
  return out;
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
