// fastboop-profile draft: Device Profile drafts from getvar answers (through
// the fastboot emulator replaying `getvar all` transcripts), stock boot images
// made by Debian's mkbootimg, and postmarketOS deviceinfo files.
#include "bootimg/devpro.hpp"
#include "draft/draft.hpp"
#include "emulator.hpp"
#include "profiles/profiles.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>

namespace fastboop::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::filesystem::path data(const std::string& name) { return source_dir() / "tests/draft/data" / name; }

std::vector<std::string> lines_of(const std::filesystem::path& path) {
  std::vector<std::string> out;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

profiles::DeviceProfile parse(const std::string& yaml) {
  auto p = profiles::parse_device_profile(yaml, "draft.yaml");
  EXPECT_TRUE(p.ok()) << p.error().message() << "\n" << yaml;
  return p.ok() ? *p : profiles::DeviceProfile{};
}

// The boot image the packer makes for `profile` (empty, with a failure, when
// it refuses).
Bytes pack(const profiles::DeviceProfile& profile, const bootimg::DevproInputs& inputs) {
  auto plan = bootimg::plan_devpro_image(profile, inputs);
  EXPECT_TRUE(plan.ok()) << plan.error().message();
  Bytes out;
  if (!plan.ok())
    return out;
  auto written = bootimg::write_devpro_image(*plan, [&](ByteSpan part) -> Result<void> {
    out.insert(out.end(), part.begin(), part.end());
    return ok();
  });
  EXPECT_TRUE(written.ok()) << written.error().message();
  return out;
}

draft::Deviceinfo deviceinfo(const std::string& name) {
  auto d = draft::parse_deviceinfo(read_text(data("deviceinfo/" + name)), name);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message());
  return d.ok() ? *d : draft::Deviceinfo{};
}

TEST(DraftGetvarAll, ParsesEveryVendorsFormat) {
  auto lk = draft::parse_getvar_all(lines_of(data("getvar-all/lk-oneplus.txt")));
  ASSERT_NE(lk.find("partition-type:op2"), nullptr);
  EXPECT_EQ(*lk.find("partition-type:op2"), "raw");
  EXPECT_EQ(*lk.find("product"), "sdm845");
  EXPECT_EQ(*lk.find("version-baseband"), ""); // "name:" with nothing after it
  auto abl = draft::parse_getvar_all(lines_of(data("getvar-all/abl-pixel.txt")));
  EXPECT_EQ(*abl.find("variant"), "SDM UFS");
  EXPECT_EQ(*abl.find("partition-size:boot_a"), "0x4000000");
  EXPECT_EQ(*abl.find("version-bootloader"), "b4s4-0.1-5613380");
  EXPECT_EQ(abl.find("all"), nullptr); // AOSP's closing "all:" line is no variable
  auto uboot = draft::parse_getvar_all(lines_of(data("getvar-all/uboot.txt")));
  EXPECT_EQ(*uboot.find("version-bootloader"), "U-Boot 2023.01");
  EXPECT_EQ(*uboot.find("product"), "qemu-arm");
  // A long value continued on the next INFO line, and junk.
  auto split = draft::parse_getvar_all({"version-baseband: MPSS.AT.4.0.c2", "-00011-SDM845_GEN_PACK", "?? !!"});
  EXPECT_EQ(*split.find("version-baseband"), "MPSS.AT.4.0.c2-00011-SDM845_GEN_PACK");
  EXPECT_EQ(split.vars.size(), 1u);
}

TEST(DraftDeviceinfo, FajitaMapsFieldByField) {
  draft::DraftInputs in;
  in.deviceinfo = deviceinfo("oneplus-fajita");
  auto d = draft::draft_device_profile(in);
  ASSERT_TRUE(d.ok()) << d.error().message();
  const auto& p = d->profile;
  EXPECT_EQ(p.id, "oneplus-fajita");
  EXPECT_EQ(p.display_name, "OnePlus 6T");
  EXPECT_EQ(p.devicetree_name, "qcom/sdm845-oneplus-fajita");
  EXPECT_EQ(p.boot.header_version, 2u);
  EXPECT_EQ(p.boot.page_size, 4096u);
  EXPECT_EQ(p.boot.base, 0u);
  EXPECT_EQ(p.boot.kernel_offset, 0x8000u);
  EXPECT_EQ(p.boot.dtb_offset, 0x01f00000u);
  EXPECT_EQ(p.boot.kernel_encoding, profiles::KernelEncoding::ImageGzDtb); // append_dtb
  // mkbootimg's default offsets need no extension fields.
  EXPECT_TRUE(p.boot.extensions.empty());
  EXPECT_TRUE(d->unmapped.empty());
  EXPECT_THAT(d->yaml, HasSubstr("UNTESTED"));
  EXPECT_THAT(d->yaml, HasSubstr("page_size: 4096  # deviceinfo"));
  EXPECT_EQ(parse(d->yaml), p);
  EXPECT_THAT(d->yaml, HasSubstr("match: []  # no live device given"));
}

