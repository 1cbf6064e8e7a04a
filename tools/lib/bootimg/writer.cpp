#include "bootimg/bootimg.hpp"
#include "common/text.hpp"

#include "common/hash.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <thread>

namespace fastboop::bootimg {

namespace {

constexpr std::string_view kBootMagic = "ANDROID!";
constexpr std::string_view kVendorMagic = "VNDRBOOT";

std::uint64_t pages(std::uint64_t size, std::uint64_t page) { return (size + page - 1) / page; }

Result<std::uint32_t> address32(std::string_view field, std::uint64_t base, std::uint64_t offset) {
  if (offset > std::numeric_limits<std::uint64_t>::max() - base ||
      base + offset > std::numeric_limits<std::uint32_t>::max())
    return Error(std::string(field) + ": base " + format_hex(base, 1) + " + offset " + format_hex(offset, 1) +
                 " does not fit the 32-bit header field; lower --base or the offset");
  return static_cast<std::uint32_t>(base + offset);
}

Result<std::uint64_t> address64(std::string_view field, std::uint64_t base, std::uint64_t offset) {
  if (offset > std::numeric_limits<std::uint64_t>::max() - base)
    return Error(std::string(field) + ": base " + format_hex(base, 1) + " + offset " + format_hex(offset, 1) +
                 " overflows 64 bits");
  return base + offset;
}

Result<std::uint32_t> size32(std::string_view what, std::size_t size) {
  if (size > std::numeric_limits<std::uint32_t>::max())
    return Error(std::string(what) + " is " + std::to_string(size) +
                 " bytes; a boot image section holds at most 4294967295");
  return static_cast<std::uint32_t>(size);
}

Result<void> check_text(std::string_view what, std::string_view text, std::size_t max_len) {
  if (text.find('\0') != std::string_view::npos)
    return Error(std::string(what) + " contains a NUL byte, which would cut it short");
  if (text.size() > max_len)
    return Error(std::string(what) + " is " + std::to_string(text.size()) + " bytes; the header holds at most " +
                 std::to_string(max_len) + " (plus its terminating NUL)");
  return ok();
}

void put_text(std::uint8_t* field, std::string_view text) {
  std::memcpy(field, text.data(), text.size());
}

// v0-v2: cmdline[512] at 64, id at 576, extra_cmdline[1024] at 608; the
// fields must be zero.
void put_v0_cmdline(std::uint8_t* h, std::string_view cmd, CmdlineSplit split) {
  const std::size_t first = split == CmdlineSplit::Aosp ? kBootArgsSize - 1 : kBootArgsSize;
  put_text(&h[64], cmd.substr(0, std::min(first, cmd.size())));
  if (cmd.size() > first)
    put_text(&h[608], cmd.substr(first));
}

Result<void> write_padded(const Sink& sink, ByteSpan data, std::uint64_t page) {
  if (data.empty())
    return ok();
  TRY(sink(data));
  std::uint64_t pad = (page - data.size() % page) % page;
  static const std::array<std::uint8_t, 16384> zeros{};
  while (pad > 0) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(pad, zeros.size()));
    TRY(sink(ByteSpan(zeros.data(), n)));
    pad -= n;
  }
  return ok();
}

Result<void> hash_slot(Hasher& h, ByteSpan data, const SectionReader& read) {
  TRY(read(data, [&h](ByteSpan piece) { h.update(piece); }));
  std::uint8_t le[4];
  store_le<std::uint32_t>(le, static_cast<std::uint32_t>(data.size()));
  h.update(ByteSpan(le, 4));
  return ok();
}

