#include "artifact_cache/tool_identity.hpp"

#include "common/fd.hpp"

#include <cerrno>
#include <cstring>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <sys/stat.h>
#include <vector>

namespace fastboop::artifact_cache {

namespace {

// Shorter ids (a hand-set --build-id=0x…) cannot tell builds apart; longer
// than any linker style (sha1, md5, uuid, lld's fast) is not a linker's id.
constexpr ssize_t kMinBuildId = 8;
constexpr ssize_t kMaxBuildId = 64;

std::optional<std::string> build_id_of(Elf* elf) {
  if (elf == nullptr)
    return std::nullopt;
  std::optional<std::string> out;
  const void* id = nullptr;
  if (elf_kind(elf) == ELF_K_ELF) {
    const ssize_t n = dwelf_elf_gnu_build_id(elf, &id);
    if (n >= kMinBuildId && n <= kMaxBuildId && id != nullptr)
      out = to_hex(ByteSpan(static_cast<const std::uint8_t*>(id), static_cast<std::size_t>(n)));
  }
  elf_end(elf);
  return out;
}

bool elf_ready() {
  static const bool ready = elf_version(EV_CURRENT) != EV_NONE;
  return ready;
}

} // namespace

std::optional<std::string> gnu_build_id(int fd) {
  if (!elf_ready())
    return std::nullopt;
  return build_id_of(elf_begin(fd, ELF_C_READ_MMAP, nullptr));
}

std::optional<std::string> gnu_build_id(ByteSpan image) {
  if (!elf_ready() || image.empty())
    return std::nullopt;
  // elf_memory wants a writable buffer; ELF_C_READ never writes it, but a
  // copy keeps the caller's bytes const for certain.
  std::vector<char> copy(image.begin(), image.end());
  return build_id_of(elf_memory(copy.data(), copy.size()));
}

Result<KeyInput> tool_input(const std::string& cache_dir, const std::filesystem::path& path,
                            const std::string& memo_dir) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return Error("cache key tool " + path.string() + " is not a file", ErrorKind::NotFound);
  if (auto id = gnu_build_id(fd.get()))
    return KeyInput{path.string(), "/", "gnu-build-id:" + *id};
  return file_input(cache_dir, path, memo_dir);
}

} // namespace fastboop::artifact_cache
