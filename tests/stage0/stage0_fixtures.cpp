#include "stage0_fixtures.hpp"

#include <cstring>
#include <sstream>

namespace fastboop::stage0::test {

const std::optional<DebianKernel>& debian_kernel() {
  static const std::optional<DebianKernel> cached = []() -> std::optional<DebianKernel> {
    auto script = fastboop::test::source_dir() / "tests/data/fetch-debian-kernel.sh";
    auto out = fastboop::test::run({"bash", script.string()});
    if (out.exit_code != 0)
      return std::nullopt;
    DebianKernel k;
    std::istringstream in(std::string(as_chars(out.out)));
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("FASTBOOP_KPKG_DIR=", 0) == 0)
        k.tree = line.substr(18);
      else if (line.rfind("FASTBOOP_KVER=", 0) == 0)
        k.kver = line.substr(14);
    }
    if (k.tree.empty() || k.kver.empty())
      return std::nullopt;
    return k;
  }();
  return cached;
}

Bytes fake_arm64_image(const std::string& version, std::size_t size) {
  Bytes b(size, 0);
  std::memcpy(b.data() + 0x38, "ARM\x64", 4);
  store_le<std::uint64_t>(b.data() + 16, size); // image_size
  std::string banner = "Linux version " + version + " (builder@host) (gcc) #1 SMP\n";
  std::memcpy(b.data() + 0x400, banner.data(), banner.size());
  for (std::size_t i = 0x800; i < size; ++i)
    b[i] = static_cast<std::uint8_t>((i * 7) & 0x3f);
  return b;
}

Bytes fake_elf(std::uint16_t machine) {
  Bytes b(64, 0);
  std::memcpy(b.data(), "\x7f" "ELF", 4);
  b[4] = 2; // 64-bit
  b[5] = 1; // little endian
  b[6] = 1;
  store_le<std::uint16_t>(b.data() + 16, 2); // ET_EXEC
  store_le<std::uint16_t>(b.data() + 18, machine);
  return b;
}

Bytes fake_module(const std::vector<std::string>& firmware) {
  std::string modinfo = "license=GPL";
  modinfo.push_back('\0');
  for (const auto& f : firmware) {
    modinfo += "firmware=" + f;
    modinfo.push_back('\0');
  }
  const std::string shstr = std::string("\0.modinfo\0.shstrtab\0", 20);
  Bytes b(64, 0);
  std::memcpy(b.data(), "\x7f" "ELF", 4);
  b[4] = 2;
  b[5] = 1;
  b[6] = 1;
  store_le<std::uint16_t>(b.data() + 16, 1);   // ET_REL
  store_le<std::uint16_t>(b.data() + 18, 183); // aarch64
  const std::size_t modinfo_off = b.size();
  const std::size_t shstr_off = modinfo_off + modinfo.size();
  const std::size_t shoff = (shstr_off + shstr.size() + 7) / 8 * 8;
  b.resize(shoff + 3 * 64, 0);
  std::memcpy(b.data() + modinfo_off, modinfo.data(), modinfo.size());
  std::memcpy(b.data() + shstr_off, shstr.data(), shstr.size());
  auto section = [&](int i, std::uint32_t name, std::uint32_t type, std::size_t off, std::size_t size) {
    std::uint8_t* h = b.data() + shoff + static_cast<std::size_t>(i) * 64;
    store_le<std::uint32_t>(h, name);
    store_le<std::uint32_t>(h + 4, type);
    store_le<std::uint64_t>(h + 0x18, off);
    store_le<std::uint64_t>(h + 0x20, size);
  };
  section(1, 1, 1, modinfo_off, modinfo.size());   // .modinfo, PROGBITS
  section(2, 10, 3, shstr_off, shstr.size());      // .shstrtab, STRTAB
  store_le<std::uint64_t>(b.data() + 0x28, shoff);
  store_le<std::uint16_t>(b.data() + 0x34, 64);    // e_ehsize
  store_le<std::uint16_t>(b.data() + 0x3a, 64);    // e_shentsize
  store_le<std::uint16_t>(b.data() + 0x3c, 3);     // e_shnum
  store_le<std::uint16_t>(b.data() + 0x3e, 2);     // e_shstrndx
  return b;
}

void put(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::create_directories(path.parent_path());
  fastboop::test::write_file(path, content);
}
void put(const std::filesystem::path& path, ByteSpan content) {
  std::filesystem::create_directories(path.parent_path());
  fastboop::test::write_file(path, content);
}

} // namespace fastboop::stage0::test
