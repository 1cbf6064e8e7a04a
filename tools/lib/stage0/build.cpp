#include "stage0/build.hpp"
#include "common/text.hpp"

#include "bootimg/devpro.hpp"
#include "profiles/profiles.hpp"
#include "stage0/payloads.hpp"
#include "stage0/fsutil.hpp"

#include "common/file_io.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "common/version.hpp"
#include "stage0/cpio.hpp"
#include "stage0/kernel.hpp"
#include "stage0_settings/stage0_settings.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop::stage0 {

namespace fs = fastboop::filesystems;
using nlohmann::json;

namespace {

constexpr std::uint64_t module_read_limit = std::uint64_t{256} << 20;

// Skip: `-o -` writes no manifest, so rootfs inputs are recorded for the
// depfile by path only (hashing the kernel alone was a tenth of the run).
enum class InputDigests { Record, Skip };

struct Reader {
  fs::Filesystem& fsys;
  std::vector<InputRecord>& inputs;
  InputDigests digests;

  Result<Bytes> read(const std::string& path, std::uint64_t limit = module_read_limit) {
    Bytes b = TRY(fs::read_file(fsys, path, limit));
    record(path, b);
    return b;
  }
  void record(const std::string& path, ByteSpan bytes) {
    inputs.push_back({"rootfs", path, digests == InputDigests::Record ? sha512_hex(bytes) : std::string(),
                      bytes.size()});
  }
  Result<std::optional<std::string>> existing_file(const std::string& path) {
    auto node = TRY(find_path(fsys, path));
    if (!node)
      return std::optional<std::string>{};
    auto st = TRY(fsys.stat(*node));
    if (st.type != fs::FileType::Regular)
      return std::optional<std::string>{};
    return std::optional<std::string>(path);
  }
};

std::optional<Codec> module_codec(std::string_view relpath) {
  if (relpath.ends_with(".ko.xz"))
    return Codec::Xz;
  if (relpath.ends_with(".ko.zst"))
    return Codec::Zstd;
  if (relpath.ends_with(".ko.gz"))
    return Codec::Gzip;
  return std::nullopt;
}

Codec codec_of_devpro(const profiles::DeviceProfile& d) {
  if (!d.boot.initrd || !d.boot.initrd->compress)
    return Codec::None;
  switch (*d.boot.initrd->compress) {
  case profiles::Compression::None: return Codec::None;
  case profiles::Compression::Gzip: return Codec::Gzip;
  case profiles::Compression::Lz4: return Codec::Lz4;
  case profiles::Compression::Zstd: return Codec::Zstd;
  }
  return Codec::None;
}

// The settings files go through the PID1's own reader (stage0_settings is
// compiled into both), exactly as the device will read them; a value it would
// ignore and replace by its default (`--on-failure explode`, `--usb-vendor
// 0xZZZZ`) is an error here, on the host, not a surprise on the phone
// (issue 16 item 5).
Result<void> check_settings_as_pid1(const Settings& settings) {
  const auto files = TRY_CTX(render_settings_files(settings), "stage0 settings");
  const auto parsed = parse_settings_files(files);
  if (parsed.invalid.empty())
    return ok();
  std::string list;
  for (const auto& i : parsed.invalid)
    list += (list.empty() ? "" : "; ") + i;
  return Error("stage0 settings the device would ignore: " + list, ErrorKind::Usage);
}

} // namespace

// The packer's own size plan (bootimg), so stage0 accepts exactly the
// outputs fastboop-bootimg then packs for this device.
Result<void> check_boot_limits(const profiles::DeviceProfile& d, const Stage0Result& r, OutputSet outputs) {
  bootimg::PayloadSizes payload{std::nullopt, r.dtb.size(), r.initrd.size()};
  if (outputs == OutputSet::All)
    payload.kernel = r.kernel.size();
  return bootimg::check_payload_limits(d, payload);
}

bool kernel_config_enables(std::string_view config, std::string_view option) {
  const std::string line = std::string(option) + "=y";
  return config.starts_with(line) || config.find("\n" + line) != std::string_view::npos;
}

