// The /etc/stage0 settings and module load list formats, tested from both
// sides: what the generator renders must parse back to the same values.
#include "stage0_settings/stage0_settings.hpp"

#include <gtest/gtest.h>

using namespace fastboop::stage0;

namespace {

std::vector<SettingsFile> files(std::initializer_list<std::pair<const char*, const char*>> list) {
  std::vector<SettingsFile> out;
  for (const auto& [name, content] : list)
    out.push_back({name, content});
  return out;
}

Stage0Settings everything() {
  Stage0Settings s;
  s.rootfs = RootFsType::Ext4;
  s.serial = "ABCDEF0123";
  s.yeet_fstab = false;
  s.ostree = "/ostree/boot.1/fedora/deadbeef/0";
  s.acm = true;
  s.queue_count = 2;
  s.queue_depth = 64;
  s.max_io_bytes = 1048576;
  s.vendor_id = 0x18d1;
  s.product_id = 0x4ee0;
  s.mimic_fastboot = true;
  s.smoo_log = "smoo=debug,info";
  s.firstboot_locale = "en_US.UTF-8";
  s.firstboot_locale_messages = "C";
  s.firstboot_keymap = "us";
  s.firstboot_timezone = "Europe/Berlin";
  s.root_device = "/dev/vda";
  s.root_device_timeout_s = 7;
  s.on_failure = OnFailure::Reboot;
  s.udc = "dummy_udc.0";
  s.init = "/sbin/init";
  s.udc_timeout_s = 3;
  s.ep1_timeout_s = 4;
  s.ublk_timeout_s = 60;
  s.other["vendor.future_key"] = "value with spaces";
  return s;
}

} // namespace

TEST(Stage0Settings, RoundTripEveryField) {
  const Stage0Settings in = everything();
  auto rendered = render_settings_files(in);
  ASSERT_TRUE(rendered.ok()) << rendered.error().message();
  ParsedSettings out = parse_settings_files(*rendered);
  EXPECT_TRUE(out.warnings.empty()) << out.warnings.front();
  EXPECT_EQ(out.settings, in);
}

TEST(Stage0Settings, RoundTripDefaultsWritesOnlyRootfs) {
  Stage0Settings in;
  in.rootfs = RootFsType::Erofs;
  auto rendered = render_settings_files(in);
  ASSERT_TRUE(rendered.ok());
  ASSERT_EQ(rendered->size(), 1u);
  EXPECT_EQ((*rendered)[0], (SettingsFile{"stage0.rootfs", "erofs\n"}));
  EXPECT_EQ(parse_settings_files(*rendered).settings, in);
}

TEST(Stage0Settings, RenderedFilesAreSortedValueNewline) {
  auto rendered = render_settings_files(everything());
  ASSERT_TRUE(rendered.ok());
  for (std::size_t i = 1; i < rendered->size(); ++i)
    EXPECT_LT((*rendered)[i - 1].name, (*rendered)[i].name);
  for (const SettingsFile& f : *rendered) {
    ASSERT_FALSE(f.content.empty());
    EXPECT_EQ(f.content.back(), '\n') << f.name;
    EXPECT_EQ(f.content.find('\n'), f.content.size() - 1) << f.name;
  }
  // USB ids are written as lowercase 0x%04x, like the upstream generator.
  auto vendor = std::find_if(rendered->begin(), rendered->end(),
                             [](const SettingsFile& f) { return f.name == "smoo.vendor"; });
  ASSERT_NE(vendor, rendered->end());
  EXPECT_EQ(vendor->content, "0x18d1\n");
}

TEST(Stage0Settings, RenderRequiresRootfs) {
  auto rendered = render_settings_files(Stage0Settings{});
  ASSERT_FALSE(rendered.ok());
  EXPECT_NE(rendered.error().message().find("stage0.rootfs"), std::string::npos);
}

TEST(Stage0Settings, RenderRejectsValuesTheReaderWouldChange) {
  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"stage0.serial", ""},
                                                        {"stage0.serial", " padded"},
                                                        {"stage0.serial", "a\nb"},
                                                        {"stage0.serial", std::string("a\0b", 3)},
                                                        {"../escape", "1"},
                                                        {"a/b", "1"},
                                                        {".", "1"},
                                                        {"", "1"}}) {
    auto rendered = render_settings_files(SettingsMap{{name, value}});
    EXPECT_FALSE(rendered.ok()) << "key '" << name << "' value '" << value << "'";
  }
}

TEST(Stage0Settings, ReaderTrimsAndEmptyMeansOne) {
  auto raw = settings_map_from_files(
      files({{"smoo.acm", ""}, {"stage0.serial", "  abc \n"}, {"stage0.rootfs", "erofs\n"}}));
  EXPECT_EQ(raw.at("smoo.acm"), "1");
  EXPECT_EQ(raw.at("stage0.serial"), "abc");
  ParsedSettings p = parse_settings(raw);
  EXPECT_TRUE(p.settings.acm);
  EXPECT_EQ(p.settings.serial, "abc");
  EXPECT_EQ(p.settings.rootfs, RootFsType::Erofs);
}

