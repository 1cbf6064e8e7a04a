// info / unpack / analyze: renderings of a ParsedImage.
#include "bootimg/bootimg.hpp"
#include "common/text.hpp"

#include "common/file_io.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

namespace fastboop::bootimg {

namespace {

std::string recipe_name(const std::optional<IdRecipe>& r) {
  if (!r)
    return "unknown";
  return *r == IdRecipe::Aosp ? "aosp" : "lineage";
}

std::string ramdisk_file_name(std::size_t index) {
  std::string n = std::to_string(index);
  return "vendor_ramdisk_" + std::string(n.size() < 2 ? 2 - n.size() : 0, '0') + n;
}

bool is_default_vendor_entry(const VendorRamdiskEntry& e) {
  return e.type == 0 && e.name.empty() &&
         std::all_of(e.board_id.begin(), e.board_id.end(), [](std::uint32_t w) { return w == 0; });
}

} // namespace

std::string format_info_text(const ParsedImage& p) {
  std::ostringstream o;
  auto line = [&](std::string_view k, const std::string& v) { o << k << ": " << v << "\n"; };
  if (p.kind == ImageKind::Boot) {
    line("magic", "ANDROID!");
    line("header_version", std::to_string(p.header_version));
    if (p.qcdt_size)
      line("qcdt_dt_size", std::to_string(p.qcdt_size));
    line("header_size", std::to_string(p.header_size));
    line("page_size", std::to_string(p.page_size));
    line("kernel_size", std::to_string(p.kernel_size));
    line("ramdisk_size", std::to_string(p.ramdisk_size));
    if (p.header_version < 3) {
      line("kernel_addr", format_hex(p.kernel_addr, 8));
      line("ramdisk_addr", format_hex(p.ramdisk_addr, 8));
      line("second_size", std::to_string(p.second_size));
      line("second_addr", format_hex(p.second_addr, 8));
      line("tags_addr", format_hex(p.tags_addr, 8));
    }
    line("os_version", format_os_version(p.os_version));
    line("os_patch_level", p.os_patch_level ? format_os_patch_level(p.os_patch_level) : "0");
    if (p.header_version < 3) {
      line("board", p.board);
      line("id", to_hex(p.id));
      line("id_recipe", recipe_name(p.id_recipe));
    }
    if (p.header_version == 1 || p.header_version == 2) {
      line("recovery_dtbo_size", std::to_string(p.recovery_dtbo_size));
      line("recovery_dtbo_offset", format_hex(p.recovery_dtbo_offset, 1));
    }
    if (p.header_version == 2) {
      line("dtb_size", std::to_string(p.dtb_size));
      line("dtb_addr", format_hex(p.dtb_addr, 8));
    }
    if (p.header_version == 4)
      line("signature_size", std::to_string(p.signature_size));
    line("cmdline", p.cmdline);
    if (p.header_version < 3)
      line("cmdline_split", p.cmdline_legacy_split ? "legacy512 (cmdline[511] is not NUL)" : "aosp");
  } else {
    line("magic", "VNDRBOOT");
    line("header_version", std::to_string(p.header_version));
    line("header_size", std::to_string(p.header_size));
    line("page_size", std::to_string(p.page_size));
    line("kernel_addr", format_hex(p.kernel_addr, 8));
    line("ramdisk_addr", format_hex(p.ramdisk_addr, 8));
    line("vendor_ramdisk_size", std::to_string(p.vendor_ramdisk_size));
    line("tags_addr", format_hex(p.tags_addr, 8));
    line("board", p.board);
    line("dtb_size", std::to_string(p.dtb_size));
    line("dtb_addr", format_hex(p.dtb_addr, 8));
    if (p.header_version == 4) {
      line("vendor_ramdisk_table_size", std::to_string(p.vendor_ramdisk_table_size));
      line("vendor_ramdisk_table_entry_num", std::to_string(p.vendor_ramdisk_table_entry_num));
      line("vendor_ramdisk_table_entry_size", std::to_string(p.vendor_ramdisk_table_entry_size));
      line("bootconfig_size", std::to_string(p.bootconfig_size));
      for (std::size_t i = 0; i < p.vendor_ramdisks.size(); ++i) {
        const auto& e = p.vendor_ramdisks[i];
        o << "vendor_ramdisk[" << i << "]: size " << e.size << ", offset " << e.offset << ", type " << e.type
          << ", name \"" << e.name << "\"\n";
      }
    }
    line("vendor_cmdline", p.cmdline);
  }
  for (const auto& s : p.sections)
    o << "section " << s.name << ": offset " << s.offset << ", size " << s.size << "\n";
  line("image_end", std::to_string(p.image_end));
  line("file_size", std::to_string(p.file_size));
  if (p.seandroidenforce)
    line("footer", "SEANDROIDENFORCE");
  for (const auto& n : p.notes)
    line("note", n);
  return o.str();
}

std::string format_info_json(const ParsedImage& p) {
  nlohmann::ordered_json j;
  j["kind"] = p.kind == ImageKind::Boot ? "boot" : "vendor_boot";
  j["header_version"] = p.header_version;
  j["header_size"] = p.header_size;
  j["page_size"] = p.page_size;
  if (p.kind == ImageKind::Boot) {
    j["kernel_size"] = p.kernel_size;
    j["ramdisk_size"] = p.ramdisk_size;
    if (p.header_version < 3) {
      j["kernel_addr"] = p.kernel_addr;
      j["ramdisk_addr"] = p.ramdisk_addr;
      j["second_size"] = p.second_size;
      j["second_addr"] = p.second_addr;
      j["tags_addr"] = p.tags_addr;
      j["board"] = p.board;
      j["id"] = to_hex(p.id);
      j["id_recipe"] = recipe_name(p.id_recipe);
      j["cmdline_split"] = p.cmdline_legacy_split ? "legacy512" : "aosp";
    }
    if (p.qcdt_size)
      j["qcdt_dt_size"] = p.qcdt_size;
    if (p.header_version == 1 || p.header_version == 2) {
      j["recovery_dtbo_size"] = p.recovery_dtbo_size;
      j["recovery_dtbo_offset"] = p.recovery_dtbo_offset;
    }
    if (p.header_version == 2) {
      j["dtb_size"] = p.dtb_size;
      j["dtb_addr"] = p.dtb_addr;
    }
    if (p.header_version == 4)
      j["signature_size"] = p.signature_size;
    j["os_version"] = format_os_version(p.os_version);
    j["os_patch_level"] = p.os_patch_level ? format_os_patch_level(p.os_patch_level) : "0";
    j["cmdline"] = p.cmdline;
  } else {
    j["kernel_addr"] = p.kernel_addr;
    j["ramdisk_addr"] = p.ramdisk_addr;
    j["vendor_ramdisk_size"] = p.vendor_ramdisk_size;
    j["tags_addr"] = p.tags_addr;
    j["board"] = p.board;
    j["dtb_size"] = p.dtb_size;
    j["dtb_addr"] = p.dtb_addr;
    if (p.header_version == 4) {
      j["vendor_ramdisk_table_size"] = p.vendor_ramdisk_table_size;
      j["vendor_ramdisk_table_entry_num"] = p.vendor_ramdisk_table_entry_num;
      j["vendor_ramdisk_table_entry_size"] = p.vendor_ramdisk_table_entry_size;
      j["bootconfig_size"] = p.bootconfig_size;
      auto entries = nlohmann::ordered_json::array();
      for (const auto& e : p.vendor_ramdisks)
        entries.push_back({{"size", e.size}, {"offset", e.offset}, {"type", e.type}, {"name", e.name},
                           {"board_id", e.board_id}});
      j["vendor_ramdisks"] = entries;
    }
    j["vendor_cmdline"] = p.cmdline;
  }
  auto sections = nlohmann::ordered_json::array();
  for (const auto& s : p.sections)
    sections.push_back({{"name", s.name}, {"offset", s.offset}, {"size", s.size}});
  j["sections"] = sections;
  j["image_end"] = p.image_end;
  j["file_size"] = p.file_size;
  j["seandroidenforce"] = p.seandroidenforce;
  j["notes"] = p.notes;
  // Invalid UTF-8 in vendor strings must not abort the dump.
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

namespace {

void opt(std::vector<std::string>& a, std::string k, std::string v) {
  a.push_back(std::move(k));
  a.push_back(std::move(v));
}

// mkbootimg --vendor_boot's arguments, after --header_version.
void vendor_rebuild_arguments(const ParsedImage& p, std::vector<std::string>& a) {
  opt(a, "--pagesize", std::to_string(p.page_size));
  opt(a, "--base", "0");
  opt(a, "--kernel_offset", format_hex(p.kernel_addr, 8));
  opt(a, "--ramdisk_offset", format_hex(p.ramdisk_addr, 8));
  opt(a, "--tags_offset", format_hex(p.tags_addr, 8));
  opt(a, "--dtb_offset", format_hex(p.dtb_addr, 8));
  if (!p.board.empty())
    opt(a, "--board", p.board);
  if (!p.cmdline.empty())
    opt(a, "--vendor_cmdline", p.cmdline);
  if (p.section("dtb"))
    opt(a, "--dtb", "dtb");
  if (p.header_version == 3 || p.vendor_ramdisks.empty()) {
    if (p.vendor_ramdisk_size > 0)
      opt(a, "--vendor_ramdisk", "vendor_ramdisk");
    return;
  }
  for (std::size_t i = 0; i < p.vendor_ramdisks.size(); ++i) {
    const auto& e = p.vendor_ramdisks[i];
    if (i == 0 && is_default_vendor_entry(e)) {
      opt(a, "--vendor_ramdisk", ramdisk_file_name(i));
      continue;
    }
    opt(a, "--ramdisk_type", std::to_string(e.type));
    opt(a, "--ramdisk_name", e.name);
    for (std::size_t w = 0; w < kBoardIdWords; ++w)
      if (e.board_id[w] != 0)
        opt(a, "--board_id" + std::to_string(w), format_hex(e.board_id[w], 1));
    opt(a, "--vendor_ramdisk_fragment", ramdisk_file_name(i));
  }
  if (p.section("bootconfig"))
    opt(a, "--vendor_bootconfig", "bootconfig");
}

// v0-v2 only: the load addresses and board, which v3+ headers do not carry.
void v0_layout_arguments(const ParsedImage& p, std::vector<std::string>& a) {
  opt(a, "--pagesize", std::to_string(p.page_size));
  opt(a, "--base", "0");
  opt(a, "--kernel_offset", format_hex(p.kernel_addr, 8));
  if (p.ramdisk_size > 0)
    opt(a, "--ramdisk_offset", format_hex(p.ramdisk_addr, 8));
  if (p.second_size > 0)
    opt(a, "--second_offset", format_hex(p.second_addr, 8));
  opt(a, "--tags_offset", format_hex(p.tags_addr, 8));
  if (p.header_version == 2)
    opt(a, "--dtb_offset", format_hex(p.dtb_addr, 8));
  if (!p.board.empty())
    opt(a, "--board", p.board);
}

} // namespace

std::vector<std::string> rebuild_arguments(const ParsedImage& p) {
  std::vector<std::string> a;
  opt(a, "--header_version", std::to_string(p.header_version));
  if (p.kind == ImageKind::VendorBoot) {
    vendor_rebuild_arguments(p, a);
    return a;
  }
  if (p.header_version < 3)
    v0_layout_arguments(p, a);
  if (p.os_version || p.os_patch_level)
    opt(a, "--os_version", format_os_version(p.os_version));
  if (p.os_patch_level)
    opt(a, "--os_patch_level", format_os_patch_level(p.os_patch_level));
  if (!p.cmdline.empty())
    opt(a, "--cmdline", p.cmdline);
  if (p.header_version < 3 && p.cmdline_legacy_split)
    opt(a, "--cmdline-split", "legacy512");
  if (p.header_version < 3 && p.id_recipe == IdRecipe::LineageDtSlot)
    opt(a, "--id-recipe", "lineage");
  if (p.seandroidenforce)
    a.push_back("--seandroidenforce");
  opt(a, "--kernel", "kernel");
  if (p.section("ramdisk"))
    opt(a, "--ramdisk", "ramdisk");
  if (p.section("second"))
    opt(a, "--second", "second");
  if (p.section("dt"))
    opt(a, "--dt", "dt");
  if (p.section("recovery_dtbo"))
    opt(a, "--recovery_dtbo", "recovery_dtbo");
  if (p.section("dtb"))
    opt(a, "--dtb", "dtb");
  return a;
}

std::string shell_join(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& arg : args) {
    if (!out.empty())
      out += ' ';
    bool plain = !arg.empty() && std::all_of(arg.begin(), arg.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./=:,+@%", c) != nullptr;
    });
    if (plain) {
      out += arg;
      continue;
    }
    out += '\'';
    for (char c : arg) {
      if (c == '\'')
        out += "'\\''";
      else
        out += c;
    }
    out += '\'';
  }
  return out;
}

