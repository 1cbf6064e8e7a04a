// libFuzzer: every smoo decoder on arbitrary bytes. Whatever is accepted must
// re-encode to exactly the input (the layouts have no slack: reserved fields
// are zero, lengths fixed), and nothing may crash.
#include "smoo/protocol.hpp"

#include <cstdlib>

using namespace fastboop;
using namespace fastboop::smoo;

namespace {
void check(bool condition) {
  if (!condition)
    std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in(data, size);
  if (auto r = decode_request(in))
    check(encode_request(*r) == Bytes(in.begin(), in.end()));
  if (auto r = decode_response(in))
    check(encode_response(*r) == Bytes(in.begin(), in.end()));
  if (auto s = decode_status(in))
    check(encode_status(*s) == Bytes(in.begin(), in.end()));
  if (auto i = decode_ident(in))
    check(encode_ident(*i) == Bytes(in.begin(), in.end()));
  if (auto e = decode_config_exports(in)) {
    auto again = encode_config_exports(*e);
    check(again && *again == Bytes(in.begin(), in.end()));
  }
  return 0;
}
