// Boot header v4 against the spec's byte layout (Debian's mkbootimg 29 cannot
// write v4), the bootloader-quirk options (SEANDROIDENFORCE footer,
// --dtb-in-second, the QCDT --dt table) in plain and DevPro mode, and unpack's
// arguments reproducing them or saying why they cannot.
#include "bootimg/bootimg.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace fastboop;
using namespace fastboop::bootimg;
namespace fs = std::filesystem;

namespace {

std::string tool() { return (fs::read_symlink("/proc/self/exe").parent_path() / "fastboop-bootimg").string(); }

std::string str(const Bytes& b) { return std::string(as_chars(b)); }

bool all_zero(const Bytes& b, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i)
    if (b[i] != 0)
      return false;
  return true;
}

// unpack IMAGE into DIR, rebuild with our pack from mkbootimg_args.nul; returns
// the unpack run (for its warnings) and leaves DIR/rebuilt.img.
ProcessOutput unpack_and_rebuild(const fs::path& image, const fs::path& dir, const std::string& out_opt = "-o") {
  auto u = test::run({tool(), "unpack", image.string(), "-o", dir.string()});
  EXPECT_EQ(u.exit_code, 0) << u.err;
  auto sh = test::sh("cd '" + dir.string() + "' && xargs -0 '" + tool() + "' " + out_opt + " rebuilt.img < mkbootimg_args.nul");
  EXPECT_EQ(sh.exit_code, 0) << sh.err << "\nargs: " << str(test::read_file(dir / "mkbootimg_args"));
  return u;
}

struct Parts {
  test::TempDir dir;
  Parts() {
    test::write_file(dir / "kernel", test::random_bytes(5001, 31));
    test::write_file(dir / "ramdisk", test::random_bytes(3003, 32));
    test::write_file(dir / "dtb", test::random_bytes(777, 33));
    Bytes dt = test::random_bytes(2500, 34);
    std::memcpy(dt.data(), "QCDT", 4);
    test::write_file(dir / "dt.img", dt);
  }
  std::string p(const std::string& name) const { return (dir / name).string(); }
};

} // namespace

// --- Header v4 ---------------------------------------------------------------

TEST(BootimgV4, LayoutMatchesTheSpec) {
  Bytes kernel = test::random_bytes(5000, 1), ramdisk = test::random_bytes(3000, 2);
  BootImageArgs a;
  a.header_version = 4;
  a.page_size = 2048; // ignored: v3/v4 use 4096
  a.kernel = kernel;
  a.ramdisk = ramdisk;
  a.os_version = *parse_os_version("13.1.2");
  a.os_patch_level = *parse_os_patch_level("2024-12");
  a.cmdline = "console=ttyMSM0 androidboot.x=y";
  auto img = build_boot_image(a);
  ASSERT_TRUE(img) << img.error().message();
  const std::uint8_t* b = img->data();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b), 8), "ANDROID!");
  EXPECT_EQ(load_le<std::uint32_t>(b + 8), 5000u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 12), 3000u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 16), 0x1a04118cu); // spec §1.6 example
  EXPECT_EQ(load_le<std::uint32_t>(b + 20), 1584u);
  EXPECT_TRUE(all_zero(*img, 24, 40)); // reserved[4]
  EXPECT_EQ(load_le<std::uint32_t>(b + 40), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b + 44)), a.cmdline);
  EXPECT_TRUE(all_zero(*img, 44 + a.cmdline.size(), 1580));
  EXPECT_EQ(load_le<std::uint32_t>(b + 1580), 0u); // signature_size: no GKI signing
  EXPECT_TRUE(all_zero(*img, 1584, 4096));
  // 4096-byte header page, kernel (2 pages), ramdisk (1 page), zero padded.
  ASSERT_EQ(img->size(), 4u * 4096);
  EXPECT_EQ(Bytes(img->begin() + 4096, img->begin() + 4096 + 5000), kernel);
  EXPECT_TRUE(all_zero(*img, 4096 + 5000, 3 * 4096));
  EXPECT_EQ(Bytes(img->begin() + 3 * 4096, img->begin() + 3 * 4096 + 3000), ramdisk);
  EXPECT_TRUE(all_zero(*img, 3 * 4096 + 3000, 4 * 4096));
  auto size = boot_image_size(a);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, img->size());

  auto parsed = parse_image(*img);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->header_version, 4u);
  EXPECT_EQ(parsed->header_size, 1584u);
  EXPECT_EQ(parsed->page_size, 4096u);
  EXPECT_EQ(parsed->signature_size, 0u);
  ASSERT_EQ(parsed->sections.size(), 2u);
  EXPECT_EQ(parsed->sections[0].name, "kernel");
  EXPECT_EQ(parsed->sections[0].offset, 4096u);
  EXPECT_EQ(parsed->sections[1].name, "ramdisk");
  EXPECT_EQ(parsed->sections[1].offset, 3u * 4096);
  EXPECT_TRUE(rebuild_caveats(*img, *parsed).empty());

  // A v4 image carrying a boot signature: the section follows the ramdisk,
  // and unpack's arguments cannot add it back, which the caveats say.
  Bytes signed_img = *img;
  store_le<std::uint32_t>(&signed_img[1580], 4096);
  Bytes sig = test::random_bytes(4096, 3);
  append(signed_img, sig);
  parsed = parse_image(signed_img);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_NE(parsed->section("signature"), nullptr);
  EXPECT_EQ(parsed->section("signature")->offset, 4u * 4096);
  auto caveats = rebuild_caveats(signed_img, *parsed);
  ASSERT_EQ(caveats.size(), 1u);
  EXPECT_NE(caveats[0].find("boot signature"), std::string::npos) << caveats[0];
}

