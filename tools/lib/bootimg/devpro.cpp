#include "bootimg/devpro.hpp"
#include "common/text.hpp"

#include "bootimg/commands.hpp"
#include "bootimg/kernel_encoding.hpp"
#include "common/file_io.hpp"
#include "common/hash.hpp"
#include "common/version.hpp"
#include "profiles/profiles.hpp"

#include <nlohmann/json.hpp>

namespace fastboop::bootimg {

namespace {

using profiles::KernelEncoding;

bool appends_dtb(KernelEncoding e) { return kernel_encoding_info(e).appends_dtb; }

Result<void> check_limit(std::string_view what, std::uint64_t size, const std::optional<std::uint64_t>& limit,
                         std::string_view field, const std::string& profile_id, std::string_view fix) {
  if (!limit || *limit == 0 || size <= *limit)
    return ok();
  return Error(std::string(what) + " is " + std::to_string(size) + " bytes, " + std::to_string(size - *limit) +
               " over the limit " + std::string(field) + " = " + std::to_string(*limit) + " of device profile " +
               profile_id + "; " + std::string(fix));
}

} // namespace

Result<void> check_stage0_device(const std::filesystem::path& stage0_dir,
                                 const profiles::DeviceProfile& profile) {
  const auto manifest_path = stage0_dir / "stage0.json";
  std::error_code ec;
  if (!std::filesystem::exists(manifest_path, ec))
    return ok(); // assembled by hand: nothing says which device it is for
  const std::string text = TRY(read_text_file(manifest_path, 64u << 20));
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Error(manifest_path.string() + ": invalid JSON: " + e.what());
  }
  if (!manifest.is_object() || !manifest.contains("device") || !manifest["device"].is_string())
    return Error(manifest_path.string() +
                 ": no \"device\" string naming the device profile stage0 was built for");
  const std::string built_for = manifest["device"].get<std::string>();
  if (built_for != profile.id)
    return Error("stage0 directory " + stage0_dir.string() + " was built for device profile '" +
                     built_for + "' (its stage0.json says so), not '" + profile.id +
                     "': its kernel, DTB and modules are that device's. Run fastboop-stage0 build "
                     "--device-profile " +
                     profile.id + " for this device",
                 ErrorKind::Invalid);
  return ok();
}

Result<void> check_android_bootimg(const profiles::AndroidBootImage& bi) {
  const auto v = bi.header_version;
  if (v > 4)
    return Error("header_version " + std::to_string(v) +
                 " does not exist; use 0, 1 or 2 (or 3/4 for GKI bootloaders)");
  if (v >= 3) {
    if (bi.page_size != kV3PageSize)
      return Error("header v" + std::to_string(v) +
                   " uses a fixed 4096-byte page, but page_size is " +
                   std::to_string(bi.page_size) + "; set page_size: 4096");
    if (appends_dtb(bi.kernel_encoding))
      return Error("header v" + std::to_string(v) + " cannot carry an appended DTB (" +
                   std::string(profiles::kernel_encoding_name(bi.kernel_encoding)) +
                   "); use header v0-v2");
  } else if (!is_valid_page_size(bi.page_size)) {
    return Error("page_size " + std::to_string(bi.page_size) +
                 " is not one of 2048, 4096, 8192, 16384; copy it from the stock boot.img "
                 "(fastboop-bootimg analyze)");
  }
  return ok();
}

Result<void> check_bootimg_limits(const profiles::DeviceProfile& profile,
                                  const BootImageSizes& sizes) {
  const auto& limits = profile.boot.limits.value_or(profiles::BootLimits{});
  TRY(check_limit(
      "kernel" +
          std::string(appends_dtb(profile.boot.kernel_encoding) ? " (with appended DTB)" : ""),
      sizes.kernel, limits.max_kernel_bytes, "max_kernel_bytes", profile.id,
      "use a smaller kernel (stronger compression, fewer built-ins) or raise the limit"));
  TRY(check_limit("initramfs", sizes.ramdisk, limits.max_initrd_bytes, "max_initrd_bytes",
                  profile.id, "compress stage0 harder or ship fewer modules, or raise the limit"));
  TRY(check_limit("boot image", sizes.total, limits.max_total_bytes, "max_total_bytes", profile.id,
                  "shrink the kernel or initramfs, or raise the limit"));
  return ok();
}

