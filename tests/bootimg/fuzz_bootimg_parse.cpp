// libFuzzer target for the parser behind `info`, `unpack` and `analyze`:
// arbitrary bytes must parse or fail cleanly, and every rendering of a parsed
// image must stay inside the input.
#include "bootimg/bootimg.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::bootimg;
  fastboop::ByteSpan image(data, size);
  auto parsed = parse_image(image);
  if (!parsed)
    return 0;
  for (const auto& s : parsed->sections) {
    if (s.offset > size || s.size > size - s.offset)
      std::abort();
    (void)section_bytes(image, s);
  }
  (void)format_info_text(*parsed);
  (void)format_info_json(*parsed);
  (void)shell_join(rebuild_arguments(*parsed));
  (void)rebuild_caveats(image, *parsed); // packs the parsed fields again through the writer
  (void)analyze_to_devpro_yaml(image, *parsed);
  return 0;
}
