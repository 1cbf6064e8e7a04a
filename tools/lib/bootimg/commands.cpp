#include "bootimg/commands.hpp"
#include "common/fd.hpp"

#include "common/file_io.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop::bootimg {

Result<void> append_from_sources(int out_fd, ByteSpan data, const std::vector<MappedFile>& sources,
                                 const std::string& what) {
  for (const auto& src : sources) {
    if (!src.contains(data))
      continue;
    loff_t in_off = static_cast<loff_t>(data.data() - src.bytes().data());
    while (!data.empty()) {
      ssize_t n = ::copy_file_range(src.fd(), &in_off, out_fd, nullptr, data.size(), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; // EXDEV, ENOSYS, EINVAL, a short source: write the rest instead
      data = data.subspan(static_cast<std::size_t>(n));
    }
    break;
  }
  return write_full(out_fd, data).with_context("cannot write " + what);
}

Result<void> read_from_sources(ByteSpan data, const std::vector<MappedFile>& sources,
                               const std::function<void(ByteSpan)>& consume) {
  for (const auto& src : sources)
    if (src.contains(data))
      return src.read_through(data, consume);
  consume(data); // bytes built in memory
  return ok();
}

Result<void> pwrite_all(int fd, std::uint64_t offset, ByteSpan data, const std::string& what) {
  return pwrite_full(fd, data, offset).with_context("cannot write " + what);
}

Result<std::uint64_t> parse_mkbootimg_int(std::string_view text, std::string_view option) {
  std::string_view s = text;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    base = 16;
  else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
    base = 8;
  else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
    base = 2;
  if (base != 10)
    s.remove_prefix(2);
  std::uint64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size())
    return Error(std::string(option) + " '" + std::string(text) +
                     "' is not an integer (decimal, or 0x/0o/0b prefixed)",
                 ErrorKind::Usage);
  return v;
}

Result<std::vector<FragmentSpec>> extract_vendor_fragments(std::vector<std::string>& argv) {
  std::vector<FragmentSpec> out;
  std::vector<std::string> rest;
  std::vector<std::string> pending; // group options seen before their --vendor_ramdisk_fragment
  FragmentSpec cur;
  bool in_group = false;
  auto value = [&](std::size_t& i, const std::string& opt) -> Result<std::string> {
    const std::string& a = argv[i];
    if (a.size() > opt.size() && a[opt.size()] == '=')
      return a.substr(opt.size() + 1);
    if (i + 1 >= argv.size())
      return Error(opt + " needs a value", ErrorKind::Usage);
    return argv[++i];
  };
  auto is_opt = [](const std::string& a, const std::string& opt) {
    return a == opt || (a.size() > opt.size() && a.compare(0, opt.size(), opt) == 0 && a[opt.size()] == '=');
  };
  // Both spellings (mkbootimg's underscores, dashes) of the group options.
  auto underscored = [](std::string a) {
    const std::size_t end = std::min(a.find('='), a.size());
    std::string name = a.substr(0, end);
    for (std::size_t k = 2; k < name.size(); ++k)
      if (name[k] == '-')
        name[k] = '_';
    if (name == "--ramdisk_type" || name == "--ramdisk_name" ||
        name == "--vendor_ramdisk_fragment" || name.rfind("--board_id", 0) == 0)
      return name + a.substr(end);
    return a;
  };
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (argv[i].rfind("--", 0) == 0)
      argv[i] = underscored(argv[i]);
    const std::string& a = argv[i];
    if (is_opt(a, "--ramdisk_type")) {
      cur.type = TRY(value(i, "--ramdisk_type"));
      in_group = true;
    } else if (is_opt(a, "--ramdisk_name")) {
      cur.name = TRY(value(i, "--ramdisk_name"));
      in_group = true;
    } else if (a.rfind("--board_id", 0) == 0) {
      std::string opt = a.substr(0, a.find('='));
      auto idx = parse_mkbootimg_int(std::string_view(opt).substr(10), "--board_id index");
      if (!idx || *idx >= kBoardIdWords)
        return Error("unknown option " + opt + "; --board_id0 .. --board_id15 exist", ErrorKind::Usage);
      cur.board_id[*idx] = TRY(value(i, opt));
      in_group = true;
    } else if (is_opt(a, "--vendor_ramdisk_fragment")) {
      cur.path = TRY(value(i, "--vendor_ramdisk_fragment"));
      out.push_back(std::move(cur));
      cur = FragmentSpec{};
      in_group = false;
    } else {
      rest.push_back(a);
    }
  }
  if (in_group)
    return Error("--ramdisk_type/--ramdisk_name/--board_idN must be followed by --vendor_ramdisk_fragment FILE",
                 ErrorKind::Usage);
  argv = std::move(rest);
  return out;
}

