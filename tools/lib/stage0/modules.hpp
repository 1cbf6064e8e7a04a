// Kernel module metadata of a rootfs (modules.dep, modules.softdep,
// modules.builtin, modules.alias) and the closure of a required set, in the
// order kmod would load it: soft "pre:" dependencies, then hard dependencies,
// then the module, then soft "post:" dependencies. Names are folded ('-' and
// '_' are the same), as the kernel and kmod treat them.
#pragma once

#include "common/result.hpp"
#include "filesystems/filesystem.hpp"

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::stage0 {

// "dwc3-qcom" -> "dwc3_qcom"
std::string fold_module_name(std::string_view name);
// "kernel/drivers/x/dwc3-qcom.ko.xz" -> "dwc3_qcom"
std::string module_name_from_path(std::string_view relpath);

enum class ModuleReason { Required, Dependency, Softdep };
std::string_view module_reason_name(ModuleReason reason);

struct ResolvedModule {
  std::string name;    // folded
  std::string relpath; // as in modules.dep, relative to the modules directory
  ModuleReason reason = ModuleReason::Required;
  std::string wanted_by; // empty for required modules
};

struct ModuleClosure {
  std::vector<ResolvedModule> load_order;  // dependencies first
  std::vector<std::string> builtin;        // requested or pulled in, but built in (sorted)
  std::vector<std::string> missing_softdeps; // soft dependencies that resolve to nothing
};

class ModuleIndex {
public:
  // `dir` is the modules directory in the filesystem ("/lib/modules/<kver>").
  static Result<ModuleIndex> load(filesystems::Filesystem& fs, const std::string& dir,
                                  const std::string& kver);

  const std::string& dir() const { return m_dir; }
  const std::string& kver() const { return m_kver; }
  bool is_builtin(std::string_view name) const;
  bool has_module(std::string_view name) const;

  // Closure of `required` (in order; duplicates ignored). A required or hard
  // dependency that is neither a module nor built in is an error naming it,
  // the kernel version and the index files searched.
  Result<ModuleClosure> resolve(const std::vector<std::string>& required) const;

  // The modules.dep lines for a subset, paths rewritten by `rename`.
  std::string dep_lines(const std::vector<ResolvedModule>& modules,
                        const std::map<std::string, std::string>& rename) const;

  // Files of the index read from the filesystem (for the manifest).
  const std::vector<std::string>& files_read() const { return m_files_read; }

private:
  struct Module {
    std::string relpath;
    std::vector<std::string> deps; // folded names, modules.dep order
  };
  struct Softdep {
    std::vector<std::string> pre, post; // names or aliases as written
  };
  // Resolve a soft dependency name through module names, then aliases.
  std::vector<std::string> resolve_soft(std::string_view name) const;

  std::string m_dir;
  std::string m_kver;
  std::map<std::string, Module, std::less<>> m_modules;
  std::set<std::string, std::less<>> m_builtin;
  std::map<std::string, Softdep, std::less<>> m_softdeps;
  std::vector<std::pair<std::string, std::string>> m_aliases; // pattern, module (folded)
  std::vector<std::pair<std::string, std::string>> m_builtin_aliases; // from modules.builtin.modinfo
  std::vector<std::string> m_files_read;
};

// firmware= entries of a module's .modinfo section (module bytes uncompressed).
Result<std::vector<std::string>> module_firmware(ByteSpan elf);

} // namespace fastboop::stage0
