// Boot Profiles: manifest compilation (spec §2.1-§2.4), validation (§2.5),
// the FBOOPROF v0 codec (§2.7), rendering back to a manifest for `show`, and
// the effective stage0 settings for one device (§2.6).
#include "common/file_io.hpp"
#include "common/text.hpp"
#include "common/hash.hpp"
#include "common/process.hpp"
#include "profiles/pipeline.hpp"
#include "profiles/profiles.hpp"

#include <array>
#include <cctype>
#include <map>
#include <set>
#include <openssl/evp.h>
#include <system_error>

namespace fastboop::profiles {

namespace {

namespace fs = std::filesystem;
using yaml::Json;
using yaml::MapReader;
using yaml::Value;

constexpr std::string_view bootpro_magic = "FBOOPROF";
constexpr std::size_t header_size = 10;
constexpr std::array<std::string_view, 5> fs_keys{"erofs", "ext4", "fat", "squashfs", "iso9660"};
constexpr std::uint64_t max_overlay_bytes = std::uint64_t{16} << 20;

std::string base64_encode(ByteSpan data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  std::string clean;
  for (char c : text)
    if (!std::isspace(static_cast<unsigned char>(c)))
      clean += c;
  if (clean.size() % 4 != 0)
    return std::nullopt;
  Bytes out(clean.size() / 4 * 3 + 1);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                                static_cast<int>(clean.size()));
  if (n < 0)
    return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts '=' padding as zero bytes.
  for (std::size_t i = clean.size(); i > 0 && clean[i - 1] == '='; --i)
    --size;
  out.resize(size);
  return out;
}

struct CompileContext {
  std::string origin;
  fs::path base_dir;
  std::map<fs::path, FileDigest> digests; // cache per canonical path
  ManifestInputs inputs = ManifestInputs::Resolve;
  std::set<fs::path> files_read;
};

fs::path resolve(const CompileContext& ctx, const std::string& path) {
  fs::path p(trim(path));
  return p.is_absolute() ? p : ctx.base_dir / p;
}

// One dt_overlays item: DTS text, or a map naming a DTS file, a compiled DTBO
// file, or inline base64 DTBO bytes (what `show` emits when DTS cannot
// reproduce the bytes exactly).
Result<Bytes> parse_overlay(CompileContext& ctx, const Value& item) {
  if (ctx.inputs == ManifestInputs::SyntaxOnly) {
    if (item.is_scalar()) {
      auto text = TRY(item.string());
      return Bytes(text.begin(), text.end());
    }
    auto m = TRY(item.map());
    if (m.size() != 1)
      return m.error("an overlay map has exactly one of dts_file, dtbo_file, dtbo_base64");
    const auto key = m.entries()[0].key;
    auto v = TRY(m.require(key));
    TRY(m.finish({"dts_file", "dtbo_file", "dtbo_base64"}));
    auto s = TRY(v.string());
    return Bytes(s.begin(), s.end());
  }
  if (item.is_scalar()) {
    auto dts = TRY(item.string());
    auto dtbo = compile_dts_overlay(dts);
    if (!dtbo)
      return item.error(dtbo.error().message());
    return std::move(*dtbo);
  }
  auto m = TRY(item.map());
  if (m.size() != 1)
    return m.error("an overlay map has exactly one of dts_file, dtbo_file, dtbo_base64");
  if (auto v = m.take("dts_file")) {
    auto path = resolve(ctx, TRY(v->string()));
    ctx.files_read.insert(path);
    auto text = read_text_file(path, max_overlay_bytes);
    if (!text)
      return v->error(text.error().message());
    auto dtbo = compile_dts_overlay(*text);
    if (!dtbo)
      return v->error(path.string() + ": " + dtbo.error().message());
    return std::move(*dtbo);
  }
  if (auto v = m.take("dtbo_file")) {
    auto path = resolve(ctx, TRY(v->string()));
    ctx.files_read.insert(path);
    auto bytes = read_file(path, max_overlay_bytes);
    if (!bytes)
      return v->error(bytes.error().message());
    if (bytes->size() < 4 || load_be<std::uint32_t>(bytes->data()) != 0xd00dfeed)
      return v->error(path.string() + " is not a compiled device tree (no d00dfeed magic)");
    return std::move(*bytes);
  }
  if (auto v = m.take("dtbo_base64")) {
    auto decoded = base64_decode(TRY(v->string()));
    if (!decoded)
      return v->error("invalid base64");
    if (decoded->size() < 4 || load_be<std::uint32_t>(decoded->data()) != 0xd00dfeed)
      return v->error("not a compiled device tree (no d00dfeed magic)");
    return std::move(*decoded);
  }
  TRY(m.finish({"dts_file", "dtbo_file", "dtbo_base64"}));
  return m.error("unreachable");
}

Result<std::vector<Bytes>> parse_overlays(CompileContext& ctx, MapReader& map) {
  std::vector<Bytes> out;
  auto v = map.take("dt_overlays");
  if (!v || v->is_null())
    return out;
  for (const auto& item : TRY(v->sequence()))
    out.push_back(TRY(parse_overlay(ctx, item)));
  return out;
}

Result<std::vector<std::string>> parse_string_list(MapReader& map, std::string_view key) {
  std::vector<std::string> out;
  auto v = map.take(key);
  if (!v || v->is_null())
    return out;
  for (const auto& item : TRY(v->sequence()))
    out.push_back(TRY(item.string()));
  return out;
}

// `{erofs|ext4|fat: <pipeline>}` or `{ostree: {erofs|ext4|fat: ...}}`, with the
// map's other keys left to the caller (PathSource adds `path`).
Result<FilesystemSource> parse_filesystem(MapReader& map, bool allow_ostree) {
  std::vector<std::string_view> found;
  for (auto k : fs_keys)
    if (map.has(k))
      found.push_back(k);
  if (allow_ostree && map.has("ostree"))
    found.push_back("ostree");
  const std::string expected =
      allow_ostree ? "erofs, ext4, fat, squashfs, iso9660, ostree" : "erofs, ext4, fat, squashfs, iso9660";
  if (found.size() != 1)
    return map.error(found.empty() ? "expected exactly one filesystem key (" + expected + ")"
                                   : "found " + std::to_string(found.size()) + " filesystem keys (" +
                                         std::string(found[0]) + ", " + std::string(found[1]) +
                                         "); exactly one of " + expected + " is allowed");
  FilesystemSource fsrc;
  if (found[0] == "ostree") {
    auto v = TRY(map.require("ostree"));
    auto om = TRY(v.map());
    fsrc = TRY(parse_filesystem(om, false));
    TRY(om.finish({"erofs", "ext4", "fat", "squashfs", "iso9660"}));
    fsrc.ostree = true;
    return fsrc;
  }
  for (std::size_t i = 0; i < fs_keys.size(); ++i) {
    if (found[0] == fs_keys[i]) {
      fsrc.filesystem = static_cast<FilesystemKind>(i);
      auto v = TRY(map.require(fs_keys[i]));
      fsrc.source = TRY(detail::parse_pipeline_value(v, 0));
    }
  }
  return fsrc;
}

Result<std::optional<PathSource>> parse_path_source(MapReader& root, std::string_view key) {
  auto v = root.take(key);
  if (!v || v->is_null())
    return std::optional<PathSource>{};
  auto m = TRY(v->map());
  PathSource ps;
  ps.path = TRY(m.req_string("path"));
  ps.source = TRY(parse_filesystem(m, true));
  TRY(m.finish({"path", "erofs", "ext4", "fat", "squashfs", "iso9660", "ostree"}));
  return std::optional<PathSource>{std::move(ps)};
}

Result<Stage0Settings> parse_stage0(CompileContext& ctx, MapReader& root) {
  Stage0Settings st;
  auto v = root.take("stage0");
  if (!v || v->is_null())
    return st;
  auto m = TRY(v->map());
  st.kernel_modules = TRY(parse_string_list(m, "kernel_modules"));
  if (auto devices = m.take("devices"); devices && !devices->is_null()) {
    auto dm = TRY(devices->map());
    for (const auto& entry : dm.entries()) {
      auto dv = TRY(dm.require(entry.key));
      if (auto valid = check_profile_id(entry.key); !valid)
        return dv.error("device id: " + valid.error().message());
      auto d = TRY(dv.map());
      DeviceStage0 dev;
      dev.dt_overlays = TRY(parse_overlays(ctx, d));
      dev.extra_cmdline = TRY(d.opt_string("extra_cmdline"));
      if (auto s = d.take("stage0"); s && !s->is_null()) {
        auto sm = TRY(s->map());
        dev.kernel_modules = TRY(parse_string_list(sm, "kernel_modules"));
        if (auto mac = sm.take("inject_mac"); mac && !mac->is_null()) {
          auto mm = TRY(mac->map());
          InjectMac im;
          im.wifi = TRY(mm.opt_string("wifi"));
          im.bluetooth = TRY(mm.opt_string("bluetooth"));
          // Upstream ignores unknown keys here (a `wlan:` typo vanished).
          TRY(mm.finish({"wifi", "bluetooth"}));
          dev.inject_mac = im;
        }
        TRY(sm.finish({"kernel_modules", "inject_mac"}));
      }
      TRY(d.finish({"dt_overlays", "extra_cmdline", "stage0"}));
      st.devices.emplace(entry.key, std::move(dev));
    }
  }
  if (auto mac = m.take("inject_mac"))
    return mac->error("inject_mac is device-scoped: put it under stage0.devices.<device-id>.stage0.inject_mac");
  TRY(m.finish({"kernel_modules", "devices"}));
  return st;
}

// Fill `content` of every bare `file` leaf by hashing the file.
Result<void> hydrate(CompileContext& ctx, PipelineSource& root, const std::string& path) {
  Result<void> status;
  detail::for_each_stage_mut(
      root, path,
      [&](PipelineSource& s, const std::string& p) -> Result<void> {
        if (s.kind != StageKind::File || s.content)
          return ok();
        const std::string where = (p.empty() ? std::string() : p + ".") + "file";
        if (trim(s.location).empty())
          return ok(); // validation reports the empty path
        const fs::path file = resolve(ctx, s.location);
        std::error_code ec;
        const fs::path canonical = fs::canonical(file, ec);
        if (ec)
          return Error(where + ": cannot hash '" + file.string() + "': " + ec.message(),
                       ec == std::errc::no_such_file_or_directory ? ErrorKind::NotFound : ErrorKind::Io);
        if (!fs::is_regular_file(canonical, ec))
          return Error(where + ": '" + file.string() + "' is not a regular file");
        auto it = ctx.digests.find(canonical);
        if (it == ctx.digests.end()) {
          auto digest = sha512_file(canonical);
          if (!digest)
            return Error(where + ": " + digest.error().message(), ErrorKind::Io);
          it = ctx.digests.emplace(canonical, *digest).first;
        }
        ctx.files_read.insert(canonical);
        s.content = ContentDigest{it->second.content_digest(), it->second.size};
        return ok();
      },
      status);
  return status;
}

std::string fs_path(const FilesystemSource& f, const std::string& parent) {
  std::string p = parent.empty() ? "" : parent + ".";
  if (f.ostree)
    p += "ostree.";
  return p + std::string(fs_keys.at(static_cast<std::size_t>(f.filesystem)));
}

} // namespace

