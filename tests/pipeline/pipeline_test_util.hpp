// Helpers shared by the pipeline tests: comparing a block source against the
// fully expanded reference produced by the real tools.
#pragma once

#include "pipeline/block_source.hpp"
#include "test_support.hpp"

#include <random>

namespace fastboop::test {

inline Bytes read_all(pipeline::BlockSource& source) {
  Bytes out(static_cast<std::size_t>(source.size()));
  auto r = source.read_at(0, out);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return out;
}

// `count` reads at random offsets and lengths (some crossing block/chunk
// boundaries, some at the very end) must match `reference` byte for byte.
inline void expect_random_reads_match(pipeline::BlockSource& source, const Bytes& reference,
                                      std::uint32_t seed, int count = 200,
                                      std::size_t max_len = 300000) {
  ASSERT_EQ(source.size(), reference.size()) << source.describe();
  if (reference.empty())
    return;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < count; ++i) {
    std::uint64_t off = rng() % reference.size();
    std::size_t len = static_cast<std::size_t>(1 + rng() % max_len);
    if (i % 10 == 0)
      off = reference.size() - std::min<std::uint64_t>(reference.size(), len);
    len = static_cast<std::size_t>(std::min<std::uint64_t>(len, reference.size() - off));
    Bytes got(len);
    auto r = source.read_at(off, got);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_TRUE(std::equal(got.begin(), got.end(), reference.begin() + static_cast<std::ptrdiff_t>(off)))
        << source.describe() << ": mismatch at offset " << off << " length " << len;
  }
  Bytes past(2);
  EXPECT_FALSE(source.read_at(reference.size() - 1, past).ok()) << "read past the end must fail";
}

inline void expect_ok(const Result<void>& r) { ASSERT_TRUE(r.ok()) << r.error().message(); }

// Run a shell script that must succeed.
inline void must_sh(const std::string& script) {
  auto out = sh(script);
  ASSERT_EQ(out.exit_code, 0) << script << "\n" << out.err;
}

} // namespace fastboop::test