TEST(DraftDeviceinfo, QuirksAreMappedOrListedNeverGuessed) {
  {
    draft::DraftInputs in;
    in.deviceinfo = deviceinfo("qcdt-msm8916");
    auto d = draft::draft_device_profile(in);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ(d->profile.boot.header_version, 0u);
    EXPECT_EQ(d->profile.boot.page_size, 2048u);
    EXPECT_EQ(d->profile.boot.base, 0x80000000u);
    EXPECT_EQ(d->profile.boot.kernel_offset, 0x00080000u);
    EXPECT_EQ(d->profile.boot.extensions.ramdisk_offset, 0x02000000u);
    EXPECT_EQ(d->profile.boot.extensions.tags_offset, 0x01e00000u);
    EXPECT_EQ(d->profile.boot.extensions.second_offset, std::nullopt); // the default
    ASSERT_EQ(d->unmapped.size(), 1u);
    EXPECT_THAT(d->unmapped[0], HasSubstr("bootimg_qcdt=true: fastboop cannot build a QCDT table"));
    EXPECT_THAT(d->yaml, HasSubstr("# NOT MAPPED: deviceinfo_bootimg_qcdt=true"));
  }
  {
    draft::DraftInputs in;
    in.deviceinfo = deviceinfo("samsung-heimdall");
    auto d = draft::draft_device_profile(in);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_TRUE(d->profile.boot.extensions.samsung_seandroidenforce);
    EXPECT_FALSE(d->profile.boot.extensions.dtb_in_second);
    EXPECT_THAT(::testing::PrintToString(d->unmapped), HasSubstr("flash_method=heimdall-bootimg"));
  }
  {
    draft::DraftInputs in;
    in.deviceinfo = deviceinfo("mediatek");
    auto d = draft::draft_device_profile(in);
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_TRUE(d->profile.boot.extensions.dtb_in_second);
    EXPECT_THAT(::testing::PrintToString(d->unmapped), HasSubstr("bootimg_mtk_mkimage=true"));
  }
  auto bad = draft::parse_deviceinfo("deviceinfo_name=\"unterminated\n", "broken");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("broken:1: deviceinfo_name: unterminated quote"));
  EXPECT_FALSE(draft::parse_deviceinfo("rm -rf /\n", "evil").ok());
}