Result<void> validate_boot_args(const BootImageArgs& a) {
  if (a.header_version > 4)
    return Error("header version " + std::to_string(a.header_version) +
                     " is not supported; use 0, 1 or 2 (legacy bootloaders) or 3/4 (GKI)",
                 ErrorKind::Unsupported);
  if (a.kernel.empty())
    return Error("a kernel is required (--kernel)", ErrorKind::Usage);
  TRY(check_text("--board", a.board, kBootNameSize - 1));
  if (a.header_version >= 3) {
    if (!a.second.empty())
      return Error("header v" + std::to_string(a.header_version) +
                   " has no second-stage section; drop --second or use header v0-v2");
    if (a.recovery_dtbo)
      return Error("header v" + std::to_string(a.header_version) +
                   " has no recovery_dtbo section; drop --recovery_dtbo or use header v1/v2");
    if (!a.dtb.empty())
      return Error("header v" + std::to_string(a.header_version) +
                   " boot images carry no DTB (it lives in vendor_boot); pass --dtb with --vendor_boot");
    if (!a.dt.empty())
      return Error("header v" + std::to_string(a.header_version) +
                   " has no QCDT dt section; --dt needs header v0");
    TRY(check_text("--cmdline", a.cmdline, kV3ArgsSize - 1));
    return ok();
  }
  if (!is_valid_page_size(a.page_size))
    return Error("page size " + std::to_string(a.page_size) +
                 " is invalid; mkbootimg accepts 2048, 4096, 8192 or 16384");
  if (a.header_version < 2 && !a.dtb.empty())
    return Error("header v" + std::to_string(a.header_version) +
                 " has no DTB section; append the DTB to the kernel (cat kernel dtb) or use header v2");
  if (a.header_version == 0 && a.recovery_dtbo)
    return Error("header v0 has no recovery_dtbo section; use header v1 or v2");
  if (!a.dt.empty()) {
    // The parser (and LK) tell dt_size from a header version by its value and
    // the QCDT magic, so anything else would not read back as this layout.
    if (a.header_version != 0)
      return Error("--dt (QCDT table) needs header v0: its size takes the word where v1+ keep header_version; "
                   "drop --header_version " + std::to_string(a.header_version));
    if (a.dt.size() <= 4 || std::memcmp(a.dt.data(), "QCDT", 4) != 0)
      return Error("--dt: the file does not start with the QCDT magic (dtbTool output); for a plain DTB use "
                   "an appended DTB, --dtb-in-second or header v2 --dtb");
  }
  if (a.header_version == 2 && a.dtb.empty())
    return Error("header v2 requires a non-empty DTB (--dtb); bootloaders reject dtb_size 0");
  TRY(address32("kernel address", a.base, a.kernel_offset));
  TRY(address32("tags address", a.base, a.tags_offset));
  if (!a.ramdisk.empty())
    TRY(address32("ramdisk address", a.base, a.ramdisk_offset));
  if (!a.second.empty())
    TRY(address32("second address", a.base, a.second_offset));
  if (a.header_version == 2)
    TRY(address64("dtb address", a.base, a.dtb_offset));
  if (a.cmdline_split == CmdlineSplit::Aosp)
    TRY(check_text("--cmdline", a.cmdline, kBootArgsSize - 1 + kBootExtraArgsSize - 1));
  else
    TRY(check_text("--cmdline", a.cmdline, kBootArgsSize + kBootExtraArgsSize));
  return ok();
}

} // namespace

bool is_valid_page_size(std::uint64_t page_size) {
  return page_size == 2048 || page_size == 4096 || page_size == 8192 || page_size == 16384;
}

namespace {

// Fills `id` rather than returning Result<Bytes>: destroying that inside the
// hashing thread's lambda trips a false GCC 12 -Wfree-nonheap-object at -O2.
Result<void> hash_boot_id(const BootImageArgs& a, const SectionReader& read, Bytes& id) {
  Hasher h(HashAlgorithm::Sha1);
  TRY(hash_slot(h, a.kernel, read));
  TRY(hash_slot(h, a.ramdisk, read));
  TRY(hash_slot(h, a.second, read));
  if (a.id_recipe == IdRecipe::LineageDtSlot)
    TRY(hash_slot(h, a.dt, read));
  if (a.header_version > 0)
    TRY(hash_slot(h, a.recovery_dtbo.value_or(ByteSpan{}), read));
  if (a.header_version > 1)
    TRY(hash_slot(h, a.dtb, read));
  id = h.finish();
  id.resize(32, 0);
  return ok();
}

} // namespace

Bytes compute_boot_id(const BootImageArgs& a) {
  Bytes id;
  // Reading memory cannot fail.
  (void)hash_boot_id(
      a,
      [](ByteSpan section, const std::function<void(ByteSpan)>& consume) -> Result<void> {
        consume(section);
        return ok();
      },
      id);
  return id;
}

