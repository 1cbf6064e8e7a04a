// DevPro mode: the rules on profile structs, then every built-in device end to
// end through the tool from a stage0 directory built with real tools (gzip,
// cpio, dtc), checked against Debian's mkbootimg and unpack_bootimg.
#include "bootimg/bootimg.hpp"
#include "bootimg/devpro.hpp"
#include "common/hash.hpp"
#include "common/text.hpp"
#include "profiles/profiles.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace fastboop;
using namespace fastboop::bootimg;
using profiles::DeviceProfile;
using profiles::KernelEncoding;
namespace fs = std::filesystem;

namespace {

std::string tool() { return (fs::read_symlink("/proc/self/exe").parent_path() / "fastboop-bootimg").string(); }

Bytes gz_like(std::size_t n) {
  Bytes b = test::random_bytes(n, 11);
  b[0] = 0x1f;
  b[1] = 0x8b;
  return b;
}

DeviceProfile profile(std::uint32_t version, KernelEncoding enc) {
  DeviceProfile p;
  p.id = "test-device";
  p.devicetree_name = "vendor/test";
  p.match = {{0x18d1, 0xd00d}};
  p.probe = {{profiles::ProbeOp::Equals, "product", "test"}};
  p.boot.header_version = version;
  p.boot.page_size = 2048;
  p.boot.base = 0x80000000;
  p.boot.kernel_encoding = enc;
  p.boot.cmdline_append = "  console=ttyMSM0,115200n8 ";
  return p;
}

struct Parts {
  Bytes kernel = gz_like(6000);
  Bytes ramdisk = test::random_bytes(4000, 12);
  Bytes dtb = test::random_bytes(900, 13);
  DevproInputs inputs(bool with_dtb = true) const {
    DevproInputs in;
    in.kernel = kernel;
    in.ramdisk = ramdisk;
    if (with_dtb)
      in.dtb = ByteSpan(dtb);
    in.stage0_cmdline = "\nsmoo.foo=1\n";
    in.cmdline_append = "quiet";
    return in;
  }
};

Result<Bytes> build(const DevproPlan& plan) {
  Bytes out;
  TRY(write_devpro_image(plan, [&](ByteSpan d) -> Result<void> {
    append(out, d);
    return ok();
  }));
  return out;
}

void expect_error(const Result<DevproPlan>& r, std::initializer_list<std::string_view> needles) {
  ASSERT_FALSE(r);
  for (auto n : needles)
    EXPECT_NE(r.error().message().find(n), std::string::npos) << "missing '" << n << "' in: " << r.error().message();
}

} // namespace

TEST(BootimgDevpro, V0AppendedDtb) {
  Parts parts;
  auto plan = plan_devpro_image(profile(0, KernelEncoding::ImageGzDtb), parts.inputs());
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->dtb_placement, "appended");
  auto img = build(*plan);
  ASSERT_TRUE(img);
  auto parsed = parse_image(*img);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->cmdline, "console=ttyMSM0,115200n8 smoo.foo=1 quiet");
  EXPECT_EQ(parsed->kernel_addr, 0x80008000u);
  EXPECT_EQ(parsed->ramdisk_addr, 0x81000000u);
  EXPECT_EQ(parsed->second_addr, 0u);
  EXPECT_EQ(parsed->id_recipe, IdRecipe::Aosp);
  Bytes expect_kernel = parts.kernel;
  append(expect_kernel, parts.dtb);
  ByteSpan k = section_bytes(*img, *parsed->section("kernel"));
  EXPECT_TRUE(std::equal(k.begin(), k.end(), expect_kernel.begin(), expect_kernel.end()));
  EXPECT_EQ(plan->image_size, img->size());
}

TEST(BootimgDevpro, V0WithoutPlaceForTheDtbIsAnError) {
  Parts parts;
  expect_error(plan_devpro_image(profile(0, KernelEncoding::ImageGz), parts.inputs()),
               {"nowhere to put the DTB", "image.gz+dtb", "dtb_in_second", "header_version 2"});
  expect_error(plan_devpro_image(profile(1, KernelEncoding::ImageGz), parts.inputs()), {"nowhere to put the DTB"});
  // No DTB at all is fine for v0/v1.
  auto plan = plan_devpro_image(profile(0, KernelEncoding::ImageGz), parts.inputs(false));
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->dtb_placement, "none");
  // +dtb without a DTB is not.
  expect_error(plan_devpro_image(profile(0, KernelEncoding::ImageGzDtb), parts.inputs(false)), {"devicetree.dtb"});
}

