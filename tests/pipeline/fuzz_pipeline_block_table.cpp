// libFuzzer: the FBBLKTB0 block-hash table record (issue 17). A decoded
// record re-encodes to the same bytes, and a block check on a table from
// hostile bytes stays in bounds.
#include "pipeline/block_table.hpp"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop;
  using namespace fastboop::pipeline;
  std::size_t used = 0;
  auto tables = decode_block_table_record(ByteSpan(data, size), &used);
  if (!tables.ok())
    return 0;
  if (used > size)
    std::abort();
  auto again = encode_block_table_record(*tables);
  if (!again.ok() || again->size() != used || !std::equal(again->begin(), again->end(), data))
    std::abort();
  for (const BlockTable& t : *tables)
    if (t.block_count() > 0)
      (void)t.matches(t.block_count() - 1, ByteSpan(data, std::min<std::size_t>(size, t.block_size)));
  return 0;
}