std::uint64_t boot_image_layout_size(std::uint32_t header_version, std::uint64_t page_size, const SectionSizes& s,
                                     Footer footer) {
  const std::uint64_t page = header_version >= 3 ? kV3PageSize : page_size;
  std::uint64_t n = 1 + pages(s.kernel, page) + pages(s.ramdisk, page);
  if (header_version < 3) {
    n += pages(s.second, page) + pages(s.dt, page);
    if (header_version >= 1 && s.recovery_dtbo)
      n += pages(*s.recovery_dtbo, page);
    if (header_version == 2)
      n += pages(s.dtb, page);
  }
  return n * page + (footer == Footer::SeandroidEnforce ? kSeandroidEnforce.size() : 0);
}

Result<std::uint64_t> boot_image_size(const BootImageArgs& a) {
  TRY(validate_boot_args(a));
  SectionSizes s{a.kernel.size(), a.ramdisk.size(), a.second.size(), a.dt.size(), a.dtb.size(), std::nullopt};
  if (a.recovery_dtbo)
    s.recovery_dtbo = a.recovery_dtbo->size();
  return boot_image_layout_size(a.header_version, a.page_size, s, a.footer);
}

namespace {

// v3/v4: a fixed 4096-byte page and no id, so nothing to patch afterwards.
Result<Bytes> write_v3_image(const BootImageArgs& a, const Sink& sink, std::uint32_t kernel_size,
                             std::uint32_t ramdisk_size, std::uint32_t os_field) {
  Bytes h(kV3PageSize, 0);
  put_text(&h[0], kBootMagic);
  store_le<std::uint32_t>(&h[8], kernel_size);
  store_le<std::uint32_t>(&h[12], ramdisk_size);
  store_le<std::uint32_t>(&h[16], os_field);
  store_le<std::uint32_t>(&h[20], a.header_version == 3 ? kHeaderSizeV3 : kHeaderSizeV4);
  store_le<std::uint32_t>(&h[40], a.header_version);
  put_text(&h[44], a.cmdline);
  if (a.header_version == 4)
    store_le<std::uint32_t>(&h[1580], 0); // signature_size: GKI signing is not supported
  TRY(sink(h));
  TRY(write_padded(sink, a.kernel, kV3PageSize));
  TRY(write_padded(sink, a.ramdisk, kV3PageSize));
  if (a.footer == Footer::SeandroidEnforce)
    TRY(sink(as_bytes(kSeandroidEnforce)));
  return Bytes{};
}

// The v0-v2 header page with every field but the id, which the caller fills.
Result<Bytes> v0_header(const BootImageArgs& a, std::uint32_t kernel_size,
                        std::uint32_t ramdisk_size, std::uint32_t second_size,
                        std::uint32_t os_field) {
  const std::uint64_t page = a.page_size;
  std::uint32_t kernel_addr = TRY(address32("kernel address", a.base, a.kernel_offset));
  std::uint32_t ramdisk_addr = 0, second_addr = 0;
  if (ramdisk_size > 0)
    ramdisk_addr = TRY(address32("ramdisk address", a.base, a.ramdisk_offset));
  if (second_size > 0)
    second_addr = TRY(address32("second address", a.base, a.second_offset));
  std::uint32_t tags_addr = TRY(address32("tags address", a.base, a.tags_offset));

  Bytes h(page, 0);
  put_text(&h[0], kBootMagic);
  store_le<std::uint32_t>(&h[8], kernel_size);
  store_le<std::uint32_t>(&h[12], kernel_addr);
  store_le<std::uint32_t>(&h[16], ramdisk_size);
  store_le<std::uint32_t>(&h[20], ramdisk_addr);
  store_le<std::uint32_t>(&h[24], second_size);
  store_le<std::uint32_t>(&h[28], second_addr);
  store_le<std::uint32_t>(&h[32], tags_addr);
  store_le<std::uint32_t>(&h[36], a.page_size);
  // A v0 image with a QCDT table keeps dt_size where v1+ keep the version.
  if (a.dt.empty())
    store_le<std::uint32_t>(&h[40], a.header_version);
  else
    store_le<std::uint32_t>(&h[40], TRY(size32("dt", a.dt.size())));
  store_le<std::uint32_t>(&h[44], os_field);
  put_text(&h[48], a.board);
  put_v0_cmdline(h.data(), a.cmdline, a.cmdline_split);
  if (a.header_version >= 1) {
    if (a.recovery_dtbo) {
      std::uint32_t dtbo_size = TRY(size32("recovery_dtbo", a.recovery_dtbo->size()));
      store_le<std::uint32_t>(&h[1632], dtbo_size);
      std::uint64_t off = page * (1 + pages(kernel_size, page) + pages(ramdisk_size, page) +
                                  pages(second_size, page));
      store_le<std::uint64_t>(&h[1636], off);
    }
    store_le<std::uint32_t>(&h[1644], a.header_version == 1 ? kHeaderSizeV1 : kHeaderSizeV2);
  }
  if (a.header_version == 2) {
    std::uint32_t dtb_size = TRY(size32("dtb", a.dtb.size()));
    std::uint64_t dtb_addr = TRY(address64("dtb address", a.base, a.dtb_offset));
    store_le<std::uint32_t>(&h[1648], dtb_size);
    store_le<std::uint64_t>(&h[1652], dtb_addr);
  }
  return h;
}

Result<void> write_v0_sections(const BootImageArgs& a, const Sink& sink) {
  const std::uint64_t page = a.page_size;
  TRY(write_padded(sink, a.kernel, page));
  TRY(write_padded(sink, a.ramdisk, page));
  TRY(write_padded(sink, a.second, page));
  TRY(write_padded(sink, a.dt, page));
  if (a.header_version >= 1 && a.recovery_dtbo)
    TRY(write_padded(sink, *a.recovery_dtbo, page));
  if (a.header_version == 2)
    TRY(write_padded(sink, a.dtb, page));
  if (a.footer == Footer::SeandroidEnforce)
    TRY(sink(as_bytes(kSeandroidEnforce)));
  return ok();
}

Result<Bytes> write_boot_image_impl(const BootImageArgs& a, const Sink& sink, const Patcher* patch,
                                    const SectionReader* read) {
  TRY(validate_boot_args(a));
  std::uint32_t kernel_size = TRY(size32("kernel", a.kernel.size()));
  std::uint32_t ramdisk_size = TRY(size32("ramdisk", a.ramdisk.size()));
  std::uint32_t os_field = (a.os_version << 11) | a.os_patch_level;
  if (a.header_version >= 3)
    return write_v3_image(a, sink, kernel_size, ramdisk_size, os_field);

  std::uint32_t second_size = TRY(size32("second", a.second.size()));
  Bytes h = TRY(v0_header(a, kernel_size, ramdisk_size, second_size, os_field));
  // With a patcher the id is hashed on a second thread while the sections
  // stream out, then written into the header in place.
  // jthread joins on every return path; `hashed` outlives it.
  std::optional<Result<void>> hashed;
  std::jthread id_thread;
  Bytes id;
  if (patch) {
    id_thread =
        std::jthread([&hashed, &a, read, &id] { hashed.emplace(hash_boot_id(a, *read, id)); });
  } else {
    id = compute_boot_id(a);
    std::memcpy(&h[576], id.data(), id.size());
  }
  TRY(sink(h));
  TRY(write_v0_sections(a, sink));
  if (patch) {
    id_thread.join();
    TRY_CTX(std::move(*hashed), "computing the image id");
    TRY((*patch)(576, id));
  }
  return id;
}

} // namespace