DtbPlacement place_dtb(const profiles::DeviceProfile& profile, bool have_dtb) {
  const auto& bi = profile.boot;
  const std::uint32_t v = bi.header_version;
  const std::string enc(profiles::kernel_encoding_name(bi.kernel_encoding));
  DtbPlacement p;
  if (appends_dtb(bi.kernel_encoding)) {
    if (!have_dtb) {
      p.refusal = "kernel encoding " + enc +
                  " appends the DTB to the kernel, but there is no devicetree.dtb; add it to the stage0 directory";
      return p;
    }
    // v2 still needs a non-empty dtb section; it gets the same DTB.
    p.appended = true;
    p.section = v == 2;
    p.name = p.section ? "appended+section" : "appended";
  } else if (!have_dtb) {
    if (v == 2)
      p.refusal = "header v2 needs a DTB in its dtb section, but the stage0 directory has no devicetree.dtb; add it "
                  "(devicetree_name " +
                  profile.devicetree_name + ")";
  } else if (bi.extensions.dtb_in_second && v <= 2) {
    p.second = true;
    p.section = v == 2;
    p.name = p.section ? "second+section" : "second";
  } else if (v == 2) {
    p.section = true;
    p.name = "section";
  } else if (v >= 3) {
    p.refusal = "header v" + std::to_string(v) +
                " boot images take the DTB from the device's vendor_boot; remove devicetree.dtb from the stage0 "
                "directory or use header v0-v2";
  } else {
    p.refusal = "header v" + std::to_string(v) + " with kernel encoding " + enc +
                " has nowhere to put the DTB (it would be dropped); use encoding " + enc +
                "+dtb, set dtb_in_second: true, or use header_version 2";
  }
  return p;
}

Result<BootImageSizes> plan_boot_image_sizes(const profiles::DeviceProfile& profile, std::uint64_t kernel,
                                             std::uint64_t dtb, std::uint64_t ramdisk) {
  const auto& bi = profile.boot;
  TRY_CTX(check_android_bootimg(bi), "device profile " + profile.id);
  const DtbPlacement where = place_dtb(profile, dtb > 0);
  SectionSizes s;
  s.kernel = kernel + (where.appended ? dtb : 0);
  s.ramdisk = ramdisk;
  s.second = where.second ? dtb : 0;
  s.dtb = where.section ? dtb : 0;
  const Footer footer = bi.extensions.samsung_seandroidenforce ? Footer::SeandroidEnforce : Footer::None;
  return BootImageSizes{s.kernel, s.ramdisk, boot_image_layout_size(bi.header_version, bi.page_size, s, footer)};
}

Result<void> check_payload_limits(const profiles::DeviceProfile& profile, const PayloadSizes& payload) {
  if (!payload.kernel) {
    const auto& limits = profile.boot.limits.value_or(profiles::BootLimits{});
    return check_limit("initramfs", payload.ramdisk, limits.max_initrd_bytes, "max_initrd_bytes", profile.id,
                       "compress stage0 harder or ship fewer modules, or raise the limit");
  }
  return check_bootimg_limits(profile,
                              TRY(plan_boot_image_sizes(profile, *payload.kernel, payload.dtb, payload.ramdisk)));
}

