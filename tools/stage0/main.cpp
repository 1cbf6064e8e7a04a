// fastboop-stage0: synthesise the stage0 initramfs (and the kernel, DTB and
// cmdline that go with it) from an unmodified distro rootfs; inspect, ls and
// cat for looking into a SOURCE. The work is in tools/lib/stage0.
#include "common/cli.hpp"
#include "common/file_io.hpp"
#include "common/log.hpp"
#include "filesystems/filesystem.hpp"
#include "pipeline/progress.hpp"
#include "profiles/profiles.hpp"
#include "stage0/build.hpp"
#include "stage0/dtb.hpp"
#include "stage0/fsutil.hpp"
#include "stage0/kernel.hpp"
#include "stage0/request.hpp"
#include "stage0/source.hpp"
#include "profiles/boot_profile.hpp"
#include "stage0_settings/stage0_settings.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <map>
#include <unistd.h>

using namespace fastboop;
using namespace fastboop::stage0;

namespace {

// Options every subcommand that opens a SOURCE takes.
struct SourceArgs {
  SourceRequest request;
  bool verify_download = false;
  std::optional<long> http_connect_timeout, http_stall_timeout;
  std::optional<unsigned> http_attempts;
};

void add_source_options(CLI::App* sub, SourceArgs& a) {
  sub->add_flag("--offline", a.request.offline,
                "Never fetch over the network (also FASTBOOP_OFFLINE=1)");
  sub->add_option("--boot-profile", a.request.boot_profile,
                  "Which Boot Profile of a channel SOURCE to use (default: its only one)");
  sub->add_option(
      "--local-artifact", a.request.local_artifacts,
      "Local file replacing any pipeline stage with the same sha512 and size (repeatable)");
  auto* expect = sub->add_option(
      "--expect-sha512", a.request.expect_sha512,
      "SHA-512 (128 lowercase hex) of a bare path/URL SOURCE. A file is checked when opened; a URL "
      "is fetched whole and checked before anything is read from it, and the checked copy is "
      "cached under the digest (a channel's block-hash tables check ranges instead)");
  auto* verify = sub->add_flag("--verify-download", a.verify_download,
                               "The default with --expect-sha512 (kept for scripts): fetch a URL SOURCE "
                               "whole and check it before use");
  verify->needs(expect);
  sub->add_flag("--unverified-ranged-reads", a.request.unverified_ranged_reads,
                "Read only the ranges that are needed of a URL SOURCE with --expect-sha512, or of a Boot "
                "Profile's http artifacts that have no block-hash table, before their SHA-512 can be checked: "
                "faster, but the output is built from unverified bytes (said in a warning)")
      ->excludes(verify);
  sub->add_option("--http-connect-timeout", a.http_connect_timeout,
                  "Seconds to establish an http connection before retrying (default 10; "
                  "FASTBOOP_HTTP_CONNECT_TIMEOUT)")
      ->check(CLI::Range(1, 3600));
  sub->add_option("--http-stall-timeout", a.http_stall_timeout,
                  "Seconds an http request may go without receiving a byte before it is retried "
                  "(default 30; "
                  "FASTBOOP_HTTP_STALL_TIMEOUT)")
      ->check(CLI::Range(1, 3600));
  sub->add_option("--http-attempts", a.http_attempts,
                  "Attempts per http request before giving up; each retry is logged (default 5; "
                  "FASTBOOP_HTTP_ATTEMPTS)")
      ->check(CLI::Range(1, 100));
}

// The progress line lives as long as the opened source (it is fed from reads).
Result<OpenedSource> open_with(const std::string& spec, const SourceArgs& a, pipeline::FetchProgress& progress,
                               TerminalDigest digest = TerminalDigest::IfStated) {
  SourceOptions o = TRY(make_source_options(a.request));
  o.terminal_digest = digest;
  // The options override the environment, which overrides the defaults.
  auto timeouts = TRY(pipeline::http_timeouts_from_env());
  if (a.http_connect_timeout)
    timeouts.connect_s = *a.http_connect_timeout;
  if (a.http_stall_timeout)
    timeouts.stall_s = *a.http_stall_timeout;
  if (a.http_attempts)
    timeouts.attempts = *a.http_attempts;
  o.http_timeouts = timeouts;
  if (progress.enabled())
    o.on_fetch = progress.callback();
  return open_source(spec, o);
}

struct BuildArgs {
  std::string source;
  std::string device_profile;
  std::string output;
  std::optional<std::string> kernel_version, kernel, dtb, augment, smoo_gadget, root_device, stage0_init,
      depfile, compress, rootfs_type, serial_string, ostree, smoo_log, locale, locale_messages, keymap,
      timezone, on_failure, udc, init, inject_wifi, inject_bt, usb_vendor, usb_product;
  std::optional<std::uint32_t> root_device_timeout, udc_timeout, ep1_timeout, ublk_timeout;
  std::optional<std::uint16_t> queue_count, queue_depth;
  std::uint64_t max_io_bytes = 1048576;
  std::vector<std::string> modules, dtbos, cmdline_append, settings;
  SourceArgs src;
  bool serial = false, no_mimic = false, decompress_modules = false, keep_compressed = false,
       include_firmware = false, no_yeet_fstab = false, framebuffer = false;
};

Result<void> write_stdout(ByteSpan data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data() + done, data.size() - done);
    if (n <= 0)
      return Error("writing to stdout failed", ErrorKind::Io);
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

// The named /etc/stage0 options, as KEY -> value.
std::map<std::string, std::string> named_settings(const BuildArgs& a) {
  std::map<std::string, std::string> out;
  auto set = [&](std::string_view key, const std::optional<std::string>& v) {
    if (v)
      out[std::string(key)] = *v;
  };
  auto set_num = [&](std::string_view key, const auto& v) {
    if (v)
      out[std::string(key)] = std::to_string(*v);
  };
  set(key::kOstree, a.ostree);
  set(key::kSmooLog, a.smoo_log);
  set(key::kLocale, a.locale);
  set(key::kLocaleMessages, a.locale_messages);
  set(key::kKeymap, a.keymap);
  set(key::kTimezone, a.timezone);
  set(key::kOnFailure, a.on_failure);
  set(key::kUdc, a.udc);
  set(key::kInit, a.init);
  set(key::kVendor, a.usb_vendor);
  set(key::kProduct, a.usb_product);
  set_num(key::kRootDeviceTimeout, a.root_device_timeout);
  set_num(key::kUdcTimeout, a.udc_timeout);
  set_num(key::kEp1Timeout, a.ep1_timeout);
  set_num(key::kUblkTimeout, a.ublk_timeout);
  set_num(key::kQueueCount, a.queue_count);
  set_num(key::kQueueDepth, a.queue_depth);
  if (a.no_yeet_fstab)
    out[std::string(key::kYeetFstab)] = "0";
  if (a.framebuffer)
    out[std::string(key::kFramebuffer)] = "1";
  return out;
}

BuildRequest build_request(const BuildArgs& a) {
  BuildRequest r;
  r.kernel_version = a.kernel_version;
  r.kernel = a.kernel;
  r.dtb = a.dtb;
  r.dtbos = a.dtbos;
  r.modules = a.modules;
  r.cmdline_append = a.cmdline_append;
  r.augment = a.augment;
  r.smoo_gadget = a.smoo_gadget;
  r.stage0_init = a.stage0_init;
  r.root_device = a.root_device;
  r.rootfs_type = a.rootfs_type;
  r.compress = a.compress;
  r.stage0_serial = a.serial_string;
  r.inject_wifi = a.inject_wifi;
  r.inject_bt = a.inject_bt;
  r.serial = a.serial ? SerialConsole::On : SerialConsole::Off;
  r.mimic = a.no_mimic ? MimicFastboot::Off : MimicFastboot::On;
  r.module_compression = a.decompress_modules ? ModuleCompression::Decompress
                         : a.keep_compressed  ? ModuleCompression::Keep
                                              : ModuleCompression::Auto;
  r.firmware = a.include_firmware ? FirmwareMode::Include : FirmwareMode::ListOnly;
  r.max_io_bytes = a.max_io_bytes;
  r.outputs = a.output == "-" ? OutputSet::InitrdOnly : OutputSet::All;
  r.named_settings = named_settings(a);
  r.settings = a.settings;
  return r;
}

Result<void> run_build(const BuildArgs& a) {
  if (a.decompress_modules && a.keep_compressed)
    return Error("--decompress-modules and --keep-compressed-modules exclude each other", ErrorKind::Usage);
  // Outputs first: a bad -o should not cost a rootfs read to find out.
  if (a.output != "-")
    TRY(check_output_path(a.output, OutputKind::Directory));
  if (a.depfile)
    TRY(check_output_path(*a.depfile));
  pipeline::FetchProgress progress;
  // The image's digest goes into stage0.json's `rootfs` (what a host serves).
  auto source = TRY(open_with(a.source, a.src, progress, TerminalDigest::Compute));
  auto devpro = TRY(profiles::find_device_profile(a.device_profile));
  auto options = TRY(make_stage0_options(build_request(a), source, devpro.profile));
  auto result = TRY(build_stage0(*source.fs, std::move(options)));
  result.rootfs = rootfs_record(source, a.source);
  result.host_deps = host_dependencies(result, source, devpro.source);

  if (a.output == "-") {
    if (cli::stdout_is_tty())
      return Error("refusing to write a cpio archive to a terminal", ErrorKind::Usage);
    if (a.depfile)
      TRY(write_depfile(*a.depfile, "-", result.host_deps));
    return write_stdout(result.initrd);
  }
  TRY(write_stage0_outputs(result, devpro.profile.id, a.output,
                           a.depfile ? std::optional<std::filesystem::path>(*a.depfile) : std::nullopt));
  log::info("wrote " + a.output + "/" + initrd_file_name(result.codec) + " (" + std::to_string(result.initrd.size()) +
            " bytes, " + std::to_string(result.modules.load_order.size()) + " modules, kernel " + result.kver + ")");
  return ok();
}

std::string_view type_name(filesystems::FileType t) {
  using T = filesystems::FileType;
  switch (t) {
  case T::Regular: return "file";
  case T::Directory: return "dir";
  case T::Symlink: return "link";
  case T::CharDevice: return "chr";
  case T::BlockDevice: return "blk";
  case T::Fifo: return "fifo";
  case T::Socket: return "sock";
  default: return "?";
  }
}

Result<filesystems::Filesystem*> pick_part(const OpenedSource& source, const std::string& part) {
  SourcePart p = TRY(parse_source_part(part));
  filesystems::Filesystem* f = source.part(p);
  if (!f)
    return Error("--part " + part + ": SOURCE has no separate " + part + " filesystem (only Boot Profiles with a `" +
                 part + "` source do)", ErrorKind::Usage);
  return f;
}

Result<void> run_inspect(const std::string& spec, bool as_json, const std::string& part, const SourceArgs& args) {
  pipeline::FetchProgress progress;
  auto source = TRY(open_with(spec, args, progress));
  auto& fsys = *TRY(pick_part(source, part));
  nlohmann::json j;
  j["source"] = spec;
  j["layers"] = part == "kernel" ? source.kernel_layers : part == "dtbs" ? source.dtbs_layers : source.layers;
  if (source.boot_profile)
    j["boot_profile"] = source.boot_profile->id;
  j["filesystem"] = std::string(fsys.kind());
  if (source.live) {
    // A live ISO: the kernel stage0 takes is the one beside the root image.
    nlohmann::json live = {{"layout", std::string(pipeline::live_layout_name(source.live->kind))},
                           {"root", source.live->root_path}};
    if (source.live->kernel_path)
      live["kernel"] = *source.live->kernel_path;
    if (!source.live->nested_image.empty())
      live["nested_root"] = {{"path", source.live->nested_image}, {"filesystem", source.live->nested_type}};
    j["live"] = live;
  }
  auto dirs = TRY(list_modules_dirs(fsys));
  nlohmann::json kernels = nlohmann::json::array();
  for (const auto& d : dirs) {
    nlohmann::json k = {{"version", d.kver}, {"modules_dir", d.path}};
    auto has_dep = TRY(path_type(fsys, d.path + "/modules.dep"));
    k["modules_dep"] = has_dep.has_value();
    auto choice = detect_kernel(fsys, d.kver, KernelBytes::IdentityOnly);
    if (choice) {
      k["image"] = choice->image_path;
      k["arch"] = choice->kernel.arch;
      k["layers"] = choice->kernel.layers;
    } else {
      k["error"] = choice.error().message();
    }
    nlohmann::json dtbdirs = nlohmann::json::array();
    for (const std::string& p : std::vector<std::string>{"/boot/dtbs/" + d.kver, "/boot/dtbs", "/boot/dtb-" + d.kver, "/boot/dtb",
                                 "/usr/lib/linux-image-" + d.kver, "/usr/lib/modules/" + d.kver + "/dtb",
                                 "/lib/firmware/" + d.kver + "/device-tree"}) {
      auto t = TRY(path_type(fsys, p));
      if (t && *t == filesystems::FileType::Directory)
        dtbdirs.push_back(p);
    }
    k["dtb_dirs"] = dtbdirs;
    kernels.push_back(k);
  }
  j["kernels"] = kernels;
  if (as_json) {
    std::cout << j.dump(2) << "\n";
    return ok();
  }
  std::cout << "source:      " << spec << "\n";
  std::string layers;
  for (const auto& l : j["layers"].get<std::vector<std::string>>())
    layers += (layers.empty() ? "" : " <- ") + l;
  std::cout << "layers:      " << layers << "\nfilesystem:  " << fsys.kind() << "\n";
  if (j.contains("live")) {
    const auto& live = j["live"];
    std::cout << "live ISO:    " << live["layout"].get<std::string>() << ", root " << live["root"].get<std::string>()
              << (live.contains("nested_root") ? " holding " + live["nested_root"]["path"].get<std::string>() + " (" +
                                                     live["nested_root"]["filesystem"].get<std::string>() + ")"
                                               : std::string())
              << ", kernel " << (live.contains("kernel") ? live["kernel"].get<std::string>() : "none beside it")
              << "\n";
  }
  if (kernels.empty())
    std::cout << "kernels:     none (no /lib/modules or /usr/lib/modules)\n";
  for (const auto& k : kernels) {
    std::cout << "kernel:      " << k["version"].get<std::string>() << "\n";
    std::cout << "  modules:   " << k["modules_dir"].get<std::string>()
              << (k["modules_dep"].get<bool>() ? "" : " (no modules.dep: run depmod -b)") << "\n";
    if (k.contains("image"))
      std::cout << "  image:     " << k["image"].get<std::string>() << " (" << k["arch"].get<std::string>() << ")\n";
    else
      std::cout << "  image:     " << k["error"].get<std::string>() << "\n";
    for (const auto& d : k["dtb_dirs"])
      std::cout << "  dtbs:      " << d.get<std::string>() << "\n";
  }
  return ok();
}

Result<void> run_ls(const std::string& spec, const std::string& path, const std::string& part, const SourceArgs& args) {
  pipeline::FetchProgress progress;
  auto source = TRY(open_with(spec, args, progress));
  auto& fsys = *TRY(pick_part(source, part));
  auto node = TRY(filesystems::resolve_path(fsys, path));
  auto st = TRY(fsys.stat(node));
  auto line = [&](const std::string& name, filesystems::NodeId id) -> Result<void> {
    auto s = TRY(fsys.stat(id));
    char mode[16];
    std::snprintf(mode, sizeof(mode), "%04o", s.mode & 07777);
    std::string extra;
    if (s.type == filesystems::FileType::Symlink)
      extra = " -> " + TRY(fsys.read_link(id));
    std::cout << type_name(s.type) << " " << mode << " " << s.size << " " << name << extra << "\n";
    return ok();
  };
  if (st.type != filesystems::FileType::Directory)
    return line(path, node);
  for (const auto& e : TRY(fsys.list(node)))
    TRY(line(e.name, e.node));
  return ok();
}

Result<void> run_cat(const std::string& spec, const std::string& path, const std::string& part, const SourceArgs& args) {
  pipeline::FetchProgress progress;
  auto source = TRY(open_with(spec, args, progress));
  auto& fsys = *TRY(pick_part(source, part));
  Bytes b = TRY(filesystems::read_file(fsys, path));
  return write_stdout(b);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Build the stage0 initramfs (and the kernel, DTB and cmdline that go with it) from "
               "an unmodified "
               "distro rootfs; look into a SOURCE.\n"
               "A SOURCE is a rootfs directory, a filesystem or disk image (EROFS, ext4, FAT, ISO "
               "9660, squashfs; raw, "
               "sparse, xz, partitioned), an http(s) URL of one, a compiled Boot Profile, or a channel (a path "
               "or URL of compiled profiles, optionally followed by the image itself; its Device Profiles "
               "join the search path).\n"
               "A distro's live ISO (Debian live/filesystem.squashfs, Fedora LiveOS/squashfs.img with or "
               "without LiveOS/rootfs.img inside, Arch arch/<arch>/airootfs.sfs) is booted as published: "
               "the root is the squashfs inside the ISO, the kernel the one beside it, and only the bytes "
               "they need are read (ranged requests over http).",
               "fastboop-stage0"};
  cli::add_common_options(
      app,
      {.examples = {{"fastboop-stage0 build rootfs.erofs --device-profile arrow-db410c --root-device /dev/mmcblk1 -o stage0",
                     "Build stage0 for a DragonBoard 410c whose root is the EROFS image on its SD card"},
                    {"fastboop-stage0 inspect rootfs.erofs",
                     "Show the kernels, modules and DTB directories found"},
                    {"fastboop-stage0 ls rootfs.erofs /boot", "List a directory inside SOURCE"}},
       .environment = {
           {"FASTBOOP_OFFLINE", "1: never fetch over the network (as --offline)"},
           {"FASTBOOP_HTTP_CONNECT_TIMEOUT", "Seconds to connect before a retry (default 10)"},
           {"FASTBOOP_HTTP_STALL_TIMEOUT",
            "Seconds without a byte from the server before a retry (default 30)"},
           {"FASTBOOP_HTTP_ATTEMPTS", "Attempts per http request (default 5)"},
           {"FASTBOOP_STAGE0_PATH",
            "The stage0-init PID1 binary to put in stage0 (as --stage0-init)"},
           {"FASTBOOP_PROGRESS_DELAY_MS",
            "Delay before the fetch progress line appears (default 1000)"}}});
  app.require_subcommand(1);

