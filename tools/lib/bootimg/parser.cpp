#include "bootimg/bootimg.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace fastboop::bootimg {

namespace {

std::uint64_t pages(std::uint64_t size, std::uint64_t page) { return (size + page - 1) / page; }

std::string c_string(const std::uint8_t* p, std::size_t max) {
  std::size_t n = 0;
  while (n < max && p[n] != 0)
    ++n;
  return std::string(reinterpret_cast<const char*>(p), n);
}

// Printable preview of raw bytes for error messages.
std::string preview(const std::uint8_t* p, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f)
      out += static_cast<char>(p[i]);
    else if (p[i] == 0)
      break;
    else
      out += '.';
  }
  return out;
}

bool looks_like_text(const std::uint8_t* p, std::size_t n) {
  std::size_t printable = 0;
  for (std::size_t i = 0; i < n && p[i] != 0; ++i) {
    if (p[i] < 0x20 || p[i] >= 0x7f)
      return false;
    ++printable;
  }
  return printable >= 4;
}

Error truncated(std::string_view what, std::uint64_t need, std::uint64_t have) {
  return Error("file is " + std::to_string(have) + " bytes, too short for " + std::string(what) + " (" +
               std::to_string(need) + " bytes needed)");
}

Result<void> add_section(ParsedImage& p, std::string name, std::uint64_t offset, std::uint64_t size) {
  if (size == 0)
    return ok();
  if (offset > p.file_size || size > p.file_size - offset)
    return Error(name + " (" + std::to_string(size) + " bytes at offset " + std::to_string(offset) +
                 ") runs past the end of the file (" + std::to_string(p.file_size) +
                 " bytes); the image is truncated or the header is not what it claims");
  p.sections.push_back(Section{std::move(name), offset, size});
  p.image_end = std::max(p.image_end, align_up(offset + size, p.page_size));
  return ok();
}

// The v4 vendor ramdisk table entries at `table`, each inside the vendor ramdisk.
Result<void> parse_vendor_ramdisk_entries(ParsedImage& p, const std::uint8_t* table) {
  std::uint64_t covered = 0;
  for (std::uint32_t i = 0; i < p.vendor_ramdisk_table_entry_num; ++i) {
    const std::uint8_t* e =
        table + static_cast<std::uint64_t>(i) * p.vendor_ramdisk_table_entry_size;
    VendorRamdiskEntry entry;
    entry.size = load_le<std::uint32_t>(e);
    entry.offset = load_le<std::uint32_t>(e + 4);
    entry.type = load_le<std::uint32_t>(e + 8);
    entry.name = c_string(e + 12, kVendorRamdiskNameSize);
    for (std::size_t w = 0; w < kBoardIdWords; ++w)
      entry.board_id[w] = load_le<std::uint32_t>(e + 44 + 4 * w);
    if (static_cast<std::uint64_t>(entry.offset) + entry.size > p.vendor_ramdisk_size)
      return Error("vendor ramdisk table entry " + std::to_string(i) + " (" +
                   std::to_string(entry.size) + " bytes at " + std::to_string(entry.offset) +
                   ") lies outside the " + std::to_string(p.vendor_ramdisk_size) +
                   "-byte vendor ramdisk section");
    covered += entry.size;
    p.vendor_ramdisks.push_back(std::move(entry));
  }
  if (p.vendor_ramdisk_table_entry_num > 0 && covered != p.vendor_ramdisk_size)
    p.notes.push_back("vendor ramdisk table entries cover " + std::to_string(covered) + " of " +
                      std::to_string(p.vendor_ramdisk_size) + " bytes");
  return ok();
}

