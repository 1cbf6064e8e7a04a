#include "stage0/source.hpp"

#include "common/file_io.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "filesystems/open.hpp"
#include "pipeline/pipeline.hpp"
#include "profiles/channel.hpp"
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

// True when a pipeline ends in an http stage (its partial reads are what a
// block-hash table checks).
bool has_http_leaf(const profiles::PipelineSource& s) {
  const profiles::PipelineSource* p = &s;
  while (!p->is_terminal() && p->source)
    p = &**p->source;
  return p->kind == profiles::StageKind::Http;
}
bool has_http_leaf(const profiles::BootProfile& bp) {
  return has_http_leaf(bp.rootfs.source) || (bp.kernel && has_http_leaf(bp.kernel->source.source)) ||
         (bp.dtbs && has_http_leaf(bp.dtbs->source.source));
}

// A Boot Profile compiled in memory from a manifest.
struct ProfileWithHints {
  profiles::BootProfile profile;
  pipeline::PipelineHints hints;
};

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

} // namespace

Result<std::string> parse_expected_sha512(std::string_view text) {
  auto digest = Sha512Digest::parse(text);
  if (!digest)
    return Error("--expect-sha512 '" + std::string(text) + "': " + digest.error().message(), ErrorKind::Usage);
  return digest->content_digest();
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
  bool boot_profile_rootfs = false;         // the image is the Boot Profile's rootfs pipeline
  std::optional<pipeline::LiveLayout> live; // a bare live ISO
};

std::string join_layers(const std::vector<std::string>& layers) {
  std::string l;
  for (const auto& x : layers)
    l += (l.empty() ? "" : " <- ") + x;
  return l;
}

bool is_channel_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::uint8_t head[8] = {};
  in.read(reinterpret_cast<char*>(head), sizeof(head));
  return in.gcount() == 8 && profiles::starts_with_channel_record(ByteSpan(head, 8));
}

// The Boot Profile's own rootfs pipeline (no artifact in the SOURCE).
Result<void> open_boot_profile_rootfs(ImageSource& s, profiles::BootProfile bp, const std::string& layer,
                                      const std::string& origin) {
  if (s.hints && !s.hints->entries.empty())
    s.opts.hints = s.hints.get();
  if (!s.opts.block_tables && has_http_leaf(bp)) {
    if (s.opts.digest_check == pipeline::DigestCheck::Upfront)
      log::info(origin + ": no block-hash tables (an upstream profile, or one not optimized by this fastboop): "
                         "each http artifact is fetched whole and checked against the profile's digest before "
                         "use; `fastboop-profile optimize` adds tables, so that only the blocks needed are "
                         "fetched, each checked");
    else
      log::warn(origin + ": no block-hash tables and --unverified-ranged-reads: partial http reads are used "
                         "before the profile's digests can be checked (only once an object has been read whole), "
                         "so what is built or served from them is not verified");
  }
  s.image = TRY(open_profile_block(bp.rootfs, s.opts, "rootfs", s.layers));
  s.fs_kind = fs_kind_of(bp.rootfs.filesystem);
  s.identity.pipeline = pipeline::stage_identity(bp.rootfs.source);
  s.identity.sha512 = declared_terminal_digest(bp.rootfs.source);
  s.layers.insert(s.layers.begin(), layer + bp.id + ")");
  s.boot_profile_rootfs = true;
  s.boot_profile = std::move(bp);
  return ok();
}

Result<void> open_bare_image(ImageSource& s, const std::string& spec, pipeline::DetectedTerminal terminal,
                             const pipeline::DetectOptions& dopts) {
  auto detected = TRY(pipeline::detect_layers(std::move(terminal.source), std::move(terminal.chain), dopts));
  s.layers = detected.layers;
  if (!detected.filesystem)
    return Error("SOURCE " + spec + ": no filesystem found (layers: " + join_layers(detected.layers) + ")");
  s.image = std::move(detected.source);
  s.live = std::move(detected.live);
  s.identity.pipeline = pipeline::stage_identity(detected.pipeline);
  return ok();
}

