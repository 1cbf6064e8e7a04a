// What a caller asks of a stage0 build, as paths and strings (the options of
// `fastboop-stage0 build`, the CMake functions and `fastboop boot`), turned
// into Stage0Options against an opened SOURCE and its Device Profile. One
// implementation for every front end: the Boot Profile's allow-list, kernel,
// DTBs and effective stage0 settings, host files read once, settings checked,
// and the host files a build depended on.
#pragma once

#include "common/result.hpp"
#include "profiles/device_profile.hpp"
#include "stage0/build.hpp"
#include "stage0/source.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fastboop::stage0 {

// What a front end asks of opening a SOURCE (`fastboop-stage0`'s subcommands
// and `fastboop boot` take the same options).
struct SourceRequest {
  bool offline = false;                     // --offline
  std::vector<std::string> local_artifacts; // --local-artifact
  std::optional<std::string> expect_sha512; // --expect-sha512 (checked here)
  bool unverified_ranged_reads = false;     // --unverified-ranged-reads
  std::optional<std::string> boot_profile;  // --boot-profile
};

// The SourceOptions for a request; the caller adds what only it has (fetch
// progress, http timeouts, whether to hash a local image).
Result<SourceOptions> make_source_options(const SourceRequest& request);

enum class SerialConsole { Off, On };
enum class MimicFastboot { On, Off };

struct BuildRequest {
  std::optional<std::string> kernel_version;
  std::optional<std::string> kernel; // host kernel image instead of the rootfs's
  std::optional<std::string> dtb;    // host DTB instead of the rootfs's / the profile's
  std::vector<std::string> dtbos;    // host overlays (.dtbo, or .dts/.dtso)
  std::vector<std::string> modules;  // --require-module
  std::vector<std::string> cmdline_append;
  std::optional<std::string> augment;     // host initramfs whose entries win
  std::optional<std::string> smoo_gadget; // host program placed at /bin/smoo-gadget
  std::optional<std::string> stage0_init; // host PID1 (else the documented search)
  std::optional<std::string> root_device;
  std::optional<std::string> rootfs_type; // erofs|ext4
  std::optional<std::string> compress;    // codec name
  std::optional<std::string> stage0_serial;
  std::optional<std::string> inject_wifi, inject_bt;
  SerialConsole serial = SerialConsole::Off;
  MimicFastboot mimic = MimicFastboot::On;
  ModuleCompression module_compression = ModuleCompression::Auto;
  FirmwareMode firmware = FirmwareMode::ListOnly;
  std::uint64_t max_io_bytes = 1048576;
  OutputSet outputs = OutputSet::All;
  // /etc/stage0 settings from named options (already KEY -> value)…
  std::map<std::string, std::string> named_settings;
  // …and from --setting KEY=VALUE (checked against the known keys).
  std::vector<std::string> settings;
};

// The options build_stage0 takes for this request, SOURCE and device. A Boot
// Profile SOURCE must allow the device (spec profiles §2.6); its kernel, DTBs
// and effective stage0 settings apply unless the request overrides them.
Result<Stage0Options> make_stage0_options(const BuildRequest& request, const OpenedSource& source,
                                          const profiles::DeviceProfile& device);

// What stage0.json records as its rootfs (what a host serves): the opened
// SOURCE's identity, or for a directory its absolute path (named, not
// servable as it is).
RootfsIdentity rootfs_record(const OpenedSource& source, const std::string& spec);

// The host files a result depended on (for depfiles), sorted and unique: the
// rootfs files read from a directory SOURCE, the SOURCE file (and the files a
// manifest compile read), and the Device Profile's file unless built in.
std::vector<std::string> host_dependencies(const Stage0Result& result, const OpenedSource& source,
                                           const std::string& devpro_source);

} // namespace fastboop::stage0
