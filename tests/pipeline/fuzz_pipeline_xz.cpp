// libFuzzer: xz stream index parsing and block decoding.
#include "fuzz_common.hpp"

#include <filesystem>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::pipeline;
  auto table = read_xz_block_table(*fuzz::input(data, size));
  (void)table;
  XzOptions o;
  o.cache_dir = std::filesystem::temp_directory_path();
  o.block_cache_bytes = 1u << 20;
  auto s = open_xz(fuzz::input(data, size), o);
  if (s.ok())
    fuzz::read_some(**s, data, size);
  return 0;
}