// v4 only: the vendor ramdisk table and bootconfig sections, from `off` on.
Result<void> parse_vendor_v4_tables(ParsedImage& p, ByteSpan img, std::uint64_t off) {
  const std::uint8_t* b = img.data();
  p.vendor_ramdisk_table_size = load_le<std::uint32_t>(b + 2112);
  p.vendor_ramdisk_table_entry_num = load_le<std::uint32_t>(b + 2116);
  p.vendor_ramdisk_table_entry_size = load_le<std::uint32_t>(b + 2120);
  p.bootconfig_size = load_le<std::uint32_t>(b + 2124);
  if (p.vendor_ramdisk_table_entry_num > 0 &&
      p.vendor_ramdisk_table_entry_size < kVendorRamdiskEntrySize)
    return Error("vendor ramdisk table entry size " +
                 std::to_string(p.vendor_ramdisk_table_entry_size) +
                 " at offset 2120 is smaller than the 108-byte v4 entry");
  if (static_cast<std::uint64_t>(p.vendor_ramdisk_table_entry_num) *
          p.vendor_ramdisk_table_entry_size !=
      p.vendor_ramdisk_table_size)
    return Error("vendor ramdisk table size " + std::to_string(p.vendor_ramdisk_table_size) +
                 " is not " + std::to_string(p.vendor_ramdisk_table_entry_num) + " entries x " +
                 std::to_string(p.vendor_ramdisk_table_entry_size) + " bytes");
  TRY(add_section(p, "vendor_ramdisk_table", off, p.vendor_ramdisk_table_size));
  const std::uint64_t table_off = off;
  off += pages(p.vendor_ramdisk_table_size, p.page_size) * p.page_size;
  TRY(add_section(p, "bootconfig", off, p.bootconfig_size));
  return parse_vendor_ramdisk_entries(p, b + table_off);
}

Result<void> parse_vendor(ParsedImage& p, ByteSpan img) {
  const std::uint8_t* b = img.data();
  p.kind = ImageKind::VendorBoot;
  if (img.size() < kVendorHeaderSizeV3)
    return truncated("a vendor_boot header", kVendorHeaderSizeV3, img.size());
  p.header_version = load_le<std::uint32_t>(b + 8);
  if (p.header_version != 3 && p.header_version != 4)
    return Error("vendor_boot header version " + std::to_string(p.header_version) +
                     " at offset 8 is unknown (only 3 and 4 exist)",
                 ErrorKind::Unsupported);
  p.page_size = load_le<std::uint32_t>(b + 12);
  if (!is_valid_page_size(p.page_size))
    return Error("vendor_boot page size " + std::to_string(p.page_size) +
                 " at offset 12 is not one of 2048, 4096, 8192, 16384");
  p.kernel_addr = load_le<std::uint32_t>(b + 16);
  p.ramdisk_addr = load_le<std::uint32_t>(b + 20);
  p.vendor_ramdisk_size = load_le<std::uint32_t>(b + 24);
  p.cmdline_field.assign(b + 28, b + 28 + kVendorArgsSize);
  p.cmdline = c_string(b + 28, kVendorArgsSize);
  p.tags_addr = load_le<std::uint32_t>(b + 2076);
  p.board = c_string(b + 2080, kBootNameSize);
  p.header_size = load_le<std::uint32_t>(b + 2096);
  p.dtb_size = load_le<std::uint32_t>(b + 2100);
  p.dtb_addr = load_le<std::uint64_t>(b + 2104);
  const std::uint32_t expect = p.header_version == 3 ? kVendorHeaderSizeV3 : kVendorHeaderSizeV4;
  if (p.header_version == 4 && img.size() < kVendorHeaderSizeV4)
    return truncated("a vendor_boot v4 header", kVendorHeaderSizeV4, img.size());
  if (p.header_size != expect) {
    if (p.header_version == 3 && p.header_size == 2108)
      p.notes.push_back("header_size 2108 is the pre-release value Debian's mkbootimg 29 writes; AOSP writes 2112");
    else
      return Error("vendor_boot header_size at offset 2096 is " + std::to_string(p.header_size) + ", expected " +
                   std::to_string(expect) + " for v" + std::to_string(p.header_version));
  }
  std::uint64_t off = align_up(expect, p.page_size);
  TRY(add_section(p, "vendor_ramdisk", off, p.vendor_ramdisk_size));
  off += pages(p.vendor_ramdisk_size, p.page_size) * p.page_size;
  TRY(add_section(p, "dtb", off, p.dtb_size));
  off += pages(p.dtb_size, p.page_size) * p.page_size;
  if (p.header_version == 4)
    TRY(parse_vendor_v4_tables(p, img, off));
  if (p.dtb_size == 0)
    p.notes.push_back("dtb_size is 0; AOSP requires a DTB in vendor_boot");
  p.image_end = std::max<std::uint64_t>(p.image_end, align_up(expect, p.page_size));
  return ok();
}

