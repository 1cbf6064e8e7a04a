// DevPro mode: a boot.img for one device from a fastboop-stage0 output
// directory, under the profile's android_bootimg constraints, plus the
// `boot.img.json` sidecar the pusher uses to refuse the wrong device.
#pragma once

#include "bootimg/bootimg.hpp"
#include "profiles/device_profile.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace fastboop::bootimg {

struct DevproInputs {
  ByteSpan kernel;            // already in the profile's encoding, without DTB
  ByteSpan ramdisk;           // the stage0 initramfs, any compression
  std::optional<ByteSpan> dtb;
  std::string stage0_cmdline; // from the stage0 directory
  std::string cmdline_append; // --cmdline-append
  // stage0.json's `rootfs` object (JSON text), copied into the sidecar so the
  // pusher knows which rootfs to serve; unset without a stage0.json.
  std::optional<std::string> rootfs_json;
};

// Everything decided before writing: the mkbootimg arguments, the buffers
// they point into, and what the sidecar reports.
struct DevproPlan {
  BootImageArgs args;         // spans point into `kernel_storage` or the inputs
  Bytes kernel_storage;       // kernel ‖ DTB for +dtb encodings
  std::string dtb_placement;  // appended, section, second, none
  std::uint64_t image_size = 0; // including the footer
};

// The profile's android_bootimg rules the packer applies before it reads any
// input: header version 0-4, page size (mkbootimg's set for v0-v2, 4096 for
// v3/v4), no appended DTB with v3/v4. The DevPro parser calls it too, so
// `fastboop-profile check` and `compile-devpro` refuse what the packer would
// (issue 16 item 5). The error does not name the profile; callers add it.
Result<void> check_android_bootimg(const profiles::AndroidBootImage& boot);

// The profile's limits (0 or absent = none): kernel section (with an
// appended DTB), ramdisk, whole image (footer included). One rule for the
// packer and the pusher's image check.
struct BootImageSizes {
  std::uint64_t kernel = 0;
  std::uint64_t ramdisk = 0;
  std::uint64_t total = 0;
};
Result<void> check_bootimg_limits(const profiles::DeviceProfile& profile,
                                  const BootImageSizes& sizes);

// Where the packer puts the DTB, from the profile alone: appended to the
// kernel (+dtb encodings), as the `second` payload (dtb_in_second), in the v2
// dtb section, or nowhere. `refusal` (empty when the packer accepts) says why
// the packer refuses the combination; the sizes below then leave the DTB out.
struct DtbPlacement {
  bool appended = false, second = false, section = false;
  std::string name = "none"; // the sidecar's dtb_placement
  std::string refusal;
};
DtbPlacement place_dtb(const profiles::DeviceProfile& profile, bool have_dtb);

// The one boot-image size plan: the kernel section (with an appended DTB),
// the ramdisk and the whole image (header page, sections padded to the page,
// the DTB wherever place_dtb puts it, the Samsung footer) that the packer
// would write for these payload sizes. A dtb of 0 means none.
Result<BootImageSizes> plan_boot_image_sizes(const profiles::DeviceProfile& profile, std::uint64_t kernel,
                                             std::uint64_t dtb, std::uint64_t ramdisk);

// The profile's limits on payloads that are not packed yet: what
// fastboop-stage0 checks, so that it accepts exactly what the packer does.
// Without a kernel (stage0 `-o -` does not encode it) only the initramfs
// limit can be checked.
struct PayloadSizes {
  std::optional<std::uint64_t> kernel; // encoded, without the DTB
  std::uint64_t dtb = 0;
  std::uint64_t ramdisk = 0;
};
Result<void> check_payload_limits(const profiles::DeviceProfile& profile, const PayloadSizes& payload);

// What fastboop-push checks before any download (issue 16 item 2): `parsed`
// (parse_image of the bytes to send) is a boot image (not vendor_boot) with
// the profile's header version and page size, within its limits. The error
// names the image, the profile and both values.
Result<void> check_image_against_profile(const ParsedImage& parsed, const std::string& image_name,
                                         const profiles::DeviceProfile& profile);

// Applies every rule (header version, page size, DTB placement, encodings,
// limits, command-line size) and returns the plan or an error that names the
// numbers and the fix.
Result<DevproPlan> plan_devpro_image(const profiles::DeviceProfile& profile, const DevproInputs& inputs);

// The image bytes for a plan (header, sections, the footer args.footer asks for).
Result<void> write_devpro_image(const DevproPlan& plan, const Sink& sink);

// The sidecar JSON text.
std::string devpro_sidecar_json(const profiles::DeviceProfile& profile, const DevproPlan& plan,
                                const DevproInputs& inputs, std::uint64_t image_size,
                                const std::string& image_sha512);

// A stage0 directory whose stage0.json names another device profile holds that
// device's kernel, DTB and modules: refused, naming both ids (issue 16 item 1).
// A directory without stage0.json (assembled by hand) passes.
Result<void> check_stage0_device(const std::filesystem::path& stage0_dir,
                                 const profiles::DeviceProfile& profile);

// The sidecar of an image whose command line was extended after it was
// written (append_boot_cmdline): the header's cmdline and the image's size
// and SHA-512 updated, everything else (the device's rules) kept.
Result<std::string> restamp_sidecar(std::string_view sidecar_json, ByteSpan image,
                                    std::string_view origin);

// File level: reads the stage0 directory (kernel, stage0.cpio[.gz|.lz4|.zst|.xz],
// devicetree.dtb?, cmdline?), writes `output` and `output`.json atomically,
// and the depfile when asked.
struct DevproBuildOptions {
  std::filesystem::path stage0_dir;
  std::filesystem::path output;
  std::string cmdline_append;
  std::optional<std::filesystem::path> depfile;
};
Result<void> build_devpro_image(const profiles::DeviceProfile& profile, const DevproBuildOptions& options);

} // namespace fastboop::bootimg