// Issue 21: a live ISO's nested root image, loop-mounted from the squashfs.
TEST(Stage0Settings, NestedRootImageRoundTripsAndIsChecked) {
  Stage0Settings in;
  in.rootfs = RootFsType::Squashfs;
  in.rootfs_image = "/LiveOS/rootfs.img";
  in.rootfs_image_type = RootFsType::Ext4;
  auto map = to_settings_map(in);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->at("stage0.rootfs"), "squashfs");
  EXPECT_EQ(map->at("stage0.rootfs_image"), "/LiveOS/rootfs.img");
  EXPECT_EQ(map->at("stage0.rootfs_image_type"), "ext4");
  ParsedSettings back = parse_settings(*map);
  EXPECT_TRUE(back.warnings.empty());
  EXPECT_EQ(back.settings.rootfs, RootFsType::Squashfs);
  EXPECT_EQ(back.settings.rootfs_image, "/LiveOS/rootfs.img");
  EXPECT_EQ(back.settings.rootfs_image_type, RootFsType::Ext4);
  // A relative image path and a squashfs image type are ignored with a warning.
  ParsedSettings bad =
      parse_settings({{"stage0.rootfs_image", "LiveOS/rootfs.img"}, {"stage0.rootfs_image_type", "squashfs"}});
  EXPECT_EQ(bad.warnings.size(), 2u);
  EXPECT_TRUE(bad.settings.rootfs_image.empty());
  EXPECT_FALSE(bad.settings.rootfs_image_type);
}

// Issue 21: a live ISO on a local disk; the root is a byte range of it.
TEST(Stage0Settings, RootByteRangeRoundTripsAndIsChecked) {
  Stage0Settings in;
  in.rootfs = RootFsType::Squashfs;
  in.root_device = "/dev/vda";
  in.root_offset = 1048576;
  in.root_size = 8192000;
  auto map = to_settings_map(in);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->at("stage0.root_offset"), "1048576");
  EXPECT_EQ(map->at("stage0.root_size"), "8192000");
  ParsedSettings back = parse_settings(*map);
  EXPECT_TRUE(back.warnings.empty());
  EXPECT_EQ(back.settings, in);
  EXPECT_TRUE(is_known_key("stage0.root_offset"));
  EXPECT_TRUE(is_known_key("stage0.root_size"));
  ParsedSettings bad = parse_settings({{"stage0.root_offset", "-1"}, {"stage0.root_size", "1k"}});
  EXPECT_EQ(bad.invalid.size(), 2u);
  EXPECT_FALSE(bad.settings.root_offset);
  EXPECT_FALSE(bad.settings.root_size);
}

TEST(Stage0Settings, Defaults) {
  ParsedSettings p = parse_settings({});
  EXPECT_FALSE(p.settings.rootfs.has_value());
  EXPECT_TRUE(p.settings.yeet_fstab);
  EXPECT_FALSE(p.settings.acm);
  EXPECT_FALSE(p.settings.mimic_fastboot);
  EXPECT_EQ(p.settings.on_failure, OnFailure::Panic);
  EXPECT_FALSE(p.settings.vendor_id.has_value());
  EXPECT_TRUE(p.warnings.empty());
}

TEST(Stage0Settings, RootfsAcceptsOnlyErofsExt4AndSquashfs) {
  EXPECT_EQ(parse_rootfs("erofs"), RootFsType::Erofs);
  EXPECT_EQ(parse_rootfs("ext4"), RootFsType::Ext4);
  EXPECT_EQ(parse_rootfs("squashfs"), RootFsType::Squashfs);
  EXPECT_FALSE(parse_rootfs("xfs"));
  EXPECT_FALSE(parse_rootfs("EROFS"));
  ParsedSettings p = parse_settings({{"stage0.rootfs", "xfs"}});
  EXPECT_FALSE(p.settings.rootfs);
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("stage0.rootfs"), std::string::npos);
}

TEST(Stage0Settings, BoolLiteralsAreExactAndLowercase) {
  for (const char* yes : {"1", "true", "yes", "on"})
    EXPECT_EQ(parse_bool(yes), true) << yes;
  for (const char* no : {"0", "false", "no", "off"})
    EXPECT_EQ(parse_bool(no), false) << no;
  for (const char* bad : {"nah", "TRUE", "On", "2", ""})
    EXPECT_FALSE(parse_bool(bad)) << bad;
  // An invalid boolean warns and keeps the default (yeetfstab defaults to true).
  ParsedSettings p = parse_settings({{"stage0.yeetfstab", "nah"}, {"smoo.acm", "TRUE"}});
  EXPECT_TRUE(p.settings.yeet_fstab);
  EXPECT_FALSE(p.settings.acm);
  EXPECT_EQ(p.warnings.size(), 2u);
}

