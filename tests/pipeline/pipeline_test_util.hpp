// Helpers shared by the pipeline tests: comparing a block source against the
// fully expanded reference produced by the real tools.
#pragma once

#include "pipeline/block_source.hpp"
#include "test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <unistd.h>

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

// Random nibbles: still incompressible enough to need many xz blocks, but
// xz compresses it three times faster than uniform random bytes.
inline Bytes nibble_bytes(std::size_t n, std::uint32_t seed) {
  Bytes b = random_bytes(n, seed);
  for (auto& c : b)
    c &= 0x0F;
  return b;
}

// A fixture directory built once into ${FASTBOOP_TEST_CACHE:-~/.cache/fastboop-test}
// and reused by every test process (ctest runs each case in its own process).
// `make` fills the directory it is given; returns false with `error` set.
inline std::filesystem::path cached_fixture(const std::string& name,
                                            const std::function<bool(const std::filesystem::path&, std::string&)>& make,
                                            std::string& error) {
  namespace fs = std::filesystem;
  const char* env = std::getenv("FASTBOOP_TEST_CACHE");
  const char* home = std::getenv("HOME");
  fs::path root = env && *env ? fs::path(env) : fs::path(home ? home : "/tmp") / ".cache" / "fastboop-test";
  fs::path dir = root / name;
  if (fs::exists(dir / ".complete"))
    return dir;
  fs::create_directories(root);
  fs::path build = root / (name + ".tmp." + std::to_string(::getpid()));
  fs::remove_all(build);
  fs::create_directories(build);
  if (!make(build, error)) {
    fs::remove_all(build);
    return {};
  }
  write_file(build / ".complete", std::string_view("ok"));
  std::error_code ec;
  fs::rename(build, dir, ec); // another process may have won the race: fine
  if (ec)
    fs::remove_all(build);
  return fs::exists(dir / ".complete") ? dir : fs::path();
}

inline void expect_ok(const Result<void>& r) { ASSERT_TRUE(r.ok()) << r.error().message(); }

// Run a shell script that must succeed.
inline void must_sh(const std::string& script) {
  auto out = sh(script);
  ASSERT_EQ(out.exit_code, 0) << script << "\n" << out.err;
}

} // namespace fastboop::test