namespace {

Result<std::uint32_t> ramdisk_type(const std::string& s) {
  if (s == "none")
    return 0u;
  if (s == "platform")
    return 1u;
  if (s == "recovery")
    return 2u;
  if (s == "dlkm")
    return 3u;
  std::uint64_t v = TRY(parse_mkbootimg_int(s, "--ramdisk_type"));
  if (v > 0xffffffffu)
    return Error("--ramdisk_type " + s + " does not fit 32 bits", ErrorKind::Usage);
  return static_cast<std::uint32_t>(v);
}

Result<std::uint32_t> u32_option(const std::string& text, std::string_view option) {
  std::uint64_t v = TRY(parse_mkbootimg_int(text, option));
  if (v > 0xffffffffu)
    return Error(std::string(option) + " " + text + " does not fit 32 bits", ErrorKind::Usage);
  return static_cast<std::uint32_t>(v);
}

} // namespace

Result<PackLayout> parse_pack_layout(const PackOptions& o) {
  PackLayout l;
  l.header_version = TRY(u32_option(o.header_version, "--header_version"));
  l.page_size = TRY(u32_option(o.pagesize, "--pagesize"));
  // A command-line value, refused like mkbootimg's argparse choices do (a
  // usage error, as for every other bad option value).
  if (!is_valid_page_size(l.page_size))
    return Error("--pagesize " + std::to_string(l.page_size) +
                     " is not one of 2048, 4096, 8192, 16384",
                 ErrorKind::Usage);
  l.base = TRY(parse_mkbootimg_int(o.base, "--base"));
  l.kernel_offset = TRY(parse_mkbootimg_int(o.kernel_offset, "--kernel_offset"));
  l.ramdisk_offset = TRY(parse_mkbootimg_int(o.ramdisk_offset, "--ramdisk_offset"));
  l.second_offset = TRY(parse_mkbootimg_int(o.second_offset, "--second_offset"));
  l.tags_offset = TRY(parse_mkbootimg_int(o.tags_offset, "--tags_offset"));
  l.dtb_offset = TRY(parse_mkbootimg_int(o.dtb_offset, "--dtb_offset"));
  if (o.os_version)
    l.os_version = TRY(parse_os_version(*o.os_version));
  if (o.os_patch_level)
    l.os_patch_level = TRY(parse_os_patch_level(*o.os_patch_level));
  if (o.cmdline_split != "aosp" && o.cmdline_split != "legacy512")
    return Error("--cmdline-split must be aosp or legacy512", ErrorKind::Usage);
  if (o.id_recipe != "aosp" && o.id_recipe != "lineage")
    return Error("--id-recipe must be aosp or lineage", ErrorKind::Usage);
  l.cmdline_split = o.cmdline_split == "aosp" ? CmdlineSplit::Aosp : CmdlineSplit::Legacy512;
  l.id_recipe = o.id_recipe == "aosp" ? IdRecipe::Aosp : IdRecipe::LineageDtSlot;
  return l;
}

Result<void> check_pack_quirks(const PackOptions& o, std::uint32_t header_version) {
  if ((o.seandroidenforce || o.dtb_in_second || o.dt) && !o.output)
    return Error("--seandroidenforce, --dtb-in-second and --dt shape the boot image; give -o/--output",
                 ErrorKind::Usage);
  if (!o.dtb_in_second)
    return ok();
  if (!o.dtb)
    return Error("--dtb-in-second needs --dtb FILE (the DTB to load as the second stage)",
                 ErrorKind::Usage);
  if (o.second)
    return Error("--dtb-in-second puts the DTB where --second goes; give one of them",
                 ErrorKind::Usage);
  if (header_version >= 3)
    return Error("--dtb-in-second: header v" + std::to_string(header_version) +
                     " has no second-stage section; use header v0-v2",
                 ErrorKind::Usage);
  return ok();
}