ModuleStorage module_storage(bool any_compressed, ModuleCompression requested,
                             std::optional<std::string_view> kernel_config) {
  if (!any_compressed)
    return ModuleStorage::NoneCompressed;
  switch (requested) {
  case ModuleCompression::Keep: return ModuleStorage::Kept;
  case ModuleCompression::Decompress: return ModuleStorage::Decompressed;
  case ModuleCompression::Auto: break;
  }
  return kernel_config && kernel_config_enables(*kernel_config, "CONFIG_MODULE_DECOMPRESS") ? ModuleStorage::Kept
                                                                                            : ModuleStorage::Decompressed;
}

std::string_view module_storage_name(ModuleStorage storage) {
  switch (storage) {
  case ModuleStorage::NoneCompressed: return "none-compressed";
  case ModuleStorage::Kept: return "kept";
  case ModuleStorage::Decompressed: return "decompressed";
  }
  return "decompressed";
}

Result<HostFile> read_host_file(const std::string& path) {
  Bytes b = TRY(fastboop::read_file(path, std::uint64_t{1} << 31));
  return HostFile{path, std::move(b)};
}

std::string initrd_file_name(Codec codec) { return "stage0.cpio" + std::string(codec_suffix(codec)); }

Result<HostFile> locate_stage0_init(const std::optional<std::string>& explicit_path, const std::string& arch) {
  const auto path = TRY(find_payload({Payload::Stage0Init, explicit_path, arch, "--stage0-init"}));
  HostFile f = TRY(read_host_file(path.string()));
  if (f.bytes.empty())
    return Error("stage0 PID1 binary " + path.string() + " is empty");
  return f;
}

