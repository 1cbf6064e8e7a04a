// Device tree: finding the DTB for a devicetree_name in the layouts distros
// use, applying overlays with libfdt (full overlay semantics: __fixups__,
// __local_fixups__, phandle renumbering, target and target-path), and the
// deterministic MAC address injection.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "filesystems/filesystem.hpp"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0 {

// Candidate paths for `devicetree_name` (leading "/" stripped), in search order.
std::vector<std::string> dtb_candidates(const std::string& devicetree_name, const std::string& kver);

struct FoundDtb {
  std::string path;
  Bytes bytes;
};
// First candidate that exists; the error lists every path searched.
Result<FoundDtb> select_dtb(filesystems::Filesystem& fs, const std::string& devicetree_name,
                            const std::string& kver);

// A .dts/.dtso source compiled with `dtc -@` (symbols, so overlays resolve).
Result<Bytes> compile_dts(ByteSpan source, const std::string& origin);

// Apply overlays in order; `names` label errors. Returns the packed result.
Result<Bytes> apply_overlays(ByteSpan base, const std::vector<Bytes>& overlays,
                             const std::vector<std::string>& names);

std::array<std::uint8_t, 6> mac_from_seed(std::string_view seed, std::string_view kind,
                                          std::string_view compatible);

struct InjectMacRequest {
  std::optional<std::string> wifi;
  std::optional<std::string> bluetooth;
};
Result<Bytes> inject_mac(ByteSpan dtb, const InjectMacRequest& request, std::string_view seed);

// Structural check of a final DTB (libfdt fdt_check_full).
Result<void> validate_dtb(ByteSpan dtb, const std::string& what);

} // namespace fastboop::stage0
