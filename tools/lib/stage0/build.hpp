// build_stage0(): everything a boot image needs from an unmodified rootfs and
// a Device Profile — the initramfs (newc cpio, optionally compressed), the
// normalised kernel, the final DTB, the kernel command line and a manifest.
// Reads only the files it needs through the Filesystem interface, so the same
// code serves host directories and images.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "filesystems/filesystem.hpp"
#include "profiles/boot_profile.hpp"
#include "profiles/device_profile.hpp"
#include "stage0/codec.hpp"
#include "stage0/dtb.hpp"
#include "stage0/modules.hpp"
#include "stage0/settings.hpp"
#include "stage0/source.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0 {

// A file read from the host (not the rootfs).
struct HostFile {
  std::string path; // host path, or a label for embedded data
  Bytes bytes;
  bool embedded = false; // from a Boot Profile: no host file to depend on
};
Result<HostFile> read_host_file(const std::string& path);

enum class ModuleCompression { Auto, Decompress, Keep };
enum class FirmwareMode { ListOnly, Include };
// InitrdOnly skips the kernel encoding (the `-o -` one-liner needs only the cpio).
enum class OutputSet { All, InitrdOnly };

struct Stage0Options {
  profiles::DeviceProfile device;
  std::optional<std::string> kernel_version;
  std::optional<HostFile> kernel;         // instead of detection in the rootfs
  std::optional<HostFile> dtb;            // instead of selection in the rootfs
  std::vector<HostFile> dtbos;            // compiled overlays (or .dts/.dtso sources)
  std::vector<std::string> profile_modules; // Boot Profile kernel_modules
  std::vector<std::string> required_modules; // --require-module
  std::string extra_cmdline;              // Boot Profile extra_cmdline + --cmdline-append
  Settings settings;                      // explicit options; override cmdline tokens
  bool serial = false;
  bool mimic_fastboot = true;
  InjectMacRequest inject_mac;
  std::optional<std::string> stage0_serial; // MAC seed fallback (the USB serial)
  std::optional<Codec> compress;          // default: the DevPro initrd.compress, else none
  ModuleCompression module_compression = ModuleCompression::Auto;
  FirmwareMode firmware = FirmwareMode::ListOnly;
  std::optional<HostFile> augment;
  std::optional<HostFile> init;           // the PID1 binary (locate_stage0_init)
  std::optional<HostFile> smoo_gadget;
  std::optional<std::string> root_device; // local root instead of smoo
  std::string rootfs_type;                // "erofs" or "ext4"; empty: from the filesystem kind
  std::uint64_t max_io_bytes = 1048576;
  OutputSet outputs = OutputSet::All;
};

struct InputRecord {
  std::string origin; // "rootfs" or "host"
  std::string path;
  std::string sha512;
  std::uint64_t size = 0;
};

struct FirmwareRecord {
  std::string name;
  std::string module;
  std::optional<std::string> found_at; // rootfs path, when present
  bool included = false;
};

struct Stage0Result {
  Bytes initrd;          // compressed with `codec`
  std::uint64_t initrd_uncompressed = 0;
  Codec codec = Codec::None;
  Bytes kernel;
  Bytes dtb;
  std::string cmdline;           // final: DevPro cmdline_append + generated tokens
  std::string cmdline_generated; // the generated part alone
  std::string kver;
  std::string kernel_path;
  std::string dtb_path;
  std::string arch;
  std::vector<std::string> kernel_layers;
  ModuleClosure modules;
  std::map<std::string, std::string> module_archive_paths; // name -> path in the cpio
  std::string module_compression; // "kept" or "decompressed" or "none-compressed"
  std::vector<FirmwareRecord> firmware;
  Settings settings;
  std::vector<InputRecord> inputs;
  std::vector<std::string> host_deps;
  profiles::KernelEncoding encoding = profiles::KernelEncoding::Image;
  // Which rootfs this stage0 mounts (stage0.json `rootfs`): what a host must
  // serve over smoo. Set by the caller that opened the source.
  std::optional<RootfsIdentity> rootfs;
};

Result<Stage0Result> build_stage0(filesystems::Filesystem& fs, Stage0Options options);

// Decisions build_stage0 takes, as pure functions (tested without dtc or a
// rootfs); those of its individual steps are in build_steps.hpp.
// Whether `config` (a kernel .config) sets `option=y` on a line of its own.
bool kernel_config_enables(std::string_view config, std::string_view option);
// How modules go into the initramfs: none of them compressed, kept
// compressed (the kernel decompresses them: CONFIG_MODULE_DECOMPRESS=y, or
// --module-compression keep), or decompressed on the host (also the Auto
// choice without a kernel config).
enum class ModuleStorage { NoneCompressed, Kept, Decompressed };
ModuleStorage module_storage(bool any_compressed, ModuleCompression requested,
                             std::optional<std::string_view> kernel_config);
std::string_view module_storage_name(ModuleStorage storage); // stage0.json's module_compression

// The device profile's boot-image limits for this output. With
// OutputSet::InitrdOnly (`-o -`) the kernel is not encoded, so only the
// initramfs limit is checked.
Result<void> check_boot_limits(const profiles::DeviceProfile& device, const Stage0Result& result,
                               OutputSet outputs);

// Fold a Boot Profile's effective stage0 settings for the device into the
// options: its modules, overlays and cmdline come before the command line's
// (spec stage0 §2.1), inject_mac from the profile unless already set.
void apply_effective_stage0(Stage0Options& options, const profiles::EffectiveStage0& profile,
                            const std::string& profile_id);

// Find and read the PID1 binary in the order of stage0/payloads.hpp. The
// error lists what was tried.
Result<HostFile> locate_stage0_init(const std::optional<std::string>& explicit_path, const std::string& arch);

// Output names for a result.
std::string initrd_file_name(Codec codec);

nlohmann::json stage0_manifest(const Stage0Result& result, const std::string& device_id,
                               const std::map<std::string, std::pair<std::string, std::uint64_t>>& outputs);

// Write stage0.cpio[.x], kernel, devicetree.dtb, cmdline, stage0.json into
// `dir` (each atomically), and the depfile when asked.
Result<void> write_stage0_outputs(const Stage0Result& result, const std::string& device_id,
                                  const std::filesystem::path& dir,
                                  const std::optional<std::filesystem::path>& depfile);

} // namespace fastboop::stage0