// Boot v3/v4: fixed 4096-byte pages, kernel + ramdisk (+ v4 signature).
Result<void> parse_boot_v3(ParsedImage& p, ByteSpan img, std::uint32_t version) {
  const std::uint8_t* b = img.data();
  p.header_version = version;
  const std::uint32_t expect = version == 3 ? kHeaderSizeV3 : kHeaderSizeV4;
  if (img.size() < expect)
    return truncated("a v" + std::to_string(version) + " boot header", expect, img.size());
  p.page_size = kV3PageSize;
  p.kernel_size = load_le<std::uint32_t>(b + 8);
  p.ramdisk_size = load_le<std::uint32_t>(b + 12);
  const std::uint32_t os = load_le<std::uint32_t>(b + 16);
  p.os_version = os >> 11;
  p.os_patch_level = os & 0x7ff;
  p.header_size = load_le<std::uint32_t>(b + 20);
  if (p.header_size != expect) {
    if (version == 3 && p.header_size == 1596)
      p.notes.push_back("header_size 1596 is the pre-release v3 value Debian's mkbootimg 29 "
                        "writes; AOSP writes 1580");
    else
      return Error("boot v" + std::to_string(version) + " header_size at offset 20 is " +
                   std::to_string(p.header_size) + ", expected " + std::to_string(expect));
  }
  p.cmdline_field.assign(b + 44, b + 44 + kV3ArgsSize);
  p.cmdline = c_string(b + 44, kV3ArgsSize);
  if (version == 4)
    p.signature_size = load_le<std::uint32_t>(b + 1580);
  std::uint64_t off = kV3PageSize;
  TRY(add_section(p, "kernel", off, p.kernel_size));
  off += pages(p.kernel_size, kV3PageSize) * kV3PageSize;
  TRY(add_section(p, "ramdisk", off, p.ramdisk_size));
  off += pages(p.ramdisk_size, kV3PageSize) * kV3PageSize;
  TRY(add_section(p, "signature", off, p.signature_size));
  p.image_end = std::max<std::uint64_t>(p.image_end, kV3PageSize);
  return ok();
}

// The fields every v0-v2 header has (the first 1632 bytes).
Result<void> read_boot_v0_fields(ParsedImage& p, ByteSpan img) {
  const std::uint8_t* b = img.data();
  p.page_size = load_le<std::uint32_t>(b + 36);
  if (!is_valid_page_size(p.page_size))
    return Error("page size " + std::to_string(p.page_size) +
                 " at offset 36 is not one of 2048, 4096, 8192, 16384; not a boot image this tool "
                 "understands");
  if (img.size() < kHeaderSizeV0)
    return truncated("a boot image header", kHeaderSizeV0, img.size());
  p.kernel_size = load_le<std::uint32_t>(b + 8);
  p.kernel_addr = load_le<std::uint32_t>(b + 12);
  p.ramdisk_size = load_le<std::uint32_t>(b + 16);
  p.ramdisk_addr = load_le<std::uint32_t>(b + 20);
  p.second_size = load_le<std::uint32_t>(b + 24);
  p.second_addr = load_le<std::uint32_t>(b + 28);
  p.tags_addr = load_le<std::uint32_t>(b + 32);
  const std::uint32_t os = load_le<std::uint32_t>(b + 44);
  p.os_version = os >> 11;
  p.os_patch_level = os & 0x7ff;
  p.board = c_string(b + 48, kBootNameSize);
  p.cmdline_field.assign(b + 64, b + 64 + kBootArgsSize);
  p.id.assign(b + 576, b + 608);
  p.extra_cmdline_field.assign(b + 608, b + 608 + kBootExtraArgsSize);
  p.cmdline_legacy_split = b[64 + kBootArgsSize - 1] != 0;
  p.cmdline = c_string(b + 64, kBootArgsSize) + c_string(b + 608, kBootExtraArgsSize);
  return ok();
}

// Where the v0-v2 sections before the optional ones start: each begins on
// the page after the previous one.
struct LegacyOffsets {
  std::uint64_t kernel = 0, ramdisk = 0, second = 0;
  std::uint64_t after_second = 0;
};
LegacyOffsets legacy_offsets(const ParsedImage& p) {
  const std::uint64_t page = p.page_size;
  LegacyOffsets o;
  o.kernel = page;
  o.ramdisk = o.kernel + pages(p.kernel_size, page) * page;
  o.second = o.ramdisk + pages(p.ramdisk_size, page) * page;
  o.after_second = o.second + pages(p.second_size, page) * page;
  return o;
}

