#include "stage0/request.hpp"

#include "filesystems/filesystem.hpp"
#include "profiles/profiles.hpp"
#include "stage0_settings/stage0_settings.hpp"

#include <algorithm>

namespace fastboop::stage0 {

namespace {

// Spelled out, not TRY_CTX: gcc 12 (-O2) sees the lifetime-extended Result
// there as a freed non-heap object (-Wfree-nonheap-object).
Result<HostFile> profile_kernel(filesystems::Filesystem& fs, const std::string& path) {
  Result<Bytes> k = filesystems::read_file(fs, path, std::uint64_t{512} << 20);
  if (!k)
    return std::move(k).error().with_context("boot profile kernel");
  return HostFile{"boot profile kernel " + path, std::move(k).value(), true};
}

// Boot Profile: its devices map is an allow-list; its kernel and DTBs apply
// unless the request gives host files; its effective stage0 settings come
// before the request's (spec stage0 §2.1).
Result<void> apply_boot_profile(Stage0Options& o, const OpenedSource& source,
                                const profiles::DeviceProfile& device,
                                const BuildRequest& request) {
  const auto& bp = *source.boot_profile;
  if (!profiles::boot_profile_matches_device(bp, device.id))
    return Error("boot profile '" + bp.id + "' is not compatible with device profile '" +
                 device.id + "'");
  if (bp.kernel && !o.kernel)
    o.kernel = TRY(profile_kernel(*source.kernel_fs, bp.kernel->path));
  if (bp.dtbs && !o.dtb) {
    auto [path, bytes] =
        TRY(read_profile_dtb(*source.dtbs_fs, bp.dtbs->path, device.devicetree_name));
    o.dtb = HostFile{"boot profile dtbs " + path, std::move(bytes), true};
  }
  apply_effective_stage0(o, profiles::effective_stage0(bp, device.id), bp.id);
  if (!request.rootfs_type)
    o.rootfs_type = bp.rootfs.filesystem == profiles::FilesystemKind::Ext4        ? "ext4"
                    : bp.rootfs.filesystem == profiles::FilesystemKind::Squashfs ? "squashfs"
                                                                                 : "erofs";
  return ok();
}

// A bare live ISO: the kernel beside its root image (unless one is given),
// the squashfs as the lower root, and a nested root image (the filesystem
// stage0 read) loop-mounted from it on the phone.
void apply_live_root(Stage0Options& o, const OpenedSource& source, const BuildRequest& request) {
  const LiveRoot& live = *source.live;
  if (!request.rootfs_type)
    o.rootfs_type = "squashfs";
  if (!live.nested_image.empty()) {
    o.settings[std::string(key::kRootfsImage)] = live.nested_image;
    o.settings[std::string(key::kRootfsImageType)] = live.nested_type;
  }
  // A local root device holds the whole ISO: the PID1 loop-mounts the root
  // image's byte range of it. The size goes up to whole 512-byte sectors (a
  // loop device drops a partial last one); the ISO extent is whole 2 KiB
  // blocks, so those bytes are still the file's block.
  if (request.root_device) {
    o.settings[std::string(key::kRootOffset)] = std::to_string(live.root_offset);
    o.settings[std::string(key::kRootSize)] = std::to_string((live.root_size + 511) / 512 * 512);
    o.required_modules.push_back("loop");
  }
}

Result<void> apply_settings(Stage0Options& o, const BuildRequest& request) {
  for (const auto& [k, v] : request.named_settings)
    o.settings[k] = v;
  for (const auto& s : request.settings) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error("--setting '" + s + "': expected KEY=VALUE", ErrorKind::Usage);
    std::string k = s.substr(0, eq);
    if (!is_known_key(k))
      return Error("--setting '" + s + "': unknown key '" + k + "'", ErrorKind::Usage);
    o.settings[k] = s.substr(eq + 1);
  }
  if (o.settings.count(std::string(key::kRootfs)))
    return Error("stage0.rootfs is set with --rootfs-type", ErrorKind::Usage);
  return ok();
}

} // namespace

