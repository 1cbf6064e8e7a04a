// libFuzzer: GPT header/entry-array parsing (CRCs, sizes) and selection.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::pipeline;
  (void)read_gpt(*fuzz::input(data, size), std::nullopt);
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto s = open_gpt_partition(fuzz::input(data, size), GptSelector{.index = i});
    if (s.ok())
      fuzz::read_some(**s, data, size);
  }
  (void)open_gpt_partition(fuzz::input(data, size), GptSelector{.partlabel = std::string("root")});
  (void)open_gpt_partition(fuzz::input(data, size), GptSelector{.index = 0, .lba_size = 4096});
  return 0;
}
