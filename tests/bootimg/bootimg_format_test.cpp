// Writer and parser unit tests: the spec's golden vectors, the os_version
// encoding, the cmdline split, header rules, and the parser's refusals.
#include "bootimg/bootimg.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

using namespace fastboop;
using namespace fastboop::bootimg;

namespace {

Bytes pattern(std::size_t n, unsigned mul, unsigned add) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>((mul * i + add) % 256);
  return b;
}

std::string long_cmdline() {
  std::string s;
  for (int i = 0; i < 100; ++i) {
    char tok[16];
    std::snprintf(tok, sizeof tok, "k%03d=v", i);
    if (i)
      s += ' ';
    s += tok;
  }
  return s;
}

// The spec's vectors come from upstream fastboop's packer, which differs from
// AOSP mkbootimg in exactly two header fields: it writes second_addr for an
// absent second stage and leaves the id zero. Applying those two differences
// to our output must give the vector's bytes.
std::string as_upstream_fastboop(Bytes img, std::uint64_t base) {
  store_le<std::uint32_t>(&img[28], static_cast<std::uint32_t>(base + 0x00f00000));
  std::fill(img.begin() + 576, img.begin() + 608, 0);
  return sha256_hex(img);
}

struct Inputs {
  Bytes kernel = pattern(5000, 7, 3);
  Bytes ramdisk = pattern(3000, 13, 1);
  Bytes dtb = pattern(700, 5, 9);
};

} // namespace

TEST(BootimgGolden, TV1_v0_page2048_base80000000) {
  Inputs in;
  BootImageArgs a;
  a.header_version = 0;
  a.page_size = 2048;
  a.base = 0x80000000;
  a.cmdline = "console=ttyMSM0,115200n8";
  a.kernel = in.kernel;
  a.ramdisk = in.ramdisk;
  auto img = build_boot_image(a);
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->size(), 12288u);
  EXPECT_EQ(as_upstream_fastboop(*img, a.base), "56df0400cd3d42b7e9ad09318b99fe40261d510b3627d61990a3bfffb0a9f5fa");
}

TEST(BootimgGolden, TV2_v2_dtb_section) {
  Inputs in;
  BootImageArgs a;
  a.header_version = 2;
  a.page_size = 4096;
  a.base = 0;
  a.cmdline = "console=ttyMSM0";
  a.kernel = in.kernel;
  a.ramdisk = in.ramdisk;
  a.dtb = in.dtb;
  auto img = build_boot_image(a);
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->size(), 20480u);
  EXPECT_EQ(as_upstream_fastboop(*img, 0), "c6edda67ce010489a2fd18ed3969b34f79c332c636b1bb07d7855255998a0cc3");
}

TEST(BootimgGolden, TV3_v1_long_cmdline_needs_the_legacy_split) {
  Inputs in;
  BootImageArgs a;
  a.header_version = 1;
  a.page_size = 4096;
  a.base = 0;
  a.cmdline = long_cmdline();
  ASSERT_EQ(a.cmdline.size(), 699u);
  a.kernel = in.kernel;
  a.ramdisk = in.ramdisk;
  a.cmdline_split = CmdlineSplit::Legacy512;
  auto img = build_boot_image(a);
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->size(), 16384u);
  EXPECT_EQ(as_upstream_fastboop(*img, 0), "cda3c2c0482b22528389a66579a457efff09b5c7e8c7d2cb24954979303eb0fb");
  // Upstream's split leaves no NUL at byte 511 of cmdline; the AOSP split
  // (our default) always does, which is the documented fix.
  EXPECT_NE((*img)[64 + 511], 0);
  a.cmdline_split = CmdlineSplit::Aosp;
  auto fixed = build_boot_image(a);
  ASSERT_TRUE(fixed);
  EXPECT_EQ((*fixed)[64 + 511], 0);
  EXPECT_NE(as_upstream_fastboop(*fixed, 0), "cda3c2c0482b22528389a66579a457efff09b5c7e8c7d2cb24954979303eb0fb");
}

