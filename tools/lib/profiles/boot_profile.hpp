// Boot Profile and artifact-pipeline data model (compiled form, FBOOPROF v0).
// Field order mirrors the postcard layout of spec §2.7 and §3.7.
#pragma once

#include "common/box.hpp"
#include "common/bytes.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::profiles {

struct ContentDigest {
  std::string digest; // "sha512:<128 lowercase hex>"
  std::uint64_t size_bytes = 0;
  friend bool operator==(const ContentDigest&, const ContentDigest&) = default;
};

// Postcard variant indexes of PipelineSourceBin.
enum class StageKind : std::uint32_t {
  Casync = 0,
  Http = 1,
  File = 2,
  Xz = 3,
  Tar = 4,
  AndroidSparse = 5,
  Mbr = 6,
  Gpt = 7,
  // Ours (issue 21): a file inside an ISO 9660 image, e.g. a live ISO's squashfs.
  Iso9660 = 8,
};

// One pipeline stage; wrappers own their inner stage in `source`.
struct PipelineSource {
  StageKind kind = StageKind::File;
  std::string location;                   // http url, file path, or casync index
  std::optional<std::string> chunk_store; // casync only
  bool cors_safelisted_mode = false;      // http only (part of the identity)
  std::string tar_entry;                  // tar only
  std::string iso_path;                   // iso9660 only: the file inside the image
  std::optional<std::string> partlabel;   // gpt only
  std::optional<std::string> partuuid;    // mbr, gpt
  std::optional<std::uint32_t> index;     // mbr, gpt (0-based)
  std::optional<std::uint32_t> lba_size;  // mbr, gpt
  std::optional<Box<PipelineSource>> source; // wrappers only
  std::optional<ContentDigest> content;
  bool is_terminal() const {
    return kind == StageKind::Casync || kind == StageKind::Http || kind == StageKind::File;
  }
  friend bool operator==(const PipelineSource&, const PipelineSource&) = default;
};

// Squashfs and Iso9660 are ours (issue 21: live media).
enum class FilesystemKind : std::uint32_t { Erofs = 0, Ext4 = 1, Fat = 2, Squashfs = 3, Iso9660 = 4 };

// RootfsBin: 0 Ostree{FilesystemBin} | 1 Erofs | 2 Ext4 | 3 Fat | 4 Squashfs | 5 Iso9660.
struct FilesystemSource {
  bool ostree = false;
  FilesystemKind filesystem = FilesystemKind::Erofs;
  PipelineSource source;
  friend bool operator==(const FilesystemSource&, const FilesystemSource&) = default;
};

struct PathSource {
  std::string path;
  FilesystemSource source;
  friend bool operator==(const PathSource&, const PathSource&) = default;
};

struct InjectMac {
  std::optional<std::string> wifi;
  std::optional<std::string> bluetooth;
  friend bool operator==(const InjectMac&, const InjectMac&) = default;
};

struct DeviceStage0 {
  std::vector<Bytes> dt_overlays; // compiled DTBOs
  std::optional<std::string> extra_cmdline;
  std::vector<std::string> kernel_modules;
  std::optional<InjectMac> inject_mac;
  friend bool operator==(const DeviceStage0&, const DeviceStage0&) = default;
};

struct Stage0Settings {
  std::vector<std::string> kernel_modules;
  std::map<std::string, DeviceStage0> devices; // ordered = postcard BTreeMap order
  friend bool operator==(const Stage0Settings&, const Stage0Settings&) = default;
};

struct BootProfile {
  std::string id;
  std::optional<std::string> display_name;
  FilesystemSource rootfs;
  std::optional<PathSource> kernel;
  std::optional<PathSource> dtbs;
  std::vector<Bytes> dt_overlays; // compiled DTBOs
  std::optional<std::string> extra_cmdline;
  Stage0Settings stage0;
  friend bool operator==(const BootProfile&, const BootProfile&) = default;
};

// The effective stage0 settings for one DevPro id (spec §2.6).
struct EffectiveStage0 {
  std::vector<Bytes> dt_overlays;
  std::vector<std::string> kernel_modules;
  std::optional<std::string> extra_cmdline;
  std::optional<InjectMac> inject_mac;
};

} // namespace fastboop::profiles
