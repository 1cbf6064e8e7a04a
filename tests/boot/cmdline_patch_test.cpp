// Per-boot tokens on a cached boot image: only the header's cmdline fields
// change, split the way the image was written, and the sidecar follows.
#include "bootimg/bootimg.hpp"
#include "bootimg/devpro.hpp"
#include "common/hash.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

namespace fastboop::bootimg {
namespace {

using ::testing::HasSubstr;

Bytes image_with(std::uint32_t version, const std::string& cmdline,
                 CmdlineSplit split = CmdlineSplit::Aosp) {
  static const Bytes kernel = test::random_bytes(5000, 1), ramdisk = test::random_bytes(3000, 2),
                     dtb = test::random_bytes(100, 3);
  BootImageArgs a;
  a.header_version = version;
  a.cmdline = cmdline;
  a.kernel = kernel;
  a.ramdisk = ramdisk;
  if (version == 2)
    a.dtb = dtb;
  a.cmdline_split = split;
  auto b = build_boot_image(a);
  EXPECT_TRUE(b) << b.error().message();
  return b ? *b : Bytes{};
}

// Everything but the cmdline fields is byte-identical.
void expect_only_cmdline_changed(const Bytes& before, const Bytes& after, std::uint32_t version) {
  ASSERT_EQ(before.size(), after.size());
  auto in_cmdline = [&](std::size_t i) {
    if (version >= 3)
      return i >= 44 && i < 44 + kV3ArgsSize;
    return (i >= 64 && i < 64 + kBootArgsSize) || (i >= 608 && i < 608 + kBootExtraArgsSize);
  };
  for (std::size_t i = 0; i < before.size(); ++i) {
    if (!in_cmdline(i)) {
      ASSERT_EQ(before[i], after[i]) << "byte " << i << " changed";
    }
  }
}

TEST(AppendBootCmdline, V2KeepsSectionsAndIdAndSpillsIntoTheExtraField) {
  const std::string base = "console=ttyMSM0 " + std::string(490, 'x');
  const Bytes before = image_with(2, base);
  Bytes after = before;
  ASSERT_TRUE(append_boot_cmdline(after, "systemd.clock_usec=1700000000000000"));
  expect_only_cmdline_changed(before, after, 2);
  auto parsed = parse_image(after);
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(parsed->cmdline, base + " systemd.clock_usec=1700000000000000");
  EXPECT_EQ(parsed->id, parse_image(before)->id);
  // The same bytes mkbootimg's split gives for the joined line.
  EXPECT_EQ(after, image_with(2, base + " systemd.clock_usec=1700000000000000"));
}

TEST(AppendBootCmdline, LegacySplitImagesKeepTheirSplit) {
  const std::string base(512, 'y');
  const Bytes before = image_with(0, base, CmdlineSplit::Legacy512);
  Bytes after = before;
  ASSERT_TRUE(append_boot_cmdline(after, "a=b"));
  EXPECT_EQ(after, image_with(0, base + " a=b", CmdlineSplit::Legacy512));
}

TEST(AppendBootCmdline, V3AndTooLongLines) {
  const Bytes before = image_with(3, "quiet");
  Bytes after = before;
  ASSERT_TRUE(append_boot_cmdline(after, "a=b c=d"));
  expect_only_cmdline_changed(before, after, 3);
  EXPECT_EQ(parse_image(after)->cmdline, "quiet a=b c=d");
  Bytes full = image_with(2, std::string(1500, 'z'));
  auto r = append_boot_cmdline(full, std::string(100, 'q'));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("the header holds at most 1534"));
}

TEST(RestampSidecar, UpdatesTheCmdlineAndTheImageDigestOnly) {
  Bytes image = image_with(2, "console=ttyMSM0");
  const std::string sidecar = R"({"format":"fastboop-bootimg-sidecar","device_profile":{"id":"x"},)"
                              R"("header":{"header_version":2,"cmdline":"console=ttyMSM0"},)"
                              R"("image":{"size":1,"sha512":"00"}})";
  ASSERT_TRUE(append_boot_cmdline(image, "a=b"));
  auto text = restamp_sidecar(sidecar, image, "boot.img.json");
  ASSERT_TRUE(text) << text.error().message();
  auto j = nlohmann::json::parse(*text);
  EXPECT_EQ(j["header"]["cmdline"], "console=ttyMSM0 a=b");
  EXPECT_EQ(j["image"]["size"], image.size());
  EXPECT_EQ(j["image"]["sha512"], sha512_hex(image));
  EXPECT_EQ(j["device_profile"]["id"], "x");
  EXPECT_FALSE(restamp_sidecar("[]", image, "boot.img.json"));
}

} // namespace
} // namespace fastboop::bootimg
