// libFuzzer: the DevPro and Boot Profile manifest YAML readers, plus show.
#include "profiles/profiles.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace fastboop::profiles;
  if (auto devpro = parse_device_profile(text, "fuzz"); devpro) {
    (void)device_profile_to_yaml(*devpro);
    if (auto bin = encode_device_profile(*devpro); bin)
      (void)decode_device_profile(*bin);
  }
  if (auto boot = compile_boot_profile_manifest_text(text, "fuzz", "/nonexistent", ManifestInputs::SyntaxOnly); boot) {
    (void)boot_profile_to_yaml(*boot, OverlayRendering::Base64);
    if (auto bin = encode_boot_profile(*boot); bin)
      (void)decode_boot_profile(*bin);
    (void)pipeline_identity(boot->rootfs.source);
  }
  return 0;
}