TEST(Stage0Settings, NumberParsers) {
  EXPECT_EQ(parse_u16("65535"), 65535);
  EXPECT_FALSE(parse_u16("65536"));
  EXPECT_FALSE(parse_u16("0x10")); // plain u16 is decimal only
  EXPECT_FALSE(parse_u16("-1"));
  EXPECT_FALSE(parse_u16(""));
  EXPECT_EQ(parse_u16_flexible("0x18D1"), 0x18d1);
  EXPECT_EQ(parse_u16_flexible("0X4ee0"), 0x4ee0);
  EXPECT_EQ(parse_u16_flexible("6353"), 6353);
  EXPECT_FALSE(parse_u16_flexible("0x"));
  EXPECT_FALSE(parse_u16_flexible("0x10000"));
  EXPECT_FALSE(parse_u16_flexible("0xg"));
  EXPECT_EQ(parse_u64("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_u64("18446744073709551616"));
  EXPECT_FALSE(parse_u64("1M")); // no suffixes
  EXPECT_EQ(parse_u32("4294967295"), UINT32_MAX);
  EXPECT_FALSE(parse_u32("4294967296"));
  EXPECT_FALSE(parse_u32(std::string(10000, '9')));
}

TEST(Stage0Settings, AliasUsedWhenPrimaryAbsentOrInvalid) {
  ParsedSettings p = parse_settings({{"smoo.vendor_id", "0x1234"},
                                     {"smoo.product", "bogus"},
                                     {"smoo.product_id", "0x5678"},
                                     {"smoo.queue_depth", "32"},
                                     {"smoo.queue_size", "99"},
                                     {"smoo.max_io", "4096"}});
  EXPECT_EQ(p.settings.vendor_id, 0x1234);
  EXPECT_EQ(p.settings.product_id, 0x5678);
  EXPECT_EQ(p.settings.queue_depth, 32); // primary valid: alias ignored
  EXPECT_EQ(p.settings.max_io_bytes, 4096u);
  ASSERT_EQ(p.warnings.size(), 1u);
  EXPECT_NE(p.warnings[0].find("smoo.product"), std::string::npos);
}

TEST(Stage0Settings, OnFailureValues) {
  EXPECT_EQ(parse_settings({{"stage0.on_failure", "halt"}}).settings.on_failure, OnFailure::Halt);
  EXPECT_EQ(parse_settings({{"stage0.on_failure", "reboot"}}).settings.on_failure,
            OnFailure::Reboot);
  ParsedSettings bad = parse_settings({{"stage0.on_failure", "shell"}});
  EXPECT_EQ(bad.settings.on_failure, OnFailure::Panic);
  EXPECT_EQ(bad.warnings.size(), 1u);
}

TEST(Stage0Settings, UnsupportedAndUnknownKeysAreKept) {
  ParsedSettings p = parse_settings({{"smoo.break", "1"}, {"stage0.fb", "1"}, {"x.y", "z"}});
  EXPECT_EQ(p.settings.other.size(), 3u);
  EXPECT_EQ(p.warnings.size(), 2u); // break and fb are named; unknown keys are silent
  auto rendered = render_settings_files([&] {
    Stage0Settings s = p.settings;
    s.rootfs = RootFsType::Erofs;
    return s;
  }());
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(rendered->size(), 4u);
}

TEST(Stage0Settings, KnownKeys) {
  EXPECT_TRUE(is_known_key("stage0.rootfs"));
  EXPECT_TRUE(is_known_key("firstboot.locale-messages"));
  EXPECT_TRUE(is_known_key("smoo.queue_size"));
  EXPECT_TRUE(is_known_key("stage0.root_device"));
  EXPECT_FALSE(is_known_key("smoo"));
  EXPECT_FALSE(is_known_key("quiet"));
  auto keys = known_keys();
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end());
}

TEST(ModuleList, RoundTrip) {
  std::vector<std::string> modules = {"usb-common", "udc-core", "libcomposite",
                                      "usb_f_fs",   "ublk_drv", "erofs"};
  auto text = render_module_list(modules);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "usb-common\nudc-core\nlibcomposite\nusb_f_fs\nublk_drv\nerofs\n");
  EXPECT_EQ(parse_module_list(*text), modules);
}

TEST(ModuleList, EmptyListIsEmptyFile) {
  auto text = render_module_list({});
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "");
  EXPECT_TRUE(parse_module_list("").empty());
}

TEST(ModuleList, ReaderSkipsCommentsAndBlankLinesAndTrims) {
  EXPECT_EQ(parse_module_list("# header\n\n  configfs  \r\n#x\nusb_f_fs"),
            (std::vector<std::string>{"configfs", "usb_f_fs"}));
}

TEST(ModuleList, WriterRejectsNamesTheReaderWouldMangle) {
  for (const char* bad : {"", "#comment", "two words", "a/b", "tab\there"}) {
    std::vector<std::string> list = {bad};
    auto text = render_module_list(list);
    ASSERT_FALSE(text.ok()) << bad;
    EXPECT_NE(text.error().message().find("invalid module name"), std::string::npos);
  }
}
