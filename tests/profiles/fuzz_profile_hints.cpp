// libFuzzer: the FBPHINT0 record and GBXHINT0 blob decoders, and that
// whatever decodes re-encodes to something that decodes to the same hints.
#include "profiles/hints.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop;
  using namespace fastboop::profiles;
  const ByteSpan bytes(data, size);
  std::size_t used = 0;
  if (auto h = decode_pipeline_hints_record(bytes, &used); h) {
    if (used > size)
      __builtin_trap();
    auto again = encode_pipeline_hints_record(*h);
    if (again) {
      auto back = decode_pipeline_hints_record(*again, nullptr);
      if (!back || !(*back == *h))
        __builtin_trap();
    }
  }
  if (auto h = decode_pipeline_hints_blob(bytes, &used); h) {
    if (used > size)
      __builtin_trap();
    auto again = encode_pipeline_hints_blob(*h);
    if (again) {
      auto back = decode_pipeline_hints_blob(*again, nullptr);
      if (!back || !(*back == *h))
        __builtin_trap();
    }
  }
  return 0;
}