namespace {

// The BootImageArgs rebuild_arguments() describes, with the spans pointing
// into `image`; used to check the arguments against the image bytes.
BootImageArgs rebuild_boot_args(ByteSpan image, const ParsedImage& p) {
  BootImageArgs a;
  a.header_version = p.header_version;
  a.page_size = p.page_size;
  a.base = 0;
  a.kernel_offset = p.kernel_addr;
  a.ramdisk_offset = p.ramdisk_addr;
  a.second_offset = p.second_addr;
  a.tags_offset = p.tags_addr;
  a.dtb_offset = p.dtb_addr;
  a.os_version = p.os_version;
  a.os_patch_level = p.os_patch_level;
  a.board = p.board;
  a.cmdline = p.cmdline;
  a.cmdline_split = p.cmdline_legacy_split ? CmdlineSplit::Legacy512 : CmdlineSplit::Aosp;
  a.id_recipe = p.id_recipe.value_or(IdRecipe::Aosp);
  a.footer = p.seandroidenforce ? Footer::SeandroidEnforce : Footer::None;
  auto part = [&](std::string_view name) -> std::optional<ByteSpan> {
    if (const Section* s = p.section(name))
      return section_bytes(image, *s);
    return std::nullopt;
  };
  a.kernel = part("kernel").value_or(ByteSpan{});
  a.ramdisk = part("ramdisk").value_or(ByteSpan{});
  a.second = part("second").value_or(ByteSpan{});
  a.dt = part("dt").value_or(ByteSpan{});
  a.recovery_dtbo = part("recovery_dtbo");
  a.dtb = part("dtb").value_or(ByteSpan{});
  return a;
}

// The v0-v2 header field at `offset`, for messages.
std::string header_field_at(std::uint64_t offset) {
  static constexpr struct {
    std::uint64_t start;
    std::string_view name;
  } fields[] = {{0, "magic"},        {8, "kernel_size"},    {12, "kernel_addr"},         {16, "ramdisk_size"},
                {20, "ramdisk_addr"}, {24, "second_size"},   {28, "second_addr"},         {32, "tags_addr"},
                {36, "page_size"},   {40, "header_version"}, {44, "os_version"},          {48, "board"},
                {64, "cmdline"},     {576, "id"},            {608, "extra_cmdline"},      {1632, "recovery_dtbo_size"},
                {1636, "recovery_dtbo_offset"}, {1644, "header_size"}, {1648, "dtb_size"}, {1652, "dtb_addr"},
                {1660, "bytes after the header"}};
  std::string_view name = fields[0].name;
  for (const auto& f : fields)
    if (offset >= f.start)
      name = f.name;
  return std::string(name);
}

} // namespace

