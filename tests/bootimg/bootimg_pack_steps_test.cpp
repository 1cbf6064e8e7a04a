// run_pack's decisions as pure functions (tools/lib/bootimg/commands.hpp):
// option parsing, the quirk rules, where --dtb goes, the depfile inputs and
// the --id line. No file is read or written.
#include "bootimg/commands.hpp"

#include <gtest/gtest.h>

namespace fastboop::bootimg {
namespace {

TEST(PackSteps, LayoutParsesMkbootimgIntegersAndEnums) {
  PackOptions o;
  o.header_version = "2";
  o.pagesize = "0x1000";
  o.base = "0x80000000";
  o.kernel_offset = "0o100000";
  o.dtb_offset = "0b1";
  o.os_version = "11.0.0";
  o.os_patch_level = "2021-05";
  o.cmdline_split = "legacy512";
  o.id_recipe = "lineage";
  auto l = parse_pack_layout(o);
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->header_version, 2u);
  EXPECT_EQ(l->page_size, 4096u);
  EXPECT_EQ(l->base, 0x80000000u);
  EXPECT_EQ(l->kernel_offset, 0100000u);
  EXPECT_EQ(l->dtb_offset, 1u);
  EXPECT_EQ(l->ramdisk_offset, 0x01000000u); // the default string
  EXPECT_EQ(l->os_version, (11u << 14));
  EXPECT_EQ(l->os_patch_level, ((2021u - 2000u) << 4) | 5u);
  EXPECT_EQ(l->cmdline_split, CmdlineSplit::Legacy512);
  EXPECT_EQ(l->id_recipe, IdRecipe::LineageDtSlot);
}

TEST(PackSteps, LayoutRefusesBadValuesAsUsageErrors) {
  auto refused = [](auto edit, const std::string& says) {
    PackOptions o;
    edit(o);
    auto l = parse_pack_layout(o);
    ASSERT_FALSE(l) << says;
    EXPECT_EQ(l.error().kind(), ErrorKind::Usage);
    EXPECT_NE(l.error().message().find(says), std::string::npos) << l.error().message();
  };
  refused([](PackOptions& o) { o.pagesize = "1024"; }, "is not one of 2048, 4096, 8192, 16384");
  refused([](PackOptions& o) { o.header_version = "0x100000000"; }, "does not fit 32 bits");
  refused([](PackOptions& o) { o.base = "ten"; }, "--base 'ten' is not an integer");
  refused([](PackOptions& o) { o.cmdline_split = "other"; }, "--cmdline-split must be");
  refused([](PackOptions& o) { o.id_recipe = "other"; }, "--id-recipe must be");
}

// The options of one run: -o, --vendor_boot, --dtb, --second and the quirks.
struct Given {
  bool output = true, vendor_boot = false, dtb = false, second = false;
  bool seandroidenforce = false, dtb_in_second = false;
};
PackOptions options(Given g) {
  PackOptions o;
  if (g.output)
    o.output.emplace("boot.img");
  if (g.vendor_boot)
    o.vendor_boot.emplace("vendor_boot.img");
  if (g.dtb)
    o.dtb.emplace("a.dtb");
  if (g.second)
    o.second.emplace("second");
  o.seandroidenforce = g.seandroidenforce;
  o.dtb_in_second = g.dtb_in_second;
  return o;
}

TEST(PackSteps, QuirkRules) {
  EXPECT_TRUE(check_pack_quirks(options({}), 0));
  // A quirk shapes the boot image: it needs -o.
  EXPECT_FALSE(check_pack_quirks(
      options({.output = false, .vendor_boot = true, .seandroidenforce = true}), 3));
  EXPECT_FALSE(check_pack_quirks(options({.dtb_in_second = true}), 2)); // no --dtb
  EXPECT_TRUE(check_pack_quirks(options({.dtb = true, .dtb_in_second = true}), 2));
  EXPECT_FALSE(
      check_pack_quirks(options({.dtb = true, .dtb_in_second = true}), 3)); // v3: no second stage
  EXPECT_FALSE(check_pack_quirks(options({.dtb = true, .second = true, .dtb_in_second = true}), 0));
}

TEST(PackSteps, DtbPlacement) {
  EXPECT_EQ(boot_dtb_placement(true, 0, false), BootDtbPlacement::Second);
  EXPECT_EQ(boot_dtb_placement(true, 1, false), BootDtbPlacement::Second);
  EXPECT_EQ(boot_dtb_placement(true, 2, false), BootDtbPlacement::SecondAndDtb);
  EXPECT_EQ(boot_dtb_placement(false, 2, true), BootDtbPlacement::Dtb);
  EXPECT_EQ(boot_dtb_placement(false, 0, false), BootDtbPlacement::Dtb);
  EXPECT_EQ(boot_dtb_placement(false, 3, false), BootDtbPlacement::Dtb); // the writer refuses it
  EXPECT_EQ(boot_dtb_placement(false, 3, true), BootDtbPlacement::None);
  EXPECT_EQ(boot_dtb_placement(false, 4, true), BootDtbPlacement::None);
}

TEST(PackSteps, DepfileInputsAreSortedOnce) {
  EXPECT_EQ(depfile_inputs({"b", "a", "b", "c", "a"}), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(depfile_inputs({}).empty());
}

TEST(PackSteps, IdLine) {
  const std::uint8_t id[] = {0x01, 0xab, 0xff};
  EXPECT_EQ(pack_id_line(id, true, 2), "0x01abff\n");
  EXPECT_EQ(pack_id_line(id, false, 2), "");
  EXPECT_EQ(pack_id_line(id, true, 3), "");
  EXPECT_EQ(pack_id_line(id, true, 4), "");
}

} // namespace
} // namespace fastboop::bootimg
