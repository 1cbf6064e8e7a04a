// Device Profile (DevPro) data model: how a device is recognised over USB, how
// it is probed with getvar, and what Android boot image its bootloader accepts.
// Field order mirrors the FBOODEVP v0 postcard layout (spec §1.7).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::profiles {

struct UsbMatch {
  std::uint16_t vid = 0;
  std::uint16_t pid = 0;
  friend bool operator==(const UsbMatch&, const UsbMatch&) = default;
};

// Variant numbers are the postcard indexes of ProbeStepBin.
enum class ProbeOp : std::uint32_t { Equals = 0, StartsWith = 1, NotEquals = 2, Exists = 3, NotExists = 4 };

struct ProbeStep {
  ProbeOp op = ProbeOp::Exists;
  std::string var;   // the getvar name, e.g. "product"
  std::string value; // operand; empty for Exists/NotExists
  friend bool operator==(const ProbeStep&, const ProbeStep&) = default;
};

// Postcard indexes 0..7 in this order.
enum class KernelEncoding : std::uint32_t {
  Image = 0,
  ImageDtb = 1,
  ImageGz = 2,
  ImageGzDtb = 3,
  ImageLz4 = 4,
  ImageLz4Dtb = 5,
  ImageZst = 6,
  ImageZstDtb = 7,
};

enum class Compression : std::uint32_t { None = 0, Gzip = 1, Lz4 = 2, Zstd = 3 };

struct BootLimits {
  // 0 or absent = no limit.
  std::optional<std::uint64_t> max_kernel_bytes;
  std::optional<std::uint64_t> max_initrd_bytes;
  std::optional<std::uint64_t> max_total_bytes;
  friend bool operator==(const BootLimits&, const BootLimits&) = default;
};

struct AndroidInitrd {
  std::optional<Compression> compress;
  friend bool operator==(const AndroidInitrd&, const AndroidInitrd&) = default;
};

// fastboop extensions beyond the upstream schema. They have no FBOODEVP v0
// encoding: a profile that sets any of them can be used from YAML but
// compile-devpro refuses it with an error naming the field.
struct BootImageExtensions {
  std::optional<std::uint64_t> ramdisk_offset;
  std::optional<std::uint64_t> second_offset;
  std::optional<std::uint64_t> tags_offset;
  std::optional<std::string> board;
  bool samsung_seandroidenforce = false; // append the SEANDROIDENFORCE footer
  bool dtb_in_second = false;            // ship the DTB as the "second" payload
  bool empty() const {
    return !ramdisk_offset && !second_offset && !tags_offset && !board && !samsung_seandroidenforce &&
           !dtb_in_second;
  }
  friend bool operator==(const BootImageExtensions&, const BootImageExtensions&) = default;
};

struct AndroidBootImage {
  std::uint32_t header_version = 0;
  std::uint32_t page_size = 0;
  std::optional<std::uint64_t> base;          // treated as 0
  std::optional<std::uint64_t> kernel_offset; // treated as 0x8000
  std::optional<std::uint64_t> dtb_offset;    // treated as 0x01F00000
  std::optional<BootLimits> limits;
  KernelEncoding kernel_encoding = KernelEncoding::Image;
  std::optional<AndroidInitrd> initrd;
  std::optional<std::string> cmdline_append;
  BootImageExtensions extensions;
  friend bool operator==(const AndroidBootImage&, const AndroidBootImage&) = default;
};

// A pair of profiles whose probes are known to accept a common device, and
// why (issue 16 item 4): the OnePlus 6 and 6T bootloaders answer the same
// getvars, the POCO F1 panel variants cannot be told apart over fastboot.
// Both profiles list each other; `check --strict` then accepts the pair, and
// `detect`/`boot` print the reason when a device matches both. A fastboop
// extension with no FBOODEVP v0 field: compiling drops it (pool metadata that
// a compiled profile on its own does not need).
struct KnownOverlap {
  std::string id;
  std::string reason;
  friend bool operator==(const KnownOverlap&, const KnownOverlap&) = default;
};

struct DeviceProfile {
  std::string id;
  std::optional<std::string> display_name;
  std::string devicetree_name;
  std::vector<UsbMatch> match;
  std::vector<ProbeStep> probe;
  AndroidBootImage boot; // boot.fastboot_boot.android_bootimg
  std::vector<KnownOverlap> known_overlaps;
  friend bool operator==(const DeviceProfile&, const DeviceProfile&) = default;
};

// Where a profile came from, for listings and error messages.
enum class ProfileOrigin { BuiltIn, SystemDir, UserDir, SchemaPath, File, Channel };

struct LoadedDeviceProfile {
  DeviceProfile profile;
  ProfileOrigin origin = ProfileOrigin::BuiltIn;
  std::string source; // file path, "builtin:<name>.yaml", or "channel:<SOURCE>#<id>"
};

} // namespace fastboop::profiles
