// Shared driver for the pipeline fuzzers: open a stage over the input held
// in memory and read a few ranges derived from the input. Errors are the
// expected outcome; crashes, hangs and unbounded memory are the bugs.
#pragma once

#include "pipeline/sources.hpp"

#include <cstdint>
#include <cstdlib>

namespace fastboop::pipeline::fuzz {

inline void read_some(BlockSource& s, const std::uint8_t* data, std::size_t size) {
  std::uint64_t n = s.size();
  if (n == 0)
    return;
  std::uint64_t seed = size;
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 8); ++i)
    seed = seed * 131 + data[i];
  Bytes buf(4096);
  for (int i = 0; i < 4; ++i) {
    std::uint64_t off = (seed >> (i * 7)) % n;
    std::size_t len = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n - off));
    (void)s.read_at(off, std::span(buf.data(), len));
  }
  (void)s.read_at(0, std::span(buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), n))));
}

inline BlockSourcePtr input(const std::uint8_t* data, std::size_t size) {
  return make_memory_source(Bytes(data, data + size), "fuzz-input");
}

} // namespace fastboop::pipeline::fuzz
