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
};

// Everything decided before writing: the mkbootimg arguments, the buffers
// they point into, and what the sidecar reports.
struct DevproPlan {
  BootImageArgs args;         // spans point into `kernel_storage` or the inputs
  Bytes kernel_storage;       // kernel ‖ DTB for +dtb encodings
  std::string dtb_placement;  // appended, section, second, none
  std::uint64_t image_size = 0; // including the footer
};

// Joins the command-line parts: each trimmed, empty ones dropped, one space.
std::string join_cmdline(std::initializer_list<std::string_view> parts);

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