// --- dtc --------------------------------------------------------------------------

Result<Bytes> compile_dts_overlay(std::string_view dts_source) {
  auto out = TRY(run_process({"dtc", "-@", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"}, as_bytes(dts_source),
                             "device-tree-compiler"));
  if (out.exit_code != 0)
    return Error("dtc failed to compile DTS overlay: " + std::string(trim(out.err)));
  return std::move(out.out);
}

namespace {
// DTS that dtc turns back into exactly these bytes, if there is one.
std::optional<std::string> decompile_exact(const Bytes& dtbo) {
  if (find_program("dtc").empty())
    return std::nullopt;
  auto out = run_process({"dtc", "-q", "-I", "dtb", "-O", "dts", "-o", "-", "-"}, dtbo);
  if (!out || out->exit_code != 0)
    return std::nullopt;
  std::string dts(as_chars(out->out));
  auto again = compile_dts_overlay(dts);
  if (!again || *again != dtbo)
    return std::nullopt;
  return dts;
}
} // namespace

// --- manifest ---------------------------------------------------------------------

Result<BootProfile> compile_boot_profile_manifest_text(std::string_view text, std::string_view origin_name,
                                                       const std::filesystem::path& base_dir,
                                                       ManifestInputs inputs,
                                                       std::vector<std::filesystem::path>* files_read) {
  CompileContext ctx{std::string(origin_name), base_dir, {}, inputs, {}};
  auto doc = TRY(yaml::load(text, origin_name));
  Value root_value(ctx.origin, doc, "");
  auto root = TRY(root_value.map());
  BootProfile p;
  p.id = TRY(root.req_string("id"));
  p.display_name = TRY(root.opt_string("display_name"));
  {
    auto rootfs = TRY(root.require("rootfs"));
    auto rm = TRY(rootfs.map());
    p.rootfs = TRY(parse_filesystem(rm, true));
    TRY(rm.finish({"erofs", "ext4", "fat", "squashfs", "iso9660", "ostree"}));
  }
  p.kernel = TRY(parse_path_source(root, "kernel"));
  p.dtbs = TRY(parse_path_source(root, "dtbs"));
  p.dt_overlays = TRY(parse_overlays(ctx, root));
  p.extra_cmdline = TRY(root.opt_string("extra_cmdline"));
  p.stage0 = TRY(parse_stage0(ctx, root));
  TRY(root.finish({"id", "display_name", "rootfs", "kernel", "dtbs", "dt_overlays", "extra_cmdline", "stage0"}));

  if (inputs == ManifestInputs::SyntaxOnly) {
    TRY_CTX(validate_boot_profile(p), ctx.origin);
    return p;
  }
  TRY_CTX(hydrate(ctx, p.rootfs.source, fs_path(p.rootfs, "rootfs")), ctx.origin);
  if (p.kernel)
    TRY_CTX(hydrate(ctx, p.kernel->source.source, fs_path(p.kernel->source, "kernel")), ctx.origin);
  if (p.dtbs)
    TRY_CTX(hydrate(ctx, p.dtbs->source.source, fs_path(p.dtbs->source, "dtbs")), ctx.origin);
  TRY_CTX(validate_boot_profile(p), ctx.origin);
  if (files_read)
    files_read->assign(ctx.files_read.begin(), ctx.files_read.end());
  return p;
}

Result<BootProfile> compile_boot_profile_manifest(const std::filesystem::path& manifest_path) {
  auto text = TRY(read_text_file(manifest_path, std::uint64_t{16} << 20));
  auto dir = manifest_path.parent_path();
  if (dir.empty())
    dir = ".";
  return compile_boot_profile_manifest_text(text, manifest_path.string(), dir);
}

Result<void> validate_boot_profile(const BootProfile& p) {
  if (p.rootfs.filesystem == FilesystemKind::Fat || p.rootfs.filesystem == FilesystemKind::Iso9660)
    return Error("rootfs: boot profile rootfs filesystem '" +
                 std::string(fs_keys.at(static_cast<std::size_t>(p.rootfs.filesystem))) +
                 "' is not supported for stage0 switchroot (supported: erofs, ext4, squashfs)");
  TRY(validate_pipeline(p.rootfs.source, fs_path(p.rootfs, "rootfs")));
  if (p.kernel) {
    if (trim(p.kernel->path).empty())
      return Error("kernel.path: boot profile kernel path must not be empty");
    TRY(validate_pipeline(p.kernel->source.source, fs_path(p.kernel->source, "kernel")));
  }
  if (p.dtbs) {
    if (trim(p.dtbs->path).empty())
      return Error("dtbs.path: boot profile dtbs path must not be empty");
    TRY(validate_pipeline(p.dtbs->source.source, fs_path(p.dtbs->source, "dtbs")));
  }
  return ok();
}

// --- FBOOPROF ----------------------------------------------------------------------

namespace {

void encode_filesystem(postcard::Writer& w, const FilesystemSource& f) {
  // RootfsBin: 0 Ostree{FilesystemBin} | 1 Erofs | 2 Ext4 | 3 Fat | 4 Squashfs | 5 Iso9660;
  // FilesystemBin: 0 Erofs | 1 Ext4 | 2 Fat | 3 Squashfs | 4 Iso9660 (3 and up are ours, issue 21).
  if (f.ostree) {
    w.varint(0);
    w.varint(static_cast<std::uint32_t>(f.filesystem));
  } else {
    w.varint(static_cast<std::uint32_t>(f.filesystem) + 1);
  }
  detail::encode_pipeline(w, f.source);
}

Result<FilesystemSource> decode_filesystem(postcard::Reader& r, std::string_view field) {
  FilesystemSource f;
  const auto v = TRY(r.variant(field, static_cast<std::uint32_t>(1 + fs_keys.size())));
  if (v == 0) {
    f.ostree = true;
    f.filesystem = static_cast<FilesystemKind>(TRY(r.variant(std::string(field) + ".ostree", static_cast<std::uint32_t>(fs_keys.size()))));
  } else {
    f.filesystem = static_cast<FilesystemKind>(v - 1);
  }
  f.source = TRY(detail::decode_pipeline(r, 0));
  return f;
}

void encode_path_source(postcard::Writer& w, const std::optional<PathSource>& p) {
  w.option_tag(p.has_value());
  if (p) {
    w.string(p->path);
    encode_filesystem(w, p->source);
  }
}

Result<std::optional<PathSource>> decode_path_source(postcard::Reader& r, std::string_view field) {
  if (!TRY(r.option_tag(field)))
    return std::optional<PathSource>{};
  PathSource p;
  p.path = TRY(r.string(std::string(field) + ".path"));
  p.source = TRY(decode_filesystem(r, field));
  return std::optional<PathSource>{std::move(p)};
}

void encode_blobs(postcard::Writer& w, const std::vector<Bytes>& blobs) {
  w.varint(blobs.size());
  for (const auto& b : blobs)
    w.bytes(b);
}

Result<std::vector<Bytes>> decode_blobs(postcard::Reader& r, std::string_view field) {
  std::vector<Bytes> out;
  const auto n = TRY(r.length(field));
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(TRY(r.bytes(field)));
  return out;
}

void encode_strings(postcard::Writer& w, const std::vector<std::string>& list) {
  w.varint(list.size());
  for (const auto& s : list)
    w.string(s);
}

Result<std::vector<std::string>> decode_strings(postcard::Reader& r, std::string_view field) {
  std::vector<std::string> out;
  const auto n = TRY(r.length(field));
  for (std::size_t i = 0; i < n; ++i)
    out.push_back(TRY(r.string(field)));
  return out;
}

} // namespace

Result<Bytes> encode_boot_profile(const BootProfile& p) {
  postcard::Writer w;
  w.raw(as_bytes(bootpro_magic));
  w.raw(std::array<std::uint8_t, 2>{0, 0});
  w.string(p.id);
  w.optional_string(p.display_name);
  encode_filesystem(w, p.rootfs);
  encode_path_source(w, p.kernel);
  encode_path_source(w, p.dtbs);
  encode_blobs(w, p.dt_overlays);
  w.optional_string(p.extra_cmdline);
  encode_strings(w, p.stage0.kernel_modules);
  w.varint(p.stage0.devices.size());
  for (const auto& [id, d] : p.stage0.devices) { // std::map: ascending byte order
    w.string(id);
    encode_blobs(w, d.dt_overlays);
    w.optional_string(d.extra_cmdline);
    encode_strings(w, d.kernel_modules);
    w.option_tag(d.inject_mac.has_value());
    if (d.inject_mac) {
      w.optional_string(d.inject_mac->wifi);
      w.optional_string(d.inject_mac->bluetooth);
    }
  }
  return w.take();
}

Result<BootProfile> decode_boot_profile_prefix(ByteSpan bytes, std::size_t* consumed) {
  if (bytes.size() < header_size || as_chars(bytes.first(8)) != bootpro_magic)
    return Error("not a boot profile (FBOOPROF): missing FBOOPROF magic");
  const auto version = load_le<std::uint16_t>(bytes.data() + 8);
  if (version != 0)
    return Error("boot profile (FBOOPROF): unsupported format version " + std::to_string(version) +
                 " (this build reads version 0)");
  postcard::Reader r(bytes.subspan(header_size), header_size);
  auto decode = [&]() -> Result<BootProfile> {
    BootProfile p;
    p.id = TRY(r.string("id"));
    p.display_name = TRY(r.optional_string("display_name"));
    p.rootfs = TRY(decode_filesystem(r, "rootfs"));
    p.kernel = TRY(decode_path_source(r, "kernel"));
    p.dtbs = TRY(decode_path_source(r, "dtbs"));
    p.dt_overlays = TRY(decode_blobs(r, "dt_overlays"));
    p.extra_cmdline = TRY(r.optional_string("extra_cmdline"));
    p.stage0.kernel_modules = TRY(decode_strings(r, "stage0.kernel_modules"));
    const auto n = TRY(r.length("stage0.devices", 5));
    std::optional<std::string> previous;
    for (std::size_t i = 0; i < n; ++i) {
      auto id = TRY(r.string("stage0.devices key"));
      if (previous && id <= *previous)
        return r.error("stage0.devices", "keys are not in ascending order ('" + id + "' after '" + *previous + "')");
      previous = id;
      DeviceStage0 d;
      d.dt_overlays = TRY(decode_blobs(r, "stage0.devices." + id + ".dt_overlays"));
      d.extra_cmdline = TRY(r.optional_string("stage0.devices." + id + ".extra_cmdline"));
      d.kernel_modules = TRY(decode_strings(r, "stage0.devices." + id + ".stage0.kernel_modules"));
      if (TRY(r.option_tag("stage0.devices." + id + ".stage0.inject_mac"))) {
        InjectMac m;
        m.wifi = TRY(r.optional_string("inject_mac.wifi"));
        m.bluetooth = TRY(r.optional_string("inject_mac.bluetooth"));
        d.inject_mac = m;
      }
      p.stage0.devices.emplace(std::move(id), std::move(d));
    }
    return p;
  };
  auto p = TRY_CTX(decode(), "while decoding boot profile (FBOOPROF)");
  if (consumed)
    *consumed = header_size + r.offset();
  return p;
}

Result<BootProfile> decode_boot_profile(ByteSpan bytes) { return decode_boot_profile_prefix(bytes, nullptr); }

Result<BootProfile> load_boot_profile_file(const std::filesystem::path& path) {
  auto bytes = TRY(read_file(path, std::uint64_t{256} << 20));
  return decode_boot_profile(bytes).with_context(path.string());
}

// --- rendering --------------------------------------------------------------------

namespace {

Json filesystem_tree(const FilesystemSource& f) {
  Json inner = Json::object();
  inner[std::string(fs_keys.at(static_cast<std::size_t>(f.filesystem)))] = detail::pipeline_to_tree(f.source);
  if (!f.ostree)
    return inner;
  return Json{{"ostree", inner}};
}

Json overlays_tree(const std::vector<Bytes>& overlays, OverlayRendering mode) {
  Json out = Json::array();
  for (const auto& o : overlays) {
    std::optional<std::string> dts;
    if (mode == OverlayRendering::DtsWhenExact)
      dts = decompile_exact(o);
    if (dts)
      out.push_back(*dts);
    else
      out.push_back(Json{{"dtbo_base64", base64_encode(o)}});
  }
  return out;
}

Json boot_profile_tree(const BootProfile& p, OverlayRendering mode) {
  Json root = Json::object();
  root["id"] = p.id;
  if (p.display_name)
    root["display_name"] = *p.display_name;
  root["rootfs"] = filesystem_tree(p.rootfs);
  for (const auto& [key, ps] : {std::pair{"kernel", &p.kernel}, std::pair{"dtbs", &p.dtbs}}) {
    if (!*ps)
      continue;
    Json t = Json::object();
    t["path"] = (*ps)->path;
    const Json fs_tree = filesystem_tree((*ps)->source);
    for (const auto& [k, v] : fs_tree.items())
      t[k] = v;
    root[key] = t;
  }
  if (!p.dt_overlays.empty())
    root["dt_overlays"] = overlays_tree(p.dt_overlays, mode);
  if (p.extra_cmdline)
    root["extra_cmdline"] = *p.extra_cmdline;
  Json st = Json::object();
  if (!p.stage0.kernel_modules.empty())
    st["kernel_modules"] = p.stage0.kernel_modules;
  if (!p.stage0.devices.empty()) {
    Json devices = Json::object();
    for (const auto& [id, d] : p.stage0.devices) {
      Json dev = Json::object();
      if (!d.dt_overlays.empty())
        dev["dt_overlays"] = overlays_tree(d.dt_overlays, mode);
      if (d.extra_cmdline)
        dev["extra_cmdline"] = *d.extra_cmdline;
      Json ds = Json::object();
      if (!d.kernel_modules.empty())
        ds["kernel_modules"] = d.kernel_modules;
      if (d.inject_mac) {
        Json mac = Json::object();
        if (d.inject_mac->wifi)
          mac["wifi"] = *d.inject_mac->wifi;
        if (d.inject_mac->bluetooth)
          mac["bluetooth"] = *d.inject_mac->bluetooth;
        ds["inject_mac"] = mac;
      }
      if (!ds.empty())
        dev["stage0"] = ds;
      devices[id] = dev;
    }
    st["devices"] = devices;
  }
  if (!st.empty())
    root["stage0"] = st;
  return root;
}

} // namespace

std::string boot_profile_to_yaml(const BootProfile& profile, OverlayRendering overlays) {
  return yaml::render_yaml(boot_profile_tree(profile, overlays));
}

std::string boot_profile_to_json(const BootProfile& profile, OverlayRendering overlays) {
  return boot_profile_tree(profile, overlays).dump(2) + "\n";
}

// --- runtime ------------------------------------------------------------------------

bool boot_profile_matches_device(const BootProfile& profile, std::string_view device_id) {
  return profile.stage0.devices.empty() || profile.stage0.devices.count(std::string(device_id)) > 0;
}

EffectiveStage0 effective_stage0(const BootProfile& profile, std::string_view device_id) {
  EffectiveStage0 out;
  out.dt_overlays = profile.dt_overlays;
  out.kernel_modules = profile.stage0.kernel_modules;
  const auto it = profile.stage0.devices.find(std::string(device_id));
  const DeviceStage0* dev = it == profile.stage0.devices.end() ? nullptr : &it->second;
  if (dev) {
    out.dt_overlays.insert(out.dt_overlays.end(), dev->dt_overlays.begin(), dev->dt_overlays.end());
    out.kernel_modules.insert(out.kernel_modules.end(), dev->kernel_modules.begin(), dev->kernel_modules.end());
    out.inject_mac = dev->inject_mac;
  }
  // Trimmed and joined whether or not the device has an entry (upstream used
  // the global value untrimmed when it had none, spec §7 N6).
  const std::string joined = join_nonempty(
      {profile.extra_cmdline.value_or(""), dev ? dev->extra_cmdline.value_or("") : std::string()});
  if (!joined.empty())
    out.extra_cmdline = joined;
  return out;
}

} // namespace fastboop::profiles
