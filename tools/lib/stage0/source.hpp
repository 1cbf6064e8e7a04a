// Opening a rootfs SOURCE for stage0: a host directory (an unpacked rootfs or
// kernel package), a rootfs image path or http(s) URL (xz / Android sparse /
// GPT / MBR layers peeled by magic, then ext4, EROFS or FAT), a channel (a
// path or URL starting with compiled records: Boot Profiles, Device Profiles,
// hints, an optional index, then optionally the artifact; a compiled Boot
// Profile file is one), or a Boot Profile manifest (YAML/JSON, compiled in
// memory as `fastboop-profile compile` would). A Boot Profile's rootfs, kernel
// and dtbs pipelines are opened; a channel's artifact replaces its rootfs.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"
#include "filesystems/filesystem.hpp"
#include "pipeline/hints.hpp"
#include "pipeline/sources.hpp"
#include "profiles/boot_profile.hpp"
#include "stage0/live.hpp"

#include <filesystem>
#include <functional>
#include <memory>

#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0 {

enum class SourcePart { Rootfs, Kernel, Dtbs };

// Which rootfs image a stage0 was built from (stage0.json and boot.img.json
// `rootfs`), so `fastboop-push boot` serves the same bytes over smoo.
struct RootfsIdentity {
  std::string source;     // SOURCE as given: image path, URL or compiled Boot Profile
  std::string pipeline;   // canonical identity of the image's pipeline (pipeline::stage_identity)
  std::uint64_t size = 0; // bytes of the filesystem image the gadget exports
  // SHA-512 (lowercase hex) of the pipeline's terminal artifact: the file or
  // URL object SOURCE names (hashed, or --expect-sha512), or the digest a
  // Boot Profile declares for it. Unset when nothing states it (a URL without
  // --expect-sha512).
  std::optional<std::string> sha512;
};
Result<SourcePart> parse_source_part(std::string_view name);

struct OpenedSource {
  filesystems::FilesystemPtr fs; // the rootfs
  std::vector<std::string> layers; // outermost first
  std::string host_root;           // a directory source: rootfs files are host files
  std::string host_file;           // an image or Boot Profile file source
  // A manifest SOURCE: the files its compile read (hashed `file` leaves,
  // overlays), and the compiled profile's bytes, which identify the SOURCE
  // the way a compiled profile file's bytes do.
  std::vector<std::string> manifest_inputs;
  std::optional<Bytes> profile_bytes;
  std::optional<profiles::BootProfile> boot_profile;
  // FBPHINT0 records appended to a compiled Boot Profile, merged; the opened
  // pipelines point into it, so it lives as long as they do.
  std::unique_ptr<pipeline::PipelineHints> hints;
  filesystems::FilesystemPtr kernel_fs; // Boot Profile `kernel` pipeline, when given
  filesystems::FilesystemPtr dtbs_fs;   // Boot Profile `dtbs` pipeline, when given
  std::vector<std::string> kernel_layers, dtbs_layers;
  // An image or Boot Profile source (not a directory).
  std::optional<RootfsIdentity> rootfs_identity;
  // A bare live ISO: kernel_fs is the ISO (live.hpp).
  std::optional<LiveRoot> live;

  filesystems::Filesystem* part(SourcePart p) const;
};

// RootfsIdentity::sha512 of a bare local image file without --expect-sha512.
enum class TerminalDigest {
  IfStated, // only what --expect-sha512 or the Boot Profile states; never reads
  Compute,  // also hash the local image file (one whole read)
};

struct SourceOptions {
  // Offline: never fetch over the network. Unset: FASTBOOP_OFFLINE decides.
  std::optional<pipeline::NetworkMode> network;
  // --local-artifact: files that replace any stage with their content.
  std::vector<std::filesystem::path> local_artifacts;
  // --expect-sha512 (bare path or URL only): the content digest of the
  // terminal source, "sha512:<128 lowercase hex>". A local file is verified
  // at open; an http object is cached under it and verified once complete.
  std::optional<std::string> expect_digest;
  // An http SOURCE with expect_digest is fetched whole and checked before it
  // is read; WhenComplete (--unverified-ranged-reads) reads ranges unchecked.
  pipeline::DigestCheck digest_check = pipeline::DigestCheck::Upfront;
  TerminalDigest terminal_digest = TerminalDigest::IfStated;
  // Called with the bytes of each completed http fetch (progress lines).
  std::function<void(std::uint64_t)> on_fetch;
  // --boot-profile: which of a channel's Boot Profiles (unset: the only one).
  std::optional<std::string> boot_profile_id;
  // --http-*-timeout / --http-attempts; unset: the environment decides.
  std::optional<pipeline::HttpTimeouts> http_timeouts;
};

// "--expect-sha512 HEX": 128 lowercase hex digits (a "sha512:" prefix is
// accepted too); returns "sha512:<hex>", else a usage error.
Result<std::string> parse_expected_sha512(std::string_view text);

Result<OpenedSource> open_source(const std::string& spec, const SourceOptions& options = {});

// A channel SOURCE's Device Profiles join the search path (reads its head
// only), for a caller that identifies the device before opening SOURCE
// (`fastboop boot`); open_source() does the same. Other SOURCEs: nothing.
Result<void> load_channel_device_profiles(const std::string& spec, const SourceOptions& options = {});

// The rootfs as bytes, for serving it over smoo: the filesystem image beneath
// what open_source() mounts (same detection, Boot Profile pipeline, local
// artifacts and hints). A directory SOURCE is an error.
struct OpenedImage {
  std::unique_ptr<pipeline::PipelineHints> hints; // the image's stages point into it
  pipeline::BlockSourcePtr image;
  std::vector<std::string> layers; // outermost first
  RootfsIdentity identity;
};
Result<OpenedImage> open_rootfs_image(const std::string& spec, const SourceOptions& options = {});

// The DTB of a Boot Profile `dtbs: {path: P}` for `devicetree_name`: P if it
// ends in .dtb, else P/<name>.dtb, P/<name>, P (spec profiles §1.5).
Result<std::pair<std::string, Bytes>> read_profile_dtb(filesystems::Filesystem& fs, const std::string& path,
                                                       const std::string& devicetree_name);

} // namespace fastboop::stage0
