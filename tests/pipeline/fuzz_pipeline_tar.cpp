// libFuzzer: tar entry lookup (ustar, pax and GNU headers through libarchive)
// and reads of the entry found.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::pipeline;
  for (const char* name : {"rootfs.img", "a", "./dir/file"}) {
    auto s = open_tar_entry(fuzz::input(data, size), name);
    if (s.ok())
      fuzz::read_some(**s, data, size);
  }
  return 0;
}
