#include "stage0/build_steps.hpp"

#include "common/text.hpp"
#include "stage0_settings/stage0_settings.hpp"

namespace fastboop::stage0 {

Result<std::string> rootfs_type_for(std::string_view requested, std::string_view fs_kind) {
  const auto mountable = [](std::string_view t) {
    return t == "erofs" || t == "ext4" || t == "squashfs";
  };
  const std::string type = !requested.empty()   ? std::string(requested)
                           : mountable(fs_kind) ? std::string(fs_kind)
                                                : std::string("erofs");
  if (!mountable(type))
    return Error("root filesystem type '" + type + "' is not erofs, ext4 or squashfs",
                 ErrorKind::Usage);
  return type;
}

SettingsLayers settings_layers(const Stage0Options& o, const std::string& rootfs_type,
                               const Settings& tokens) {
  SettingsLayers layers;
  layers.rootfs = rootfs_type;
  if (o.serial)
    layers.generated["smoo.acm"] = "1";
  if (o.stage0_serial && !o.stage0_serial->empty())
    layers.generated["stage0.serial"] = *o.stage0_serial;
  layers.generated["smoo.max_io_bytes"] = std::to_string(o.max_io_bytes);
  layers.tokens = tokens;
  if (o.root_device)
    layers.options["stage0.root_device"] = *o.root_device;
  for (const auto& [k, v] : o.settings)
    layers.options[k] = v;
  return layers;
}

std::string setting_value(const Settings& settings, std::string_view key) {
  auto it = settings.find(std::string(key));
  return it == settings.end() ? std::string() : std::string(trim(it->second));
}

Result<RootPlan> plan_root(const Settings& settings, bool has_gadget_program) {
  RootPlan p;
  p.smoo = setting_value(settings, key::kRootDevice).empty();
  p.gadget = p.smoo || has_gadget_program;
  p.acm = parse_bool(setting_value(settings, key::kAcm)).value_or(false);
  if (p.smoo && !has_gadget_program)
    return Error("the root would come over USB through smoo, but no --smoo-gadget PATH was given "
                 "(or use --root-device for a local root)",
                 ErrorKind::Usage);
  return p;
}

bool mimics_fastboot(bool requested, const RootPlan& root) {
  return requested && root.gadget;
}

std::string mac_seed(const Settings& settings) {
  std::string seed = setting_value(settings, key::kSerial);
  return seed.empty() ? "0" : seed;
}

std::string generated_cmdline(bool serial, const std::vector<std::string>& passthrough) {
  std::vector<std::string> tokens;
  if (serial)
    tokens.emplace_back("plymouth.ignore-serial-consoles");
  tokens.insert(tokens.end(), passthrough.begin(), passthrough.end());
  std::string out;
  for (const auto& t : tokens)
    out += (out.empty() ? "" : " ") + t;
  return out;
}

std::vector<std::string> required_modules(const RootPlan& root, const std::string& rootfs_type,
                                          const Settings& settings,
                                          const std::vector<std::string>& profile_modules,
                                          const std::vector<std::string>& cli_modules) {
  std::vector<std::string> required;
  if (root.gadget)
    required = {"configfs", "libcomposite", "usb_f_fs"};
  if (root.smoo)
    required.push_back("ublk_drv");
  if (root.acm && !root.gadget)
    required.insert(required.end(), {"configfs", "libcomposite"});
  required.push_back("overlay");
  required.push_back(rootfs_type);
  // A nested root image (a live ISO's LiveOS/rootfs.img): a loop device and its filesystem.
  if (const std::string image_type = setting_value(settings, key::kRootfsImageType);
      !image_type.empty())
    required.insert(required.end(), {"loop", image_type});
  required.insert(required.end(), profile_modules.begin(), profile_modules.end());
  required.insert(required.end(), cli_modules.begin(), cli_modules.end());
  if (root.acm)
    required.push_back("usb_f_acm");
  return required;
}

std::optional<Codec> module_codec(std::string_view relpath) {
  if (relpath.ends_with(".ko.xz"))
    return Codec::Xz;
  if (relpath.ends_with(".ko.zst"))
    return Codec::Zstd;
  if (relpath.ends_with(".ko.gz"))
    return Codec::Gzip;
  return std::nullopt;
}

std::string module_archive_relpath(const std::string& relpath, bool keep_compressed) {
  if (keep_compressed || !module_codec(relpath))
    return relpath;
  return relpath.substr(0, relpath.rfind(".ko") + 3);
}

std::vector<std::string> kernel_config_paths(const std::string& kver,
                                             const std::string& modules_dir) {
  return {"/boot/config-" + kver, modules_dir + "/config"};
}

std::vector<std::string> firmware_paths(const std::string& name) {
  std::vector<std::string> paths;
  for (const std::string base : {"/lib/firmware/", "/usr/lib/firmware/"})
    for (const std::string suffix : {"", ".zst", ".xz"})
      paths.push_back(base + name + suffix);
  return paths;
}

std::string firmware_archive_path(const std::string& found_at) {
  return "lib/firmware/" + found_at.substr(found_at.find("/firmware/") + 10);
}

Codec initrd_codec(const std::optional<Codec>& requested, const profiles::DeviceProfile& d) {
  if (requested)
    return *requested;
  if (!d.boot.initrd || !d.boot.initrd->compress)
    return Codec::None;
  switch (*d.boot.initrd->compress) {
  case profiles::Compression::None:
    return Codec::None;
  case profiles::Compression::Gzip:
    return Codec::Gzip;
  case profiles::Compression::Lz4:
    return Codec::Lz4;
  case profiles::Compression::Zstd:
    return Codec::Zstd;
  }
  return Codec::None;
}

} // namespace fastboop::stage0
