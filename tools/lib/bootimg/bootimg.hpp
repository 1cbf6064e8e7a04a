// Android boot image (header v0-v4) and vendor_boot (v3/v4) writer and
// parser. The writer reproduces AOSP mkbootimg byte for byte for the same
// arguments (SHA-1 id, os_version encoding, zero page padding, 511+NUL
// cmdline split); the parser validates instead of guessing.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::bootimg {

inline constexpr std::size_t kBootNameSize = 16;
inline constexpr std::size_t kBootArgsSize = 512;
inline constexpr std::size_t kBootExtraArgsSize = 1024;
inline constexpr std::size_t kV3ArgsSize = 1536;
inline constexpr std::size_t kVendorArgsSize = 2048;
inline constexpr std::size_t kVendorRamdiskNameSize = 32;
inline constexpr std::size_t kBoardIdWords = 16;
inline constexpr std::uint32_t kV3PageSize = 4096;
inline constexpr std::uint32_t kHeaderSizeV0 = 1632;
inline constexpr std::uint32_t kHeaderSizeV1 = 1648;
inline constexpr std::uint32_t kHeaderSizeV2 = 1660;
inline constexpr std::uint32_t kHeaderSizeV3 = 1580;
inline constexpr std::uint32_t kHeaderSizeV4 = 1584;
inline constexpr std::uint32_t kVendorHeaderSizeV3 = 2112;
inline constexpr std::uint32_t kVendorHeaderSizeV4 = 2128;
inline constexpr std::uint32_t kVendorRamdiskEntrySize = 108;

// mkbootimg's defaults (base 0x10000000 and friends).
inline constexpr std::uint64_t kDefaultBase = 0x10000000;
inline constexpr std::uint64_t kDefaultKernelOffset = 0x00008000;
inline constexpr std::uint64_t kDefaultRamdiskOffset = 0x01000000;
inline constexpr std::uint64_t kDefaultSecondOffset = 0x00f00000;
inline constexpr std::uint64_t kDefaultTagsOffset = 0x00000100;
inline constexpr std::uint64_t kDefaultDtbOffset = 0x01f00000;

bool is_valid_page_size(std::uint64_t page_size);

// How a v0-v2 command line is split over cmdline[512] and extra_cmdline[1024].
enum class CmdlineSplit {
  Aosp,      // first 511 bytes + NUL, the rest + NUL (AOSP mkbootimg; at most 1534 bytes)
  Legacy512, // first 512 bytes (no NUL when full), the rest (Debian mkbootimg 29, upstream fastboop)
};

// Which inputs the SHA-1 `id` covers.
enum class IdRecipe {
  Aosp,         // kernel, ramdisk, second, [recovery_dtbo v1+], [dtb v2], each + le32(size)
  LineageDtSlot // as Aosp, plus a `dt` slot (the QCDT bytes + le32(size), or le32(0)) after second
                 // (LineageOS mkbootimg; osm0sis/CAF mkbootimg when a --dt is given)
};

// What follows the last section. Samsung bootloaders want the 16 ASCII bytes
// "SEANDROIDENFORCE" there or show a warning/refuse to boot (pmOS
// deviceinfo_bootimg_append_seandroidenforce).
enum class Footer { None, SeandroidEnforce };
inline constexpr std::string_view kSeandroidEnforce = "SEANDROIDENFORCE";

struct BootImageArgs {
  std::uint32_t header_version = 0;
  std::uint32_t page_size = 2048; // ignored for v3/v4 (fixed 4096)
  std::uint64_t base = kDefaultBase;
  std::uint64_t kernel_offset = kDefaultKernelOffset;
  std::uint64_t ramdisk_offset = kDefaultRamdiskOffset;
  std::uint64_t second_offset = kDefaultSecondOffset;
  std::uint64_t tags_offset = kDefaultTagsOffset;
  std::uint64_t dtb_offset = kDefaultDtbOffset;
  std::uint32_t os_version = 0;     // A<<14 | B<<7 | C
  std::uint32_t os_patch_level = 0; // (Y-2000)<<4 | M
  std::string board;
  std::string cmdline; // raw bytes, no NUL
  ByteSpan kernel;
  ByteSpan ramdisk;
  ByteSpan second;
  ByteSpan dtb;                          // v2 section
  std::optional<ByteSpan> recovery_dtbo; // v1/v2; given-but-empty still writes the offset
  // Legacy Qualcomm QCDT table (CAF/osm0sis `--dt`): v0 only; its size goes
  // into word 40 (where v1+ keep header_version) and it follows `second`.
  ByteSpan dt;
  Footer footer = Footer::None;
  CmdlineSplit cmdline_split = CmdlineSplit::Aosp;
  IdRecipe id_recipe = IdRecipe::Aosp;
};