  BuildArgs b;
  auto* build = app.add_subcommand(
      "build", "Build stage0 for a device from SOURCE (a rootfs directory, image, URL, compiled Boot Profile "
               "or Boot Profile manifest)");
  build->add_option("SOURCE", b.source,
                    "Rootfs: directory, image path or URL, compiled Boot Profile, channel (path or URL) or Boot "
                    "Profile manifest (.yaml)")
      ->required();
  add_source_options(build, b.src);
  build->add_option("--device-profile", b.device_profile, "Device Profile id")->required();
  build->add_option("-o,--output", b.output, "Output directory, or - for the cpio alone on stdout")->required();
  build->add_option("--kernel-version", b.kernel_version, "Kernel version to use when several are installed");
  build->add_option("--kernel", b.kernel, "Kernel image from the host instead of the rootfs");
  build->add_option("--require-module", b.modules, "Extra kernel module (repeatable)");
  build->add_option("--dtb", b.dtb, "DTB from the host instead of the rootfs");
  build->add_option("--dtbo", b.dtbos, "DT overlay (.dtbo, or .dts/.dtso compiled with dtc -@; repeatable)");
  build->add_option("--cmdline-append", b.cmdline_append, "Extra kernel cmdline; stage0 keys become settings");
  build->add_option("--augment", b.augment, "Existing initramfs whose entries win (newc, any compression)");
  build->add_flag("--serial", b.serial, "USB CDC-ACM console (smoo.acm)");
  build->add_flag("--no-mimic-fastboot", b.no_mimic, "Do not use the fastboot interface class");
  build->add_option("--compress", b.compress, "Initramfs compression: none|gzip|lz4|zstd|xz (default: DevPro)");
  build->add_option("--smoo-gadget", b.smoo_gadget, "Static smoo-gadget program placed at /bin/smoo-gadget");
  build->add_option("--root-device", b.root_device, "Local block device for the lower root (stage0.root_device)");
  build->add_option("--root-device-timeout", b.root_device_timeout, "Seconds to wait for --root-device");
  build->add_option("--stage0-init", b.stage0_init, "PID1 binary (default: $FASTBOOP_STAGE0_PATH, build tree, libdir)");
  build->add_flag("--decompress-modules", b.decompress_modules, "Always decompress modules on the host");
  build->add_flag("--keep-compressed-modules", b.keep_compressed, "Never decompress modules on the host");
  build->add_flag("--include-firmware", b.include_firmware, "Copy the firmware the chosen modules declare");
  build->add_option("--depfile", b.depfile, "Write a Make/Ninja depfile of the host files read");
  build->add_option("--rootfs-type", b.rootfs_type, "erofs|ext4|squashfs (stage0.rootfs; default: from SOURCE, else erofs)");
  build->add_option("--stage0-serial", b.serial_string, "stage0.serial: USB serial and MAC seed");
  build->add_option("--usb-vendor", b.usb_vendor, "smoo.vendor (0xNNNN)");
  build->add_option("--usb-product", b.usb_product, "smoo.product (0xNNNN)");
  build->add_option("--smoo-queue-count", b.queue_count, "smoo.queue_count");
  build->add_option("--smoo-queue-depth", b.queue_depth, "smoo.queue_depth");
  build->add_option("--smoo-max-io-bytes", b.max_io_bytes, "smoo.max_io_bytes (default 1048576)");
  build->add_option("--smoo-log", b.smoo_log, "smoo.log filter for the gadget child");
  build->add_option("--ostree", b.ostree, "ostree= deployment path");
  build->add_flag("--no-yeet-fstab", b.no_yeet_fstab, "Keep /etc/fstab in the final root (stage0.yeetfstab=0)");
  build->add_flag("--framebuffer", b.framebuffer, "stage0.fb=1");
  build->add_option("--locale", b.locale, "firstboot.locale");
  build->add_option("--locale-messages", b.locale_messages, "firstboot.locale-messages");
  build->add_option("--keymap", b.keymap, "firstboot.keymap");
  build->add_option("--timezone", b.timezone, "firstboot.timezone");
  build->add_option("--on-failure", b.on_failure, "stage0.on_failure: panic|reboot|halt");
  build->add_option("--udc", b.udc, "stage0.udc: UDC name (default: the first)");
  build->add_option("--init", b.init, "stage0.init: init to exec in the final root");
  build->add_option("--udc-timeout", b.udc_timeout, "stage0.udc_timeout (seconds)");
  build->add_option("--ep1-timeout", b.ep1_timeout, "stage0.ep1_timeout (seconds)");
  build->add_option("--ublk-timeout", b.ublk_timeout, "stage0.ublk_timeout (seconds)");
  build->add_option("--inject-mac-wifi", b.inject_wifi, "DT compatible of the Wi-Fi node to give a MAC");
  build->add_option("--inject-mac-bluetooth", b.inject_bt, "DT compatible of the Bluetooth node to give a BD address");
  build->add_option("--setting", b.settings, "Any /etc/stage0 KEY=VALUE (repeatable)");

