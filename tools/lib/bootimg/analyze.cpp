// `analyze`: derive a DevPro `boot:` skeleton from a vendor boot.img, the job
// pmbootstrap's bootimg_analyze does for postmarketOS deviceinfo files.
#include "bootimg/bootimg.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <cstring>
#include <libfdt.h>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string.h>
#include <yaml-cpp/yaml.h>

namespace fastboop::bootimg {

namespace {

// A valid flattened device tree of exactly `size` bytes or less at `p`.
std::uint64_t fdt_size_at(ByteSpan data, std::size_t offset) {
  if (data.size() - offset < 40 || load_be<std::uint32_t>(data.data() + offset) != 0xd00dfeed)
    return 0;
  const std::uint32_t total = load_be<std::uint32_t>(data.data() + offset + 4);
  if (total < 40 || total > data.size() - offset)
    return 0;
  // libfdt wants an 8-byte aligned blob; appended DTBs sit anywhere. The
  // header check only reads the 40-byte header.
  alignas(8) std::uint8_t header[40];
  std::memcpy(header, data.data() + offset, sizeof header);
  if (fdt_check_header(header) != 0)
    return 0;
  return total;
}

// Offset of a chain of DTBs that ends exactly at the end of `kernel` (how
// `cat Image.gz *.dtb` looks), or nullopt.
std::optional<std::pair<std::size_t, int>> find_appended_dtbs(ByteSpan kernel) {
  static constexpr std::uint8_t magic[4] = {0xd0, 0x0d, 0xfe, 0xed};
  if (kernel.size() < 41) // a kernel byte and a 40-byte FDT header at least
    return std::nullopt;
  const std::uint8_t* begin = kernel.data();
  const std::uint8_t* end = begin + kernel.size();
  for (const std::uint8_t* p = begin + 1; p + 4 <= end;) {
    const void* hit = ::memmem(p, static_cast<std::size_t>(end - p), magic, 4);
    if (!hit)
      break;
    std::size_t start = static_cast<std::size_t>(static_cast<const std::uint8_t*>(hit) - begin);
    std::size_t at = start;
    int count = 0;
    while (at < kernel.size()) {
      std::uint64_t n = fdt_size_at(kernel, at);
      if (n == 0)
        break;
      at += static_cast<std::size_t>(n);
      ++count;
    }
    if (count > 0 && at == kernel.size())
      return std::make_pair(start, count);
    // Resume after the chain just walked: keeps hostile input (thousands of
    // back-to-back DTBs) linear instead of quadratic.
    p = begin + std::max(at, start + 1);
  }
  return std::nullopt;
}

std::string compression_of(ByteSpan k) {
  auto starts = [&](std::initializer_list<std::uint8_t> m) {
    return k.size() >= m.size() && std::equal(m.begin(), m.end(), k.begin());
  };
  if (starts({0x1f, 0x8b}))
    return "gz";
  if (starts({0x02, 0x21, 0x4c, 0x18}) || starts({0x04, 0x22, 0x4d, 0x18}))
    return "lz4";
  if (starts({0x28, 0xb5, 0x2f, 0xfd}))
    return "zst";
  return "";
}

std::string kernel_kind(ByteSpan k) {
  if (k.size() >= 0x3c && std::memcmp(k.data() + 0x38, "ARM\x64", 4) == 0)
    return "arm64 Image";
  if (k.size() >= 0x28 && load_le<std::uint32_t>(k.data() + 0x24) == 0x016f2818)
    return "arm zImage";
  if (k.size() >= 2 && k[0] == 'M' && k[1] == 'Z')
    return "PE/EFI";
  return "unknown";
}

} // namespace

std::string analyze_to_devpro_yaml(ByteSpan image, const ParsedImage& p) {
  std::ostringstream o;
  if (p.kind != ImageKind::Boot) {
    o << "# vendor_boot images carry no boot payload; analyze the matching boot.img instead\n";
    return o.str();
  }
  ByteSpan kernel;
  if (const Section* s = p.section("kernel"))
    kernel = section_bytes(image, *s);
  const std::string comp = compression_of(kernel);
  auto appended = find_appended_dtbs(kernel);
  bool dtb_in_second = false;
  if (const Section* s = p.section("second"))
    dtb_in_second = fdt_size_at(section_bytes(image, *s), 0) > 0;

  std::string encoding = "image";
  if (!comp.empty())
    encoding += "." + comp;
  if (appended)
    encoding += "+dtb";

  // pmbootstrap's convention: base = kernel_addr - 0x8000, offsets relative to it.
  const std::uint64_t kernel_offset = p.header_version < 3 && p.kernel_addr >= kDefaultKernelOffset
                                          ? kDefaultKernelOffset
                                          : p.kernel_addr;
  const std::uint64_t base = p.kernel_addr - kernel_offset;

  o << "# DevPro boot: skeleton from a stock image by fastboop-bootimg analyze.\n";
  o << "# kernel: " << kernel.size() << " bytes, " << kernel_kind(kernel)
    << (comp.empty() ? "" : " (" + comp + " compressed)");
  if (appended)
    o << ", " << appended->second << " appended DTB(s) at offset " << appended->first;
  o << "\n";
  if (p.qcdt_size)
    o << "# QCDT table (" << p.qcdt_size << " bytes) after the second stage: fastboop cannot build QCDT; "
      << "use an appended DTB (+dtb) with lk2nd or a bootloader that accepts one\n";
  if (!p.cmdline.empty())
    o << "# stock command line (reference only, not for cmdline_append): " << p.cmdline << "\n";
  o << "boot:\n";
  o << "  fastboot_boot:\n";
  o << "    android_bootimg:\n";
  o << "      header_version: " << p.header_version << "\n";
  o << "      page_size: " << p.page_size << "\n";
  if (p.header_version < 3) {
    o << "      base: " << format_hex(base, 8) << "\n";
    o << "      kernel_offset: " << format_hex(kernel_offset, 8) << "\n";
    if (p.header_version == 2 && p.dtb_addr >= base)
      o << "      dtb_offset: " << format_hex(p.dtb_addr - base, 8) << "\n";
    if (p.ramdisk_size > 0 && p.ramdisk_addr >= base && p.ramdisk_addr - base != kDefaultRamdiskOffset)
      o << "      ramdisk_offset: " << format_hex(p.ramdisk_addr - base, 8) << "\n";
    if (p.second_size > 0 && p.second_addr >= base && p.second_addr - base != kDefaultSecondOffset)
      o << "      second_offset: " << format_hex(p.second_addr - base, 8) << "\n";
    if (p.tags_addr >= base && p.tags_addr - base != kDefaultTagsOffset)
      o << "      tags_offset: " << format_hex(p.tags_addr - base, 8) << "\n";
    if (!p.board.empty())
      o << "      board: \"" << p.board << "\"\n";
  }
  if (dtb_in_second)
    o << "      dtb_in_second: true\n";
  if (p.seandroidenforce)
    o << "      samsung_seandroidenforce: true\n";
  o << "      kernel:\n";
  o << "        encoding: " << encoding << "\n";
  if (p.header_version == 2 && !appended && p.dtb_size > 0)
    o << "      # the DTB goes in the header v2 dtb section (" << p.dtb_size << " bytes in the stock image)\n";
  if (p.header_version >= 3)
    o << "      # header v" << p.header_version
      << ": the DTB and vendor ramdisk come from the device's vendor_boot partition\n";
  return o.str();
}

namespace {

// Scalars keep the YAML's types: integers and booleans as such, the rest
// (hex addresses, encodings) as strings.
nlohmann::ordered_json yaml_to_json(const YAML::Node& node) {
  if (node.IsMap()) {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    for (const auto& kv : node)
      j[kv.first.as<std::string>()] = yaml_to_json(kv.second);
    return j;
  }
  if (node.IsSequence()) {
    nlohmann::ordered_json j = nlohmann::ordered_json::array();
    for (const auto& v : node)
      j.push_back(yaml_to_json(v));
    return j;
  }
  if (!node.IsScalar())
    return nullptr;
  const std::string text = node.Scalar();
  if (text == "true" || text == "false")
    return text == "true";
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos &&
      text.size() < 19)
    return std::stoull(text);
  return text;
}

} // namespace

std::string analyze_to_devpro_json(ByteSpan image, const ParsedImage& parsed) {
  // One source of truth: the YAML skeleton, its comments as notes.
  const std::string yaml = analyze_to_devpro_yaml(image, parsed);
  nlohmann::ordered_json j;
  nlohmann::ordered_json notes = nlohmann::ordered_json::array();
  std::istringstream lines(yaml);
  for (std::string line; std::getline(lines, line);) {
    const auto hash = line.find("# ");
    if (hash != std::string::npos && line.find_first_not_of(' ') == hash)
      notes.push_back(line.substr(hash + 2));
  }
  const YAML::Node root = YAML::Load(yaml); // our own output: parses
  j["devpro"] = root.IsMap() ? yaml_to_json(root) : nlohmann::ordered_json::object();
  j["notes"] = notes;
  return j.dump(2) + "\n";
}

} // namespace fastboop::bootimg
