// A generator program's identity in a cache key (ARCHITECTURE.md, "CMake
// artifact cache"): the GNU build-id its linker wrote, read from the ELF notes
// through elfutils (libdw's dwelf_elf_gnu_build_id) without reading the
// program itself. The linker derives the id from the linked output, so a
// program built from other sources has another id, while stripping it keeps
// the id (and what the program does). A program without an id (or with one
// shorter than 8 bytes, too short to tell builds apart) is identified by its
// bytes, like any key file. Used only for the programs that generate an
// entry, never for a file whose bytes end up in the artifact.
#pragma once

#include "artifact_cache/store.hpp"
#include "common/bytes.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace fastboop::artifact_cache {

// Lowercase hex of the build-id note; nullopt when the image is not ELF or
// has no usable id.
std::optional<std::string> gnu_build_id(int fd);
std::optional<std::string> gnu_build_id(ByteSpan image);

// The key input of a generator (name "/"): digest "gnu-build-id:<hex>" when
// the program has a build-id, else the cache digest of its bytes
// (input_digest). Both `fastboop-cache run --key-tool` and `fastboop boot`
// key their generators through here, so they keep finding each other's entries.
Result<KeyInput> tool_input(const std::string& cache_dir, const std::filesystem::path& path,
                            const std::string& memo_dir = {});

} // namespace fastboop::artifact_cache