TEST(BootimgDevpro, V2SectionAndDtbInSecond) {
  Parts parts;
  auto p = profile(2, KernelEncoding::ImageGz);
  p.boot.dtb_offset = 0x01100000;
  auto plan = plan_devpro_image(p, parts.inputs());
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->dtb_placement, "section");
  auto img = build(*plan);
  ASSERT_TRUE(img);
  auto parsed = parse_image(*img);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->dtb_size, parts.dtb.size());
  EXPECT_EQ(parsed->dtb_addr, 0x81100000u);
  expect_error(plan_devpro_image(p, parts.inputs(false)), {"header v2 needs a DTB"});

  auto s = profile(0, KernelEncoding::ImageGz);
  s.boot.extensions.dtb_in_second = true;
  plan = plan_devpro_image(s, parts.inputs());
  ASSERT_TRUE(plan) << plan.error().message();
  img = build(*plan);
  ASSERT_TRUE(img);
  parsed = parse_image(*img);
  ASSERT_TRUE(parsed);
  ASSERT_NE(parsed->section("second"), nullptr);
  EXPECT_EQ(parsed->second_addr, 0x80f00000u);
  ByteSpan second = section_bytes(*img, *parsed->section("second"));
  EXPECT_TRUE(std::equal(second.begin(), second.end(), parts.dtb.begin(), parts.dtb.end()));
}

TEST(BootimgDevpro, LimitsNameNumbersAndFix) {
  Parts parts;
  auto p = profile(0, KernelEncoding::ImageGzDtb);
  p.boot.limits = profiles::BootLimits{6899, 0, 0};
  expect_error(plan_devpro_image(p, parts.inputs()),
               {"kernel (with appended DTB) is 6900 bytes", "1 over", "max_kernel_bytes = 6899", "test-device"});
  p.boot.limits = profiles::BootLimits{6900, 3999, 0};
  expect_error(plan_devpro_image(p, parts.inputs()), {"initramfs is 4000 bytes", "max_initrd_bytes = 3999"});
  p.boot.limits = profiles::BootLimits{0, 0, 14335};
  expect_error(plan_devpro_image(p, parts.inputs()), {"boot image is 14336 bytes", "max_total_bytes = 14335"});
  p.boot.limits = profiles::BootLimits{6900, 4000, 14336};
  EXPECT_TRUE(plan_devpro_image(p, parts.inputs()));
  p.boot.limits = profiles::BootLimits{0, 0, 0}; // 0 = none
  EXPECT_TRUE(plan_devpro_image(p, parts.inputs()));
}

TEST(BootimgDevpro, CmdlineCapacityAndNul) {
  Parts parts;
  auto p = profile(0, KernelEncoding::ImageGzDtb);
  p.boot.cmdline_append.reset();
  DevproInputs in = parts.inputs();
  in.stage0_cmdline = "";
  in.cmdline_append = std::string(1534, 'c');
  auto plan = plan_devpro_image(p, in);
  ASSERT_TRUE(plan) << plan.error().message();
  auto img = build(*plan);
  ASSERT_TRUE(img);
  EXPECT_EQ((*img)[64 + 511], 0);
  EXPECT_EQ((*img)[608 + 1023], 0);
  EXPECT_EQ(parse_image(*img)->cmdline, in.cmdline_append);
  in.cmdline_append += "c";
  expect_error(plan_devpro_image(p, in), {"1535 bytes", "1 over the 1534-byte capacity", "--cmdline-append"});
}

TEST(BootimgDevpro, HeaderRules) {
  Parts parts;
  auto p = profile(0, KernelEncoding::ImageGzDtb);
  p.boot.page_size = 1000;
  expect_error(plan_devpro_image(p, parts.inputs()), {"page_size 1000"});
  p = profile(3, KernelEncoding::ImageGz);
  expect_error(plan_devpro_image(p, parts.inputs()), {"fixed 4096-byte page", "page_size: 4096"});
  p.boot.page_size = 4096;
  expect_error(plan_devpro_image(p, parts.inputs()), {"vendor_boot"});
  EXPECT_TRUE(plan_devpro_image(p, parts.inputs(false)));
  p = profile(0, KernelEncoding::ImageGzDtb);
  Parts raw;
  raw.kernel = test::random_bytes(100, 3);
  raw.kernel[0] = 0;
  expect_error(plan_devpro_image(p, raw.inputs()), {"expects gzip"});
  p.boot.base = 0xffff0000;
  expect_error(plan_devpro_image(p, parts.inputs()), {"does not fit the 32-bit header field"});
}

