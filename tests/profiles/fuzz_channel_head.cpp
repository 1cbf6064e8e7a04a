// libFuzzer: the channel head reader (sequential and FBCHIDX0-indexed) over
// arbitrary bytes, the lazy hint loader, and that a head read without error
// is self-consistent and re-indexes to the same records.
#include "pipeline/sources.hpp"
#include "profiles/channel.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop;
  using namespace fastboop::profiles;
  auto source = pipeline::make_memory_source(Bytes(data, data + size));
  auto head = read_channel_head(*source);
  if (!head)
    return 0;
  if (head->consumed > size || head->records.size() > kChannelMaxRecords)
    __builtin_trap();
  std::uint64_t end = head->index_size;
  for (const auto& r : head->records) {
    if (r.offset < end || r.offset + r.size > size)
      __builtin_trap();
    end = r.offset + r.size;
  }
  (void)read_channel_hints(*source, *head, nullptr);
  if (head->indexed || head->records.empty())
    return 0;
  // Prefix an index: the same records, shifted past it.
  Bytes body(data, data + size);
  auto index = index_for_channel(*source);
  if (!index)
    __builtin_trap();
  Bytes channel = *index;
  append(channel, body);
  auto indexed_source = pipeline::make_memory_source(std::move(channel));
  auto again = read_channel_head(*indexed_source);
  if (!again || again->records.size() != head->records.size() ||
      again->boot_profiles != head->boot_profiles ||
      again->device_profiles != head->device_profiles ||
      again->consumed != head->consumed + index->size())
    __builtin_trap();
  return 0;
}