// Word 40 is header_version 0..2, or on legacy Qualcomm LK images the size
// of a QCDT table that follows the second stage.
Result<void> resolve_legacy_version(ParsedImage& p, ByteSpan img, std::uint32_t version_word,
                                    std::uint64_t after_second) {
  if (version_word <= 4) {
    p.header_version = version_word;
    return ok();
  }
  const std::uint8_t* b = img.data();
  const std::uint64_t off = after_second;
  if (off <= img.size() && img.size() - off >= version_word && img.size() - off >= 4 &&
      std::memcmp(b + off, "QCDT", 4) == 0) {
    p.header_version = 0;
    p.qcdt_size = version_word;
    p.notes.push_back("word 40 is a QCDT dt_size (" + std::to_string(version_word) +
                      " bytes), not a header version: legacy Qualcomm v0 image");
    return ok();
  }
  return Error("header_version " + std::to_string(version_word) +
                   " at offset 40 is unknown (0..4 exist) and no QCDT table follows the second "
                   "stage; refusing to guess the layout",
               ErrorKind::Unsupported);
}

// v1/v2: header_size, recovery_dtbo, and (v2) dtb fields; v0: a note on a
// vendor block after the header.
Result<void> read_boot_v1_v2_fields(ParsedImage& p, ByteSpan img) {
  const std::uint8_t* b = img.data();
  if (p.header_version >= 1) {
    const std::uint32_t expect = p.header_version == 1 ? kHeaderSizeV1 : kHeaderSizeV2;
    if (img.size() < expect)
      return truncated("a v" + std::to_string(p.header_version) + " boot header", expect, img.size());
    p.header_size = load_le<std::uint32_t>(b + 1644);
    if (p.header_size != expect) {
      if (looks_like_text(b + 1632, 16))
        return Error(
            "header_version " + std::to_string(p.header_version) + " but offset 1632 holds \"" +
            preview(b + 1632, std::min<std::size_t>(32, img.size() - 1632)) +
            "\" instead of v1+ fields: a v0 header followed by a vendor signature (as in "
            "Huawei's \"Cairo SIGN\" images); refusing to read recovery_dtbo/dtb sizes from it");
      return Error("header_size at offset 1644 is " + std::to_string(p.header_size) + ", expected " +
                   std::to_string(expect) + " for header v" + std::to_string(p.header_version) +
                   "; the header is not what it claims");
    }
    p.recovery_dtbo_size = load_le<std::uint32_t>(b + 1632);
    p.recovery_dtbo_offset = load_le<std::uint64_t>(b + 1636);
  } else {
    p.header_size = kHeaderSizeV0;
    const std::size_t tail = std::min<std::size_t>(32, img.size() - kHeaderSizeV0);
    if (tail >= 16 && looks_like_text(b + kHeaderSizeV0, 16))
      p.notes.push_back("a vendor block follows the v0 header at offset 1632 (\"" +
                        preview(b + 1632, tail) + "\"); ignored");
  }
  if (p.header_version == 2) {
    p.dtb_size = load_le<std::uint32_t>(b + 1648);
    p.dtb_addr = load_le<std::uint64_t>(b + 1652);
  }
  return ok();
}

// Load addresses a fastboot client sets for absent sections; a rebuild
// differs there.
void note_unused_addresses(ParsedImage& p) {
  if (p.ramdisk_size == 0 && p.ramdisk_addr != 0)
    p.notes.push_back("ramdisk_addr " + format_hex(p.ramdisk_addr, 1) +
                      " is set without a ramdisk (fastboot-client style); mkbootimg writes 0, so a "
                      "rebuild differs here");
  if (p.second_size == 0 && p.second_addr != 0)
    p.notes.push_back(
        "second_addr " + format_hex(p.second_addr, 1) +
        " is set without a second stage (fastboot-client style); mkbootimg writes 0, so "
        "a rebuild differs here");
}

// The v0-v2 sections, sorted by offset: kernel, ramdisk, second, then the
// optional QCDT table, recovery_dtbo and dtb.
Result<void> add_legacy_sections(ParsedImage& p, const LegacyOffsets& at) {
  const std::uint64_t page = p.page_size;
  p.image_end = page;
  TRY(add_section(p, "kernel", at.kernel, p.kernel_size));
  TRY(add_section(p, "ramdisk", at.ramdisk, p.ramdisk_size));
  TRY(add_section(p, "second", at.second, p.second_size));
  std::uint64_t off = at.after_second;
  if (p.qcdt_size > 0) {
    TRY(add_section(p, "dt", off, p.qcdt_size));
    off += pages(p.qcdt_size, page) * page;
  }
  if (p.recovery_dtbo_size > 0) {
    if (p.recovery_dtbo_offset != off)
      p.notes.push_back("recovery_dtbo_offset " + format_hex(p.recovery_dtbo_offset, 1) +
                        " differs from the expected " + format_hex(off, 1));
    TRY(add_section(p, "recovery_dtbo", p.recovery_dtbo_offset, p.recovery_dtbo_size));
  }
  off += pages(p.recovery_dtbo_size, page) * page;
  if (p.header_version == 2) {
    if (p.dtb_size == 0)
      p.notes.push_back("header v2 with dtb_size 0: AOSP requires a DTB, some bootloaders reject this");
    TRY(add_section(p, "dtb", off, p.dtb_size));
  }
  std::sort(p.sections.begin(), p.sections.end(),
            [](const Section& x, const Section& y) { return x.offset < y.offset; });
  return ok();
}

