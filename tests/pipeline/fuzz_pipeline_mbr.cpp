// libFuzzer: MBR parsing and partition selection.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::pipeline;
  (void)read_mbr(*fuzz::input(data, size));
  for (std::uint32_t i = 0; i < 4; ++i) {
    auto s = open_mbr_partition(fuzz::input(data, size), MbrSelector{.index = i});
    if (s.ok())
      fuzz::read_some(**s, data, size);
  }
  (void)open_mbr_partition(fuzz::input(data, size), MbrSelector{.partuuid = std::string("1234abcd-02")});
  return 0;
}