Result<SourceOptions> make_source_options(const SourceRequest& request) {
  SourceOptions o;
  if (request.offline)
    o.network = pipeline::NetworkMode::Offline;
  for (const auto& p : request.local_artifacts)
    o.local_artifacts.emplace_back(p);
  if (request.expect_sha512)
    o.expect_digest = TRY(parse_expected_sha512(*request.expect_sha512));
  if (request.unverified_ranged_reads)
    o.digest_check = pipeline::DigestCheck::WhenComplete;
  o.boot_profile_id = request.boot_profile;
  return o;
}

Result<Stage0Options> make_stage0_options(const BuildRequest& request, const OpenedSource& source,
                                          const profiles::DeviceProfile& device) {
  Stage0Options o;
  o.device = device;
  o.kernel_version = request.kernel_version;
  if (request.kernel)
    o.kernel = TRY(read_host_file(*request.kernel));
  if (request.dtb)
    o.dtb = TRY(read_host_file(*request.dtb));
  for (const auto& d : request.dtbos)
    o.dtbos.push_back(TRY(read_host_file(d)));
  o.required_modules = request.modules;
  for (const auto& c : request.cmdline_append)
    o.extra_cmdline += (o.extra_cmdline.empty() ? "" : " ") + c;
  if (source.boot_profile)
    TRY(apply_boot_profile(o, source, device, request));
  if (source.live) {
    apply_live_root(o, source, request);
    if (!o.kernel && source.live->kernel_path && source.kernel_fs) {
      Result<Bytes> k = filesystems::read_file(*source.kernel_fs, *source.live->kernel_path, std::uint64_t{512} << 20);
      if (!k)
        return std::move(k).error().with_context("live ISO kernel " + *source.live->kernel_path);
      o.kernel = HostFile{"live ISO kernel " + *source.live->kernel_path, std::move(k).value(), true};
    }
  }
  o.serial = request.serial == SerialConsole::On;
  o.mimic_fastboot = request.mimic == MimicFastboot::On;
  if (request.inject_wifi)
    o.inject_mac.wifi = request.inject_wifi;
  if (request.inject_bt)
    o.inject_mac.bluetooth = request.inject_bt;
  o.stage0_serial = request.stage0_serial;
  if (request.compress)
    o.compress = TRY(parse_codec(*request.compress));
  o.module_compression = request.module_compression;
  o.firmware = request.firmware;
  if (request.augment)
    o.augment = TRY(read_host_file(*request.augment));
  if (request.smoo_gadget)
    o.smoo_gadget = TRY(read_host_file(*request.smoo_gadget));
  o.root_device = request.root_device;
  if (request.rootfs_type)
    o.rootfs_type = *request.rootfs_type;
  o.max_io_bytes = request.max_io_bytes;
  o.outputs = request.outputs;
  if (request.stage0_init)
    o.init = TRY(locate_stage0_init(request.stage0_init, ""));
  TRY(apply_settings(o, request));
  return o;
}

std::vector<std::string> host_dependencies(const Stage0Result& result, const OpenedSource& source,
                                           const std::string& devpro_source) {
  std::vector<std::string> deps = result.host_deps;
  if (!source.host_root.empty())
    for (const auto& in : result.inputs)
      if (in.origin == "rootfs")
        deps.push_back(source.host_root + in.path);
  if (!source.host_file.empty())
    deps.push_back(source.host_file);
  deps.insert(deps.end(), source.manifest_inputs.begin(), source.manifest_inputs.end());
  if (!devpro_source.empty() && profiles::device_profile_source_is_file(devpro_source))
    deps.push_back(devpro_source);
  std::sort(deps.begin(), deps.end());
  deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
  return deps;
}

RootfsIdentity rootfs_record(const OpenedSource& source, const std::string& spec) {
  if (source.rootfs_identity)
    return *source.rootfs_identity;
  return RootfsIdentity{std::filesystem::absolute(spec).lexically_normal().string(), {}, 0, {}};
}

} // namespace fastboop::stage0