// Which of a channel's Boot Profiles: --boot-profile's, else the only one.
Result<std::optional<profiles::BootProfile>> choose_boot_profile(profiles::ChannelHead& head,
                                                                 const std::string& spec,
                                                                 const std::optional<std::string>& wanted) {
  std::string ids;
  for (const auto& p : head.boot_profiles)
    ids += (ids.empty() ? "" : ", ") + p.id;
  if (head.boot_profiles.empty()) {
    if (wanted)
      return Error("--boot-profile " + *wanted + ": channel " + spec + " holds no Boot Profile", ErrorKind::Usage);
    return std::optional<profiles::BootProfile>();
  }
  if (wanted) {
    for (auto& p : head.boot_profiles)
      if (p.id == *wanted)
        return std::optional(std::move(p));
    return Error("--boot-profile " + *wanted + ": channel " + spec + " holds no such Boot Profile (it holds: " + ids +
                     ")",
                 ErrorKind::NotFound);
  }
  if (head.boot_profiles.size() > 1)
    return Error("channel " + spec + " holds " + std::to_string(head.boot_profiles.size()) +
                     " Boot Profiles (" + ids + "); choose one with --boot-profile",
                 ErrorKind::Usage);
  return std::optional(std::move(head.boot_profiles.front()));
}

// A channel (spec channels.md): records first, then (optionally) the
// artifact, which is the rootfs; without one, the chosen Boot Profile's
// rootfs pipeline is. Its Device Profiles join the search path.
Result<void> open_channel(ImageSource& s, const std::string& spec, pipeline::DetectedTerminal terminal,
                          const SourceOptions& options) {
  auto head = TRY_CTX(profiles::read_channel_head(*terminal.source), "SOURCE " + spec);
  profiles::set_channel_device_profiles(spec, head.device_profiles);
  // FBBLKTB0 records come in the same stream as the profile, so they are as
  // trusted as its digests.
  if (head.block_tables)
    s.opts.block_tables = head.block_tables;
  auto bp = TRY(choose_boot_profile(head, spec, options.boot_profile_id));
  if (bp) {
    // Only the hint records the chosen profile's pipelines need are read.
    const auto ids = profiles::boot_profile_pipeline_identities(*bp, !head.has_artifact());
    s.hints = std::make_unique<pipeline::PipelineHints>(
        TRY_CTX(profiles::read_channel_hints(*terminal.source, head, &ids), "SOURCE " + spec));
  }
  const std::string channel_layer = "channel(" + std::to_string(head.records.size()) + " record(s)" +
                                    (head.indexed ? ", indexed" : "") + ")";
  if (!head.has_artifact()) {
    if (!bp)
      return Error("channel " + spec + " holds no Boot Profile and no artifact (" +
                       std::to_string(head.device_profiles.size()) +
                       " Device Profile(s) only): there is no rootfs to read",
                   ErrorKind::Usage);
    if (options.expect_digest)
      return Error("--expect-sha512 applies to a bare image path, URL or a channel carrying its artifact, not to a "
                   "Boot Profile (its stages carry their own content digests)",
                   ErrorKind::Usage);
    TRY(open_boot_profile_rootfs(s, std::move(*bp), channel_layer + " boot-profile(", spec));
    return ok();
  }
  // The artifact: the rest of the stream, through the same pipeline stages.
  const std::string terminal_identity = pipeline::stage_identity(terminal.chain);
  const std::string description =
      "channel-artifact[offset=" + std::to_string(head.consumed) + "] <- " + terminal.source->describe();
  auto artifact = TRY(pipeline::open_slice(std::move(terminal.source), head.consumed, head.total - head.consumed,
                                           description));
  pipeline::DetectOptions dopts;
  dopts.open = s.opts;
  auto detected = TRY(pipeline::detect_layers(std::move(artifact), std::move(terminal.chain), dopts));
  s.layers = detected.layers;
  s.layers.insert(s.layers.begin(), channel_layer + (bp ? " boot-profile(" + bp->id + ")" : ""));
  if (!detected.filesystem)
    return Error("SOURCE " + spec + ": the channel's artifact at byte offset " + std::to_string(head.consumed) +
                 " holds no filesystem (layers: " + join_layers(detected.layers) + ")");
  s.image = std::move(detected.source);
  s.live = std::move(detected.live);
  // The artifact's pipeline: the detected layers over a slice of the channel.
  std::string identity = pipeline::stage_identity(detected.pipeline);
  const std::string sliced =
      "channel_artifact{offset=" + std::to_string(head.consumed) + ";source=" + terminal_identity + "}";
  if (auto at = identity.rfind(terminal_identity); at != std::string::npos)
    identity.replace(at, terminal_identity.size(), sliced);
  s.identity.pipeline = identity;
  if (bp)
    s.boot_profile = std::move(*bp);
  return ok();
}