Result<void> write_boot_image(const BootImageArgs& a, const Sink& sink) {
  TRY(write_boot_image_impl(a, sink, nullptr, nullptr));
  return ok();
}

Result<Bytes> write_boot_image_overlapped(const BootImageArgs& a, const Sink& sink, const Patcher& patch,
                                          const SectionReader& read) {
  return write_boot_image_impl(a, sink, &patch, &read);
}

Result<Bytes> build_boot_image(const BootImageArgs& args) {
  Bytes out;
  out.reserve(static_cast<std::size_t>(TRY(boot_image_size(args))));
  TRY(write_boot_image(args, [&](ByteSpan d) -> Result<void> {
    append(out, d);
    return ok();
  }));
  return out;
}

Result<void> write_vendor_boot_image(const VendorBootArgs& a, const Sink& sink) {
  if (a.header_version != 3 && a.header_version != 4)
    return Error("vendor_boot needs header version 3 or 4, got " + std::to_string(a.header_version),
                 ErrorKind::Unsupported);
  if (!is_valid_page_size(a.page_size))
    return Error("vendor_boot page size " + std::to_string(a.page_size) +
                 " is invalid; use 2048, 4096, 8192 or 16384");
  if (a.dtb.empty())
    return Error("vendor_boot requires a non-empty DTB (--dtb)");
  if (a.header_version == 3 && a.ramdisks.size() > 1)
    return Error("vendor_boot v3 holds one vendor ramdisk; ramdisk fragments need header v4");
  if (a.header_version == 3 && a.bootconfig)
    return Error("vendor_boot v3 has no bootconfig section; use header v4");
  TRY(check_text("--board", a.board, kBootNameSize - 1));
  TRY(check_text("--vendor_cmdline", a.vendor_cmdline, kVendorArgsSize - 1));
  std::uint64_t total = 0;
  for (const auto& r : a.ramdisks) {
    TRY(check_text("--ramdisk_name", r.name, kVendorRamdiskNameSize - 1));
    total += r.data.size();
  }
  std::uint32_t ramdisk_total = TRY(size32("vendor ramdisks", total));
  std::uint32_t dtb_size = TRY(size32("dtb", a.dtb.size()));
  std::uint32_t kernel_addr = TRY(address32("kernel address", a.base, a.kernel_offset));
  std::uint32_t ramdisk_addr = TRY(address32("ramdisk address", a.base, a.ramdisk_offset));
  std::uint32_t tags_addr = TRY(address32("tags address", a.base, a.tags_offset));
  std::uint64_t dtb_addr = TRY(address64("dtb address", a.base, a.dtb_offset));
  const std::uint64_t page = a.page_size;

  const std::uint32_t header_size = a.header_version == 3 ? kVendorHeaderSizeV3 : kVendorHeaderSizeV4;
  Bytes h(static_cast<std::size_t>(align_up(header_size, page)), 0);
  put_text(&h[0], kVendorMagic);
  store_le<std::uint32_t>(&h[8], a.header_version);
  store_le<std::uint32_t>(&h[12], a.page_size);
  store_le<std::uint32_t>(&h[16], kernel_addr);
  store_le<std::uint32_t>(&h[20], ramdisk_addr);
  store_le<std::uint32_t>(&h[24], ramdisk_total);
  put_text(&h[28], a.vendor_cmdline);
  store_le<std::uint32_t>(&h[2076], tags_addr);
  put_text(&h[2080], a.board);
  store_le<std::uint32_t>(&h[2096], header_size);
  store_le<std::uint32_t>(&h[2100], dtb_size);
  store_le<std::uint64_t>(&h[2104], dtb_addr);
  Bytes table;
  if (a.header_version == 4) {
    std::uint32_t bootconfig_size = TRY(size32("bootconfig", a.bootconfig.value_or(ByteSpan{}).size()));
    std::uint32_t n = static_cast<std::uint32_t>(a.ramdisks.size());
    store_le<std::uint32_t>(&h[2112], n * kVendorRamdiskEntrySize);
    store_le<std::uint32_t>(&h[2116], n);
    store_le<std::uint32_t>(&h[2120], kVendorRamdiskEntrySize);
    store_le<std::uint32_t>(&h[2124], bootconfig_size);
    std::uint32_t offset = 0;
    for (const auto& r : a.ramdisks) {
      std::uint8_t e[kVendorRamdiskEntrySize] = {};
      store_le<std::uint32_t>(&e[0], static_cast<std::uint32_t>(r.data.size()));
      store_le<std::uint32_t>(&e[4], offset);
      store_le<std::uint32_t>(&e[8], r.type);
      put_text(&e[12], r.name);
      for (std::size_t i = 0; i < kBoardIdWords; ++i)
        store_le<std::uint32_t>(&e[44 + 4 * i], r.board_id[i]);
      table.insert(table.end(), e, e + sizeof e);
      offset += static_cast<std::uint32_t>(r.data.size());
    }
  }
  TRY(sink(h));
  // The ramdisks are concatenated and padded as one section.
  for (const auto& r : a.ramdisks)
    if (!r.data.empty())
      TRY(sink(r.data));
  if (std::uint64_t pad = (page - total % page) % page) {
    Bytes zeros(static_cast<std::size_t>(pad), 0);
    TRY(sink(zeros));
  }
  TRY(write_padded(sink, a.dtb, page));
  if (a.header_version == 4) {
    TRY(write_padded(sink, table, page));
    if (a.bootconfig)
      TRY(write_padded(sink, *a.bootconfig, page));
  }
  return ok();
}

