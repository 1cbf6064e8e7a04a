// fastboop-bootimg: Android boot image packer (mkbootimg-compatible options),
// inspector (info, unpack, analyze) and DevPro-driven builder.
#include "bootimg/commands.hpp"
#include "bootimg/devpro.hpp"
#include "common/cli.hpp"
#include "common/file_io.hpp"
#include "common/log.hpp"
#include "profiles/profiles.hpp"

#include <cstdio>
#include <string>
#include <vector>

using namespace fastboop;

int main(int argc, char** argv) {
  // mkbootimg's v4 fragment groups are order-dependent; take them out first.
  std::vector<std::string> args(argv, argv + argc);
  bootimg::PackOptions pack;
  auto fragments = bootimg::extract_vendor_fragments(args);
  if (!fragments) {
    std::fprintf(stderr, "fastboop-bootimg: error: %s\n", fragments.error().message().c_str());
    return cli::exit_usage;
  }
  pack.fragments = std::move(fragments).value();
  std::vector<char*> rest;
  for (auto& a : args)
    rest.push_back(a.data());

  CLI::App app{
      "Build and inspect Android boot images (header v0-v4, vendor_boot v3/v4).\n"
      "Without a subcommand it packs like AOSP mkbootimg, byte for byte; every mkbootimg flag is "
      "accepted with underscores (mkbootimg's spelling) or dashes.\n"
      "vendor_boot v4 fragments: [--ramdisk_type T] --ramdisk_name N [--board_idI X]... "
      "--vendor_ramdisk_fragment FILE (repeatable).",
      "fastboop-bootimg"};
  cli::add_common_options(
      app,
      {.examples = {{"fastboop-bootimg --device-profile arrow-db410c --stage0 stage0 -o boot.img",
                     "Pack a fastboop-stage0 output directory for a device (writes boot.img and "
                     "boot.img.json)"},
                    {"fastboop-bootimg info boot.img", "Print and check a boot image's header"},
                    {"fastboop-bootimg --kernel Image.gz --ramdisk initrd.img --header-version 2 "
                     "--dtb board.dtb "
                     "-o boot-v2.img",
                     "Pack like mkbootimg (its underscore spellings work too)"},
                    {"fastboop-bootimg analyze --json stock-boot.img",
                     "Derive a Device Profile boot: section from a stock image"}}});
  app.add_option("--kernel", pack.kernel, "Kernel image");
  app.add_option("--ramdisk", pack.ramdisk, "Ramdisk");
  app.add_option("--second", pack.second, "Second-stage bootloader (v0-v2)");
  app.add_option("--dtb", pack.dtb, "DTB (boot v2 section, or vendor_boot)");
  app.add_option("--recovery_dtbo,--recovery-dtbo,--recovery_acpio,--recovery-acpio",
                 pack.recovery_dtbo, "Recovery DTBO/ACPIO (v1/v2)");
  app.add_option("--cmdline", pack.cmdline, "Kernel command line");
  app.add_option("--vendor_cmdline,--vendor-cmdline", pack.vendor_cmdline,
                 "vendor_boot command line");
  app.add_option("--base", pack.base, "Base address")->capture_default_str();
  app.add_option("--kernel_offset,--kernel-offset", pack.kernel_offset, "Kernel offset")
      ->capture_default_str();
  app.add_option("--ramdisk_offset,--ramdisk-offset", pack.ramdisk_offset, "Ramdisk offset")
      ->capture_default_str();
  app.add_option("--second_offset,--second-offset", pack.second_offset, "Second offset")
      ->capture_default_str();
  app.add_option("--tags_offset,--tags-offset", pack.tags_offset, "Tags offset")
      ->capture_default_str();
  app.add_option("--dtb_offset,--dtb-offset", pack.dtb_offset, "DTB offset")->capture_default_str();
  app.add_option("--os_version,--os-version", pack.os_version, "OS version A.B.C");
  app.add_option("--os_patch_level,--os-patch-level", pack.os_patch_level,
                 "Patch level YYYY-MM[-DD]");
  app.add_option("--board", pack.board, "Board name (at most 15 bytes)");
  app.add_option("--pagesize", pack.pagesize, "Page size: 2048, 4096, 8192 or 16384")->capture_default_str();
  app.add_option("--header_version,--header-version", pack.header_version,
                 "Boot header version 0-4")
      ->capture_default_str();
  app.add_option("-o,--output", pack.output, "Boot image to write");
  app.add_option("--vendor_boot,--vendor-boot", pack.vendor_boot,
                 "vendor_boot image to write (v3/v4)");
  app.add_option("--vendor_ramdisk,--vendor-ramdisk", pack.vendor_ramdisk, "vendor ramdisk");
  app.add_option("--vendor_bootconfig,--vendor-bootconfig", pack.vendor_bootconfig,
                 "vendor_boot v4 bootconfig");
  app.add_option("--cmdline-split", pack.cmdline_split,
                 "v0-v2 cmdline split: aosp (511 + NUL) or legacy512 (Debian mkbootimg 29)")
      ->capture_default_str();
  app.add_option("--id-recipe", pack.id_recipe, "SHA-1 id recipe: aosp or lineage (extra dt slot)")
      ->capture_default_str();
  app.add_flag("--id", pack.print_id, "Print the image id on stdout");
  app.add_option("--dt", pack.dt, "Legacy Qualcomm QCDT table (dtbTool dt.img), header v0 only");
  app.add_flag("--seandroidenforce", pack.seandroidenforce,
               "Append the Samsung SEANDROIDENFORCE footer after the last section");
  app.add_flag("--dtb-in-second", pack.dtb_in_second,
               "Load --dtb as the second stage (Samsung-style bootloaders); v2 keeps it in the dtb section too");
  app.add_option("--depfile", pack.depfile, "Write a Make/Ninja depfile for the output");

  std::string device_profile, stage0_dir, cmdline_append;
  auto* devpro_opt = app.add_option("--device-profile", device_profile,
                                    "DevPro mode: build for this device profile id (needs --stage0 and -o)");
  app.add_option("--stage0", stage0_dir,
                 "DevPro mode: fastboop-stage0 output directory (kernel, stage0.cpio[.gz|.lz4|.zst|.xz], "
                 "devicetree.dtb, cmdline)")
      ->needs(devpro_opt);
  app.add_option("--cmdline-append", cmdline_append, "DevPro mode: appended to the kernel command line")
      ->needs(devpro_opt);

  std::string image, out_dir;
  bool json = false;
  auto* info = app.add_subcommand("info", "Print and check a boot/vendor_boot header");
  info->add_option("IMAGE", image, "Image file")->required();
  info->add_flag("--json", json, "JSON output");
  auto* unpack = app.add_subcommand("unpack", "Extract the sections and the mkbootimg arguments that rebuild it");
  unpack->add_option("IMAGE", image, "Image file")->required();
  unpack->add_option("-o,--output", out_dir, "Output directory")->required();
  auto* analyze = app.add_subcommand("analyze", "Print a DevPro boot: skeleton for a stock boot.img");
  analyze->add_option("IMAGE", image, "Stock boot.img")->required();
  analyze->add_flag("--json", json, "JSON: {\"devpro\": the skeleton, \"notes\": its comments}");

  return cli::run(app, static_cast<int>(rest.size()), rest.data(), [&]() -> Result<void> {
    if (info->parsed()) {
      std::string text = TRY(bootimg::run_info(image, json));
      std::fwrite(text.data(), 1, text.size(), stdout);
      return ok();
    }
    if (unpack->parsed()) {
      auto caveats = TRY(bootimg::run_unpack(image, out_dir));
      for (const auto& c : caveats)
        std::fprintf(stderr, "fastboop-bootimg: warning: %s: mkbootimg_args will not rebuild it byte for byte: %s\n",
                     image.c_str(), c.c_str());
      return ok();
    }
    if (analyze->parsed()) {
      std::string text = TRY(bootimg::run_analyze(image, json ? bootimg::OutputFormat::Json
                                                              : bootimg::OutputFormat::Text));
      std::fwrite(text.data(), 1, text.size(), stdout);
      return ok();
    }
    if (!device_profile.empty()) {
      if (stage0_dir.empty() || !pack.output)
        return Error("--device-profile needs --stage0 DIR and -o boot.img", ErrorKind::Usage);
      if (pack.kernel || pack.ramdisk || pack.second || pack.dtb || pack.recovery_dtbo || pack.vendor_boot)
        return Error("--device-profile takes its parts from --stage0; drop --kernel/--ramdisk/--second/--dtb/"
                     "--recovery_dtbo/--vendor_boot",
                     ErrorKind::Usage);
      auto loaded = TRY(profiles::find_device_profile(device_profile));
      log::debug("device profile " + device_profile + " from " + loaded.source);
      bootimg::DevproBuildOptions o;
      o.stage0_dir = stage0_dir;
      o.output = *pack.output;
      o.cmdline_append = cmdline_append;
      if (pack.depfile)
        o.depfile = *pack.depfile;
      // No blanket "device profile" context: an output or stage0 error is not
      // the profile's, and the profile's own errors name it already.
      return bootimg::build_devpro_image(loaded.profile, o);
    }
    std::string id = TRY(bootimg::run_pack(pack));
    std::fwrite(id.data(), 1, id.size(), stdout);
    return ok();
  });
}