TEST(BootimgGolden, TV4_v2_without_dtb_section_is_refused) {
  // Upstream writes v2 with dtb_size 0 for +dtb encodings; AOSP forbids it
  // and so do we (the DTB then rides appended to the kernel in v0/v1).
  Inputs in;
  Bytes kernel_dtb = in.kernel;
  kernel_dtb.insert(kernel_dtb.end(), in.dtb.begin(), in.dtb.end());
  BootImageArgs a;
  a.header_version = 2;
  a.page_size = 4096;
  a.base = 0;
  a.kernel = kernel_dtb;
  a.ramdisk = in.ramdisk;
  auto img = build_boot_image(a);
  ASSERT_FALSE(img);
  EXPECT_NE(img.error().message().find("non-empty DTB"), std::string::npos);
}

TEST(BootimgOsVersion, SpecExamples) {
  auto v = parse_os_version("11.0.0");
  auto p = parse_os_patch_level("2023-08-01");
  ASSERT_TRUE(v && p);
  EXPECT_EQ((*v << 11) | *p, 0x16000178u);
  v = parse_os_version("13.1.2");
  p = parse_os_patch_level("2024-12");
  ASSERT_TRUE(v && p);
  EXPECT_EQ((*v << 11) | *p, 0x1a04118cu);
  EXPECT_EQ(format_os_version(*v), "13.1.2");
  EXPECT_EQ(format_os_patch_level(*p), "2024-12");
  EXPECT_EQ(*parse_os_version("12"), 12u << 14);
  EXPECT_FALSE(parse_os_version("128.0.0"));
  EXPECT_FALSE(parse_os_version("1.2.3.4"));
  EXPECT_FALSE(parse_os_patch_level("2024-13"));
  EXPECT_FALSE(parse_os_patch_level("1999-01"));
  EXPECT_FALSE(parse_os_patch_level("2024"));
}

class BootimgCmdline : public ::testing::TestWithParam<std::size_t> {};

TEST_P(BootimgCmdline, NulAlwaysEndsThe512ByteField) {
  const std::size_t len = GetParam();
  std::string cmd(len, 'x');
  for (std::size_t i = 0; i < len; ++i)
    cmd[i] = static_cast<char>('a' + i % 26);
  Bytes kernel = pattern(100, 3, 1);
  for (std::uint32_t v : {0u, 1u, 2u}) {
    BootImageArgs a;
    a.header_version = v;
    a.kernel = kernel;
    Bytes dtb = pattern(64, 1, 1);
    if (v == 2)
      a.dtb = dtb;
    a.cmdline = cmd;
    auto img = build_boot_image(a);
    if (len > 1534) {
      ASSERT_FALSE(img);
      EXPECT_NE(img.error().message().find("at most 1534"), std::string::npos) << img.error().message();
      continue;
    }
    ASSERT_TRUE(img) << img.error().message();
    EXPECT_EQ((*img)[64 + 511], 0) << "v" << v;
    EXPECT_EQ((*img)[608 + 1023], 0) << "v" << v;
    auto parsed = parse_image(*img);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->cmdline, cmd);
    EXPECT_FALSE(parsed->cmdline_legacy_split);
  }
}

INSTANTIATE_TEST_SUITE_P(Lengths, BootimgCmdline,
                         ::testing::Values(0, 1, 510, 511, 512, 513, 1023, 1534, 1535, 1536, 1537));

TEST(BootimgCmdlineLegacy, Legacy512AcceptsUpTo1536) {
  Bytes kernel = pattern(100, 3, 1);
  BootImageArgs a;
  a.kernel = kernel;
  a.cmdline_split = CmdlineSplit::Legacy512;
  a.cmdline = std::string(1536, 'y');
  auto img = build_boot_image(a);
  ASSERT_TRUE(img) << img.error().message();
  auto parsed = parse_image(*img);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->cmdline_legacy_split);
  EXPECT_EQ(parsed->cmdline, a.cmdline);
  a.cmdline += "y";
  EXPECT_FALSE(build_boot_image(a));
}

