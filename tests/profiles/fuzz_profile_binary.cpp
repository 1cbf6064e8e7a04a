// libFuzzer: the FBOODEVP, FBOOPROF and FBPHINT0 decoders and show.
#include "profiles/hints.hpp"
#include "profiles/profiles.hpp"
#include "profiles/tooling.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop;
  using namespace fastboop::profiles;
  const ByteSpan bytes(data, size);
  if (auto p = decode_device_profile(bytes); p) {
    // Whatever decodes re-encodes to bytes that decode to the same profile
    // (not necessarily the same bytes: postcard accepts non-minimal varints).
    auto again = encode_device_profile(*p);
    if (again && !(decode_device_profile(*again).ok() && *decode_device_profile(*again) == *p))
      __builtin_trap();
  }
  if (auto p = decode_boot_profile(bytes); p) {
    (void)validate_boot_profile(*p);
    (void)boot_profile_to_yaml(*p, OverlayRendering::Base64);
    auto again = encode_boot_profile(*p);
    if (!again)
      __builtin_trap();
    auto back = decode_boot_profile(*again);
    if (!back || !(*back == *p))
      __builtin_trap();
  }
  (void)decode_pipeline_hints_record(bytes, nullptr);
  // What `fastboop-profile show` does with a downloaded file.
  (void)show_bytes(bytes, "fuzz-input", ShowFormat::Yaml);
  return 0;
}