Result<Stage0Result> build_stage0(fs::Filesystem& fsys, Stage0Options o) {
  Stage0Result r;
  Reader rd{fsys, r.inputs, o.outputs == OutputSet::All ? InputDigests::Record : InputDigests::Skip};
  auto record_host = [&](const HostFile& f) {
    r.inputs.push_back({f.embedded ? "boot-profile" : "host", f.path, sha512_hex(f.bytes), f.bytes.size()});
    if (!f.embedded)
      r.host_deps.push_back(f.path);
  };

  // 1. The image starts from the augment archive: its entries win.
  CpioImage image;
  if (o.augment) {
    record_host(*o.augment);
    TRY(image.merge_archive(o.augment->bytes, "--augment " + o.augment->path));
  }

  // The settings map comes first (spec §2.11): whether the root is local is
  // read from it, whichever way stage0.root_device arrived (--root-device,
  // --setting, a cmdline token or the Boot Profile's extra_cmdline).
  SplitCmdline split = split_extra_cmdline(o.extra_cmdline);
  for (const auto& w : split.warnings)
    log::warn(w);
  std::string rootfs_type = o.rootfs_type;
  if (rootfs_type.empty())
    rootfs_type = (fsys.kind() == "ext4" || fsys.kind() == "erofs" || fsys.kind() == "squashfs")
                      ? std::string(fsys.kind())
                      : "erofs";
  if (rootfs_type != "erofs" && rootfs_type != "ext4" && rootfs_type != "squashfs")
    return Error("root filesystem type '" + rootfs_type + "' is not erofs, ext4 or squashfs", ErrorKind::Usage);
  SettingsLayers layers;
  layers.rootfs = rootfs_type;
  if (o.serial)
    layers.generated["smoo.acm"] = "1";
  if (o.stage0_serial && !o.stage0_serial->empty())
    layers.generated["stage0.serial"] = *o.stage0_serial;
  layers.generated["smoo.max_io_bytes"] = std::to_string(o.max_io_bytes);
  layers.tokens = split.settings;
  if (o.root_device)
    layers.options["stage0.root_device"] = *o.root_device;
  for (const auto& [k, v] : o.settings)
    layers.options[k] = v;
  Settings settings = merge_settings(layers);
  TRY(check_settings_as_pid1(settings));
  auto setting = [&](std::string_view key) {
    auto it = settings.find(std::string(key));
    return it == settings.end() ? std::string() : std::string(trim(it->second));
  };

  // The root comes over smoo (ublk) unless a local root device is set; the
  // USB gadget runs whenever a smoo-gadget program is present, local root or not.
  const bool smoo = setting(key::kRootDevice).empty();
  const bool gadget = smoo || o.smoo_gadget || image.contains("bin/smoo-gadget");
  const bool acm = parse_bool(setting(key::kAcm)).value_or(false);
  if (smoo && !o.smoo_gadget && !image.contains("bin/smoo-gadget"))
    return Error("the root would come over USB through smoo, but no --smoo-gadget PATH was given "
                 "(or use --root-device for a local root)",
                 ErrorKind::Usage);
  if (o.mimic_fastboot && gadget) {
    layers.generated["smoo.mimic_fastboot"] = "1";
    settings = merge_settings(layers);
  }

  // 2. Kernel and its modules directory.
  KernelChoice kc;
  if (o.kernel) {
    record_host(*o.kernel);
    kc = TRY(choose_for_kernel(fsys, o.kernel->path, o.kernel->bytes, o.kernel_version));
  } else {
    kc = TRY(detect_kernel(fsys, o.kernel_version,
                           o.outputs == OutputSet::All ? KernelBytes::Full : KernelBytes::IdentityOnly));
    rd.record(kc.image_path, kc.source());
  }
  r.kver = kc.modules.kver;
  r.kernel_path = kc.image_path;
  r.arch = kc.kernel.arch;
  r.kernel_layers = kc.kernel.layers;
  r.encoding = o.device.boot.kernel_encoding;
  if (o.outputs == OutputSet::All)
    r.kernel = TRY_CTX(encode_kernel(std::move(kc.kernel), kc.source(), r.encoding), "kernel " + kc.image_path);

  // 3. Device tree: --dtb > Boot Profile dtbs (given as a host file) > rootfs.
  Bytes dtb;
  if (o.dtb) {
    record_host(*o.dtb);
    r.dtb_path = o.dtb->path;
    dtb = o.dtb->bytes;
  } else {
    auto found = TRY(select_dtb(fsys, o.device.devicetree_name, r.kver));
    rd.record(found.path, found.bytes);
    r.dtb_path = found.path;
    dtb = std::move(found.bytes);
  }
  TRY(validate_dtb(dtb, r.dtb_path));
  std::vector<Bytes> overlays;
  std::vector<std::string> overlay_names;
  for (const auto& f : o.dtbos) {
    record_host(f);
    overlay_names.push_back(f.path);
    if (f.path.ends_with(".dts") || f.path.ends_with(".dtso"))
      overlays.push_back(TRY(compile_dts(f.bytes, f.path)));
    else
      overlays.push_back(f.bytes);
  }
  dtb = TRY(apply_overlays(dtb, overlays, overlay_names));

  // 4. Cmdline (§2.11); the MAC seed is the merged stage0.serial (a token
  // beats --stage0-serial, an explicit --setting beats both), else "0".
  std::string seed = setting(key::kSerial);
  if (seed.empty())
    seed = "0";
  dtb = TRY(inject_mac(dtb, o.inject_mac, seed));
  TRY(validate_dtb(dtb, "final DTB"));
  r.dtb = std::move(dtb);

  std::vector<std::string> gen_tokens;
  if (o.serial)
    gen_tokens.emplace_back("plymouth.ignore-serial-consoles");
  for (auto& t : split.passthrough)
    gen_tokens.push_back(std::move(t));
  for (const auto& t : gen_tokens)
    r.cmdline_generated += (r.cmdline_generated.empty() ? "" : " ") + t;
  r.cmdline = join_nonempty({o.device.boot.cmdline_append.value_or(""), r.cmdline_generated});

  // 5. Modules.
  std::vector<std::string> required;
  if (gadget)
    required = {"configfs", "libcomposite", "usb_f_fs"};
  if (smoo)
    required.push_back("ublk_drv");
  if (acm && !gadget)
    required.insert(required.end(), {"configfs", "libcomposite"});
  required.push_back("overlay");
  required.push_back(rootfs_type);
  // A nested root image (a live ISO's LiveOS/rootfs.img): a loop device and its filesystem.
  if (const std::string image_type = setting(key::kRootfsImageType); !image_type.empty())
    required.insert(required.end(), {"loop", image_type});
  required.insert(required.end(), o.profile_modules.begin(), o.profile_modules.end());
  required.insert(required.end(), o.required_modules.begin(), o.required_modules.end());
  if (acm)
    required.push_back("usb_f_acm");
  ModuleIndex index = TRY(ModuleIndex::load(fsys, kc.modules.path, r.kver));
  for (const auto& f : index.files_read()) {
    Bytes b = TRY(fs::read_file(fsys, f, module_read_limit));
    rd.record(f, b);
  }
  r.modules = TRY(index.resolve(required));

  bool any_compressed = std::any_of(r.modules.load_order.begin(), r.modules.load_order.end(),
                                    [](const ResolvedModule& m) { return module_codec(m.relpath).has_value(); });
  // Reading the kernel config is the only I/O here; the decision is module_storage().
  std::optional<Bytes> config_text;
  if (any_compressed && o.module_compression == ModuleCompression::Auto) {
    std::optional<std::string> config;
    for (const auto& c : {"/boot/config-" + r.kver, kc.modules.path + "/config"})
      if (auto p = TRY(rd.existing_file(c))) {
        config = *p;
        break;
      }
    if (config)
      config_text = TRY(rd.read(*config));
    else
      log::warn("no kernel config for " + r.kver + " (/boot/config-" + r.kver + " or " + kc.modules.path +
                "/config): decompressing modules on the host");
  }
  const ModuleStorage storage =
      module_storage(any_compressed, o.module_compression,
                     config_text ? std::optional<std::string_view>(as_chars(*config_text)) : std::nullopt);
  const bool keep_compressed = storage == ModuleStorage::Kept;
  r.module_compression = std::string(module_storage_name(storage));

  const std::string cpio_moddir = "lib/modules/" + r.kver + "/";
  std::map<std::string, std::string> renamed;
  std::set<std::string> firmware_seen;
  for (const auto& m : r.modules.load_order) {
    Bytes bytes = TRY_CTX(rd.read(kc.modules.path + "/" + m.relpath), "module " + m.name);
    auto codec = module_codec(m.relpath);
    std::string relpath = m.relpath;
    Bytes plain;
    if (codec) {
      plain = TRY_CTX(decompress(*codec, bytes, module_read_limit), kc.modules.path + "/" + m.relpath);
      if (!keep_compressed) {
        relpath = m.relpath.substr(0, m.relpath.rfind(".ko") + 3);
        renamed[m.relpath] = relpath;
        bytes = plain;
      }
    }
    ByteSpan elf = codec ? ByteSpan(plain) : ByteSpan(bytes);
    auto fw = module_firmware(elf);
    if (!fw)
      return Error(kc.modules.path + "/" + m.relpath + ": " + fw.error().message());
    for (const auto& name : *fw)
      if (firmware_seen.insert(name).second)
        r.firmware.push_back({name, m.name, std::nullopt, false});
    r.module_archive_paths[m.name] = cpio_moddir + relpath;
    TRY(image.add_file(cpio_moddir + relpath, std::move(bytes)));
  }
  {
    const std::string dep = index.dep_lines(r.modules.load_order, renamed);
    TRY(image.add_file(cpio_moddir + "modules.dep", Bytes(dep.begin(), dep.end())));
  }
  if (auto p = TRY(rd.existing_file(kc.modules.path + "/modules.builtin"))) {
    Bytes b = TRY(fs::read_file(fsys, *p, module_read_limit));
    TRY(image.add_file(cpio_moddir + "modules.builtin", std::move(b)));
  }
  {
    std::vector<std::string> load_names;
    for (const auto& m : r.modules.load_order)
      load_names.push_back(m.name);
    std::string list = TRY_CTX(render_module_list(load_names), "module load list");
    TRY(image.add_file(kModuleListPath, Bytes(list.begin(), list.end())));
  }

  // 6. Firmware the chosen modules declare.
  for (auto& f : r.firmware) {
    for (const std::string base : {"/lib/firmware/", "/usr/lib/firmware/"}) {
      for (const std::string suffix : {"", ".zst", ".xz"}) {
        if (auto p = TRY(rd.existing_file(base + f.name + suffix))) {
          f.found_at = *p;
          break;
        }
      }
      if (f.found_at)
        break;
    }
    if (f.found_at && o.firmware == FirmwareMode::Include) {
      Bytes b = TRY(rd.read(*f.found_at));
      std::string leaf = f.found_at->substr(f.found_at->find("/firmware/") + 10);
      TRY(image.add_file("lib/firmware/" + leaf, std::move(b)));
      f.included = true;
    }
  }

  // 7. Settings files, fixed directories, PID1 and the gadget program.
  for (const auto& file : TRY_CTX(render_settings_files(settings), "stage0 settings")) {
    TRY(image.add_file(std::string(kSettingsDir) + "/" + file.name,
                       Bytes(file.content.begin(), file.content.end())));
  }
  r.settings = settings;
  for (const char* d : {"dev", "proc", "sys", "run", "etc", "etc/modules-load.d", "lib", "lib/modules"})
    TRY(image.add_directory(d));
  if (o.smoo_gadget) {
    record_host(*o.smoo_gadget);
    auto garch = TRY_CTX(elf_arch(o.smoo_gadget->bytes), "--smoo-gadget " + o.smoo_gadget->path);
    if (garch != r.arch)
      return Error("--smoo-gadget " + o.smoo_gadget->path + " is built for " + garch + " but the kernel is " + r.arch);
    TRY(image.add_file("bin/smoo-gadget", o.smoo_gadget->bytes, 0755));
  }
  if (!image.contains("init")) {
    if (!o.init)
      o.init = TRY(locate_stage0_init(std::nullopt, r.arch));
    record_host(*o.init);
    auto iarch = TRY_CTX(elf_arch(o.init->bytes), "stage0 PID1 " + o.init->path);
    if (iarch != r.arch)
      return Error("stage0 PID1 " + o.init->path + " is built for " + iarch + " but the kernel " + r.kernel_path +
                   " is " + r.arch);
    TRY(image.add_file("init", o.init->bytes, 0755));
  }

  Bytes raw = TRY(image.serialise());
  r.initrd_uncompressed = raw.size();
  r.codec = o.compress ? *o.compress : codec_of_devpro(o.device);
  r.initrd = r.codec == Codec::None ? std::move(raw) : TRY(compress(r.codec, raw));
  TRY(check_boot_limits(o.device, r, o.outputs));
  return r;
}

