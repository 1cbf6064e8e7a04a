// The stage0 runtime configuration channel, shared by the host generator
// (fastboop-stage0 writes it into the initramfs) and the device PID1
// (fastboop-stage0-init reads it). Two formats live here:
//
//  * /etc/stage0/<key>: one regular file per setting, content "<value>\n".
//    The reader trims surrounding whitespace and reads an empty file as "1".
//  * /etc/modules-load.d/fastboop-stage0.conf: the module load list, one
//    module name per line, in load order (dependencies first).
//
// Everything here is pure (no I/O) and dependency-free apart from
// common/result.hpp, because it is compiled into both libfastboop and the
// static PID1. Nothing throws.
#pragma once

#include "common/result.hpp"
#include "common/text.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::stage0 {

// Paths inside the initramfs (no leading slash, as cpio entries are named).
inline constexpr std::string_view kSettingsDir = "etc/stage0";
inline constexpr std::string_view kModuleListPath = "etc/modules-load.d/fastboop-stage0.conf";

// Keys. Upstream keys first (spec stage0.md §3.7), then the keys this port adds.
namespace key {
inline constexpr std::string_view kRootfs = "stage0.rootfs";
inline constexpr std::string_view kSerial = "stage0.serial";
inline constexpr std::string_view kYeetFstab = "stage0.yeetfstab";
inline constexpr std::string_view kFramebuffer = "stage0.fb"; // accepted, not acted on by our PID1
inline constexpr std::string_view kOstree = "ostree";
inline constexpr std::string_view kAcm = "smoo.acm";
inline constexpr std::string_view kBreak = "smoo.break"; // accepted, never acted on: no shell
inline constexpr std::string_view kQueueCount = "smoo.queue_count";
inline constexpr std::string_view kQueueDepth = "smoo.queue_depth";
inline constexpr std::string_view kQueueDepthAlias = "smoo.queue_size";
inline constexpr std::string_view kMaxIo = "smoo.max_io_bytes";
inline constexpr std::string_view kMaxIoAlias = "smoo.max_io";
inline constexpr std::string_view kVendor = "smoo.vendor";
inline constexpr std::string_view kVendorAlias = "smoo.vendor_id";
inline constexpr std::string_view kProduct = "smoo.product";
inline constexpr std::string_view kProductAlias = "smoo.product_id";
inline constexpr std::string_view kMimicFastboot = "smoo.mimic_fastboot";
inline constexpr std::string_view kSmooLog = "smoo.log";
inline constexpr std::string_view kLocale = "firstboot.locale";
inline constexpr std::string_view kLocaleMessages = "firstboot.locale-messages";
inline constexpr std::string_view kKeymap = "firstboot.keymap";
inline constexpr std::string_view kTimezone = "firstboot.timezone";
// Added by this port.
inline constexpr std::string_view kRootDevice = "stage0.root_device"; // local lower root
inline constexpr std::string_view kRootDeviceTimeout = "stage0.root_device_timeout"; // seconds
inline constexpr std::string_view kOnFailure = "stage0.on_failure"; // panic | reboot | halt
inline constexpr std::string_view kUdc = "stage0.udc";              // UDC name; default: first one
inline constexpr std::string_view kInit = "stage0.init"; // init to exec instead of the search list
// A filesystem image inside the lower root, loop-mounted read-only as the real
// lower root (a live ISO's nested LiveOS/rootfs.img inside its squashfs).
inline constexpr std::string_view kRootfsImage = "stage0.rootfs_image";
inline constexpr std::string_view kRootfsImageType = "stage0.rootfs_image_type"; // erofs | ext4
// The lower root is a byte range of the root device (a live ISO's squashfs on
// a device holding the whole ISO), attached through a loop device.
inline constexpr std::string_view kRootOffset = "stage0.root_offset"; // bytes
inline constexpr std::string_view kRootSize = "stage0.root_size"; // bytes; absent or 0: to the end
inline constexpr std::string_view kUdcTimeout = "stage0.udc_timeout";   // seconds
inline constexpr std::string_view kEp1Timeout = "stage0.ep1_timeout";   // seconds
inline constexpr std::string_view kUblkTimeout = "stage0.ublk_timeout"; // seconds
} // namespace key

// Every key either side understands, sorted. The generator routes cmdline
// tokens with these names into settings files instead of the kernel cmdline.
std::span<const std::string_view> known_keys();
bool is_known_key(std::string_view name);

// Defaults the PID1 applies when a setting is absent (spec §3.7, §4.5, §4.7).
inline constexpr std::uint16_t kDefaultVendorId = 0xdead;
inline constexpr std::uint16_t kDefaultProductId = 0xbeef;
inline constexpr std::string_view kDefaultSerial = "0001";
inline constexpr std::uint32_t kDefaultUdcTimeoutSeconds = 15;
inline constexpr std::uint32_t kDefaultEp1TimeoutSeconds = 15;
inline constexpr std::uint32_t kDefaultUblkTimeoutSeconds = 30;
inline constexpr std::uint32_t kDefaultRootDeviceTimeoutSeconds = 30;

