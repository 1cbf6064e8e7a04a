// The work behind fastboop-bootimg's modes, file-level: inputs are paths,
// outputs are written atomically. The tool's main only parses options.
#pragma once

#include "bootimg/bootimg.hpp"
#include "common/mapped_file.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::bootimg {

// Append `data` to `out_fd` at its file offset. When `data` lies inside one of
// `sources`, the kernel copies it from that file (copy_file_range: no page
// faults on the mapping, no user-space copy); otherwise, or where the file
// systems refuse, it is written. `what` names the output in errors.
Result<void> append_from_sources(int out_fd, ByteSpan data, const std::vector<MappedFile>& sources,
                                 const std::string& what);
// Hands `data` to `consume`: read with pread when it lies in one of `sources`
// (see MappedFile::read_through), as is otherwise.
Result<void> read_from_sources(ByteSpan data, const std::vector<MappedFile>& sources,
                               const std::function<void(ByteSpan)>& consume);

// pwrite the whole span; the error names `what`.
Result<void> pwrite_all(int fd, std::uint64_t offset, ByteSpan data, const std::string& what);

// Parse mkbootimg's integer syntax (Python int(x, 0): 0x.., 0o.., 0b.., decimal).
Result<std::uint64_t> parse_mkbootimg_int(std::string_view text, std::string_view option);

// One vendor ramdisk fragment group: --ramdisk_type --ramdisk_name
// --board_idN ... --vendor_ramdisk_fragment FILE (mkbootimg's v4 syntax).
struct FragmentSpec {
  std::string type = "none";
  std::string name;
  std::array<std::string, kBoardIdWords> board_id;
  std::string path;
};
// Removes the fragment groups from `argv` (so a generic parser sees the rest).
Result<std::vector<FragmentSpec>> extract_vendor_fragments(std::vector<std::string>& argv);

struct PackOptions {
  std::optional<std::string> kernel, ramdisk, second, dtb, recovery_dtbo;
  std::optional<std::string> dt; // QCDT table (v0), CAF/osm0sis mkbootimg's --dt
  std::optional<std::string> vendor_ramdisk, vendor_bootconfig;
  std::vector<FragmentSpec> fragments;
  std::string cmdline, vendor_cmdline, board;
  std::string base = "0x10000000", kernel_offset = "0x00008000", ramdisk_offset = "0x01000000",
              second_offset = "0x00f00000", tags_offset = "0x00000100", dtb_offset = "0x01f00000";
  std::optional<std::string> os_version, os_patch_level;
  std::string pagesize = "2048", header_version = "0";
  std::string cmdline_split = "aosp"; // aosp | legacy512
  std::string id_recipe = "aosp";     // aosp | lineage
  std::optional<std::string> output, vendor_boot;
  std::optional<std::string> depfile;
  bool print_id = false;
  // Bootloader quirks (landscape spec §1.1), the same as the DevPro
  // extensions samsung_seandroidenforce and dtb_in_second.
  bool seandroidenforce = false; // append the Samsung footer
  bool dtb_in_second = false;    // --dtb becomes the second stage (v0-v2; v2 keeps it as dtb too)
};
// Returns the id line for --id ("0x" + 64 hex digits) when requested.
Result<std::string> run_pack(const PackOptions& options);

// --- run_pack's decisions, in the order it takes them (no file is touched) ---
// The numeric and enum options, parsed and range-checked (usage errors).
struct PackLayout {
  std::uint32_t header_version = 0;
  std::uint32_t page_size = 2048;
  std::uint64_t base = 0, kernel_offset = 0, ramdisk_offset = 0, second_offset = 0, tags_offset = 0,
                dtb_offset = 0;
  std::uint32_t os_version = 0, os_patch_level = 0;
  CmdlineSplit cmdline_split = CmdlineSplit::Aosp;
  IdRecipe id_recipe = IdRecipe::Aosp;
};
Result<PackLayout> parse_pack_layout(const PackOptions& options);
// The bootloader-quirk options (--seandroidenforce, --dtb-in-second, --dt)
// against the rest of the command line.
Result<void> check_pack_quirks(const PackOptions& options, std::uint32_t header_version);
// Where --dtb goes in the boot image (vendor_boot takes it as well).
enum class BootDtbPlacement {
  None,         // v3/v4 with --vendor_boot: the DTB belongs to vendor_boot only
  Dtb,          // the dtb section (v2), or nowhere the header version has none
  Second,       // --dtb-in-second, v0/v1: the second-stage slot
  SecondAndDtb, // --dtb-in-second, v2: the second-stage slot and the dtb section
};
BootDtbPlacement boot_dtb_placement(bool dtb_in_second, std::uint32_t header_version,
                                    bool with_vendor_boot);
// The depfile's prerequisites: every input once, sorted.
std::vector<std::string> depfile_inputs(std::vector<std::string> paths);
// What --id prints for the written id field: "0x" + hex and a newline; ""
// when not asked for or for v3/v4 (no id).
std::string pack_id_line(ByteSpan id, bool print_id, std::uint32_t header_version);

Result<std::string> run_info(const std::string& image, bool json);
// Returns the reasons the written arguments cannot rebuild the image (empty
// when they do).
Result<std::vector<std::string>> run_unpack(const std::string& image, const std::string& out_dir);
enum class OutputFormat { Text, Json };
Result<std::string> run_analyze(const std::string& image, OutputFormat format = OutputFormat::Text);

} // namespace fastboop::bootimg