void apply_effective_stage0(Stage0Options& o, const profiles::EffectiveStage0& p, const std::string& id) {
  o.profile_modules = p.kernel_modules;
  std::vector<HostFile> overlays;
  for (std::size_t i = 0; i < p.dt_overlays.size(); ++i)
    overlays.push_back({"boot profile " + id + " dt_overlays[" + std::to_string(i) + "]", p.dt_overlays[i], true});
  overlays.insert(overlays.end(), o.dtbos.begin(), o.dtbos.end());
  o.dtbos = std::move(overlays);
  if (p.extra_cmdline)
    o.extra_cmdline = join_nonempty({*p.extra_cmdline, o.extra_cmdline});
  if (p.inject_mac) {
    if (!o.inject_mac.wifi)
      o.inject_mac.wifi = p.inject_mac->wifi;
    if (!o.inject_mac.bluetooth)
      o.inject_mac.bluetooth = p.inject_mac->bluetooth;
  }
}

// `rootfs`: what the PID1 mounts as its lower root. "transport" says who
// provides it: "smoo" (a host serves it after boot; fastboop-push boot does)
// or "local" (stage0.root_device on the phone). The fields after it identify
// the image for the host (the same block is copied into boot.img.json).
json rootfs_manifest(const Stage0Result& r) {
  json j = json::object();
  auto device = r.settings.find(std::string(key::kRootDevice));
  const bool local = device != r.settings.end() && !device->second.empty();
  j["transport"] = local ? "local" : "smoo";
  if (local)
    j["device"] = device->second;
  if (r.rootfs) {
    j["source"] = r.rootfs->source;
    if (!r.rootfs->pipeline.empty()) {
      j["pipeline"] = r.rootfs->pipeline;
      j["size"] = r.rootfs->size;
      j["sha512"] = r.rootfs->sha512 ? json(*r.rootfs->sha512) : json(nullptr);
    }
  }
  return j;
}