TEST(BootimgDevpro, SeandroidFooterAndBoard) {
  Parts parts;
  auto p = profile(0, KernelEncoding::ImageGzDtb);
  p.boot.extensions.samsung_seandroidenforce = true;
  p.boot.extensions.board = "SRPOI01A000";
  auto plan = plan_devpro_image(p, parts.inputs());
  ASSERT_TRUE(plan) << plan.error().message();
  auto img = build(*plan);
  ASSERT_TRUE(img);
  EXPECT_EQ(img->size() % 2048, 16u);
  auto parsed = parse_image(*img);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->seandroidenforce);
  EXPECT_EQ(parsed->board, "SRPOI01A000");
}

// --- Every built-in device, through the tool --------------------------------

namespace {

struct Stage0Dir {
  test::TempDir dir;
  Bytes kernel_raw = test::random_bytes(300000, 21);
  void make(KernelEncoding enc) {
    test::write_file(dir / "Image", kernel_raw);
    auto r = test::sh("cd '" + dir.path().string() + "' && mkdir -p out root/bin && echo hi > root/bin/init && "
                      "(cd root && find . | LC_ALL=C sort | cpio -o -H newc --reproducible 2>/dev/null) | gzip -n9 "
                      "> out/stage0.cpio.gz && "
                      "printf '/dts-v1/;\\n/ { model = \"t\"; compatible = \"t,t\"; #address-cells = <1>; "
                      "#size-cells = <1>; };\\n' > t.dts && dtc -I dts -O dtb -o out/devicetree.dtb t.dts && "
                      "printf 'smoo.dev=usb\\n' > out/cmdline");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const bool gz = enc == KernelEncoding::ImageGz || enc == KernelEncoding::ImageGzDtb;
    r = test::sh("cd '" + dir.path().string() + "' && " + (gz ? "gzip -n1 < Image > out/kernel" : "cp Image out/kernel"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  fs::path out() const { return dir / "out"; }
};

std::string hex(std::uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

} // namespace

TEST(BootimgDevproBuiltins, EveryBuiltinBuildsAndMatchesMkbootimg) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  FASTBOOP_REQUIRE_PROGRAM("unpack_bootimg");
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  FASTBOOP_REQUIRE_PROGRAM("cpio");
  auto builtins = profiles::builtin_device_profiles();
  ASSERT_TRUE(builtins) << builtins.error().message();
  ASSERT_GE(builtins->size(), 8u);
  for (const auto& loaded : *builtins) {
    const DeviceProfile& p = loaded.profile;
    SCOPED_TRACE(p.id);
    Stage0Dir s;
    s.make(p.boot.kernel_encoding);
    if (::testing::Test::HasFatalFailure())
      return;
    fs::path img = s.dir / "boot.img";
    auto r = test::run({tool(), "--device-profile", p.id, "--stage0", s.out().string(), "--cmdline-append",
                        "fastboop.test=1", "-o", img.string(), "--depfile", (s.dir / "boot.d").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;

    // The same image from Debian's mkbootimg with the equivalent arguments.
    Bytes kernel = test::read_file(s.out() / "kernel");
    const bool appended = p.boot.kernel_encoding == KernelEncoding::ImageGzDtb ||
                          p.boot.kernel_encoding == KernelEncoding::ImageDtb;
    Bytes dtb = test::read_file(s.out() / "devicetree.dtb");
    if (appended)
      append(kernel, dtb);
    test::write_file(s.dir / "kernel-ref", kernel);
    std::string cmdline = join_nonempty({p.boot.cmdline_append.value_or(""), "smoo.dev=usb", "fastboop.test=1"});
    std::vector<std::string> argv = {"mkbootimg", "--header_version", std::to_string(p.boot.header_version),
                                     "--pagesize", std::to_string(p.boot.page_size), "--base",
                                     hex(p.boot.base.value_or(0)), "--kernel_offset",
                                     hex(p.boot.kernel_offset.value_or(0x8000)), "--kernel",
                                     (s.dir / "kernel-ref").string(), "--ramdisk",
                                     (s.out() / "stage0.cpio.gz").string(), "--cmdline", cmdline, "-o",
                                     (s.dir / "ref.img").string()};
    if (p.boot.header_version == 2)
      argv.insert(argv.end(), {"--dtb", (s.out() / "devicetree.dtb").string(), "--dtb_offset",
                               hex(p.boot.dtb_offset.value_or(0x01f00000))});
    auto m = test::run(argv);
    ASSERT_EQ(m.exit_code, 0) << m.err;
    ASSERT_LT(cmdline.size(), 512u);
    EXPECT_EQ(test::read_file(img), test::read_file(s.dir / "ref.img"));

    auto u = test::run({"unpack_bootimg", "--boot_img", img.string(), "--out", (s.dir / "unpacked").string()});
    ASSERT_EQ(u.exit_code, 0) << u.err;
    EXPECT_EQ(test::read_file(s.dir / "unpacked" / "kernel"), kernel);

    // Sidecar.
    auto sidecar = nlohmann::json::parse(as_chars(test::read_file(s.dir / "boot.img.json")));
    EXPECT_EQ(sidecar["device_profile"]["id"], p.id);
    EXPECT_EQ(sidecar["device_profile"]["match"][0]["vid"], p.match[0].vid);
    EXPECT_EQ(sidecar["device_profile"]["probe"].size(), p.probe.size());
    EXPECT_EQ(sidecar["header"]["header_version"], p.boot.header_version);
    EXPECT_EQ(sidecar["header"]["cmdline"], cmdline);
    EXPECT_EQ(sidecar["image"]["sha512"], sha512_hex(test::read_file(img)));
    EXPECT_EQ(sidecar["image"]["size"], test::read_file(img).size());
    EXPECT_EQ(sidecar["kernel"]["sha512"], sha512_hex(kernel));
    EXPECT_EQ(sidecar["dtb"]["size"], dtb.size());
    std::string depfile(as_chars(test::read_file(s.dir / "boot.d")));
    EXPECT_NE(depfile.find("stage0.cpio.gz"), std::string::npos);
    EXPECT_NE(depfile.find("devicetree.dtb"), std::string::npos);
  }
}

TEST(BootimgDevproBuiltins, ToolErrorsLeaveNoOutput) {
  auto builtins = profiles::builtin_device_profiles();
  ASSERT_TRUE(builtins);
  test::TempDir dir;
  fs::create_directories(dir / "s");
  test::write_file(dir / "s" / "kernel", gz_like(100));
  // No initramfs in the stage0 directory.
  auto r = test::run({tool(), "--device-profile", "arrow-db410c", "--stage0", (dir / "s").string(), "-o",
                      (dir / "boot.img").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("stage0.cpio"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "boot.img"));
  EXPECT_FALSE(fs::exists(dir / "boot.img.json"));
  // Unknown profile: a missing input (cli::Exit::MissingInput); the error lists what exists.
  r = test::run({tool(), "--device-profile", "no-such-device", "--stage0", (dir / "s").string(), "-o",
                 (dir / "boot.img").string()});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("arrow-db410c"), std::string::npos) << r.err;
  // v0 +dtb profile without a DTB.
  test::write_file(dir / "s" / "stage0.cpio", test::random_bytes(10, 1));
  r = test::run({tool(), "--device-profile", "arrow-db410c", "--stage0", (dir / "s").string(), "-o",
                 (dir / "boot.img").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("devicetree.dtb"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "boot.img"));
  // Usage errors.
  r = test::run({tool(), "--device-profile", "arrow-db410c", "-o", (dir / "boot.img").string()});
  EXPECT_EQ(r.exit_code, 2);
}

// Issue 16 item 1: a stage0 directory whose stage0.json names another device
// holds that device's kernel, DTB and modules; the packer refuses it, naming
// both ids, and writes nothing (no sidecar claiming the wrong device).
TEST(BootimgDevproBuiltins, RefusesAStage0BuiltForAnotherDeviceNamingBothIssue16Item1) {
  test::TempDir dir;
  fs::create_directories(dir / "s");
  test::write_file(dir / "s" / "kernel", gz_like(6000));
  test::write_file(dir / "s" / "stage0.cpio", test::random_bytes(4000, 12));
  test::write_file(dir / "s" / "devicetree.dtb", test::random_bytes(900, 13));
  test::write_file(dir / "s" / "stage0.json",
                   R"({"tool": "fastboop-stage0", "device": "oneplus-fajita"})");
  auto r = test::run({tool(), "--device-profile", "arrow-db410c", "--stage0", (dir / "s").string(),
                      "-o", (dir / "boot.img").string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("built for device profile 'oneplus-fajita'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not 'arrow-db410c'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "boot.img"));
  EXPECT_FALSE(fs::exists(dir / "boot.img.json"));
  // The same directory for the device it names is fine.
  test::write_file(dir / "s" / "stage0.json",
                   R"({"tool": "fastboop-stage0", "device": "arrow-db410c"})");
  r = test::run({tool(), "--device-profile", "arrow-db410c", "--stage0", (dir / "s").string(), "-o",
                 (dir / "boot.img").string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // A stage0.json that names no device is an error naming the file.
  test::write_file(dir / "s" / "stage0.json", R"({"tool": "fastboop-stage0"})");
  r = test::run({tool(), "--device-profile", "arrow-db410c", "--stage0", (dir / "s").string(), "-o",
                 (dir / "boot2.img").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find((dir / "s" / "stage0.json").string()), std::string::npos) << r.err;
}

// Issue 16 item 9: a missing output directory is the output's fault, not the
// device profile's, and nothing is created.
TEST(BootimgDevproBuiltins, MissingOutputDirectoryNamesTheOutputNotTheProfileIssue16Item9) {
  test::TempDir dir;
  fs::create_directories(dir / "s");
  test::write_file(dir / "s" / "kernel", gz_like(6000));
  test::write_file(dir / "s" / "stage0.cpio", test::random_bytes(4000, 12));
  test::write_file(dir / "s" / "devicetree.dtb", test::random_bytes(900, 13));
  const auto out = dir / "missing" / "dir" / "boot.img";
  auto r = test::run({tool(), "--device-profile", "arrow-db410c", "--stage0", (dir / "s").string(),
                      "-o", out.string()});
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("output " + out.string() + ": directory " +
                       (dir / "missing" / "dir").string() + " does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("device profile"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "missing"));
  // unpack: the parent of the output directory must exist too.
  auto built = test::run({tool(), "--device-profile", "arrow-db410c", "--stage0",
                          (dir / "s").string(), "-o", (dir / "boot.img").string()});
  ASSERT_EQ(built.exit_code, 0) << built.err;
  r = test::run(
      {tool(), "unpack", (dir / "boot.img").string(), "-o", (dir / "missing" / "parts").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("output " + (dir / "missing" / "parts").string()), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir / "missing"));
}

// Issue 16 item 2: the pusher's image check and the packer apply the same
// rules; an image the packer made for a profile passes, another profile's
// header, page size or limits do not.
TEST(BootimgDevpro, ImageCheckAgreesWithThePackerIssue16Item2) {
  Parts parts;
  auto p = profile(0, KernelEncoding::ImageGzDtb);
  auto plan = plan_devpro_image(p, parts.inputs());
  ASSERT_TRUE(plan) << plan.error().message();
  auto image = build(*plan);
  ASSERT_TRUE(image);
  auto parsed = parse_image(*image, IdCheck::Skip);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_TRUE(check_image_against_profile(*parsed, "boot.img", p));
  auto v2 = profile(2, KernelEncoding::ImageGz);
  auto r = check_image_against_profile(*parsed, "boot.img", v2);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("its header is v0, the profile's bootloader takes v2"),
            std::string::npos);
  auto paged = p;
  paged.boot.page_size = 4096;
  r = check_image_against_profile(*parsed, "boot.img", paged);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("page size is 2048, the profile's is 4096"),
            std::string::npos);
  // Limits: the packer refuses what the checker refuses, with the same words.
  auto limited = p;
  limited.boot.limits = profiles::BootLimits{std::nullopt, std::nullopt, image->size() - 1};
  r = check_image_against_profile(*parsed, "boot.img", limited);
  ASSERT_FALSE(r);
  auto packed = plan_devpro_image(limited, parts.inputs());
  ASSERT_FALSE(packed);
  const std::string rule = "boot image is " + std::to_string(image->size()) +
                           " bytes, 1 over the limit "
                           "max_total_bytes = " +
                           std::to_string(image->size() - 1);
  EXPECT_NE(r.error().message().find(rule), std::string::npos) << r.error().message();
  EXPECT_NE(packed.error().message().find(rule), std::string::npos) << packed.error().message();
  limited.boot.limits =
      profiles::BootLimits{parts.kernel.size() + parts.dtb.size() - 1, std::nullopt, std::nullopt};
  EXPECT_FALSE(check_image_against_profile(*parsed, "boot.img", limited));
  EXPECT_FALSE(plan_devpro_image(limited, parts.inputs()));
  limited.boot.limits->max_kernel_bytes = parts.kernel.size() + parts.dtb.size();
  EXPECT_TRUE(check_image_against_profile(*parsed, "boot.img", limited));
  EXPECT_TRUE(plan_devpro_image(limited, parts.inputs()));
}
