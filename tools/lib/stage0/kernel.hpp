// Finding the kernel in a rootfs, reading its version and architecture from
// the image itself, and normalising it to a Device Profile's encoding.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "filesystems/filesystem.hpp"
#include "profiles/device_profile.hpp"

#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0 {

struct ModulesDir {
  std::string kver;
  std::string path; // "/lib/modules/<kver>" or "/usr/lib/modules/<kver>"
};

// Kernel versions with a modules directory, sorted, rescue kernels skipped;
// /lib/modules wins over /usr/lib/modules for the same version.
Result<std::vector<ModulesDir>> list_modules_dirs(filesystems::Filesystem& fs);

// A kernel image decoded down to the bootable Image.
struct DecodedKernel {
  Bytes raw;                       // uncompressed Image (arm64 Image, RISC-V Image, ...)
  std::vector<std::string> layers; // outermost first, e.g. {"pe-zboot", "zstd"}
  std::string arch;                // "aarch64", "riscv64", "x86_64", "arm"
  std::string version;             // from the "Linux version " banner; empty if absent
  bool source_is_plain_gzip = false;
};

// `limit` bounds every decompressed layer.
Result<DecodedKernel> decode_kernel(ByteSpan image, std::uint64_t limit = std::uint64_t{512} << 20);
// True when an image starts with a compression or EFI-zboot wrapper that
// decode_kernel unwraps (an x86 bzImage is not one); `head` needs only the
// first bytes of the file.
bool kernel_is_wrapped(ByteSpan head);
// The banner version of a file read in slices; the same answer as
// kernel_banner_version over the whole file.
Result<std::optional<std::string>> kernel_banner_version(filesystems::Filesystem& fs, filesystems::NodeId file,
                                                         std::uint64_t size);
// Architecture from an image header; an error names what was found.
Result<std::string> kernel_image_arch(ByteSpan raw);
// Architecture of an ELF executable from e_machine.
Result<std::string> elf_arch(ByteSpan elf);
std::optional<std::string> kernel_banner_version(ByteSpan raw);
// An x86 bzImage's version from its setup header (the banner is compressed
// inside it); nullopt for anything else.
std::optional<std::string> x86_setup_version(ByteSpan head);

// What detect_kernel keeps of the image. IdentityOnly serves callers that
// need the version and architecture but no kernel bytes (`-o -`, inspect): an
// uncompressed image is then scanned in slices and never held whole.
enum class KernelBytes { Full, IdentityOnly };

struct KernelChoice {
  std::string image_path; // in the rootfs
  ModulesDir modules;
  DecodedKernel kernel; // raw is empty for KernelBytes::IdentityOnly
  // The image as stored when decoding changed it; empty for a plain image,
  // whose bytes are kernel.raw (one copy of a 30 MiB Image, not two).
  Bytes packed_source;
  ByteSpan source() const { return kernel.layers.empty() ? ByteSpan(kernel.raw) : ByteSpan(packed_source); }
};

// Pick the kernel image and its modules directory. `wanted_kver` selects one
// when several are installed. The version read from the image must match the
// modules directory.
Result<KernelChoice> detect_kernel(filesystems::Filesystem& fs,
                                   const std::optional<std::string>& wanted_kver,
                                   KernelBytes keep = KernelBytes::Full);
// Same for a kernel image given from outside the rootfs (Boot Profile
// `kernel`, --kernel): its version picks the modules directory.
Result<KernelChoice> choose_for_kernel(filesystems::Filesystem& fs, std::string image_label,
                                       Bytes image, const std::optional<std::string>& wanted_kver);

// Normalise to the DevPro encoding (the DTB is appended later, by
// fastboop-bootimg, for the +dtb encodings).
Result<Bytes> encode_kernel(const DecodedKernel& kernel, ByteSpan source,
                            profiles::KernelEncoding encoding);
// Same, handing a decoded Image over without copying it.
Result<Bytes> encode_kernel(DecodedKernel&& kernel, ByteSpan source, profiles::KernelEncoding encoding);

} // namespace fastboop::stage0
