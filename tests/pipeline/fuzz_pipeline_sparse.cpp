// libFuzzer: android sparse header/chunk scanning, hint validation, reads.
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::pipeline;
  auto idx = scan_sparse_index(*fuzz::input(data, size));
  if (idx.ok())
    (void)validate_sparse_index(*idx, size);
  auto s = open_android_sparse(fuzz::input(data, size));
  if (s.ok())
    fuzz::read_some(**s, data, size);
  return 0;
}
