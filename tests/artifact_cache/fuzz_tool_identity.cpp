// libFuzzer: reading a generator's build-id (tool_identity.hpp) from arbitrary
// bytes. A tool is not a hostile input, but libelf's walk of the notes is
// driven by the file's own offsets: nothing may crash, and an id, when found,
// is one the key can trust (8 to 64 bytes).
#include "artifact_cache/tool_identity.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto id = fastboop::artifact_cache::gnu_build_id(fastboop::ByteSpan(data, size));
  if (id && (id->size() < 16 || id->size() > 128))
    std::abort();
  return 0;
}