TEST(BootimgCmdline, V3HoldsUpTo1535AndNulInside) {
  Bytes kernel = pattern(100, 3, 1);
  BootImageArgs a;
  a.header_version = 3;
  a.kernel = kernel;
  a.cmdline = std::string(1535, 'z');
  auto img = build_boot_image(a);
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ((*img)[44 + 1535], 0);
  a.cmdline += "z";
  EXPECT_FALSE(build_boot_image(a));
  a.cmdline = std::string("a\0b", 3);
  auto nul = build_boot_image(a);
  ASSERT_FALSE(nul);
  EXPECT_NE(nul.error().message().find("NUL"), std::string::npos);
}

TEST(BootimgRules, HeaderAndAddressChecks) {
  Bytes kernel = pattern(100, 3, 1);
  Bytes dtb = pattern(64, 1, 1);
  BootImageArgs a;
  a.kernel = kernel;
  a.page_size = 1024;
  auto r = build_boot_image(a);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("2048, 4096, 8192 or 16384"), std::string::npos);
  a.page_size = 2048;
  a.dtb = dtb;
  r = build_boot_image(a);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("append the DTB"), std::string::npos);
  a.dtb = {};
  a.header_version = 5;
  r = build_boot_image(a);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not supported"), std::string::npos);
  a.header_version = 0;
  a.base = 0xfffff000;
  r = build_boot_image(a);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("kernel address"), std::string::npos) << r.error().message();
  a.base = 0;
  a.board = "0123456789abcdef";
  EXPECT_FALSE(build_boot_image(a));
  a.board = "0123456789abcde";
  EXPECT_TRUE(build_boot_image(a));
  a.kernel = {};
  EXPECT_FALSE(build_boot_image(a));
}

TEST(BootimgRules, EmptySectionsGetZeroAddressesAndNoPages) {
  Bytes kernel = pattern(2049, 3, 1);
  BootImageArgs a;
  a.kernel = kernel;
  auto img = build_boot_image(a);
  ASSERT_TRUE(img);
  EXPECT_EQ(img->size(), 3u * 2048);
  EXPECT_EQ(load_le<std::uint32_t>(&(*img)[20]), 0u); // ramdisk_addr
  EXPECT_EQ(load_le<std::uint32_t>(&(*img)[28]), 0u); // second_addr
  EXPECT_EQ(load_le<std::uint32_t>(&(*img)[12]), 0x10008000u);
  EXPECT_EQ(load_le<std::uint32_t>(&(*img)[32]), 0x10000100u);
  // Padding is zero.
  for (std::size_t i = 2048 + 2049; i < img->size(); ++i)
    ASSERT_EQ((*img)[i], 0);
}

TEST(BootimgVendor, V4LayoutMatchesTheSpec) {
  Bytes r1 = pattern(3000, 11, 2), r2 = pattern(100, 17, 5), dtb = pattern(700, 5, 9);
  std::string bootconfig = "androidboot.foo=bar\n";
  VendorBootArgs v;
  v.header_version = 4;
  v.page_size = 4096;
  v.base = 0;
  v.ramdisks.push_back({r1, 0, "", {}});
  VendorRamdisk frag{r2, 3, "dlkm", {}};
  frag.board_id[0] = 0xabcd;
  v.ramdisks.push_back(frag);
  v.dtb = dtb;
  v.bootconfig = as_bytes(bootconfig);
  auto img = build_vendor_boot_image(v);
  ASSERT_TRUE(img) << img.error().message();
  const std::uint8_t* b = img->data();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(b), 8), "VNDRBOOT");
  EXPECT_EQ(load_le<std::uint32_t>(b + 16), 0x8000u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 20), 0x01000000u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 24), 3100u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 2096), 2128u);
  EXPECT_EQ(load_le<std::uint64_t>(b + 2104), 0x01f00000u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 2112), 216u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 2116), 2u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 2120), 108u);
  EXPECT_EQ(load_le<std::uint32_t>(b + 2124), bootconfig.size());
  // header, ramdisks (1 page), dtb (1 page), table (1 page), bootconfig (1 page)
  EXPECT_EQ(img->size(), 5u * 4096);
  auto parsed = parse_image(*img);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->vendor_ramdisks.size(), 2u);
  EXPECT_EQ(parsed->vendor_ramdisks[1].name, "dlkm");
  EXPECT_EQ(parsed->vendor_ramdisks[1].offset, 3000u);
  EXPECT_EQ(parsed->vendor_ramdisks[1].type, 3u);
  EXPECT_EQ(parsed->vendor_ramdisks[1].board_id[0], 0xabcdu);
  ASSERT_NE(parsed->section("bootconfig"), nullptr);
  EXPECT_EQ(as_chars(section_bytes(*img, *parsed->section("bootconfig"))), bootconfig);
  v.dtb = {};
  EXPECT_FALSE(build_vendor_boot_image(v));
}