std::vector<std::string> rebuild_caveats(ByteSpan image, const ParsedImage& p) {
  std::vector<std::string> c;
  const std::uint64_t known_end = p.image_end + (p.seandroidenforce ? kSeandroidEnforce.size() : 0);
  if (p.file_size > known_end)
    c.push_back(std::to_string(p.file_size - known_end) + " bytes after offset " + std::to_string(known_end) +
                " belong to no section (vendor signature or partition padding); the rebuilt image ends there");
  if (p.kind == ImageKind::VendorBoot) {
    if (p.header_version == 3 && p.header_size == 2108)
      c.push_back("header_size is Debian mkbootimg 29's pre-release 2108; the rebuild writes AOSP's 2112");
    return c;
  }
  if (p.header_version == 3 && p.header_size == 1596)
    c.push_back("header_size is Debian mkbootimg 29's pre-release 1596; the rebuild writes AOSP's 1580");
  if (p.header_version == 4 && p.signature_size > 0)
    c.push_back("the " + std::to_string(p.signature_size) +
                "-byte v4 boot signature is unpacked to `signature`, but no argument adds it back; the rebuilt "
                "image has signature_size 0 (re-sign it with avbtool if the device checks it)");
  if (p.header_version < 3 && !p.id_recipe)
    c.push_back("the id at offset 576 is neither the AOSP nor the LineageOS SHA-1 of the sections; the rebuild "
                "writes the SHA-1 id");
  // Everything else (fields a tool set without its section, vendor bytes in
  // the header page, non-zero padding, ...): rebuild and compare.
  BootImageArgs a = rebuild_boot_args(image, p);
  std::uint64_t offset = 0;
  std::optional<std::uint64_t> first_diff;
  auto r = write_boot_image(a, [&](ByteSpan d) -> Result<void> {
    if (!first_diff) {
      const ByteSpan want = offset < image.size() ? image.subspan(static_cast<std::size_t>(offset)) : ByteSpan{};
      const std::size_t n = std::min(d.size(), want.size());
      auto mm = std::mismatch(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(n), want.begin());
      if (mm.first != d.begin() + static_cast<std::ptrdiff_t>(n))
        first_diff = offset + static_cast<std::uint64_t>(mm.first - d.begin());
      else if (n < d.size())
        first_diff = offset + n;
    }
    offset += d.size();
    return ok();
  });
  if (!r) {
    c.push_back("the arguments are refused when packing: " + r.error().message());
  } else if (first_diff && c.empty()) {
    std::string where = " (section data or padding)";
    if (*first_diff < p.page_size)
      where = p.header_version < 3 ? " (header field " + header_field_at(*first_diff) +
                                         ": mkbootimg writes it differently, e.g. 0 for an absent section)"
                                   : " (in the header page)";
    c.push_back("the rebuilt image differs from this one first at offset " + std::to_string(*first_diff) + where);
  } else if (!first_diff && offset < p.file_size && c.empty()) {
    c.push_back("the rebuilt image is " + std::to_string(offset) + " bytes, this one " +
                std::to_string(p.file_size));
  }
  return c;
}

