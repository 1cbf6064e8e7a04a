#include "fuzz_fs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fastboop::test::fuzz_filesystem(data, size, fastboop::filesystems::open_squashfs);
  return 0;
}