// Which recipe produced the id field: our AOSP recipe, or the dt-slot one,
// over the section bytes as found.
void detect_id_recipe(ParsedImage& p, ByteSpan img) {
  BootImageArgs a;
  a.header_version = p.header_version;
  if (const Section* s = p.section("kernel"))
    a.kernel = section_bytes(img, *s);
  if (const Section* s = p.section("ramdisk"))
    a.ramdisk = section_bytes(img, *s);
  if (const Section* s = p.section("second"))
    a.second = section_bytes(img, *s);
  if (const Section* s = p.section("recovery_dtbo"))
    a.recovery_dtbo = section_bytes(img, *s);
  if (const Section* s = p.section("dtb"))
    a.dtb = section_bytes(img, *s);
  if (const Section* s = p.section("dt"))
    a.dt = section_bytes(img, *s); // hashed by the dt-slot recipe only
  if (compute_boot_id(a) == p.id) {
    p.id_recipe = IdRecipe::Aosp;
  } else {
    a.id_recipe = IdRecipe::LineageDtSlot;
    if (compute_boot_id(a) == p.id)
      p.id_recipe = IdRecipe::LineageDtSlot;
  }
  if (!p.id_recipe && std::all_of(p.id.begin(), p.id.end(), [](std::uint8_t c) { return c == 0; }))
    p.notes.push_back("id is all zero (fastboot-client style); a mkbootimg rebuild writes the SHA-1 id");
}

Result<void> parse_boot(ParsedImage& p, ByteSpan img, IdCheck id_check) {
  if (img.size() < 44)
    return truncated("a boot image header", 44, img.size());
  const std::uint32_t version_word = load_le<std::uint32_t>(img.data() + 40);
  if (version_word == 3 || version_word == 4)
    return parse_boot_v3(p, img, version_word);
  TRY(read_boot_v0_fields(p, img));
  const LegacyOffsets at = legacy_offsets(p);
  TRY(resolve_legacy_version(p, img, version_word, at.after_second));
  TRY(read_boot_v1_v2_fields(p, img));
  note_unused_addresses(p);
  TRY(add_legacy_sections(p, at));
  if (id_check == IdCheck::Identify)
    detect_id_recipe(p, img);
  return ok();
}

} // namespace

const Section* ParsedImage::section(std::string_view name) const {
  for (const auto& s : sections)
    if (s.name == name)
      return &s;
  return nullptr;
}

ByteSpan section_bytes(ByteSpan image, const Section& section) {
  return image.subspan(static_cast<std::size_t>(section.offset), static_cast<std::size_t>(section.size));
}

Result<ParsedImage> parse_image(ByteSpan img, IdCheck id_check) {
  ParsedImage p;
  p.file_size = img.size();
  if (img.size() < 8)
    return truncated("a boot image magic", 8, img.size());
  if (std::memcmp(img.data(), "ANDROID!", 8) == 0) {
    TRY(parse_boot(p, img, id_check));
  } else if (std::memcmp(img.data(), "VNDRBOOT", 8) == 0) {
    TRY(parse_vendor(p, img));
  } else {
    return Error("no ANDROID! or VNDRBOOT magic at offset 0 (found \"" + preview(img.data(), 8) +
                 "\"); not an Android boot image");
  }
  const auto& footer = kSeandroidEnforce;
  if (p.image_end <= img.size() && img.size() - p.image_end >= footer.size() &&
      std::memcmp(img.data() + p.image_end, footer.data(), footer.size()) == 0)
    p.seandroidenforce = true;
  const std::uint64_t known_end = p.image_end + (p.seandroidenforce ? footer.size() : 0);
  if (known_end < img.size())
    p.notes.push_back(std::to_string(img.size() - known_end) + " trailing bytes after the last section" +
                      (p.seandroidenforce ? " and the SEANDROIDENFORCE footer" : ""));
  return p;
}

} // namespace fastboop::bootimg