// A stock image made by Debian's mkbootimg → analyze → draft: the same header
// fields, and a conflict with a deviceinfo that disagrees is shown.
TEST(DraftStockImage, MkbootimgImageGivesItsHeaderAndConflictsAreShown) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  TempDir dir;
  write_file(dir / "kernel", random_bytes(70000, 3));
  write_file(dir / "ramdisk", random_bytes(3000, 4));
  write_file(dir / "dtb", random_bytes(2000, 5));
  auto mk = run({"mkbootimg", "--kernel", (dir / "kernel").string(), "--ramdisk", (dir / "ramdisk").string(),
                 "--dtb", (dir / "dtb").string(), "--header_version", "2", "--pagesize", "4096", "--base", "0x0",
                 "--kernel_offset", "0x8000", "--dtb_offset", "0x01f00000", "-o", (dir / "boot.img").string()});
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  write_file(dir / "deviceinfo", read_text(data("deviceinfo/oneplus-fajita")) + "deviceinfo_flash_pagesize=\"2048\"\n");
  auto out = run({tool_path("fastboop-profile").string(), "draft", "--boot-image", (dir / "boot.img").string(),
                  "--deviceinfo", (dir / "deviceinfo").string(), "-o", (dir / "draft.yaml").string()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const std::string yaml = read_text(dir / "draft.yaml");
  const auto p = parse(yaml);
  EXPECT_EQ(p.boot.header_version, 2u);
  EXPECT_EQ(p.boot.page_size, 4096u); // the stock image wins
  EXPECT_EQ(p.boot.kernel_offset, 0x8000u);
  EXPECT_EQ(p.boot.dtb_offset, 0x01f00000u);
  EXPECT_THAT(yaml, HasSubstr("# CONFLICT: page_size: stock image boot.img says 4096, deviceinfo says 2048"));
  EXPECT_THAT(out.err, HasSubstr("conflict: page_size"));
  EXPECT_THAT(yaml, HasSubstr("header_version: 2  # stock image boot.img (deviceinfo agrees)"));
  // And it is a profile the checker accepts.
  auto check = run({tool_path("fastboop-profile").string(), "check", (dir / "draft.yaml").string()});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  // Packing the same parts with the draft gives the stock image back.
  const Bytes kernel = read_file(dir / "kernel"), ramdisk = read_file(dir / "ramdisk"), dtb = read_file(dir / "dtb");
  bootimg::DevproInputs inputs;
  inputs.kernel = kernel;
  inputs.ramdisk = ramdisk;
  inputs.dtb = ByteSpan(dtb);
  EXPECT_TRUE(pack(p, inputs) == read_file(dir / "boot.img")) << "draft -> pack differs from the stock image";
}

// The live device, over the emulator: only getvar is sent, and the draft
// tells the device apart from the profiles it could be confused with.
TEST(DraftLiveDevice, PixelTranscriptOnlyGetvarAndItIsTheBuiltInSargo) {
  Emulator emu({"--getvar-all", data("getvar-all/abl-pixel.txt").string()});
  TempDir dir;
  auto out = run({tool_path("fastboop-profile").string(), "draft", "--device", "-s", emu.tcp_target(), "--usb-id",
                  "18d1:4ee0", "--deviceinfo", data("deviceinfo/google-sargo").string(), "-o",
                  (dir / "d.yaml").string()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  for (const auto& cmd : emu.commands())
    EXPECT_EQ(cmd.rfind("getvar:", 0), 0u) << cmd;
  EXPECT_EQ(emu.commands(), std::vector<std::string>{"getvar:all"});
  const std::string yaml = read_text(dir / "d.yaml");
  const auto p = parse(yaml);
  ASSERT_EQ(p.match.size(), 1u);
  EXPECT_EQ(p.match[0].vid, 0x18d1);
  ASSERT_GE(p.probe.size(), 2u);
  EXPECT_EQ(p.probe[0], (profiles::ProbeStep{profiles::ProbeOp::Equals, "product", "sargo"}));
  EXPECT_EQ(p.probe[1], (profiles::ProbeStep{profiles::ProbeOp::Equals, "variant", "SDM UFS"}));
  for (const auto& step : p.probe)
    EXPECT_NE(step.var, "serialno") << "serial numbers only with --allow-serial-probe";
  // The built-in google-sargo matches this device too: said, not hidden.
  EXPECT_THAT(yaml, HasSubstr("# AMBIGUOUS with google-sargo: this device passes its probes too"));
  EXPECT_THAT(out.err, HasSubstr("cannot be told apart from google-sargo"));
}

TEST(DraftLiveDevice, SiblingProfileIsToldApartByTheVariableItChecks) {
  // A sibling profile that needs partition-type:op2; this device has none.
  TempDir dir;
  write_file(dir / "profiles/sibling.yaml", R"(id: example-sibling
devicetree_name: qcom/example-sibling
match:
  - fastboot: {vid: 0x18d1, pid: 0xd00d}
probe:
  - fastboot.getvar: product
    equals: example
  - fastboot.getvar: partition-type:op2
    equals: raw
boot:
  fastboot_boot:
    android_bootimg:
      header_version: 2
      page_size: 4096
      kernel:
        encoding: image.gz
)");
  Emulator emu({"--var", "product=example", "--var", "slot-count=2"});
  auto out = run({"env", "FASTBOOP_SCHEMA_PATH=" + (dir / "profiles").string(), tool_path("fastboop-profile").string(),
                  "draft", "--device", "-s", emu.tcp_target(), "--usb-id", "18d1:d00d", "--id", "example-new",
                  "--deviceinfo", data("deviceinfo/oneplus-fajita").string(), "-o", (dir / "d.yaml").string()});
  ASSERT_EQ(out.exit_code, 0) << out.err;
  const std::string yaml = read_text(dir / "d.yaml");
  const auto p = parse(yaml);
  EXPECT_THAT(p.probe, ::testing::Contains(profiles::ProbeStep{profiles::ProbeOp::NotExists, "partition-type:op2", ""}))
      << yaml;
  EXPECT_THAT(yaml, HasSubstr("# tells it apart from example-sibling"));
  EXPECT_THAT(yaml, Not(HasSubstr("AMBIGUOUS with example-sibling")));
  auto check = run({"env", "FASTBOOP_SCHEMA_PATH=" + (dir / "profiles").string(),
                    tool_path("fastboop-profile").string(), "check", "--strict", (dir / "d.yaml").string(),
                    (dir / "profiles/sibling.yaml").string()});
  EXPECT_EQ(check.exit_code, 0) << as_chars(check.out) << check.err;
}

TEST(DraftCli, NeedsBootConstraintsAndAWellFormedUsbId) {
  auto none = run({tool_path("fastboop-profile").string(), "draft"});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_THAT(none.err, HasSubstr("no boot constraints: give a stock boot image (--boot-image) or a postmarketOS"));
  auto bad = run({tool_path("fastboop-profile").string(), "draft", "--usb-id", "zz:1", "--deviceinfo",
                  data("deviceinfo/oneplus-fajita").string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.err, HasSubstr("--usb-id: expected VID:PID"));
}

// A dozen real pmaports deviceinfo files, field by field. `mkbootimg` marks
// the devices pmbootstrap builds a fastboot boot image for: their drafts are
// packed below and compared with Debian's mkbootimg.
struct RealDeviceinfo {
  std::string name;
  bool mkbootimg = false;
  std::uint32_t header_version = 0;
  std::optional<std::uint32_t> page_size;
  std::optional<std::uint64_t> base, dtb_offset, ramdisk_offset, second_offset, tags_offset;
  profiles::KernelEncoding encoding = profiles::KernelEncoding::ImageGzDtb;
  bool seandroidenforce = false;
  std::string devicetree_name;
  std::vector<std::string> unmapped; // each a prefix of one unmapped line, in order
};

const std::vector<RealDeviceinfo>& real_deviceinfos() {
  using profiles::KernelEncoding;
  static const std::vector<RealDeviceinfo> all = {
      {"oneplus-fajita", true, 2, 4096, 0, 0x01f00000, {}, {}, {}, KernelEncoding::ImageGzDtb, false,
       "qcom/sdm845-oneplus-fajita", {}},
      {"oneplus-enchilada", true, 0, 4096, 0, {}, {}, {}, {}, KernelEncoding::ImageGzDtb, false,
       "qcom/sdm845-oneplus-enchilada", {}},
      {"shift-axolotl", true, 0, 4096, 0, {}, {}, {}, {}, KernelEncoding::ImageGzDtb, false,
       "qcom/sdm845-shift-axolotl", {}},
      {"xiaomi-beryllium", true, 0, 4096, 0, {}, {}, {}, {}, KernelEncoding::ImageGzDtb, false,
       "qcom/sdm845-xiaomi-beryllium-ebbg", {"dtb variants (dtb_ebbg="}},
      {"fairphone-fp4", true, 0, 4096, 0, {}, {}, 0, {}, KernelEncoding::ImageGzDtb, false,
       "qcom/sm7225-fairphone-fp4", {}},
      {"google-sargo", true, 0, 4096, 0, {}, {}, 0, {}, KernelEncoding::ImageGzDtb, false,
       "qcom/sdm670-google-sargo", {}},
      {"google-bonito", true, 0, 4096, 0, {}, {}, 0, {}, KernelEncoding::ImageGzDtb, false,
       "qcom/sdm670-google-bonito-sdc", {"dtb variants (dtb_sdc="}},
      {"samsung-starqltechn", false, 0, 4096, 0, {}, 0x02000000, {}, 0x01e00000, KernelEncoding::ImageGz, false,
       "unknown", {"bootimg_override_payload=u-boot.bin"}},
      {"samsung-m0", false, 0, 2048, {}, {}, {}, {}, {}, KernelEncoding::ImageGzDtb, false, "exynos4412-i9300",
       {"flash_method=heimdall-bootimg"}},
      {"samsung-coreprimevelte", false, 0, 2048, 0x10000000, {}, {}, {}, 0xf0032000, KernelEncoding::ImageGz, true,
       "marvell/mmp/pxa1908-samsung-coreprimevelte",
       {"flash_method=heimdall-bootimg", "bootimg_qcdt=true", "bootimg_pxa=true",
        "bootimg_override_payload=u-boot.uImage"}},
      {"qcom-msm8953", false, 0, {}, {}, {}, {}, {}, {}, KernelEncoding::ImageGz, false, "unknown",
       {"dtb=qcom/apq8053-* qcom/msm8953-*", "generate_bootimg is not true"}},
      {"pine64-pinephone", false, 0, {}, {}, {}, {}, {}, {}, KernelEncoding::ImageGz, false,
       "allwinner/sun50i-a64-pinephone-1.1", {"flash_method=none"}},
      {"google-kukui", false, 0, {}, {}, {}, {}, {}, {}, KernelEncoding::ImageGz, false, "unknown",
       {"dtb=mediatek/mt8183-kukui*", "flash_method=none"}},
  };
  return all;
}

class DraftRealDeviceinfo : public ::testing::TestWithParam<RealDeviceinfo> {};

TEST_P(DraftRealDeviceinfo, MapsFieldByFieldAndListsTheRest) {
  const RealDeviceinfo& want = GetParam();
  draft::DraftInputs in;
  in.deviceinfo = deviceinfo(want.name);
  auto d = draft::draft_device_profile(in);
  if (!want.page_size) {
    // No Android boot image at all: the draft refuses, naming the reasons.
    ASSERT_FALSE(d.ok());
    EXPECT_THAT(d.error().message(), HasSubstr("draft: no page size"));
    for (const std::string& prefix : want.unmapped)
      EXPECT_THAT(d.error().message(), HasSubstr("\n  deviceinfo_" + prefix));
    return;
  }
  ASSERT_TRUE(d.ok()) << d.error().message();
  const auto& b = d->profile.boot;
  EXPECT_EQ(d->profile.id, want.name);
  EXPECT_EQ(d->profile.devicetree_name, want.devicetree_name);
  EXPECT_EQ(b.header_version, want.header_version);
  if (want.page_size) {
    EXPECT_EQ(b.page_size, *want.page_size);
  }
  EXPECT_EQ(want.base ? std::optional<std::uint64_t>(b.base) : std::nullopt, want.base);
  EXPECT_EQ(b.dtb_offset, want.dtb_offset);
  EXPECT_EQ(b.extensions.ramdisk_offset, want.ramdisk_offset);
  EXPECT_EQ(b.extensions.second_offset, want.second_offset);
  EXPECT_EQ(b.extensions.tags_offset, want.tags_offset);
  EXPECT_EQ(b.kernel_encoding, want.encoding);
  EXPECT_EQ(b.extensions.samsung_seandroidenforce, want.seandroidenforce);
  ASSERT_EQ(d->unmapped.size(), want.unmapped.size()) << ::testing::PrintToString(d->unmapped);
  std::vector<std::string> got = d->unmapped;
  for (const std::string& prefix : want.unmapped)
    EXPECT_TRUE(std::any_of(got.begin(), got.end(), [&](const std::string& u) { return u.starts_with(prefix); }))
        << prefix << " not in " << ::testing::PrintToString(got);
  for (const std::string& u : d->unmapped)
    EXPECT_THAT(d->yaml, HasSubstr("# NOT MAPPED: deviceinfo_" + u.substr(0, u.find(':'))));
  EXPECT_THAT(d->yaml, HasSubstr("UNTESTED"));
  // Every draft is a profile the parser reads back unchanged.
  EXPECT_EQ(parse(d->yaml), d->profile);
}

// What pmbootstrap's boot-deploy runs for these devices: mkbootimg with the
// deviceinfo's base, offsets and page size, the DTB appended to the kernel
// (append_dtb) and, from header v2, also given as --dtb. The image our packer
// makes from the draft must be the same bytes.
void pack_and_compare(const RealDeviceinfo& want) {
  draft::DraftInputs in;
  in.deviceinfo = deviceinfo(want.name);
  auto d = draft::draft_device_profile(in);
  ASSERT_TRUE(d.ok()) << d.error().message();
  const auto& info = in.deviceinfo->values;
  TempDir dir;
  Bytes kernel = random_bytes(90000, 7);
  kernel[0] = 0x1f; // a gzip member's magic, as image.gz expects
  kernel[1] = 0x8b;
  kernel[2] = 0x08;
  const Bytes ramdisk = random_bytes(5000, 8);
  const Bytes dtb = random_bytes(3000, 9);
  const std::string cmdline = "console=ttyMSM0,115200 fastboop.test=1";
  bootimg::DevproInputs inputs;
  inputs.kernel = kernel;
  inputs.ramdisk = ramdisk;
  inputs.dtb = ByteSpan(dtb);
  inputs.stage0_cmdline = cmdline;
  const Bytes ours = pack(d->profile, inputs);

  Bytes kernel_dtb = kernel;
  kernel_dtb.insert(kernel_dtb.end(), dtb.begin(), dtb.end());
  write_file(dir / "kernel-dtb", kernel_dtb);
  write_file(dir / "ramdisk", ramdisk);
  write_file(dir / "dtb", dtb);
  auto value = [&](const std::string& key) { return info.at(key); };
  std::vector<std::string> args = {"mkbootimg",
                                   "--kernel", (dir / "kernel-dtb").string(),
                                   "--ramdisk", (dir / "ramdisk").string(),
                                   "--base", value("flash_offset_base"),
                                   "--second_offset", value("flash_offset_second"),
                                   "--cmdline", cmdline,
                                   "--kernel_offset", value("flash_offset_kernel"),
                                   "--ramdisk_offset", value("flash_offset_ramdisk"),
                                   "--tags_offset", value("flash_offset_tags"),
                                   "--pagesize", value("flash_pagesize")};
  if (info.contains("header_version")) {
    args.insert(args.end(), {"--header_version", value("header_version")});
    if (std::stoi(value("header_version")) >= 2)
      args.insert(args.end(), {"--dtb", (dir / "dtb").string(), "--dtb_offset", value("flash_offset_dtb")});
  }
  args.insert(args.end(), {"-o", (dir / "mkbootimg.img").string()});
  auto mk = run(args);
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  const Bytes theirs = read_file(dir / "mkbootimg.img");
  ASSERT_EQ(ours.size(), theirs.size()) << want.name;
  EXPECT_TRUE(ours == theirs) << want.name << ": the first difference is at byte "
                              << (std::mismatch(ours.begin(), ours.end(), theirs.begin()).first - ours.begin());
}

// Panel variants: --id <codename>-<variant> picks that variant's DTB, and the
// draft names the --id for every other one.
TEST(DraftDeviceinfo, IdChoosesAPanelVariant) {
  draft::DraftInputs in;
  in.deviceinfo = deviceinfo("xiaomi-beryllium");
  in.id = "xiaomi-beryllium-tianma";
  auto d = draft::draft_device_profile(in);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(d->profile.id, "xiaomi-beryllium-tianma");
  EXPECT_EQ(d->profile.devicetree_name, "qcom/sdm845-xiaomi-beryllium-tianma");
  ASSERT_EQ(d->unmapped.size(), 1u);
  EXPECT_THAT(d->unmapped[0], HasSubstr("this draft is for dtb_tianma, draft the others with --id "
                                        "xiaomi-beryllium-ebbg"));
}

TEST(DraftRealDeviceinfoPack, PackedDraftEqualsMkbootimgWithPmbootstrapsArguments) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  int packed = 0;
  for (const RealDeviceinfo& want : real_deviceinfos())
    if (want.mkbootimg) {
      SCOPED_TRACE(want.name);
      pack_and_compare(want);
      ++packed;
    }
  EXPECT_EQ(packed, 7);
}

INSTANTIATE_TEST_SUITE_P(Pmaports, DraftRealDeviceinfo, ::testing::ValuesIn(real_deviceinfos()),
                         [](const auto& param_info) {
                           std::string n = param_info.param.name;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

} // namespace
} // namespace fastboop::test
