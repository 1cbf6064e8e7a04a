// FBOODEVP v0: the spec §1.7 golden vector, round-trips, hostile input.
#include "profiles/postcard.hpp"
#include "profiles/profiles.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace fastboop;
using namespace fastboop::profiles;
using ::testing::HasSubstr;
using fastboop::test::hex_bytes;
using fastboop::test::bytes_of;
using fastboop::test::concat;

namespace {




const char* const spec_yaml = R"(id: dev
display_name: D
devicetree_name: qcom/x
match:
  - fastboot: {vid: 0x18d1, pid: 0xd00d}
probe:
  - {fastboot.getvar: product, equals: sdm845}
  - {fastboot.getvar: serialno, starts_with: S6}
  - {fastboot.getvar: v, exists: }
boot:
  fastboot_boot:
    android_bootimg:
      header_version: 2
      page_size: 4096
      kernel_offset: 0x8000
      kernel: {encoding: image.gz}
      cmdline_append: c
)";

Bytes spec_bytes() {
  return concat({hex_bytes("46 42 4f 4f 44 45 56 50 00 00"), hex_bytes("03 64 65 76"), hex_bytes("01 01 44"), hex_bytes("06 71 63 6f 6d 2f 78"),
              hex_bytes("01 d1 31 8d a0 03"), hex_bytes("03"), hex_bytes("00 07"), bytes_of("product"), hex_bytes("06"), bytes_of("sdm845"),
              hex_bytes("01 08"), bytes_of("serialno"), hex_bytes("02"), bytes_of("S6"), hex_bytes("03 01"), bytes_of("v"), hex_bytes("02 80 20"),
              hex_bytes("00 01 80 80 02 00 00"), hex_bytes("02 00 01 01 63")});
}

} // namespace

TEST(Postcard, VarintVectors) {
  postcard::Writer w;
  w.varint(300);
  w.varint(std::uint64_t{1} << 32);
  w.option_tag(true);
  w.varint(5);
  EXPECT_EQ(w.data(), hex_bytes("ac 02  80 80 80 80 10  01 05"));

  auto u16 = [](const Bytes& b) {
    postcard::Reader r(b);
    return r.uint<std::uint16_t>("x");
  };
  EXPECT_EQ(*u16(hex_bytes("ff ff 03")), 65535);
  EXPECT_THAT(u16(hex_bytes("80 80 04")).error().message(), HasSubstr("varint out of range for a 16-bit integer"));
  EXPECT_THAT(u16(hex_bytes("80")).error().message(), HasSubstr("truncated varint"));
  const Bytes r64_data = hex_bytes("ff ff ff ff ff ff ff ff ff 01");
  postcard::Reader r64(r64_data);
  EXPECT_EQ(*r64.uint<std::uint64_t>("x"), ~std::uint64_t{0});
  const Bytes r64bad_data = hex_bytes("ff ff ff ff ff ff ff ff ff 02");
  postcard::Reader r64bad(r64bad_data);
  EXPECT_FALSE(r64bad.uint<std::uint64_t>("x").ok());
  const Bytes bad_bool_data = hex_bytes("02");
  postcard::Reader bad_bool(bad_bool_data);
  EXPECT_THAT(bad_bool.boolean("flag").error().message(), HasSubstr("at byte offset 0: flag: invalid bool byte 2"));
  const Bytes bad_opt_data = hex_bytes("05");
  postcard::Reader bad_opt(bad_opt_data);
  EXPECT_FALSE(bad_opt.option_tag("o").ok());
  const Bytes bad_utf8_data = hex_bytes("02 c3 28");
  postcard::Reader bad_utf8(bad_utf8_data);
  EXPECT_THAT(bad_utf8.string("s").error().message(), HasSubstr("not valid UTF-8"));
  const Bytes huge_len_data = hex_bytes("ff ff ff ff 0f 00");
  postcard::Reader huge_len(huge_len_data);
  EXPECT_THAT(huge_len.length("list").error().message(), HasSubstr("exceeds what the"));
}

