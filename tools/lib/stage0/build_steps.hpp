// The decisions build_stage0's steps take, as pure functions of what the
// steps have read: which filesystem the PID1 mounts, the settings layers,
// how the root arrives, the MAC seed, the generated cmdline, the module set,
// where modules, kernel configs and firmware are looked for and stored, and
// the initramfs codec. The steps in build.cpp do the reading and writing;
// these are tested without dtc, a rootfs or an image.
#pragma once

#include "common/result.hpp"
#include "profiles/device_profile.hpp"
#include "stage0/build.hpp"
#include "stage0/codec.hpp"
#include "stage0/settings.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::stage0 {

// stage0.rootfs: the requested type, else the SOURCE's filesystem kind when
// the PID1 mounts that kind, else erofs. Anything but erofs, ext4 or
// squashfs is a usage error.
Result<std::string> rootfs_type_for(std::string_view requested, std::string_view fs_kind);

// The settings layers of spec §2.11 from the options (generated values and
// explicit options) and the cmdline's stage0 tokens; mimic_fastboot is added
// later, once the root plan says whether a gadget runs.
SettingsLayers settings_layers(const Stage0Options& options, const std::string& rootfs_type,
                               const Settings& tokens);

// A merged setting, trimmed; empty when unset.
std::string setting_value(const Settings& settings, std::string_view key);

// How the root arrives: over smoo (ublk) unless stage0.root_device is set.
// The USB gadget runs whenever a smoo-gadget program is present (given, or
// already in the augment archive), local root or not; acm is smoo.acm.
struct RootPlan {
  bool smoo = false;
  bool gadget = false;
  bool acm = false;
};
// A smoo root without a gadget program is a usage error.
Result<RootPlan> plan_root(const Settings& settings, bool has_gadget_program);

// smoo.mimic_fastboot=1 goes into the generated layer only when asked and a
// gadget runs.
bool mimics_fastboot(bool requested, const RootPlan& root);

// The MAC seed: the merged stage0.serial (a token beats --stage0-serial, an
// explicit --setting beats both), else "0".
std::string mac_seed(const Settings& settings);

// The generated cmdline: the serial console's plymouth token, then the
// extra cmdline's non-stage0 tokens.
std::string generated_cmdline(bool serial, const std::vector<std::string>& passthrough);

// The modules stage0 needs, in order: the gadget's, ublk for a smoo root,
// the ACM function's, overlay and the rootfs type, loop and the nested image's
// type for a live ISO root image, then the Boot Profile's and the command
// line's.
std::vector<std::string> required_modules(const RootPlan& root, const std::string& rootfs_type,
                                          const Settings& settings,
                                          const std::vector<std::string>& profile_modules,
                                          const std::vector<std::string>& cli_modules);

// The codec a module file is compressed with, from its name (.ko.xz/.zst/.gz).
std::optional<Codec> module_codec(std::string_view relpath);

// Where a module goes under lib/modules/<kver>/: as it is, or without its
// compression suffix when the host decompresses it.
std::string module_archive_relpath(const std::string& relpath, bool keep_compressed);

// Where the kernel config for `kver` is looked for, in order.
std::vector<std::string> kernel_config_paths(const std::string& kver,
                                             const std::string& modules_dir);

// Where a firmware file a module declares is looked for, in order.
std::vector<std::string> firmware_paths(const std::string& name);

// The initramfs path of firmware found at `found_at` (a firmware_paths() entry).
std::string firmware_archive_path(const std::string& found_at);

// The initramfs codec: the requested one, else the Device Profile's
// initrd.compress, else none.
Codec initrd_codec(const std::optional<Codec>& requested, const profiles::DeviceProfile& device);

} // namespace fastboop::stage0