Result<Bytes> build_vendor_boot_image(const VendorBootArgs& args) {
  Bytes out;
  TRY(write_vendor_boot_image(args, [&](ByteSpan d) -> Result<void> {
    append(out, d);
    return ok();
  }));
  return out;
}

namespace {
Result<std::uint32_t> parse_decimal(std::string_view s, std::string_view what) {
  std::uint32_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty())
    return Error(std::string(what));
  return v;
}
std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos)
      break;
    start = p + 1;
  }
  return out;
}
} // namespace

Result<std::uint32_t> parse_os_version(std::string_view text) {
  const std::string err = "--os_version '" + std::string(text) +
                          "' is not A[.B[.C]] with each part 0..127 (e.g. 13.0.0)";
  auto parts = split(text, '.');
  if (parts.size() > 3)
    return Error(err, ErrorKind::Usage);
  std::uint32_t v[3] = {0, 0, 0};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].size() > 3)
      return Error(err, ErrorKind::Usage);
    auto r = parse_decimal(parts[i], err);
    if (!r || *r >= 128)
      return Error(err, ErrorKind::Usage);
    v[i] = *r;
  }
  return (v[0] << 14) | (v[1] << 7) | v[2];
}

Result<std::uint32_t> parse_os_patch_level(std::string_view text) {
  const std::string err = "--os_patch_level '" + std::string(text) +
                          "' is not YYYY-MM[-DD] with 2000 <= YYYY < 2128 and MM 01..12 (e.g. 2024-12)";
  auto parts = split(text, '-');
  if (parts.size() < 2 || parts.size() > 3 || parts[0].size() != 4 || parts[1].size() != 2 ||
      (parts.size() == 3 && parts[2].size() != 2))
    return Error(err, ErrorKind::Usage);
  auto y = parse_decimal(parts[0], err);
  auto m = parse_decimal(parts[1], err);
  if (!y || !m || *y < 2000 || *y >= 2128 || *m < 1 || *m > 12)
    return Error(err, ErrorKind::Usage);
  if (parts.size() == 3 && !parse_decimal(parts[2], err))
    return Error(err, ErrorKind::Usage);
  return ((*y - 2000) << 4) | *m;
}