BootDtbPlacement boot_dtb_placement(bool dtb_in_second, std::uint32_t header_version,
                                    bool with_vendor_boot) {
  if (dtb_in_second)
    // Samsung-style bootloaders load the DTB from the second-stage slot; a
    // v2 header still needs its dtb section, so it gets the same DTB.
    return header_version == 2 ? BootDtbPlacement::SecondAndDtb : BootDtbPlacement::Second;
  // For v3/v4 the DTB belongs to vendor_boot only.
  if (header_version < 3 || !with_vendor_boot)
    return BootDtbPlacement::Dtb;
  return BootDtbPlacement::None;
}

std::vector<std::string> depfile_inputs(std::vector<std::string> paths) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

std::string pack_id_line(ByteSpan id, bool print_id, std::uint32_t header_version) {
  if (!print_id || header_version >= 3)
    return "";
  return "0x" + to_hex(id) + "\n";
}

namespace {

// The input files of one pack run: mapped once, kept alive while the outputs
// are written (their bytes are spans into the mappings), and remembered for
// the depfile.
class PackInputs {
public:
  PackInputs() { m_maps.reserve(16); }

  Result<std::optional<ByteSpan>> load(const std::optional<std::string>& path) {
    if (!path)
      return std::optional<ByteSpan>{};
    // Inputs reach the output by copy_file_range and the id hash by pread:
    // nothing walks the mapping, so mapping every page up front is waste.
    m_maps.push_back(TRY(MappedFile::open(*path, Prefault::No)));
    m_paths.push_back(*path);
    return std::optional<ByteSpan>(m_maps.back().bytes());
  }
  Result<ByteSpan> load_or_empty(const std::optional<std::string>& path) {
    return TRY(load(path)).value_or(ByteSpan{});
  }

  const std::vector<MappedFile>& maps() const { return m_maps; }
  const std::vector<std::string>& paths() const { return m_paths; }

private:
  std::vector<MappedFile> m_maps;
  std::vector<std::string> m_paths;
};

// One --vendor_ramdisk_fragment group as the writer takes it.
Result<VendorRamdisk> fragment_ramdisk(const FragmentSpec& f, PackInputs& inputs) {
  VendorRamdisk r;
  r.data = *TRY(inputs.load(f.path));
  r.type = TRY(ramdisk_type(f.type));
  r.name = f.name;
  for (std::size_t i = 0; i < kBoardIdWords; ++i)
    if (!f.board_id[i].empty())
      r.board_id[i] = TRY(u32_option(f.board_id[i], "--board_id" + std::to_string(i)));
  return r;
}

Result<void> pack_vendor_boot(const PackOptions& o, const PackLayout& l, PackInputs& inputs) {
  VendorBootArgs v;
  v.header_version = l.header_version;
  v.page_size = l.page_size;
  v.base = l.base;
  v.kernel_offset = l.kernel_offset;
  v.ramdisk_offset = l.ramdisk_offset;
  v.tags_offset = l.tags_offset;
  v.dtb_offset = l.dtb_offset;
  v.board = o.board;
  v.vendor_cmdline = o.vendor_cmdline;
  if (auto r = TRY(inputs.load(o.vendor_ramdisk)))
    v.ramdisks.push_back(VendorRamdisk{*r, 0, "", {}});
  for (const auto& f : o.fragments) {
    VendorRamdisk r = TRY(fragment_ramdisk(f, inputs));
    for (const auto& existing : v.ramdisks)
      if (existing.name == r.name)
        return Error("duplicate vendor ramdisk name \"" + r.name + "\"", ErrorKind::Usage);
    v.ramdisks.push_back(r);
  }
  if (l.header_version == 3 && v.ramdisks.empty())
    return Error("vendor_boot v3 needs --vendor_ramdisk", ErrorKind::Usage);
  v.dtb = TRY(inputs.load_or_empty(o.dtb));
  v.bootconfig = TRY(inputs.load(o.vendor_bootconfig));
  auto out = TRY(AtomicFile::create(*o.vendor_boot));
  TRY_CTX(write_vendor_boot_image(v, [&](ByteSpan d) { return out.write(d); }), *o.vendor_boot);
  return out.commit();
}

// The boot image's header fields and inputs (files are mapped in the order
// mkbootimg reads them, so a missing one is reported first as before).
Result<BootImageArgs> boot_image_args(const PackOptions& o, const PackLayout& l,
                                      PackInputs& inputs) {
  BootImageArgs a;
  a.header_version = l.header_version;
  a.page_size = l.page_size;
  a.base = l.base;
  a.kernel_offset = l.kernel_offset;
  a.ramdisk_offset = l.ramdisk_offset;
  a.second_offset = l.second_offset;
  a.tags_offset = l.tags_offset;
  a.dtb_offset = l.dtb_offset;
  a.os_version = l.os_version;
  a.os_patch_level = l.os_patch_level;
  a.board = o.board;
  a.cmdline = o.cmdline;
  a.cmdline_split = l.cmdline_split;
  a.id_recipe = l.id_recipe;
  if (!o.kernel)
    return Error("--kernel is required to create a boot image", ErrorKind::Usage);
  a.kernel = *TRY(inputs.load(o.kernel));
  a.ramdisk = TRY(inputs.load_or_empty(o.ramdisk));
  a.second = TRY(inputs.load_or_empty(o.second));
  a.dt = TRY(inputs.load_or_empty(o.dt));
  a.footer = o.seandroidenforce ? Footer::SeandroidEnforce : Footer::None;
  switch (boot_dtb_placement(o.dtb_in_second, l.header_version, o.vendor_boot.has_value())) {
  case BootDtbPlacement::Second:
    a.second = *TRY(inputs.load(o.dtb));
    break;
  case BootDtbPlacement::SecondAndDtb:
    a.second = *TRY(inputs.load(o.dtb));
    a.dtb = a.second;
    break;
  case BootDtbPlacement::Dtb:
    a.dtb = TRY(inputs.load_or_empty(o.dtb));
    break;
  case BootDtbPlacement::None:
    break;
  }
  a.recovery_dtbo = TRY(inputs.load(o.recovery_dtbo));
  return a;
}

// Writes the boot image; returns its id field (empty for v3/v4).
Result<Bytes> pack_boot(const PackOptions& o, const PackLayout& l, PackInputs& inputs) {
  const BootImageArgs a = TRY(boot_image_args(o, l, inputs));
  const std::string& path = *o.output;
  const auto& maps = inputs.maps();
  auto out = TRY(AtomicFile::create(path));
  const Bytes id = TRY_CTX(
      write_boot_image_overlapped(
          a, [&](ByteSpan d) { return append_from_sources(out.fd(), d, maps, path); },
          [&](std::uint64_t offset, ByteSpan d) { return pwrite_all(out.fd(), offset, d, path); },
          [&](ByteSpan d, const std::function<void(ByteSpan)>& consume) {
            return read_from_sources(d, maps, consume);
          }),
      path);
  TRY(out.commit());
  return id;
}

} // namespace

