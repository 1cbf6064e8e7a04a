// Fuzz the formats the PID1 reads from the initramfs: /etc/stage0 settings
// (with the writer/reader round trip as the oracle), the module load list,
// modules.dep and the OSTree path rules.
#include "plan.hpp"
#include "stage0_settings/stage0_settings.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace fastboop;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // Settings: one "key=value" per line stands for one file.
  std::vector<stage0::SettingsFile> files;
  for (std::string_view rest = input; !rest.empty();) {
    const std::size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    const std::size_t eq = line.find('=');
    files.push_back({std::string(line.substr(0, eq)), eq == std::string_view::npos
                                                          ? std::string()
                                                          : std::string(line.substr(eq + 1))});
  }
  const stage0::ParsedSettings parsed = stage0::parse_settings_files(files);
  if (auto rendered = stage0::render_settings_files(parsed.settings); rendered.ok()) {
    const stage0::ParsedSettings again = stage0::parse_settings_files(*rendered);
    if (!(again.settings == parsed.settings))
      __builtin_trap(); // what the writer produces, the reader must read back exactly
  }

  const std::vector<std::string> modules = stage0::parse_module_list(input);
  if (auto text = stage0::render_module_list(modules);
      text.ok() && stage0::parse_module_list(*text) != modules)
    __builtin_trap(); // a list the writer accepts reads back the same

  const stage0_init::ModuleIndex index = stage0_init::ModuleIndex::parse(input);
  for (const std::string& name : modules)
    if (const std::string* path = index.path_of(name))
      (void)index.deps_of(*path);

  if (auto rel = stage0_init::normalize_ostree_path(input); rel.ok()) {
    const std::string wrapped = "/" + *rel + "/";
    if (rel->empty() || wrapped.find("/../") != std::string::npos ||
        wrapped.find("/./") != std::string::npos || wrapped.find("//") != std::string::npos)
      __builtin_trap(); // normalised: no empty, "." or ".." components
    (void)stage0_init::ostree_stateroot_var(*rel);
  }
  return 0;
}