Result<ImageSource> open_image_source(const std::string& spec, const SourceOptions& options, bool local_file) {
  ImageSource s;
  s.opts.network = options.network;
  s.opts.on_fetch = options.on_fetch;
  s.opts.http_timeouts = options.http_timeouts;
  s.opts.digest_check = options.digest_check;
  if (!options.local_artifacts.empty())
    s.opts.local_artifacts = TRY(pipeline::LocalArtifactIndex::build(options.local_artifacts));
  // Absolute, so a boot.img built elsewhere still names the file.
  s.identity.source = local_file ? std::filesystem::absolute(spec).lexically_normal().string() : spec;
  const bool manifest = local_file && !is_channel_file(spec) && looks_like_manifest(spec);
  if (!manifest) {
    pipeline::DetectOptions dopts;
    dopts.open = s.opts;
    dopts.expect_digest = options.expect_digest;
    auto terminal = TRY(pipeline::open_detect_terminal(spec, dopts));
    Bytes magic(static_cast<std::size_t>(std::min<std::uint64_t>(terminal.source->size(), 8)));
    TRY_CTX(terminal.source->read_at(0, magic), "SOURCE " + spec);
    if (profiles::starts_with_channel_record(magic))
      TRY(open_channel(s, spec, std::move(terminal), options));
    else
      TRY(open_bare_image(s, spec, std::move(terminal), dopts));
    if (!s.identity.sha512 && !s.boot_profile_rootfs) {
      if (options.expect_digest)
        s.identity.sha512 = options.expect_digest->substr(7);
      else if (local_file && options.terminal_digest == TerminalDigest::Compute)
        s.identity.sha512 = TRY_CTX(sha512_file(spec), "SOURCE " + spec).sha512_hex;
    }
  } else {
    if (options.expect_digest)
      return Error("--expect-sha512 applies to a bare image path, channel or URL, not to a Boot Profile "
                   "manifest (its stages carry their own content digests)",
                   ErrorKind::Usage);
    ProfileWithHints loaded;
    {
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
    if (options.boot_profile_id && *options.boot_profile_id != loaded.profile.id)
      return Error("--boot-profile " + *options.boot_profile_id + ": SOURCE " + spec + " holds Boot Profile '" +
                       loaded.profile.id + "'",
                   ErrorKind::Usage);
    s.hints = std::make_unique<pipeline::PipelineHints>(std::move(loaded.hints));
    TRY(open_boot_profile_rootfs(s, std::move(loaded.profile), "boot-profile-manifest(", spec));
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

Result<void> load_channel_device_profiles(const std::string& spec, const SourceOptions& options) {
  if (!is_url(spec) && (TRY(local_is_directory(spec)) || !is_channel_file(spec)))
    return ok();
  pipeline::DetectOptions dopts;
  dopts.open.network = options.network;
  dopts.open.http_timeouts = options.http_timeouts;
  dopts.expect_digest = options.expect_digest;
  auto terminal = TRY(pipeline::open_detect_terminal(spec, dopts));
  Bytes magic(static_cast<std::size_t>(std::min<std::uint64_t>(terminal.source->size(), 8)));
  TRY_CTX(terminal.source->read_at(0, magic), "SOURCE " + spec);
  if (!profiles::starts_with_channel_record(magic))
    return ok();
  auto head = TRY_CTX(profiles::read_channel_head(*terminal.source), "SOURCE " + spec);
  profiles::set_channel_device_profiles(spec, head.device_profiles);
  return ok();
}

Result<OpenedSource> open_source(const std::string& spec, const SourceOptions& options) {
  OpenedSource s;
  const bool url = is_url(spec);
  if (!url) {
    if (TRY(local_is_directory(spec))) {
      if (options.boot_profile_id)
        return Error("--boot-profile " + *options.boot_profile_id + ": SOURCE " + spec +
                         " is a directory, not a Boot Profile or channel",
                     ErrorKind::Usage);
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
    if (options.boot_profile_id)
      return Error("--boot-profile " + *options.boot_profile_id + ": SOURCE " + spec +
                       " holds no Boot Profile",
                   ErrorKind::Usage);
    s.fs = TRY_CTX(fs::open_filesystem(std::move(img.image), img.fs_kind), "SOURCE " + spec);
    if (img.live)
      TRY_CTX(open_live_parts(s, *img.live, img.opts), "SOURCE " + spec);
    return s;
  }
  s.fs = TRY_CTX(fs::open_filesystem(std::move(img.image), img.fs_kind), "boot profile rootfs");
  // A channel's artifact that is a live ISO: the kernel beside its root image
  // unless the Boot Profile names one.
  if (img.live)
    TRY_CTX(open_live_parts(s, *img.live, img.opts), "SOURCE " + spec);
  const auto& bp = *img.boot_profile;
  if (bp.kernel) {
    s.kernel_layers.clear();
    s.kernel_fs = TRY(open_profile_fs(bp.kernel->source, img.opts, "kernel", s.kernel_layers));
  }
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