json stage0_manifest(const Stage0Result& r, const std::string& device_id,
                     const std::map<std::string, std::pair<std::string, std::uint64_t>>& outputs) {
  json j;
  j["tool"] = "fastboop-stage0";
  j["version"] = std::string(version_string());
  j["device"] = device_id;
  j["kernel"] = {{"path", r.kernel_path},
                 {"version", r.kver},
                 {"arch", r.arch},
                 {"layers", r.kernel_layers},
                 {"encoding", std::string(profiles::kernel_encoding_name(r.encoding))}};
  json mods = json::array();
  for (const auto& m : r.modules.load_order) {
    json e = {{"name", m.name}, {"path", m.relpath}, {"reason", std::string(module_reason_name(m.reason))}};
    if (!m.wanted_by.empty())
      e["wanted_by"] = m.wanted_by;
    if (auto it = r.module_archive_paths.find(m.name); it != r.module_archive_paths.end())
      e["archive_path"] = it->second;
    mods.push_back(e);
  }
  j["modules"] = mods;
  j["modules_builtin"] = r.modules.builtin;
  j["softdeps_unresolved"] = r.modules.missing_softdeps;
  j["module_compression"] = r.module_compression;
  json fw = json::array();
  for (const auto& f : r.firmware) {
    json e = {{"name", f.name}, {"module", f.module}, {"included", f.included}};
    e["found_at"] = f.found_at ? json(*f.found_at) : json(nullptr);
    fw.push_back(e);
  }
  j["firmware"] = fw;
  j["dtb"] = {{"source", r.dtb_path}};
  j["settings"] = r.settings;
  j["cmdline"] = r.cmdline;
  j["cmdline_generated"] = r.cmdline_generated;
  j["initrd"] = {{"compression", std::string(codec_name(r.codec))},
                 {"size", r.initrd.size()},
                 {"uncompressed_size", r.initrd_uncompressed}};
  j["sizes"] = {{"kernel", r.kernel.size()}, {"dtb", r.dtb.size()}, {"initrd", r.initrd.size()}};
  json in = json::array();
  for (const auto& i : r.inputs)
    in.push_back({{"origin", i.origin}, {"path", i.path}, {"sha512", i.sha512}, {"size", i.size}});
  j["inputs"] = in;
  json out = json::object();
  for (const auto& [name, d] : outputs)
    out[name] = {{"sha512", d.first}, {"size", d.second}};
  j["outputs"] = out;
  j["rootfs"] = rootfs_manifest(r);
  return j;
}

