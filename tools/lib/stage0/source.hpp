// Opening a rootfs SOURCE for stage0: a host directory (an unpacked rootfs or
// kernel package), a rootfs image path or http(s) URL (xz / Android sparse /
// GPT / MBR layers peeled by magic, then ext4, EROFS or FAT), or a compiled
// Boot Profile (FBOOPROF), whose rootfs, kernel and dtbs pipelines are opened.
#pragma once

#include "common/result.hpp"
#include "filesystems/filesystem.hpp"
#include "pipeline/hints.hpp"
#include "pipeline/sources.hpp"
#include "profiles/boot_profile.hpp"

#include <filesystem>
#include <functional>
#include <memory>

#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0 {

enum class SourcePart { Rootfs, Kernel, Dtbs };
Result<SourcePart> parse_source_part(std::string_view name);

struct OpenedSource {
  filesystems::FilesystemPtr fs; // the rootfs
  std::vector<std::string> layers; // outermost first
  std::string host_root;           // a directory source: rootfs files are host files
  std::string host_file;           // an image or Boot Profile file source
  std::optional<profiles::BootProfile> boot_profile;
  // FBPHINT0 records appended to a compiled Boot Profile, merged; the opened
  // pipelines point into it, so it lives as long as they do.
  std::unique_ptr<pipeline::PipelineHints> hints;
  filesystems::FilesystemPtr kernel_fs; // Boot Profile `kernel` pipeline, when given
  filesystems::FilesystemPtr dtbs_fs;   // Boot Profile `dtbs` pipeline, when given
  std::vector<std::string> kernel_layers, dtbs_layers;

  filesystems::Filesystem* part(SourcePart p) const;
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
  // --verify-download: an http SOURCE is fetched whole and checked against
  // expect_digest before it is read.
  pipeline::DigestCheck digest_check = pipeline::DigestCheck::WhenComplete;
  // Called with the bytes of each completed http fetch (progress lines).
  std::function<void(std::uint64_t)> on_fetch;
  // --http-*-timeout / --http-attempts; unset: the environment decides.
  std::optional<pipeline::HttpTimeouts> http_timeouts;
};

// "--expect-sha512 HEX": 128 lowercase hex digits (a "sha512:" prefix is
// accepted too); returns "sha512:<hex>", else a usage error.
Result<std::string> parse_expected_sha512(std::string_view text);

Result<OpenedSource> open_source(const std::string& spec, const SourceOptions& options = {});

// The DTB of a Boot Profile `dtbs: {path: P}` for `devicetree_name`: P if it
// ends in .dtb, else P/<name>.dtb, P/<name>, P (spec profiles §1.5).
Result<std::pair<std::string, Bytes>> read_profile_dtb(filesystems::Filesystem& fs, const std::string& path,
                                                       const std::string& devicetree_name);

} // namespace fastboop::stage0