struct VendorRamdisk {
  ByteSpan data;
  std::uint32_t type = 0; // 0 none, 1 platform, 2 recovery, 3 dlkm
  std::string name;
  std::array<std::uint32_t, kBoardIdWords> board_id{};
};

struct VendorBootArgs {
  std::uint32_t header_version = 3;
  std::uint32_t page_size = 2048;
  std::uint64_t base = kDefaultBase;
  std::uint64_t kernel_offset = kDefaultKernelOffset;
  std::uint64_t ramdisk_offset = kDefaultRamdiskOffset;
  std::uint64_t tags_offset = kDefaultTagsOffset;
  std::uint64_t dtb_offset = kDefaultDtbOffset;
  std::string board;
  std::string vendor_cmdline;
  std::vector<VendorRamdisk> ramdisks; // v3: at most one
  ByteSpan dtb;                        // required, non-empty
  std::optional<ByteSpan> bootconfig;  // v4
};

// Receives the image in order; the writer never buffers section payloads.
using Sink = std::function<Result<void>(ByteSpan)>;

Result<void> write_boot_image(const BootImageArgs& args, const Sink& sink);
Result<Bytes> build_boot_image(const BootImageArgs& args);
// Hands the bytes of one section (a span of the args) to `consume`, in pieces.
// The packer reads mapped input files with pread through it instead of
// touching the mapping (see MappedFile::read_through).
using SectionReader = std::function<Result<void>(ByteSpan section, const std::function<void(ByteSpan)>& consume)>;
// Same bytes as write_boot_image, for outputs that can seek: the SHA-1 id is
// computed on a second thread while the sections stream out, then written at
// offset 576 through `patch` (v0-v2; v3/v4 have no id). Returns the id field
// (empty for v3/v4).
using Patcher = std::function<Result<void>(std::uint64_t offset, ByteSpan data)>;
Result<Bytes> write_boot_image_overlapped(const BootImageArgs& args, const Sink& sink, const Patcher& patch,
                                          const SectionReader& read);
Result<void> write_vendor_boot_image(const VendorBootArgs& args, const Sink& sink);
Result<Bytes> build_vendor_boot_image(const VendorBootArgs& args);

// The 32-byte id field (20-byte SHA-1, zero padded) for v0-v2.
Bytes compute_boot_id(const BootImageArgs& args);
// Total image size the writer will produce.
Result<std::uint64_t> boot_image_size(const BootImageArgs& args);
// The same layout from section sizes alone (no bytes needed, nothing
// validated): header page, each section padded to the page, then the footer.
struct SectionSizes {
  std::uint64_t kernel = 0, ramdisk = 0, second = 0, dt = 0, dtb = 0;
  std::optional<std::uint64_t> recovery_dtbo;
};
std::uint64_t boot_image_layout_size(std::uint32_t header_version, std::uint64_t page_size, const SectionSizes& sizes,
                                     Footer footer);

// "A[.B[.C]]" -> A<<14|B<<7|C, each < 128; "YYYY-MM[-DD]" -> (Y-2000)<<4|M.
Result<std::uint32_t> parse_os_version(std::string_view text);
Result<std::uint32_t> parse_os_patch_level(std::string_view text);
std::string format_os_version(std::uint32_t os_version);         // "A.B.C"
std::string format_os_patch_level(std::uint32_t os_patch_level); // "YYYY-MM"

// Appends `tokens` to a boot image's (v0-v4) kernel command line in place:
// the header's cmdline fields are rewritten the way the image was split, and
// nothing else changes (the v0-v2 id does not cover the command line). For
// per-boot tokens (the host clock) on a cached image; too long is an error
// naming the sizes.
Result<void> append_boot_cmdline(Bytes& image, std::string_view tokens);

// --- Parsing -----------------------------------------------------------------

enum class ImageKind { Boot, VendorBoot };

struct Section {
  std::string name; // kernel, ramdisk, second, recovery_dtbo, dtb, dt, signature,
                    // vendor_ramdisk, vendor_ramdisk_table, bootconfig
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
};

struct VendorRamdiskEntry {
  std::uint32_t size = 0;
  std::uint32_t offset = 0; // within the vendor ramdisk section
  std::uint32_t type = 0;
  std::string name;
  std::array<std::uint32_t, kBoardIdWords> board_id{};
};

