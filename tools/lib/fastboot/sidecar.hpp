// The boot.img.json sidecar written by fastboop-bootimg next to a boot image:
// which device profile the image was built for, with the profile's match and
// probe rules so the pusher can verify the device without the profile pool.
// All parsing of the sidecar lives here so it is easy to align with the
// writer.
#pragma once

#include "common/result.hpp"
#include "profiles/device_profile.hpp"

#include <filesystem>
#include <optional>

namespace fastboop::fastboot {

struct BootImageSidecar {
  profiles::DeviceProfile profile; // id, display_name, match, probe
};

// `<image>.json` beside the image.
std::filesystem::path sidecar_path_for(const std::filesystem::path& image);

// nullopt when the file does not exist; an error names the file and field.
Result<std::optional<BootImageSidecar>> load_sidecar(const std::filesystem::path& path);
Result<BootImageSidecar> parse_sidecar(std::string_view json_text, std::string_view origin);

} // namespace fastboop::fastboot