Result<std::string> run_pack(const PackOptions& o) {
  if (!o.output && !o.vendor_boot)
    return Error(
        "nothing to do: give -o/--output for a boot image and/or --vendor_boot for vendor_boot",
        ErrorKind::Usage);
  const PackLayout layout = TRY(parse_pack_layout(o));
  TRY(check_pack_quirks(o, layout.header_version));
  PackInputs inputs;
  if (o.vendor_boot)
    TRY(pack_vendor_boot(o, layout, inputs));
  std::string id_line;
  if (o.output) {
    const Bytes id = TRY(pack_boot(o, layout, inputs));
    id_line = pack_id_line(id, o.print_id, layout.header_version);
  }
  if (o.depfile)
    TRY(write_depfile(*o.depfile, o.output ? *o.output : *o.vendor_boot,
                      depfile_inputs(inputs.paths())));
  return id_line;
}

namespace {
Result<std::pair<MappedFile, ParsedImage>> open_and_parse(const std::string& image) {
  auto map = TRY(MappedFile::open(image));
  auto parsed = TRY_CTX(parse_image(map.bytes()), image);
  return std::make_pair(std::move(map), std::move(parsed));
}
} // namespace

Result<std::string> run_info(const std::string& image, bool json) {
  auto [map, parsed] = TRY(open_and_parse(image));
  return json ? format_info_json(parsed) : format_info_text(parsed);
}

Result<std::vector<std::string>> run_unpack(const std::string& image, const std::string& out_dir) {
  auto [map, parsed] = TRY(open_and_parse(image));
  return unpack_image(map.bytes(), parsed, out_dir);
}

Result<std::string> run_analyze(const std::string& image, OutputFormat format) {
  auto [map, parsed] = TRY(open_and_parse(image));
  return format == OutputFormat::Json ? analyze_to_devpro_json(map.bytes(), parsed)
                                      : analyze_to_devpro_yaml(map.bytes(), parsed);
}

} // namespace fastboop::bootimg
