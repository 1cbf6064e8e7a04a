// Fixtures shared by the stage0 tests: the real Debian arm64 kernel package
// (fetched once, cached) and small synthetic kernel images and trees.
#pragma once

#include "common/bytes.hpp"
#include "test_support.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0::test {

struct DebianKernel {
  std::filesystem::path tree;
  std::string kver;
};
// nullopt when the package cannot be fetched (offline); the caller skips, or
// fails under FASTBOOP_REQUIRE_TOOLS=1.
const std::optional<DebianKernel>& debian_kernel();

// A minimal arm64 Image: header with "ARM\x64" at 0x38 and a version banner.
Bytes fake_arm64_image(const std::string& version, std::size_t size = 8192);
// A minimal static ELF header for e_machine (183 aarch64, 62 x86_64).
Bytes fake_elf(std::uint16_t machine);

// A minimal relocatable ELF64 with a .modinfo section holding firmware=
// entries, like a kernel module as far as modinfo is concerned.
Bytes fake_module(const std::vector<std::string>& firmware);

// Create `path` with `content`, making parent directories.
void put(const std::filesystem::path& path, std::string_view content);
void put(const std::filesystem::path& path, ByteSpan content);

} // namespace fastboop::stage0::test

#define STAGE0_REQUIRE_DEBIAN_KERNEL()                                                             \
  do {                                                                                             \
    if (!::fastboop::stage0::test::debian_kernel()) {                                              \
      const char* strict = std::getenv("FASTBOOP_REQUIRE_TOOLS");                                  \
      if (strict && std::string(strict) == "1")                                                    \
        FAIL() << "Debian arm64 kernel package could not be fetched";                              \
      GTEST_SKIP() << "Debian arm64 kernel package not available (offline?)";                      \
    }                                                                                              \
  } while (0)