enum class RootFsType { Erofs, Ext4, Squashfs };
enum class OnFailure { Panic, Reboot, Halt };

std::string_view to_string(RootFsType type);
std::string_view to_string(OnFailure action);

// The typed view of all settings. Empty strings and nullopt mean "absent".
struct Stage0Settings {
  std::optional<RootFsType> rootfs; // required by the PID1
  std::string rootfs_image;                  // absolute path inside the lower root
  std::optional<RootFsType> rootfs_image_type; // erofs or ext4; required with rootfs_image
  std::optional<std::uint64_t> root_offset;    // byte range of the root device, when set
  std::optional<std::uint64_t> root_size;
  std::string serial;
  bool yeet_fstab = true;
  std::string ostree;
  bool acm = false;
  std::optional<std::uint16_t> queue_count;
  std::optional<std::uint16_t> queue_depth;
  std::optional<std::uint64_t> max_io_bytes;
  std::optional<std::uint16_t> vendor_id;
  std::optional<std::uint16_t> product_id;
  bool mimic_fastboot = false;
  std::string smoo_log;
  std::string firstboot_locale;
  std::string firstboot_locale_messages;
  std::string firstboot_keymap;
  std::string firstboot_timezone;
  std::string root_device;
  std::optional<std::uint32_t> root_device_timeout_s;
  OnFailure on_failure = OnFailure::Panic;
  std::string udc;
  std::string init;
  std::optional<std::uint32_t> udc_timeout_s;
  std::optional<std::uint32_t> ep1_timeout_s;
  std::optional<std::uint32_t> ublk_timeout_s;
  // Keys this code does not model (unknown ones, stage0.fb, smoo.break),
  // kept verbatim so a round trip loses nothing.
  std::map<std::string, std::string> other;

  bool operator==(const Stage0Settings&) const = default;
};

// key -> value, sorted by key (deterministic file order).
using SettingsMap = std::map<std::string, std::string>;

struct SettingsFile {
  std::string name;    // the key, which is the file name under etc/stage0/
  std::string content; // "<value>\n"
  bool operator==(const SettingsFile&) const = default;
};

// Writer side ------------------------------------------------------------------

// The files for a settings map, sorted by name. Fails (naming the key) when a
// key is not a plain file name, or a value is empty after trimming, has
// surrounding whitespace the reader would drop, or contains a newline or NUL.
Result<std::vector<SettingsFile>> render_settings_files(const SettingsMap& settings);
// The canonical map for typed settings: only non-default values are written,
// numbers in decimal, USB ids as "0x%04x", booleans as "1"/"0". Fails when
// rootfs is absent (the PID1 refuses to boot without it).
Result<SettingsMap> to_settings_map(const Stage0Settings& settings);
// Both steps at once.
Result<std::vector<SettingsFile>> render_settings_files(const Stage0Settings& settings);

// Reader side ------------------------------------------------------------------

// Raw values as the PID1 sees them: trimmed, empty -> "1".
SettingsMap settings_map_from_files(std::span<const SettingsFile> files);

struct ParsedSettings {
  Stage0Settings settings;
  // One line per ignored or invalid value, naming the key; the invalid value
  // falls back to its default (spec §3.7 parser table).
  std::vector<std::string> warnings;
  // The invalid values alone ("stage0.on_failure='explode' is not panic,
  // reboot or halt"): the PID1 falls back to the default, the generator
  // refuses them so they are caught on the host (issue 16 item 5).
  std::vector<std::string> invalid;
};
// Typed settings from raw values. For an alias pair the primary key wins
// unless it is absent or invalid. An invalid or missing stage0.rootfs leaves
// rootfs empty with a warning; the PID1 treats that as fatal.
ParsedSettings parse_settings(const SettingsMap& raw);
ParsedSettings parse_settings_files(std::span<const SettingsFile> files);

// Value parsers (exposed for tests and the generator's validation).
std::optional<bool> parse_bool(std::string_view value);         // 1/true/yes/on, 0/false/no/off
std::optional<std::uint16_t> parse_u16(std::string_view value); // decimal
std::optional<std::uint16_t> parse_u16_flexible(std::string_view value); // 0x hex or decimal
std::optional<std::uint64_t> parse_u64(std::string_view value);          // decimal
std::optional<std::uint32_t> parse_u32(std::string_view value);          // decimal
std::optional<RootFsType> parse_rootfs(std::string_view value);          // erofs | ext4 | squashfs
std::optional<OnFailure> parse_on_failure(std::string_view value);       // panic | reboot | halt
using ::fastboop::trim; // common/text.hpp: the one whitespace set

// Module load list -------------------------------------------------------------

// "<name>\n" per module, no header. Fails (naming the entry) on an empty name
// or one containing whitespace, '/', or starting with '#'.
Result<std::string> render_module_list(std::span<const std::string> modules);
// One name per line, trimmed; empty lines and lines starting with '#' skipped.
std::vector<std::string> parse_module_list(std::string_view text);

} // namespace fastboop::stage0