Result<std::vector<std::string>> unpack_image(ByteSpan image, const ParsedImage& p, const std::string& dir) {
  // The output policy of every tool (common/file_io): the parent must exist;
  // only the directory itself is created.
  TRY(check_output_path(dir, OutputKind::Directory));
  std::error_code ec;
  std::filesystem::create_directory(dir, ec);
  if (ec)
    return Error("output " + dir + ": cannot create the directory: " + ec.message(), ErrorKind::Io);
  const std::filesystem::path base(dir);
  for (const auto& s : p.sections) {
    if (s.name == "vendor_ramdisk" && p.header_version == 4 && !p.vendor_ramdisks.empty()) {
      ByteSpan all = section_bytes(image, s);
      for (std::size_t i = 0; i < p.vendor_ramdisks.size(); ++i) {
        const auto& e = p.vendor_ramdisks[i];
        TRY(write_file_atomic(base / ramdisk_file_name(i), all.subspan(e.offset, e.size)));
      }
      continue;
    }
    TRY(write_file_atomic(base / s.name, section_bytes(image, s)));
  }
  // Empty ramdisks named in the table still need a file to rebuild from.
  if (p.header_version == 4 && p.kind == ImageKind::VendorBoot)
    for (std::size_t i = 0; i < p.vendor_ramdisks.size(); ++i)
      if (p.vendor_ramdisks[i].size == 0)
        TRY(write_file_atomic(base / ramdisk_file_name(i), ByteSpan{}));
  auto args = rebuild_arguments(p);
  std::string nul;
  for (const auto& a : args) {
    nul += a;
    nul += '\0';
  }
  TRY(write_file_atomic(base / "mkbootimg_args", shell_join(args) + "\n"));
  TRY(write_file_atomic(base / "mkbootimg_args.nul", nul));
  // Never leave a stale caveats file from an earlier unpack into `dir`.
  auto caveats = rebuild_caveats(image, p);
  const std::filesystem::path caveats_file = base / "mkbootimg_args.caveats";
  if (caveats.empty()) {
    std::filesystem::remove(caveats_file, ec);
  } else {
    std::string text = "# These mkbootimg_args do NOT rebuild the image byte for byte:\n";
    for (const auto& c : caveats)
      text += c + "\n";
    TRY(write_file_atomic(caveats_file, text));
  }
  return caveats;
}

} // namespace fastboop::bootimg
