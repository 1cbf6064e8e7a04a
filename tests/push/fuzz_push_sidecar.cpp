// libFuzzer: the boot.img.json sidecar parser (nlohmann-json underneath, our
// schema checks on top) and the image check against what it claims.
#include "fastboot/sidecar.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto s = fastboot::parse_sidecar(text, "fuzz.json"); s)
    (void)fastboot::verify_sidecar_image(*s, ByteSpan(data, size), "fuzz.img", "fuzz.json");
  return 0;
}
