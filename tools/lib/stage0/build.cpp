#include "stage0/build.hpp"
#include "common/text.hpp"
#include "stage0/build_steps.hpp"

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

namespace {

// --- build_stage0's steps ------------------------------------------------------
// Each step reads what it needs, asks build_steps.hpp what to do with it, and
// adds to the result and the image. Their order is the order of
// Stage0Result::inputs and host_deps (stage0.json and the depfile).

InputDigests input_digests(OutputSet outputs) {
  return outputs == OutputSet::All ? InputDigests::Record : InputDigests::Skip;
}

// What the steps share.
struct Build {
  Build(fs::Filesystem& f, Stage0Options options)
      : fsys(f), o(std::move(options)), rd{f, r.inputs, input_digests(o.outputs)} {}

  void record_host(const HostFile& f) {
    r.inputs.push_back({f.embedded ? "boot-profile" : "host", f.path, sha512_hex(f.bytes), f.bytes.size()});
    if (!f.embedded)
      r.host_deps.push_back(f.path);
  }

  fs::Filesystem& fsys;
  Stage0Options o;
  Stage0Result r;
  Reader rd; // records into r.inputs
  CpioImage image;
};

// What the settings step decided.
struct SettingsPlan {
  std::vector<std::string> passthrough; // extra cmdline tokens that stay on the cmdline
  std::string rootfs_type;
  Settings settings;
  RootPlan root;
};

// The image starts from the augment archive: its entries win.
Result<void> start_image(Build& b) {
  if (!b.o.augment)
    return ok();
  b.record_host(*b.o.augment);
  return b.image.merge_archive(b.o.augment->bytes, "--augment " + b.o.augment->path);
}

// The settings map comes first (spec §2.11): whether the root is local is
// read from it, whichever way stage0.root_device arrived (--root-device,
// --setting, a cmdline token or the Boot Profile's extra_cmdline).
Result<SettingsPlan> plan_settings(Build& b) {
  SplitCmdline split = split_extra_cmdline(b.o.extra_cmdline);
  for (const auto& w : split.warnings)
    log::warn(w);
  SettingsPlan p;
  p.passthrough = std::move(split.passthrough);
  p.rootfs_type = TRY(rootfs_type_for(b.o.rootfs_type, b.fsys.kind()));
  SettingsLayers layers = settings_layers(b.o, p.rootfs_type, split.settings);
  p.settings = merge_settings(layers);
  TRY(check_settings_as_pid1(p.settings));
  p.root = TRY(plan_root(p.settings, b.o.smoo_gadget || b.image.contains("bin/smoo-gadget")));
  if (mimics_fastboot(b.o.mimic_fastboot, p.root)) {
    layers.generated["smoo.mimic_fastboot"] = "1";
    p.settings = merge_settings(layers);
  }
  return p;
}

// The kernel (a host file or detected in the rootfs) and its modules directory.
Result<KernelChoice> add_kernel(Build& b) {
  KernelChoice kc;
  if (b.o.kernel) {
    b.record_host(*b.o.kernel);
    kc = TRY(choose_for_kernel(b.fsys, b.o.kernel->path, b.o.kernel->bytes, b.o.kernel_version));
  } else {
    kc = TRY(detect_kernel(b.fsys, b.o.kernel_version,
                           b.o.outputs == OutputSet::All ? KernelBytes::Full
                                                         : KernelBytes::IdentityOnly));
    b.rd.record(kc.image_path, kc.source());
  }
  b.r.kver = kc.modules.kver;
  b.r.kernel_path = kc.image_path;
  b.r.arch = kc.kernel.arch;
  b.r.kernel_layers = kc.kernel.layers;
  b.r.encoding = b.o.device.boot.kernel_encoding;
  if (b.o.outputs == OutputSet::All)
    b.r.kernel = TRY_CTX(encode_kernel(std::move(kc.kernel), kc.source(), b.r.encoding),
                         "kernel " + kc.image_path);
  return kc;
}

// The base device tree: --dtb > Boot Profile dtbs (given as a host file) > rootfs.
Result<Bytes> read_base_dtb(Build& b) {
  if (b.o.dtb) {
    b.record_host(*b.o.dtb);
    b.r.dtb_path = b.o.dtb->path;
    return b.o.dtb->bytes;
  }
  auto found = TRY(select_dtb(b.fsys, b.o.device.devicetree_name, b.r.kver));
  b.rd.record(found.path, found.bytes);
  b.r.dtb_path = found.path;
  return std::move(found.bytes);
}

// The final DTB: the base, its overlays (sources compiled), the MAC addresses.
Result<void> add_dtb(Build& b, const Settings& settings) {
  Bytes dtb = TRY(read_base_dtb(b));
  TRY(validate_dtb(dtb, b.r.dtb_path));
  std::vector<Bytes> overlays;
  std::vector<std::string> overlay_names;
  for (const auto& f : b.o.dtbos) {
    b.record_host(f);
    overlay_names.push_back(f.path);
    if (f.path.ends_with(".dts") || f.path.ends_with(".dtso"))
      overlays.push_back(TRY(compile_dts(f.bytes, f.path)));
    else
      overlays.push_back(f.bytes);
  }
  dtb = TRY(apply_overlays(dtb, overlays, overlay_names));
  dtb = TRY(inject_mac(dtb, b.o.inject_mac, mac_seed(settings)));
  TRY(validate_dtb(dtb, "final DTB"));
  b.r.dtb = std::move(dtb);
  return ok();
}

// The cmdline (§2.11): the DevPro's cmdline_append, then the generated part.
void set_cmdline(Build& b, const SettingsPlan& plan) {
  b.r.cmdline_generated = generated_cmdline(b.o.serial, plan.passthrough);
  b.r.cmdline = join_nonempty({b.o.device.boot.cmdline_append.value_or(""), b.r.cmdline_generated});
}

// The module closure of what stage0 needs; the index files read are inputs.
Result<ModuleIndex> resolve_modules(Build& b, const KernelChoice& kc, const SettingsPlan& plan) {
  const auto required = required_modules(plan.root, plan.rootfs_type, plan.settings,
                                         b.o.profile_modules, b.o.required_modules);
  ModuleIndex index = TRY(ModuleIndex::load(b.fsys, kc.modules.path, b.r.kver));
  for (const auto& f : index.files_read()) {
    Bytes bytes = TRY(fs::read_file(b.fsys, f, module_read_limit));
    b.rd.record(f, bytes);
  }
  b.r.modules = TRY(index.resolve(required));
  return index;
}

// Reading the kernel config is the only I/O here; the decision is module_storage().
Result<ModuleStorage> choose_module_storage(Build& b, const KernelChoice& kc) {
  const auto& order = b.r.modules.load_order;
  const bool any_compressed = std::any_of(order.begin(), order.end(), [](const ResolvedModule& m) {
    return module_codec(m.relpath).has_value();
  });
  std::optional<Bytes> config_text;
  if (any_compressed && b.o.module_compression == ModuleCompression::Auto) {
    std::optional<std::string> config;
    for (const auto& c : kernel_config_paths(b.r.kver, kc.modules.path))
      if (auto p = TRY(b.rd.existing_file(c))) {
        config = *p;
        break;
      }
    if (config)
      config_text = TRY(b.rd.read(*config));
    else
      log::warn("no kernel config for " + b.r.kver + " (/boot/config-" + b.r.kver + " or " +
                kc.modules.path + "/config): decompressing modules on the host");
  }
  const ModuleStorage storage = module_storage(
      any_compressed, b.o.module_compression,
      config_text ? std::optional<std::string_view>(as_chars(*config_text)) : std::nullopt);
  b.r.module_compression = std::string(module_storage_name(storage));
  return storage;
}

// The module files, decompressed unless kept, and the firmware they declare.
// Returns the renames (relpath -> archive relpath) for modules.dep.
Result<std::map<std::string, std::string>> add_module_files(Build& b, const KernelChoice& kc,
                                                            bool keep_compressed) {
  const std::string cpio_moddir = "lib/modules/" + b.r.kver + "/";
  std::map<std::string, std::string> renamed;
  std::set<std::string> firmware_seen;
  for (const auto& m : b.r.modules.load_order) {
    const std::string path = kc.modules.path + "/" + m.relpath;
    Bytes bytes = TRY_CTX(b.rd.read(path), "module " + m.name);
    const auto codec = module_codec(m.relpath);
    const std::string relpath = module_archive_relpath(m.relpath, keep_compressed);
    Bytes plain;
    if (codec) {
      plain = TRY_CTX(decompress(*codec, bytes, module_read_limit), path);
      if (relpath != m.relpath) {
        renamed[m.relpath] = relpath;
        bytes = plain;
      }
    }
    auto fw = module_firmware(codec ? ByteSpan(plain) : ByteSpan(bytes));
    if (!fw)
      return Error(path + ": " + fw.error().message());
    for (const auto& name : *fw)
      if (firmware_seen.insert(name).second)
        b.r.firmware.push_back({name, m.name, std::nullopt, false});
    b.r.module_archive_paths[m.name] = cpio_moddir + relpath;
    TRY(b.image.add_file(cpio_moddir + relpath, std::move(bytes)));
  }
  return renamed;
}

// modules.dep for the chosen set, the rootfs's modules.builtin, the load list.
Result<void> add_module_indexes(Build& b, const KernelChoice& kc, const ModuleIndex& index,
                                const std::map<std::string, std::string>& renamed) {
  const std::string cpio_moddir = "lib/modules/" + b.r.kver + "/";
  const std::string dep = index.dep_lines(b.r.modules.load_order, renamed);
  TRY(b.image.add_file(cpio_moddir + "modules.dep", Bytes(dep.begin(), dep.end())));
  if (auto p = TRY(b.rd.existing_file(kc.modules.path + "/modules.builtin"))) {
    Bytes builtin = TRY(fs::read_file(b.fsys, *p, module_read_limit));
    TRY(b.image.add_file(cpio_moddir + "modules.builtin", std::move(builtin)));
  }
  std::vector<std::string> load_names;
  for (const auto& m : b.r.modules.load_order)
    load_names.push_back(m.name);
  std::string list = TRY_CTX(render_module_list(load_names), "module load list");
  return b.image.add_file(std::string(kModuleListPath), Bytes(list.begin(), list.end()));
}

Result<void> add_modules(Build& b, const KernelChoice& kc, const SettingsPlan& plan) {
  const ModuleIndex index = TRY(resolve_modules(b, kc, plan));
  const ModuleStorage storage = TRY(choose_module_storage(b, kc));
  const auto renamed = TRY(add_module_files(b, kc, storage == ModuleStorage::Kept));
  return add_module_indexes(b, kc, index, renamed);
}

// Firmware the chosen modules declare: located always, included when asked.
Result<void> add_firmware(Build& b) {
  for (auto& f : b.r.firmware) {
    for (const auto& candidate : firmware_paths(f.name))
      if (auto p = TRY(b.rd.existing_file(candidate))) {
        f.found_at = *p;
        break;
      }
    if (f.found_at && b.o.firmware == FirmwareMode::Include) {
      Bytes bytes = TRY(b.rd.read(*f.found_at));
      TRY(b.image.add_file(firmware_archive_path(*f.found_at), std::move(bytes)));
      f.included = true;
    }
  }
  return ok();
}

// Settings files and the fixed directories.
Result<void> add_settings_files(Build& b, const Settings& settings) {
  for (const auto& file : TRY_CTX(render_settings_files(settings), "stage0 settings")) {
    TRY(b.image.add_file(std::string(kSettingsDir) + "/" + file.name,
                         Bytes(file.content.begin(), file.content.end())));
  }
  b.r.settings = settings;
  for (const char* d : {"dev", "proc", "sys", "run", "etc", "etc/modules-load.d", "lib", "lib/modules"})
    TRY(b.image.add_directory(d));
  return ok();
}

// The gadget program and the PID1 (unless the augment archive has one), each
// built for the kernel's architecture.
Result<void> add_programs(Build& b) {
  if (b.o.smoo_gadget) {
    const HostFile& g = *b.o.smoo_gadget;
    b.record_host(g);
    auto garch = TRY_CTX(elf_arch(g.bytes), "--smoo-gadget " + g.path);
    if (garch != b.r.arch)
      return Error("--smoo-gadget " + g.path + " is built for " + garch + " but the kernel is " +
                   b.r.arch);
    TRY(b.image.add_file("bin/smoo-gadget", g.bytes, 0755));
  }
  if (b.image.contains("init"))
    return ok();
  if (!b.o.init)
    b.o.init = TRY(locate_stage0_init(std::nullopt, b.r.arch));
  const HostFile& init = *b.o.init;
  b.record_host(init);
  auto iarch = TRY_CTX(elf_arch(init.bytes), "stage0 PID1 " + init.path);
  if (iarch != b.r.arch)
    return Error("stage0 PID1 " + init.path + " is built for " + iarch + " but the kernel " +
                 b.r.kernel_path + " is " + b.r.arch);
  return b.image.add_file("init", init.bytes, 0755);
}

// The archive, compressed, within the Device Profile's limits.
Result<void> finish_initrd(Build& b) {
  Bytes raw = TRY(b.image.serialise());
  b.r.initrd_uncompressed = raw.size();
  b.r.codec = initrd_codec(b.o.compress, b.o.device);
  b.r.initrd = b.r.codec == Codec::None ? std::move(raw) : TRY(compress(b.r.codec, raw));
  return check_boot_limits(b.o.device, b.r, b.o.outputs);
}

} // namespace

Result<Stage0Result> build_stage0(fs::Filesystem& fsys, Stage0Options options) {
  Build b(fsys, std::move(options));
  TRY(start_image(b));
  const SettingsPlan plan = TRY(plan_settings(b));
  const KernelChoice kc = TRY(add_kernel(b));
  TRY(add_dtb(b, plan.settings));
  set_cmdline(b, plan);
  TRY(add_modules(b, kc, plan));
  TRY(add_firmware(b));
  TRY(add_settings_files(b, plan.settings));
  TRY(add_programs(b));
  TRY(finish_initrd(b));
  return std::move(b.r);
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