TEST(BootimgV4, HeaderRules) {
  Bytes kernel = test::random_bytes(100, 1), other = test::random_bytes(100, 2);
  Bytes dt = test::random_bytes(100, 3);
  std::memcpy(dt.data(), "QCDT", 4);
  auto refused = [&](auto mutate, std::string_view needle) {
    BootImageArgs a;
    a.header_version = 4;
    a.kernel = kernel;
    mutate(a);
    auto r = build_boot_image(a);
    ASSERT_FALSE(r) << needle;
    EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
  };
  refused([&](BootImageArgs& a) { a.second = other; }, "second");
  refused([&](BootImageArgs& a) { a.dtb = other; }, "vendor_boot");
  refused([&](BootImageArgs& a) { a.recovery_dtbo = ByteSpan(other); }, "recovery_dtbo");
  refused([&](BootImageArgs& a) { a.dt = dt; }, "QCDT");
  refused([&](BootImageArgs& a) { a.cmdline = std::string(1536, 'x'); }, "1535");
  BootImageArgs a;
  a.header_version = 4;
  a.kernel = kernel;
  a.cmdline = std::string(1535, 'x');
  auto img = build_boot_image(a);
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ((*img)[44 + 1535], 0); // the field always ends in a NUL
}

TEST(BootimgV4, ToolPairInfoAndUnpackRoundTrip) {
  Parts s;
  test::write_file(s.dir / "vendor_ramdisk", test::random_bytes(6000, 40));
  test::write_file(s.dir / "bootconfig", std::string_view("androidboot.hardware=test\n"));
  // One run writes both images, like AOSP mkbootimg.
  auto r = test::run({tool(), "--header_version", "4", "--kernel", s.p("kernel"), "--ramdisk", s.p("ramdisk"),
                      "--cmdline", "console=ttyMSM0 quiet", "--os_version", "13.1.2", "--os_patch_level",
                      "2024-12-05", "-o", s.p("boot.img"), "--vendor_boot", s.p("vendor_boot.img"), "--pagesize",
                      "4096", "--base", "0", "--dtb", s.p("dtb"), "--vendor_ramdisk", s.p("vendor_ramdisk"),
                      "--vendor_cmdline", "androidboot.console=ttyMSM0", "--vendor_bootconfig",
                      s.p("bootconfig")});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto info = test::run({tool(), "info", "--json", s.p("boot.img")});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  auto j = nlohmann::json::parse(as_chars(info.out));
  EXPECT_EQ(j["kind"], "boot");
  EXPECT_EQ(j["header_version"], 4);
  EXPECT_EQ(j["header_size"], 1584);
  EXPECT_EQ(j["page_size"], 4096);
  EXPECT_EQ(j["signature_size"], 0);
  EXPECT_EQ(j["kernel_size"], 5001);
  EXPECT_EQ(j["ramdisk_size"], 3003);
  EXPECT_EQ(j["os_version"], "13.1.2");
  EXPECT_EQ(j["os_patch_level"], "2024-12");
  EXPECT_EQ(j["cmdline"], "console=ttyMSM0 quiet");
  EXPECT_FALSE(j.contains("dtb_size")); // the DTB went to vendor_boot only
  ASSERT_EQ(j["sections"].size(), 2u);
  EXPECT_EQ(j["sections"][1]["name"], "ramdisk");
  EXPECT_EQ(j["sections"][1]["offset"], 3 * 4096);
  EXPECT_EQ(j["file_size"], 4 * 4096); // header, kernel (2 pages), ramdisk
  EXPECT_EQ(j["notes"].size(), 0u);

  auto vinfo = test::run({tool(), "info", "--json", s.p("vendor_boot.img")});
  ASSERT_EQ(vinfo.exit_code, 0) << vinfo.err;
  auto v = nlohmann::json::parse(as_chars(vinfo.out));
  EXPECT_EQ(v["kind"], "vendor_boot");
  EXPECT_EQ(v["header_version"], 4);
  EXPECT_EQ(v["header_size"], 2128);
  EXPECT_EQ(v["dtb_size"], 777);
  EXPECT_EQ(v["kernel_addr"], 0x8000);
  EXPECT_EQ(v["vendor_ramdisk_table_entry_num"], 1);
  EXPECT_EQ(v["vendor_cmdline"], "androidboot.console=ttyMSM0");

  // unpack + pack gives back both images byte for byte, with no caveats.
  auto u = unpack_and_rebuild(s.dir / "boot.img", s.dir / "ub");
  EXPECT_EQ(u.err, "");
  EXPECT_EQ(test::read_file(s.dir / "ub" / "rebuilt.img"), test::read_file(s.dir / "boot.img"));
  EXPECT_EQ(test::read_file(s.dir / "ub" / "kernel"), test::read_file(s.dir / "kernel"));
  EXPECT_FALSE(fs::exists(s.dir / "ub" / "mkbootimg_args.caveats"));
  u = unpack_and_rebuild(s.dir / "vendor_boot.img", s.dir / "uv", "--vendor_boot");
  EXPECT_EQ(u.err, "");
  EXPECT_EQ(test::read_file(s.dir / "uv" / "rebuilt.img"), test::read_file(s.dir / "vendor_boot.img"));
}