// --- Parser refusals ---------------------------------------------------------

namespace {
Bytes small_v0() {
  Bytes kernel = pattern(3000, 3, 1);
  BootImageArgs a;
  a.kernel = kernel;
  return *build_boot_image(a);
}
} // namespace

TEST(BootimgParse, RejectsUnknownVersion) {
  Bytes img = small_v0();
  store_le<std::uint32_t>(&img[40], 7);
  auto r = parse_image(img);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("header_version 7"), std::string::npos);
}

TEST(BootimgParse, RejectsSectionsPastEof) {
  Bytes img = small_v0();
  img.resize(3000);
  auto r = parse_image(img);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("runs past the end"), std::string::npos) << r.error().message();
  Bytes tiny(100, 0);
  std::memcpy(tiny.data(), "ANDROID!", 8);
  store_le<std::uint32_t>(&tiny[36], 2048);
  EXPECT_FALSE(parse_image(tiny));
}

TEST(BootimgParse, RejectsOddPageSize) {
  Bytes img = small_v0();
  store_le<std::uint32_t>(&img[36], 1000);
  auto r = parse_image(img);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("page size 1000"), std::string::npos);
}

TEST(BootimgParse, HuaweiCairoSignIsNotReadAsV1Fields) {
  Bytes img = small_v0();
  std::memcpy(&img[1632], "Cairo SIGN\0\0\0\0\0\0\x12\x34\x56\x78", 20);
  // As v0 the vendor block is noted and ignored.
  auto as_v0 = parse_image(img);
  ASSERT_TRUE(as_v0) << as_v0.error().message();
  ASSERT_FALSE(as_v0->notes.empty());
  EXPECT_NE(as_v0->notes[0].find("Cairo SIGN"), std::string::npos);
  // A header claiming v1/v2 over such a block is refused, never guessed.
  for (std::uint32_t v : {1u, 2u}) {
    store_le<std::uint32_t>(&img[40], v);
    auto r = parse_image(img);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find("Cairo SIGN"), std::string::npos) << r.error().message();
  }
}

TEST(BootimgParse, WrongHeaderSizeAndMagic) {
  Bytes kernel = pattern(100, 3, 1);
  BootImageArgs a;
  a.kernel = kernel;
  a.header_version = 1;
  Bytes img = *build_boot_image(a);
  store_le<std::uint32_t>(&img[1644], 1700);
  auto r = parse_image(img);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("header_size"), std::string::npos);
  img[0] = 'X';
  r = parse_image(img);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("magic"), std::string::npos);
}

TEST(BootimgParse, LegacyQcdtWord) {
  Bytes img = small_v0();
  Bytes dt(3000, 0);
  std::memcpy(dt.data(), "QCDT", 4);
  img.insert(img.end(), dt.begin(), dt.end());
  store_le<std::uint32_t>(&img[40], 3000);
  auto r = parse_image(img);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->header_version, 0u);
  EXPECT_EQ(r->qcdt_size, 3000u);
  ASSERT_NE(r->section("dt"), nullptr);
}

TEST(BootimgParse, SeandroidFooter) {
  Bytes img = small_v0();
  append(img, std::string_view("SEANDROIDENFORCE"));
  auto r = parse_image(img);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->seandroidenforce);
}