struct ParsedImage {
  ImageKind kind = ImageKind::Boot;
  std::uint32_t header_version = 0;
  std::uint32_t page_size = 0; // the effective one (4096 for boot v3/v4)
  std::uint32_t header_size = 0;
  std::uint32_t kernel_size = 0, kernel_addr = 0;
  std::uint32_t ramdisk_size = 0, ramdisk_addr = 0;
  std::uint32_t second_size = 0, second_addr = 0;
  std::uint32_t tags_addr = 0;
  std::uint32_t os_version = 0;     // decoded A<<14|B<<7|C
  std::uint32_t os_patch_level = 0; // decoded (Y-2000)<<4|M
  std::string board;
  Bytes cmdline_field;       // raw 512 (v0-v2), 1536 (v3/v4) or 2048 (vendor) bytes
  Bytes extra_cmdline_field; // raw 1024 bytes (v0-v2)
  std::string cmdline;       // what a bootloader hands the kernel: fields up to their NULs, joined
  Bytes id;                  // 32 bytes (v0-v2)
  std::uint32_t recovery_dtbo_size = 0;
  std::uint64_t recovery_dtbo_offset = 0;
  std::uint32_t dtb_size = 0;
  std::uint64_t dtb_addr = 0;
  std::uint32_t signature_size = 0; // boot v4
  std::uint32_t qcdt_size = 0;      // legacy Qualcomm: word 40 is dt_size, not a version
  // vendor_boot
  std::uint32_t vendor_ramdisk_size = 0;
  std::uint32_t vendor_ramdisk_table_size = 0;
  std::uint32_t vendor_ramdisk_table_entry_num = 0;
  std::uint32_t vendor_ramdisk_table_entry_size = 0;
  std::uint32_t bootconfig_size = 0;
  std::vector<VendorRamdiskEntry> vendor_ramdisks;

  std::vector<Section> sections; // in file order
  std::uint64_t image_end = 0;   // end of the last padded section
  std::uint64_t file_size = 0;
  bool seandroidenforce = false; // "SEANDROIDENFORCE" follows image_end
  std::optional<IdRecipe> id_recipe; // v0-v2: which recipe reproduces the id, if any
  bool cmdline_legacy_split = false; // v0-v2: cmdline[511] is not NUL
  std::vector<std::string> notes;    // non-fatal observations

  const Section* section(std::string_view name) const;
};

// Validates the header against the file: unknown versions, page sizes outside
// {2048, 4096, 8192, 16384}, sections past EOF, header_size mismatches and the
// vendor-signature-in-a-v0-header case.
// IdCheck::Skip leaves id_recipe unset: the recipe check hashes every
// section, which a caller that only needs the layout (the pusher, before a
// download) should not pay for.
enum class IdCheck { Identify, Skip };
Result<ParsedImage> parse_image(ByteSpan image, IdCheck id_check = IdCheck::Identify);

ByteSpan section_bytes(ByteSpan image, const Section& section);

// Human-readable and JSON renderings for `info`.
std::string format_info_text(const ParsedImage& parsed);
std::string format_info_json(const ParsedImage& parsed);

// mkbootimg arguments that rebuild `parsed` from the parts `unpack` writes
// (paths relative to the unpack directory), one argument per element.
std::vector<std::string> rebuild_arguments(const ParsedImage& parsed);
// Shell-quoted single line of the same.
std::string shell_join(const std::vector<std::string>& args);

// Why the arguments of rebuild_arguments() would not give back the same bytes
// (a v4 boot signature, unknown trailing data, a non-mkbootimg id, ...); empty
// when the rebuild is byte-identical.
std::vector<std::string> rebuild_caveats(ByteSpan image, const ParsedImage& parsed);

// Write every section plus `mkbootimg_args` (shell-quoted) and
// `mkbootimg_args.nul` (NUL-separated) into `dir`. When the arguments cannot
// reproduce the image, also `mkbootimg_args.caveats` (one reason a line);
// returns those reasons so the caller can warn.
Result<std::vector<std::string>> unpack_image(ByteSpan image, const ParsedImage& parsed, const std::string& dir);

// DevPro `boot:` YAML skeleton derived from a stock image.
std::string analyze_to_devpro_yaml(ByteSpan image, const ParsedImage& parsed);
// The same as JSON: {"devpro": {"boot": …}, "notes": [the skeleton's comments]}.
std::string analyze_to_devpro_json(ByteSpan image, const ParsedImage& parsed);

} // namespace fastboop::bootimg