Result<void> check_image_against_profile(const ParsedImage& parsed, const std::string& image_name,
                                         const profiles::DeviceProfile& profile) {
  const std::string who = image_name + " does not fit device profile '" + profile.id + "': ";
  if (parsed.kind != ImageKind::Boot)
    return Error(image_name + " is a vendor_boot image; fastboot boot takes a boot image",
                 ErrorKind::Invalid);
  const auto& bi = profile.boot;
  if (auto rules = check_android_bootimg(bi); !rules)
    return std::move(rules).error().with_context("device profile " + profile.id);
  if (parsed.header_version != bi.header_version)
    return Error(who + "its header is v" + std::to_string(parsed.header_version) +
                     ", the profile's bootloader takes v" + std::to_string(bi.header_version) +
                     "; rebuild it with fastboop-bootimg --device-profile " + profile.id,
                 ErrorKind::Invalid);
  const std::uint32_t page = bi.header_version >= 3 ? kV3PageSize : bi.page_size;
  if (parsed.page_size != page)
    return Error(who + "its page size is " + std::to_string(parsed.page_size) +
                     ", the profile's is " + std::to_string(page) +
                     "; rebuild it with fastboop-bootimg --device-profile " + profile.id,
                 ErrorKind::Invalid);
  const Section* kernel = parsed.section("kernel");
  if (!kernel)
    return Error(image_name + " has an empty kernel section; nothing would boot",
                 ErrorKind::Invalid);
  const Section* ramdisk = parsed.section("ramdisk");
  auto limits =
      check_bootimg_limits(profile, {kernel->size, ramdisk ? ramdisk->size : 0, parsed.file_size});
  if (!limits)
    return Error(image_name + ": " + limits.error().message(), ErrorKind::Invalid);
  return ok();
}

Result<DevproPlan> plan_devpro_image(const profiles::DeviceProfile& profile, const DevproInputs& in) {
  const auto& bi = profile.boot;
  const auto& ext = bi.extensions;
  const std::string who = "device profile " + profile.id;
  DevproPlan plan;
  BootImageArgs& a = plan.args;
  a.header_version = bi.header_version;
  if (auto rules = check_android_bootimg(bi); !rules)
    return std::move(rules).error().with_context(who);
  a.page_size = bi.page_size;
  a.base = bi.base.value_or(0);
  a.kernel_offset = bi.kernel_offset.value_or(kDefaultKernelOffset);
  a.dtb_offset = bi.dtb_offset.value_or(kDefaultDtbOffset);
  a.ramdisk_offset = ext.ramdisk_offset.value_or(kDefaultRamdiskOffset);
  a.second_offset = ext.second_offset.value_or(kDefaultSecondOffset);
  a.tags_offset = ext.tags_offset.value_or(kDefaultTagsOffset);
  a.board = ext.board.value_or("");
  a.footer = ext.samsung_seandroidenforce ? Footer::SeandroidEnforce : Footer::None;

  if (in.kernel.empty())
    return Error(who + ": the kernel is empty; run fastboop-stage0 for this device first");
  const auto& encoding = kernel_encoding_info(bi.kernel_encoding);
  if (const auto magic = encoding.magic; !magic.empty()) {
    if (in.kernel.size() < magic.size() || as_chars(in.kernel.first(magic.size())) != magic)
      return Error(who + ": kernel encoding " + std::string(encoding.name) + " expects " +
                   std::string(encoding.compression_name) +
                   " data, but the kernel does not start with its magic; produce the kernel with fastboop-stage0 "
                   "for this device");
  }

  const bool have_dtb = in.dtb && !in.dtb->empty();
  const DtbPlacement where = place_dtb(profile, have_dtb);
  if (!where.refusal.empty())
    return Error(who + ": " + where.refusal);
  plan.dtb_placement = where.name;
  if (where.appended) {
    plan.kernel_storage.reserve(in.kernel.size() + in.dtb->size());
    append(plan.kernel_storage, in.kernel);
    append(plan.kernel_storage, *in.dtb);
    a.kernel = plan.kernel_storage;
  } else {
    a.kernel = in.kernel;
  }
  if (where.second)
    a.second = *in.dtb;
  if (where.section)
    a.dtb = *in.dtb;
  a.ramdisk = in.ramdisk;

  a.cmdline = join_nonempty({bi.cmdline_append.value_or(""), in.stage0_cmdline, in.cmdline_append});
  const std::size_t max_cmdline = a.header_version >= 3 ? kV3ArgsSize - 1 : kBootArgsSize + kBootExtraArgsSize - 2;
  if (a.cmdline.size() > max_cmdline)
    return Error("kernel command line is " + std::to_string(a.cmdline.size()) + " bytes, " +
                 std::to_string(a.cmdline.size() - max_cmdline) + " over the " + std::to_string(max_cmdline) +
                 "-byte capacity of header v" + std::to_string(a.header_version) +
                 (a.header_version < 3 ? " (511 + NUL in cmdline, 1023 + NUL in extra_cmdline)" : "") +
                 "; shorten cmdline_append, the stage0 cmdline or --cmdline-append");
  if (a.cmdline.find('\0') != std::string::npos)
    return Error("kernel command line contains a NUL byte; check the stage0 cmdline file");

  // The limits through the same size plan stage0 checks (check_payload_limits).
  TRY(check_payload_limits(profile, {in.kernel.size(), have_dtb ? in.dtb->size() : 0, in.ramdisk.size()}));
  plan.image_size = TRY_CTX(boot_image_size(a), who); // footer included
  return plan;
}