// --- Quirk options, plain mkbootimg mode --------------------------------------

TEST(BootimgQuirks, SeandroidEnforceFooterMatchesDebianPlusFooter) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  Parts s;
  for (std::string version : {"0", "2"}) {
    SCOPED_TRACE("v" + version);
    std::vector<std::string> common = {"--header_version", version, "--kernel", s.p("kernel"), "--ramdisk",
                                       s.p("ramdisk"), "--cmdline", "console=ttySAC2", "--board", "SRPOI01A000"};
    if (version == "2")
      common.insert(common.end(), {"--dtb", s.p("dtb")});
    std::vector<std::string> deb = {"mkbootimg"};
    deb.insert(deb.end(), common.begin(), common.end());
    deb.insert(deb.end(), {"-o", s.p("deb.img")});
    auto r = test::run(deb);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> ours = {tool(), "--seandroidenforce"};
    ours.insert(ours.end(), common.begin(), common.end());
    ours.insert(ours.end(), {"-o", s.p("ours.img")});
    r = test::run(ours);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Bytes expect = test::read_file(s.dir / "deb.img");
    append(expect, std::string_view("SEANDROIDENFORCE"));
    EXPECT_EQ(test::read_file(s.dir / "ours.img"), expect);

    auto info = test::run({tool(), "info", "--json", s.p("ours.img")});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    auto j = nlohmann::json::parse(as_chars(info.out));
    EXPECT_EQ(j["seandroidenforce"], true);
    EXPECT_EQ(j["notes"].size(), 0u);

    // unpack's arguments carry the footer.
    const fs::path u = s.dir / ("u" + version);
    auto un = unpack_and_rebuild(s.dir / "ours.img", u);
    EXPECT_EQ(un.err, "");
    EXPECT_NE(str(test::read_file(u / "mkbootimg_args")).find("--seandroidenforce"), std::string::npos);
    EXPECT_EQ(test::read_file(u / "rebuilt.img"), test::read_file(s.dir / "ours.img"));
  }
  // The footer shapes the boot image; with only --vendor_boot it is a usage error.
  auto r = test::run({tool(), "--seandroidenforce", "--header_version", "3", "--dtb", s.p("dtb"),
                      "--vendor_ramdisk", s.p("ramdisk"), "--vendor_boot", s.p("vb.img")});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(BootimgQuirks, DtbInSecondMatchesDebianSecond) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  Parts s;
  for (std::string version : {"0", "1", "2"}) {
    SCOPED_TRACE("v" + version);
    std::vector<std::string> deb = {"mkbootimg", "--header_version", version, "--kernel", s.p("kernel"),
                                    "--ramdisk", s.p("ramdisk"), "--second", s.p("dtb"), "-o", s.p("deb.img")};
    if (version == "2")
      deb.insert(deb.end(), {"--dtb", s.p("dtb")});
    auto r = test::run(deb);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    r = test::run({tool(), "--header_version", version, "--kernel", s.p("kernel"), "--ramdisk", s.p("ramdisk"),
                   "--dtb", s.p("dtb"), "--dtb-in-second", "-o", s.p("ours.img")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(test::read_file(s.dir / "ours.img"), test::read_file(s.dir / "deb.img"));
  }
  // Without the flag a v0 --dtb has nowhere to go.
  auto r = test::run({tool(), "--kernel", s.p("kernel"), "--dtb", s.p("dtb"), "-o", s.p("x.img")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no DTB section"), std::string::npos) << r.err;
  // Usage errors: no DTB, a second stage as well, a header without second.
  r = test::run({tool(), "--kernel", s.p("kernel"), "--dtb-in-second", "-o", s.p("x.img")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--dtb FILE"), std::string::npos) << r.err;
  r = test::run({tool(), "--kernel", s.p("kernel"), "--dtb", s.p("dtb"), "--second", s.p("ramdisk"),
                 "--dtb-in-second", "-o", s.p("x.img")});
  EXPECT_EQ(r.exit_code, 2);
  r = test::run({tool(), "--header_version", "3", "--kernel", s.p("kernel"), "--dtb", s.p("dtb"),
                 "--dtb-in-second", "-o", s.p("x.img")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("second-stage"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(s.dir / "x.img"));
}

TEST(BootimgQuirks, QcdtDtSectionLayoutIdAndRoundTrip) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  Parts s;
  // Debian's mkbootimg has no --dt; the image without it must be ours minus
  // word 40 (dt_size), the id and the trailing dt pages.
  auto r = test::run({"mkbootimg", "--kernel", s.p("kernel"), "--ramdisk", s.p("ramdisk"), "--pagesize", "4096",
                      "-o", s.p("deb.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (std::string recipe : {"aosp", "lineage"}) {
    SCOPED_TRACE(recipe);
    r = test::run({tool(), "--kernel", s.p("kernel"), "--ramdisk", s.p("ramdisk"), "--pagesize", "4096", "--dt",
                   s.p("dt.img"), "--id-recipe", recipe, "-o", s.p("ours.img")});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    Bytes ours = test::read_file(s.dir / "ours.img"), deb = test::read_file(s.dir / "deb.img");
    const Bytes dt = test::read_file(s.dir / "dt.img");
    ASSERT_EQ(ours.size(), deb.size() + 4096);
    EXPECT_EQ(load_le<std::uint32_t>(&ours[40]), dt.size());
    EXPECT_EQ(Bytes(ours.begin() + static_cast<std::ptrdiff_t>(deb.size()),
                    ours.begin() + static_cast<std::ptrdiff_t>(deb.size() + dt.size())),
              dt);
    Bytes masked = Bytes(ours.begin(), ours.begin() + static_cast<std::ptrdiff_t>(deb.size()));
    std::fill(masked.begin() + 576, masked.begin() + 608, 0);
    std::fill(deb.begin() + 576, deb.begin() + 608, 0);
    store_le<std::uint32_t>(&masked[40], 0);
    EXPECT_EQ(masked, deb);
    // The id: AOSP ignores dt; the dt-slot recipe (LineageOS, osm0sis) hashes it.
    Hasher h(HashAlgorithm::Sha1);
    auto slot = [&](const Bytes& d) {
      h.update(d);
      std::uint8_t le[4];
      store_le<std::uint32_t>(le, static_cast<std::uint32_t>(d.size()));
      h.update(ByteSpan(le, 4));
    };
    slot(test::read_file(s.dir / "kernel"));
    slot(test::read_file(s.dir / "ramdisk"));
    slot({}); // second
    if (recipe == "lineage")
      slot(dt);
    Bytes id = h.finish();
    id.resize(32);
    EXPECT_EQ(Bytes(ours.begin() + 576, ours.begin() + 608), id);

    auto info = test::run({tool(), "info", "--json", s.p("ours.img")});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    auto j = nlohmann::json::parse(as_chars(info.out));
    EXPECT_EQ(j["header_version"], 0);
    EXPECT_EQ(j["qcdt_dt_size"], dt.size());
    EXPECT_EQ(j["id_recipe"], recipe);
    // unpack's arguments carry --dt and rebuild the same bytes.
    const fs::path u = s.dir / ("u-" + recipe);
    auto un = unpack_and_rebuild(s.dir / "ours.img", u);
    EXPECT_EQ(un.err, "");
    EXPECT_NE(str(test::read_file(u / "mkbootimg_args")).find("--dt dt"), std::string::npos);
    EXPECT_EQ(test::read_file(u / "dt"), dt);
    EXPECT_EQ(test::read_file(u / "rebuilt.img"), test::read_file(s.dir / "ours.img"));
  }
  // --dt is v0-only and must be a QCDT table.
  r = test::run({tool(), "--header_version", "1", "--kernel", s.p("kernel"), "--dt", s.p("dt.img"), "-o",
                 s.p("x.img")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("header v0"), std::string::npos) << r.err;
  r = test::run({tool(), "--kernel", s.p("kernel"), "--dt", s.p("dtb"), "-o", s.p("x.img")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("QCDT magic"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(s.dir / "x.img"));
}

// --- unpack says when its arguments cannot rebuild the image -----------------

TEST(BootimgQuirks, UnpackWarnsWhenTheArgumentsCannotRebuild) {
  Parts s;
  auto r = test::run({tool(), "--kernel", s.p("kernel"), "--ramdisk", s.p("ramdisk"), "-o", s.p("clean.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Bytes clean = test::read_file(s.dir / "clean.img");

  struct Variant {
    std::string name;
    Bytes image;
    std::string needle;
  };
  std::vector<Variant> variants;
  Bytes trailing = clean;
  append(trailing, std::string_view("SignerVer02 and a vendor certificate"));
  variants.push_back({"trailing", trailing, "belong to no section"});
  Bytes zero_id = clean;
  std::fill(zero_id.begin() + 576, zero_id.begin() + 608, 0);
  variants.push_back({"zero-id", zero_id, "SHA-1"});
  Bytes second_addr = clean; // fastboot-client style: second_addr without a second stage
  store_le<std::uint32_t>(&second_addr[28], 0x10f00000);
  variants.push_back({"second-addr", second_addr, "second_addr"});

  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    const fs::path img = s.dir / (v.name + ".img");
    test::write_file(img, v.image);
    const fs::path u = s.dir / ("u-" + v.name);
    auto un = unpack_and_rebuild(img, u);
    EXPECT_NE(un.err.find("warning"), std::string::npos) << un.err;
    EXPECT_NE(un.err.find(v.needle), std::string::npos) << un.err;
    std::string caveats = str(test::read_file(u / "mkbootimg_args.caveats"));
    EXPECT_NE(caveats.find(v.needle), std::string::npos) << caveats;
    // The warning is true: the rebuild does differ.
    EXPECT_NE(test::read_file(u / "rebuilt.img"), v.image);
    EXPECT_EQ(test::read_file(u / "rebuilt.img"), clean);
  }
  // Unpacking a clean image into the same directory drops the stale caveats.
  auto un = unpack_and_rebuild(s.dir / "clean.img", s.dir / "u-trailing");
  EXPECT_EQ(un.err, "");
  EXPECT_FALSE(fs::exists(s.dir / "u-trailing" / "mkbootimg_args.caveats"));
}

// --- The same quirks from a DevPro, through the tool --------------------------

TEST(BootimgQuirks, DevproQuirksThroughTheToolMatchPlainFlags) {
  FASTBOOP_REQUIRE_PROGRAM("mkbootimg");
  FASTBOOP_REQUIRE_PROGRAM("dtc");
  Parts s;
  const fs::path stage0 = s.dir / "stage0";
  fs::create_directories(stage0);
  // A real DTB, so that analyze can recognise it in the second-stage slot.
  auto sh = test::sh("cd '" + s.dir.path().string() + "' && gzip -n9 < kernel > stage0/kernel && cp ramdisk "
                     "stage0/stage0.cpio.gz && printf 'smoo.dev=usb\\n' > stage0/cmdline && "
                     "printf '/dts-v1/;\\n/ { model = \"q\"; compatible = \"t,q\"; #address-cells = <1>; "
                     "#size-cells = <1>; };\\n' > q.dts && dtc -I dts -O dtb -o stage0/devicetree.dtb q.dts");
  ASSERT_EQ(sh.exit_code, 0) << sh.err;
  const std::string devpro_dir = (test::source_dir() / "tests" / "bootimg" / "devpro").string();
  auto r = test::run({"env", "FASTBOOP_SCHEMA_PATH=" + devpro_dir, tool(), "--device-profile",
                      "test-samsung-quirks", "--stage0", stage0.string(), "-o", s.p("devpro.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The plain-mode flags give the same bytes...
  const std::string cmdline = "console=ttyMSM0,115200n8 smoo.dev=usb";
  r = test::run({tool(), "--header_version", "0", "--base", "0x10000000", "--tags_offset", "0x01e00000", "--board",
                 "SRPOI01A000", "--kernel", (stage0 / "kernel").string(), "--ramdisk",
                 (stage0 / "stage0.cpio.gz").string(), "--dtb", (stage0 / "devicetree.dtb").string(),
                 "--dtb-in-second", "--seandroidenforce", "--cmdline", cmdline, "-o", s.p("plain.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_file(s.dir / "devpro.img"), test::read_file(s.dir / "plain.img"));
  // ...and so does Debian's mkbootimg with the DTB as --second plus the footer.
  r = test::run({"mkbootimg", "--header_version", "0", "--base", "0x10000000", "--tags_offset", "0x01e00000",
                 "--board", "SRPOI01A000", "--kernel", (stage0 / "kernel").string(), "--ramdisk",
                 (stage0 / "stage0.cpio.gz").string(), "--second", (stage0 / "devicetree.dtb").string(),
                 "--cmdline", cmdline, "-o", s.p("deb.img")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Bytes expect = test::read_file(s.dir / "deb.img");
  append(expect, std::string_view("SEANDROIDENFORCE"));
  EXPECT_EQ(test::read_file(s.dir / "devpro.img"), expect);

  auto sidecar = nlohmann::json::parse(as_chars(test::read_file(s.dir / "devpro.img.json")));
  EXPECT_EQ(sidecar["device_profile"]["id"], "test-samsung-quirks");
  EXPECT_EQ(sidecar["header"]["dtb_placement"], "second");
  EXPECT_EQ(sidecar["header"]["seandroidenforce"], true);
  EXPECT_EQ(sidecar["image"]["size"], expect.size());
  EXPECT_EQ(sidecar["image"]["sha512"], sha512_hex(expect));

  // analyze reads both quirks back from the image.
  auto a = test::run({tool(), "analyze", s.p("devpro.img")});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string yaml = str(a.out);
  EXPECT_NE(yaml.find("samsung_seandroidenforce: true"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("dtb_in_second: true"), std::string::npos) << yaml;
}
