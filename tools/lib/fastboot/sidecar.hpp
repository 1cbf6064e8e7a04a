// The boot.img.json sidecar written by fastboop-bootimg next to a boot image:
// which device profile the image was built for, with the profile's match and
// probe rules so the pusher can verify the device without the profile pool.
// All parsing of the sidecar lives here so it is easy to align with the
// writer.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "profiles/device_profile.hpp"

#include <filesystem>
#include <optional>

namespace fastboop::fastboot {

// The `image` block: size and SHA-512 of the boot.img the sidecar was written
// for. fastboop-bootimg always writes it; hand-written sidecars may omit it.
struct SidecarImage {
  std::uint64_t size = 0;
  std::string sha512; // lower-case hex
};

// The `rootfs` block (copied from stage0.json): which root the image's stage0
// mounts and who provides it. A host serves a "smoo" root after boot.
struct SidecarRootfs {
  enum class Transport { Smoo, Local };
  Transport transport = Transport::Smoo;
  std::string device;   // Local: stage0.root_device
  std::string source;   // the SOURCE stage0 was built from (path, URL, Boot Profile); may be empty
  std::string pipeline; // its image pipeline identity; empty for a directory SOURCE
  std::uint64_t size = 0;
  std::optional<std::string> sha512; // lowercase hex, of the pipeline's terminal artifact
};

struct BootImageSidecar {
  profiles::DeviceProfile profile; // id, display_name, match, probe (and boot when has_boot)
  // device_profile.boot: the android_bootimg constraints the image was packed
  // under (fastboop-bootimg writes them; older sidecars lack them).
  bool has_boot = false;
  std::optional<SidecarImage> image;
  std::optional<SidecarRootfs> rootfs; // older sidecars have none
};

// `<image>.json` beside the image.
std::filesystem::path sidecar_path_for(const std::filesystem::path& image);

// nullopt when the file does not exist; an error names the file and field.
Result<std::optional<BootImageSidecar>> load_sidecar(const std::filesystem::path& path);
Result<BootImageSidecar> parse_sidecar(std::string_view json_text, std::string_view origin);

// The sidecar must describe exactly these image bytes: a stale sidecar (image
// rebuilt or replaced, sidecar not) would prove the wrong device, so a
// mismatch is an error that --force-device does not override.
Result<void> verify_sidecar_image(const BootImageSidecar& sidecar, ByteSpan image,
                                  const std::filesystem::path& image_path, const std::filesystem::path& sidecar_path);

} // namespace fastboop::fastboot