TEST(DevproCodec, SpecGoldenVector) {
  auto profile = parse_device_profile(spec_yaml, "spec");
  ASSERT_TRUE(profile.ok()) << profile.error().message();
  auto bytes = encode_device_profile(*profile);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message();
  EXPECT_EQ(to_hex(*bytes), to_hex(spec_bytes()));

  auto decoded = decode_device_profile(spec_bytes());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(*decoded, *profile);
}

TEST(DevproCodec, TrailingBytesIgnoredAndPrefixReportsConsumed) {
  auto bytes = concat({spec_bytes(), bytes_of("TAIL")});
  std::size_t consumed = 0;
  auto decoded = decode_device_profile_prefix(bytes, &consumed);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(consumed, bytes.size() - 4);
}

TEST(DevproCodec, BuiltinsRoundTripThroughBinaryAndYaml) {
  auto builtins = builtin_device_profiles();
  ASSERT_TRUE(builtins.ok());
  for (const auto& b : *builtins) {
    auto bin = encode_device_profile(b.profile);
    ASSERT_TRUE(bin.ok()) << b.profile.id;
    auto back = decode_device_profile(*bin);
    ASSERT_TRUE(back.ok()) << back.error().message();
    // known_overlaps is pool metadata with no FBOODEVP v0 field: dropped.
    DeviceProfile compiled = b.profile;
    compiled.known_overlaps.clear();
    EXPECT_EQ(*back, compiled);
    // YAML -> bin -> YAML -> bin is identical.
    auto reparsed = parse_device_profile(device_profile_to_yaml(*back), "shown");
    ASSERT_TRUE(reparsed.ok()) << reparsed.error().message();
    EXPECT_EQ(*encode_device_profile(*reparsed), *bin);
    auto from_json = parse_device_profile(device_profile_to_json(*back), "shown.json");
    ASSERT_TRUE(from_json.ok()) << from_json.error().message();
    EXPECT_EQ(*from_json, compiled);
    auto full_json = parse_device_profile(device_profile_to_json(b.profile), "full.json");
    ASSERT_TRUE(full_json.ok()) << full_json.error().message();
    EXPECT_EQ(*full_json, b.profile);
  }
}

TEST(DevproCodec, ExtensionsHaveNoEncoding) {
  auto profile = *parse_device_profile(spec_yaml, "spec");
  profile.boot.extensions.tags_offset = 0x100;
  auto r = encode_device_profile(profile);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "device profile 'dev': boot.fastboot_boot.android_bootimg.tags_offset is a fastboop "
                                 "extension with no FBOODEVP v0 encoding; use the YAML profile instead");
  profile.boot.extensions = {};
  profile.boot.extensions.samsung_seandroidenforce = true;
  EXPECT_THAT(encode_device_profile(profile).error().message(), HasSubstr("samsung_seandroidenforce"));
}

TEST(DevproCodec, RejectsBadInput) {
  auto good = spec_bytes();
  auto bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_THAT(decode_device_profile(bad_magic).error().message(), HasSubstr("missing FBOODEVP magic"));
  auto bad_version = good;
  bad_version[8] = 1;
  EXPECT_THAT(decode_device_profile(bad_version).error().message(), HasSubstr("unsupported format version 1"));
  EXPECT_FALSE(decode_device_profile(ByteSpan(good).first(5)).ok());
  // Every truncation fails cleanly.
  for (std::size_t n = 10; n < good.size(); ++n)
    EXPECT_FALSE(decode_device_profile(ByteSpan(good).first(n)).ok()) << n;
  // An invalid probe variant index (offset of the first step's tag).
  auto bad_variant = good;
  const std::size_t probe_tag = 10 + 4 + 3 + 7 + 6 + 1;
  ASSERT_EQ(bad_variant[probe_tag], 0);
  bad_variant[probe_tag] = 9;
  EXPECT_THAT(decode_device_profile(bad_variant).error().message(),
              HasSubstr("at byte offset 31: probe step: unknown variant index 9"));
  // An invalid kernel encoding index.
  auto bad_enc = good;
  bad_enc[bad_enc.size() - 5] = 8;
  EXPECT_THAT(decode_device_profile(bad_enc).error().message(), HasSubstr("kernel.encoding: unknown variant index 8"));
}