Result<void> write_devpro_image(const DevproPlan& plan, const Sink& sink) {
  return write_boot_image(plan.args, sink);
}

std::string devpro_sidecar_json(const profiles::DeviceProfile& profile, const DevproPlan& plan,
                                const DevproInputs& in, std::uint64_t image_size, const std::string& image_sha512) {
  using json = nlohmann::ordered_json;
  const BootImageArgs& a = plan.args;
  json j;
  j["format"] = "fastboop-bootimg-sidecar";
  j["tool_version"] = std::string(version_string());
  json dev;
  dev["id"] = profile.id;
  if (profile.display_name)
    dev["display_name"] = *profile.display_name;
  dev["devicetree_name"] = profile.devicetree_name;
  json match = json::array();
  for (const auto& m : profile.match)
    match.push_back({{"vid", m.vid}, {"pid", m.pid}});
  dev["match"] = match;
  json probe = json::array();
  static constexpr std::string_view ops[] = {"equals", "starts_with", "not_equals", "exists", "not_exists"};
  for (const auto& s : profile.probe) {
    json step = {{"getvar", s.var}, {"op", ops[static_cast<std::size_t>(s.op)]}};
    if (s.op != profiles::ProbeOp::Exists && s.op != profiles::ProbeOp::NotExists)
      step["value"] = s.value;
    probe.push_back(step);
  }
  dev["probe"] = probe;
  // The packer's constraints, in DevPro form: the pusher checks the image
  // against them before any download, without the profile pool.
  dev["boot"] = json::parse(profiles::device_profile_boot_to_json(profile));
  j["device_profile"] = dev;
  const std::uint64_t page = a.header_version >= 3 ? kV3PageSize : a.page_size;
  json h;
  h["header_version"] = a.header_version;
  h["page_size"] = page;
  if (a.header_version < 3) {
    h["kernel_addr"] = format_hex(a.base + a.kernel_offset, 8);
    h["ramdisk_addr"] = format_hex(a.ramdisk.empty() ? 0 : a.base + a.ramdisk_offset, 8);
    h["second_addr"] = format_hex(a.second.empty() ? 0 : a.base + a.second_offset, 8);
    h["tags_addr"] = format_hex(a.base + a.tags_offset, 8);
    if (a.header_version == 2)
      h["dtb_addr"] = format_hex(a.base + a.dtb_offset, 8);
    h["board"] = a.board;
    h["id"] = to_hex(compute_boot_id(a));
  }
  h["kernel_encoding"] = std::string(profiles::kernel_encoding_name(profile.boot.kernel_encoding));
  h["dtb_placement"] = plan.dtb_placement;
  h["cmdline"] = a.cmdline;
  h["seandroidenforce"] = a.footer == Footer::SeandroidEnforce;
  j["header"] = h;
  auto part = [](ByteSpan d) { return json{{"size", d.size()}, {"sha512", sha512_hex(d)}}; };
  j["kernel"] = part(a.kernel);
  j["ramdisk"] = part(a.ramdisk);
  j["dtb"] = in.dtb ? part(*in.dtb) : json(nullptr);
  j["image"] = {{"size", image_size}, {"sha512", image_sha512}};
  if (in.rootfs_json)
    j["rootfs"] = json::parse(*in.rootfs_json, nullptr, false);
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<void> build_devpro_image(const profiles::DeviceProfile& profile, const DevproBuildOptions& o) {
  namespace fs = std::filesystem;
  const fs::path& dir = o.stage0_dir;
  TRY(check_output_path(o.output));
  if (o.depfile)
    TRY(check_output_path(*o.depfile));
  TRY(check_stage0_device(dir, profile));
  std::vector<std::string> deps;
  auto kernel = TRY_CTX(MappedFile::open(dir / "kernel"), "stage0 directory " + dir.string() + " needs a kernel");
  deps.push_back((dir / "kernel").string());
  std::vector<fs::path> cpios;
  for (const char* name : {"stage0.cpio", "stage0.cpio.gz", "stage0.cpio.lz4", "stage0.cpio.zst", "stage0.cpio.xz"})
    if (fs::exists(dir / name))
      cpios.push_back(dir / name);
  if (cpios.empty())
    return Error("stage0 directory " + dir.string() +
                 " has no stage0.cpio[.gz|.lz4|.zst|.xz]; run fastboop-stage0 with -o " + dir.string());
  if (cpios.size() > 1)
    return Error("stage0 directory " + dir.string() + " has several initramfs files (" + cpios[0].filename().string() +
                 ", " + cpios[1].filename().string() + "); keep exactly one");
  auto ramdisk = TRY(MappedFile::open(cpios[0]));
  deps.push_back(cpios[0].string());
  std::optional<MappedFile> dtb;
  if (fs::exists(dir / "devicetree.dtb")) {
    dtb.emplace(TRY(MappedFile::open(dir / "devicetree.dtb")));
    deps.push_back((dir / "devicetree.dtb").string());
  }
  std::string stage0_cmdline;
  if (fs::exists(dir / "cmdline")) {
    stage0_cmdline = TRY(read_text_file(dir / "cmdline", 1 << 16));
    deps.push_back((dir / "cmdline").string());
  }
  DevproInputs in;
  if (fs::exists(dir / "stage0.json")) {
    const auto manifest_path = dir / "stage0.json";
    const auto text = TRY(read_text_file(manifest_path, 16 << 20));
    const auto manifest = nlohmann::json::parse(text, nullptr, false);
    if (manifest.is_discarded() || !manifest.is_object())
      return Error(manifest_path.string() + ": not a JSON object");
    if (auto it = manifest.find("rootfs"); it != manifest.end()) {
      if (!it->is_object())
        return Error(manifest_path.string() + ": rootfs: expected an object");
      in.rootfs_json = it->dump();
    }
    deps.push_back(manifest_path.string());
  }
  in.kernel = kernel.bytes();
  in.ramdisk = ramdisk.bytes();
  if (dtb)
    in.dtb = dtb->bytes();
  in.stage0_cmdline = stage0_cmdline;
  in.cmdline_append = o.cmdline_append;
  DevproPlan plan = TRY(plan_devpro_image(profile, in));

  auto out = TRY(AtomicFile::create(o.output));
  Hasher hasher(HashAlgorithm::Sha512);
  std::uint64_t written = 0;
  TRY_CTX(write_devpro_image(plan,
                             [&](ByteSpan d) -> Result<void> {
                               hasher.update(d);
                               written += d.size();
                               return out.write(d);
                             }),
          o.output.string());
  const std::string sha = to_hex(hasher.finish());
  fs::path sidecar = o.output;
  sidecar += ".json";
  // The sidecar lands first. Should the image commit then fail, the sidecar's
  // sha512 no longer matches whatever boot.img is there and the pusher refuses.
  TRY(write_file_atomic(sidecar, devpro_sidecar_json(profile, plan, in, written, sha)));
  TRY(out.commit());
  if (o.depfile) {
    std::sort(deps.begin(), deps.end());
    TRY(write_depfile(*o.depfile, o.output.string(), deps));
  }
  return ok();
}

Result<std::string> restamp_sidecar(std::string_view sidecar_json, ByteSpan image,
                                    std::string_view origin) {
  using json = nlohmann::ordered_json;
  json j = json::parse(sidecar_json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("header") || !j["header"].is_object())
    return Error(std::string(origin) + ": not a boot.img sidecar (no header object)",
                 ErrorKind::Invalid);
  const ParsedImage parsed =
      TRY_CTX(parse_image(image), std::string(origin) + ": the image it describes");
  j["header"]["cmdline"] = parsed.cmdline;
  j["image"] = {{"size", image.size()}, {"sha512", sha512_hex(image)}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

} // namespace fastboop::bootimg