TEST(BootimgId, LineageRecipeAddsADtSlot) {
  Bytes kernel = pattern(100, 3, 1);
  BootImageArgs a;
  a.kernel = kernel;
  Bytes aosp = compute_boot_id(a);
  a.id_recipe = IdRecipe::LineageDtSlot;
  Bytes lineage = compute_boot_id(a);
  EXPECT_NE(aosp, lineage);
  // Independent computation of both recipes.
  Hasher h(HashAlgorithm::Sha1);
  const std::uint8_t size_le[4] = {100, 0, 0, 0}, zero[4] = {};
  h.update(kernel);
  h.update(ByteSpan(size_le, 4));
  h.update(ByteSpan(zero, 4)); // ramdisk
  h.update(ByteSpan(zero, 4)); // second
  Bytes expect = h.finish();
  expect.resize(32);
  EXPECT_EQ(aosp, expect);
  auto img = build_boot_image(a);
  ASSERT_TRUE(img);
  auto parsed = parse_image(*img);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->id_recipe, IdRecipe::LineageDtSlot);
}

TEST(BootimgWriter, OverlappedIdEqualsSequential) {
  Bytes kernel = pattern(70000, 3, 1), ramdisk = pattern(5000, 5, 2), dtb = pattern(300, 7, 3);
  for (std::uint32_t v : {0u, 1u, 2u, 3u}) {
    BootImageArgs a;
    a.header_version = v;
    a.kernel = kernel;
    a.ramdisk = ramdisk;
    if (v == 2)
      a.dtb = dtb;
    auto expect = build_boot_image(a);
    ASSERT_TRUE(expect);
    Bytes out;
    auto r = write_boot_image_overlapped(
        a,
        [&](ByteSpan d) -> Result<void> {
          append(out, d);
          return ok();
        },
        [&](std::uint64_t offset, ByteSpan d) -> Result<void> {
          std::copy(d.begin(), d.end(), out.begin() + static_cast<std::ptrdiff_t>(offset));
          return ok();
        },
        // Odd-sized pieces: the id must not depend on how sections are read.
        [](ByteSpan section, const std::function<void(ByteSpan)>& consume) -> Result<void> {
          for (std::size_t at = 0; at < section.size(); at += 997)
            consume(section.subspan(at, std::min<std::size_t>(997, section.size() - at)));
          return ok();
        });
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(out, *expect) << "v" << v;
    EXPECT_EQ(*r, v < 3 ? compute_boot_id(a) : Bytes{}) << "v" << v;
  }
}

TEST(BootimgWriter, OverlappedReadFailureFailsTheImageBeforeTheIdIsWritten) {
  Bytes kernel = pattern(70000, 3, 1);
  BootImageArgs a;
  a.header_version = 2;
  a.kernel = kernel;
  a.dtb = kernel;
  bool patched = false;
  auto r = write_boot_image_overlapped(
      a, [](ByteSpan) -> Result<void> { return ok(); },
      [&](std::uint64_t, ByteSpan) -> Result<void> {
        patched = true;
        return ok();
      },
      [](ByteSpan, const std::function<void(ByteSpan)>&) -> Result<void> {
        return Error("cannot read kernel at offset 4096: Input/output error", ErrorKind::Io);
      });
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("computing the image id"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("cannot read kernel"), std::string::npos) << r.error().message();
  EXPECT_FALSE(patched);
}

TEST(BootimgParse, NotesFastbootClientStyleFields) {
  Bytes img = small_v0();
  store_le<std::uint32_t>(&img[20], 0x11000000); // ramdisk_addr without a ramdisk
  std::fill(img.begin() + 576, img.begin() + 608, 0);
  auto r = parse_image(img);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->id_recipe);
  ASSERT_EQ(r->notes.size(), 2u);
  EXPECT_NE(r->notes[0].find("ramdisk_addr"), std::string::npos);
  EXPECT_NE(r->notes[1].find("id is all zero"), std::string::npos);
}
