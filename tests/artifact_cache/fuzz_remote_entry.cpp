// libFuzzer: the remote cache's entry object (what a remote server, hostile or
// broken, hands back) on arbitrary bytes. Whatever is accepted must format back
// to exactly the input (the grammar has no slack), and nothing may crash.
#include "artifact_cache/remote.hpp"

#include <cstdlib>
#include <string_view>

using namespace fastboop::artifact_cache;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string_view key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  if (auto files = parse_remote_entry(text, "stage0", key))
    if (format_remote_entry("stage0", key, *files) != text)
      std::abort();
  return 0;
}
