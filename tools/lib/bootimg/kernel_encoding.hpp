// The one table of kernel encodings (Device Profile `kernel.encoding`): the
// name a profile spells, whether the DTB is appended to the kernel, and the
// compression the bootloader expects with its magic. The profile parser, the
// packer and stage0's kernel encoder all read it.
#pragma once

#include "profiles/device_profile.hpp"

#include <span>
#include <string_view>

namespace fastboop::bootimg {

enum class KernelCompression { None, Gzip, Lz4Legacy, Zstd };

struct KernelEncodingInfo {
  profiles::KernelEncoding encoding;
  std::string_view name;          // as written in a Device Profile
  bool appends_dtb;               // kernel section = kernel ‖ DTB
  KernelCompression compression;
  std::string_view compression_name; // for messages: "gzip", ...
  std::string_view magic;         // the compressed kernel's first bytes; empty for a raw Image
};

// Every encoding, in the enum's (and the wire format's) order.
std::span<const KernelEncodingInfo> kernel_encodings();
// The row of `encoding` (an out-of-range value gets the raw Image's row).
const KernelEncodingInfo& kernel_encoding_info(profiles::KernelEncoding encoding);

} // namespace fastboop::bootimg