  std::string source, path, part = "rootfs";
  bool as_json = false;
  SourceArgs source_args;
  auto source_options = [&](CLI::App* sub) {
    sub->add_option("SOURCE", source, "Directory, image path or URL, compiled Boot Profile or channel")->required();
    sub->add_option("--part", part, "With a Boot Profile: rootfs|kernel|dtbs");
    add_source_options(sub, source_args);
  };
  auto* inspect = app.add_subcommand("inspect", "Show layers, filesystem, kernels, modules and DTB directories");
  source_options(inspect);
  inspect->add_flag("--json", as_json, "JSON output");
  auto* ls = app.add_subcommand("ls", "List a directory of SOURCE");
  source_options(ls);
  ls->add_option("PATH", path, "Path inside SOURCE")->required();
  auto* cat = app.add_subcommand("cat", "Write a file of SOURCE to stdout");
  source_options(cat);
  cat->add_option("PATH", path, "Path inside SOURCE")->required();

  return cli::run(app, argc, argv, [&]() -> Result<void> {
    if (build->parsed())
      return run_build(b);
    if (inspect->parsed())
      return run_inspect(source, as_json, part, source_args);
    if (ls->parsed())
      return run_ls(source, path, part, source_args);
    return run_cat(source, path, part, source_args);
  });
}
