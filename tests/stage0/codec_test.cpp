// Codecs against the stock tools: our compressed output must expand with
// gzip/zstd/lz4/xz, and their output must expand with us.
#include "stage0/codec.hpp"

#include "test_support.hpp"

namespace fastboop::stage0 {
namespace {

using test::TempDir;

struct ToolCase {
  Codec codec;
  const char* program;
  const char* decompress;
  const char* compress;
};

class CodecTools : public ::testing::TestWithParam<ToolCase> {};

TEST_P(CodecTools, RoundTripsWithStockTool) {
  const auto& c = GetParam();
  FASTBOOP_REQUIRE_PROGRAM(c.program);
  TempDir dir;
  Bytes data = test::random_bytes(300000, 7);
  // Make it compressible too.
  for (std::size_t i = 0; i < data.size(); i += 3)
    data[i] = 'a';
  auto packed = compress(c.codec, data);
  ASSERT_TRUE(packed) << packed.error().message();
  EXPECT_EQ(detect_codec(*packed), c.codec);
  test::write_file(dir / "in", *packed);
  auto out = test::sh(std::string(c.decompress) + " < '" + (dir / "in").string() + "' > '" +
                      (dir / "out").string() + "'");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(test::read_file(dir / "out"), data);

  test::write_file(dir / "plain", data);
  out = test::sh(std::string(c.compress) + " < '" + (dir / "plain").string() + "' > '" +
                 (dir / "theirs").string() + "'");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  Bytes theirs = test::read_file(dir / "theirs");
  EXPECT_EQ(detect_codec(theirs), c.codec);
  auto back = decompress(c.codec, theirs);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, data);
  // Determinism: the same input gives the same bytes.
  EXPECT_EQ(*compress(c.codec, data), *packed);
}

INSTANTIATE_TEST_SUITE_P(All, CodecTools,
                         ::testing::Values(ToolCase{Codec::Gzip, "gzip", "gzip -dc", "gzip -c -n"},
                                           ToolCase{Codec::Zstd, "zstd", "zstd -dc", "zstd -c -q"},
                                           ToolCase{Codec::Lz4, "lz4", "lz4 -dc", "lz4 -c -q"},
                                           ToolCase{Codec::Xz, "xz", "xz -dc", "xz -c"}),
                         [](const auto& param_info) { return std::string(codec_name(param_info.param.codec)); });

TEST(Codec, LegacyLz4AsTheKernelBuildWritesIt) {
  FASTBOOP_REQUIRE_PROGRAM("lz4");
  TempDir dir;
  Bytes data(100000, 'x');
  test::write_file(dir / "plain", data);
  auto out = test::sh("lz4 -l -c -q < '" + (dir / "plain").string() + "' > '" + (dir / "l").string() + "'");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto back = decompress(Codec::Lz4, test::read_file(dir / "l"));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, data);
}

TEST(Codec, GzipHasNoTimestampOrName) {
  auto packed = compress(Codec::Gzip, as_bytes("hello"));
  ASSERT_TRUE(packed);
  ASSERT_GE(packed->size(), 10u);
  EXPECT_EQ((*packed)[3], 0); // FLG: no name, no comment
  EXPECT_EQ(load_le<std::uint32_t>(packed->data() + 4), 0u); // MTIME
}

TEST(Codec, TruncatedAndOversizedInputFailCleanly) {
  Bytes data(1 << 20, 'z');
  for (Codec c : {Codec::Gzip, Codec::Zstd, Codec::Lz4, Codec::Xz}) {
    auto packed = compress(c, data);
    ASSERT_TRUE(packed);
    Bytes cut(packed->begin(), packed->begin() + static_cast<std::ptrdiff_t>(packed->size() / 2));
    auto r = decompress(c, cut);
    EXPECT_FALSE(r) << codec_name(c);
    auto limited = decompress(c, *packed, 1000);
    EXPECT_FALSE(limited) << codec_name(c);
    if (!limited) {
      EXPECT_NE(limited.error().message().find("limit"), std::string::npos) << limited.error().message();
    }
  }
}

} // namespace
} // namespace fastboop::stage0