std::string format_os_version(std::uint32_t v) {
  return std::to_string(v >> 14) + "." + std::to_string((v >> 7) & 0x7f) + "." + std::to_string(v & 0x7f);
}

std::string format_os_patch_level(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04u-%02u", (v >> 4) + 2000, v & 0xf);
  return buf;
}

Result<void> append_boot_cmdline(Bytes& image, std::string_view tokens) {
  const ParsedImage parsed = TRY(parse_image(image));
  if (parsed.kind != ImageKind::Boot)
    return Error("a vendor_boot image has no kernel command line of its own to append to");
  std::string cmdline = parsed.cmdline;
  if (!tokens.empty())
    cmdline += (cmdline.empty() ? "" : " ") + std::string(tokens);
  if (parsed.header_version >= 3) {
    TRY(check_text("the kernel command line", cmdline, kV3ArgsSize - 1));
    std::fill_n(&image[44], kV3ArgsSize, 0);
    put_text(&image[44], cmdline);
    return ok();
  }
  // Split as the image was written, so an image keeps its bootloader's layout.
  const CmdlineSplit split =
      parsed.cmdline_legacy_split ? CmdlineSplit::Legacy512 : CmdlineSplit::Aosp;
  TRY(check_text("the kernel command line", cmdline,
                 split == CmdlineSplit::Aosp ? kBootArgsSize - 1 + kBootExtraArgsSize - 1
                                             : kBootArgsSize + kBootExtraArgsSize));
  std::fill_n(&image[64], kBootArgsSize, 0);
  std::fill_n(&image[608], kBootExtraArgsSize, 0);
  put_v0_cmdline(image.data(), cmdline, split);
  return ok();
}

} // namespace fastboop::bootimg
