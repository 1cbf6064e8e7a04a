// libFuzzer target for the parser behind `info`, `unpack` and `analyze`, and
// the pusher's pre-download check (IdCheck::Skip + check_image_against_profile):
// arbitrary bytes must parse or fail cleanly, and every rendering of a parsed
// image must stay inside the input.
#include "bootimg/bootimg.hpp"
#include "bootimg/devpro.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::bootimg;
  fastboop::ByteSpan image(data, size);
  // What fastboop-push does before any command: the layout only, then the
  // profile's rules (a v2/4096 profile with every limit set).
  if (auto layout = parse_image(image, IdCheck::Skip)) {
    fastboop::profiles::DeviceProfile profile;
    profile.id = "fuzz";
    profile.boot.header_version = 2;
    profile.boot.page_size = 4096;
    profile.boot.limits = fastboop::profiles::BootLimits{1u << 20, 1u << 20, 2u << 20};
    (void)check_image_against_profile(*layout, "fuzz.img", profile);
  }
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