Result<void> write_stage0_outputs(const Stage0Result& r, const std::string& device_id,
                                  const std::filesystem::path& dir,
                                  const std::optional<std::filesystem::path>& depfile) {
  // The output directory is the tool's: it is replaced as a whole, so no
  // file of an earlier build (a stage0.cpio beside a new stage0.cpio.xz)
  // survives to confuse fastboop-bootimg (issue 16 item 8).
  auto out = TRY(AtomicDirectory::create(dir, "stage0.json"));
  std::map<std::string, std::pair<std::string, std::uint64_t>> outputs;
  auto put = [&](const std::string& name, ByteSpan data) -> Result<void> {
    TRY(write_file_atomic(out.staging() / name, data));
    outputs[name] = {sha512_hex(data), data.size()};
    return ok();
  };
  const std::string initrd = initrd_file_name(r.codec);
  TRY(put(initrd, r.initrd));
  TRY(put("kernel", r.kernel));
  TRY(put("devicetree.dtb", r.dtb));
  // Only the stage0 part: fastboop-bootimg prepends the DevPro cmdline_append
  // itself (DevPro + stage0 + --cmdline-append), so including it here doubled it.
  TRY(put("cmdline", as_bytes(r.cmdline_generated)));
  std::string manifest = stage0_manifest(r, device_id, outputs).dump(2) + "\n";
  TRY(write_file_atomic(out.staging() / "stage0.json", manifest));
  TRY(out.commit());
  if (depfile)
    TRY(write_depfile(*depfile, (dir / initrd).string(), r.host_deps));
  return ok();
}

} // namespace fastboop::stage0
