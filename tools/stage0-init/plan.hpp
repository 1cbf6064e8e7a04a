// Pure parts of the PID1: what to write into configfs, which arguments the
// smoo gadget gets, the module index, machine-id and OSTree path rules.
// No system calls here; pid1.cpp applies these plans through Sys.
#pragma once

#include "common/result.hpp"
#include "stage0_settings/stage0_settings.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::stage0_init {

inline constexpr std::string_view kConfigfsRoot = "/sys/kernel/config";
inline constexpr std::string_view kGadgetRoot = "/sys/kernel/config/usb_gadget";
inline constexpr std::string_view kSmooGadgetPath = "/bin/smoo-gadget";
inline constexpr std::string_view kSmooStateFile = "/run/smoo/state.json";
inline constexpr std::string_view kSmooExportMapFile = "/run/smoo/exports.json";
inline constexpr std::string_view kUblkDevice = "/dev/ublkb0";

// One configfs operation. Values are written whole, without a newline.
struct GadgetOp {
  enum class Kind { Mkdir, Write, Symlink };
  Kind kind;
  std::string path;  // absolute
  std::string value; // Write: the value; Symlink: the link target
  bool operator==(const GadgetOp&) const = default;
};

struct GadgetLayout {
  std::string name;         // usb-gadget<N>
  std::string dir;          // <kGadgetRoot>/<name>
  std::string ffs_instance; // <name>-0, also the FunctionFS mount source
  std::string ffs_dir;      // /dev/ffs-<name>-0
  std::string acm_instance; // <name>-1 (used only with smoo.acm)
};
GadgetLayout gadget_layout(std::string_view name);

// Which functions the gadget carries: the smoo FunctionFS (plus CDC-ACM with
// smoo.acm), or only CDC-ACM, for a serial console on a local root without
// /bin/smoo-gadget.
enum class GadgetFunctions { Smoo, AcmOnly };

// The configfs writes of spec §4.5 rows 1-20, in order. The FunctionFS mount
// and the UDC write (row 21) are separate steps.
std::vector<GadgetOp> gadget_plan(const stage0::Stage0Settings& settings,
                                  const GadgetLayout& layout,
                                  GadgetFunctions functions = GadgetFunctions::Smoo);

// argv for /bin/smoo-gadget (spec §5.1), argv[0] included.
std::vector<std::string> smoo_arguments(const stage0::Stage0Settings& settings,
                                        std::string_view ffs_dir);

// modules.dep, keyed by module name with '-' folded to '_' (the kernel's own
// naming), so "dwc3-qcom" and "dwc3_qcom" are the same module.
class ModuleIndex {
public:
  static ModuleIndex parse(std::string_view modules_dep);
  const std::string* path_of(std::string_view name) const;
  const std::vector<std::string>& deps_of(const std::string& path) const;
  std::size_t size() const { return m_paths.size(); }

private:
  std::map<std::string, std::string> m_paths;             // folded name -> relpath
  std::map<std::string, std::vector<std::string>> m_deps; // relpath -> dep relpaths
};
// Basename without .ko[.xz|.zst|.gz], '-' folded to '_'.
std::string module_name_key(std::string_view path_or_name);
bool module_is_compressed(std::string_view path);
std::set<std::string> parse_modules_builtin(std::string_view text);

// Machine id from the serial (spec §4.11): FNV-1a-64 rounds 0 and 1, big endian.
std::array<std::uint8_t, 16> machine_id_from_serial(std::string_view serial);
// 32 lowercase hex digits; an all-zero id gets byte 0 set to 1.
std::string format_machine_id(std::array<std::uint8_t, 16> id);

// OSTree (spec §4.10): normalise the setting to a relative path without "."
// components; ".." and empty results are errors.
Result<std::string> normalize_ostree_path(std::string_view value);
// deployment_rel must be exactly ostree/deploy/<stateroot>/deploy/<entry>;
// returns ostree/deploy/<stateroot>/var.
Result<std::string> ostree_stateroot_var(std::string_view deployment_rel);

// One /dev/kmsg record ("pri,seq,ts_usec,flags;message\n KEY=v...") as the
// console line "[%5u.%06u] message\r\n" forwarded to the ACM tty (spec
// §4.13); nullopt for records without ';' or with an empty message.
std::optional<std::string> format_kmsg_record(std::string_view record);

// First line of /proc/self/mountinfo whose mount point (field 5) is `path`.
bool mountinfo_has_mount_point(std::string_view mountinfo, std::string_view path);
// A line of /proc/filesystems whose last field is `name`.
bool filesystems_has(std::string_view filesystems, std::string_view name);

} // namespace fastboop::stage0_init
