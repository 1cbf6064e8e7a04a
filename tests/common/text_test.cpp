// ## Show that the one home for text rules (common/text.hpp) and digests
// (Sha512Digest in common/hash.hpp) covers the cases where the copies it
// replaced used to differ (issue 22).
#include "common/hash.hpp"
#include "common/text.hpp"
#include "result_matchers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace fastboop {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;
using test::FailedWithMessage;
using test::HasValue;
using test::Succeeded;

TEST(Text, TrimUsesTheWholeCWhitespaceSet) {
  // Two copies only knew " \t\r\n"; a vertical tab or form feed stayed.
  EXPECT_EQ(trim(" \t\v\f\r\nquiet \v\f"), "quiet");
  EXPECT_EQ(trim("  \t "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("a b"), "a b");
}

TEST(Text, TrimWithAnotherSetKeepsWhatIsNotInIt) {
  const std::string padded("OKAY\0\0 ", 7);
  EXPECT_EQ(trim(padded), std::string_view("OKAY\0\0", 6));
  EXPECT_EQ(trim(padded, std::string_view(" \0", 2)), "OKAY");
}

TEST(Text, JoinNonemptyTrimsEachPartAndDropsEmptyOnes) {
  // A tab in a cmdline part: the stage0 lambda (isspace) and the packer
  // (" \t\r\n\v\f") agreed on it; the one rule keeps that.
  EXPECT_EQ(join_nonempty({"\tconsole=ttyMSM0 ", "", "\n smoo.log=debug\t", " "}), "console=ttyMSM0 smoo.log=debug");
  EXPECT_EQ(join_nonempty({}), "");
  EXPECT_EQ(join_nonempty({" ", "\t"}), "");
  EXPECT_EQ(join_nonempty({"a", "b"}, ","), "a,b");
  // Inner whitespace is the caller's: only the ends are trimmed.
  EXPECT_EQ(join_nonempty({"a\tb"}), "a\tb");
}

TEST(Text, FormatHexPadsToTheWidthAndPrintsAll64Bits) {
  EXPECT_EQ(format_hex(0x1f, 4), "0x001f");
  EXPECT_EQ(format_hex(0x1f, 4, HexPrefix::None), "001f");
  EXPECT_EQ(format_hex(0x80008000, 8), "0x80008000");
  EXPECT_EQ(format_hex(0, 1), "0x0");
  // The old hex32 printed 64 bits under a 32-bit name; a wide value is
  // printed whole, never cut to the width.
  EXPECT_EQ(format_hex(0x123456789abcdef0ULL, 8), "0x123456789abcdef0");
  EXPECT_EQ(format_hex(~0ULL, 1, HexPrefix::None), "ffffffffffffffff");
}

const std::string kHex = sha512_hex(as_bytes(std::string_view("fastboop")));

// FAT long names and GPT labels share this rule; the GPT copy used to write
// an unpaired surrogate as invalid UTF-8.
TEST(Text, Utf16ToUtf8PairsSurrogatesReplacesUnpairedOnesAndStopsAtNul) {
  const std::vector<std::uint16_t> pair = {u'a', 0xD83D, 0xDE00, u'b'};
  EXPECT_EQ(fastboop::utf16_to_utf8(pair), "a\xF0\x9F\x98\x80" "b");
  const std::vector<std::uint16_t> lone = {0xD800, u'x', 0xDC00};
  EXPECT_EQ(fastboop::utf16_to_utf8(lone), "\xEF\xBF\xBD" "x" "\xEF\xBF\xBD");
  const std::vector<std::uint16_t> nul = {u'r', u'o', 0, u'x'};
  EXPECT_EQ(fastboop::utf16_to_utf8(nul), "ro");
  const std::vector<std::uint16_t> bmp = {0x00E9, 0x20AC};
  EXPECT_EQ(fastboop::utf16_to_utf8(bmp), "\xC3\xA9\xE2\x82\xAC");
}

TEST(Sha512Digest, ParsesBareAndPrefixedForms) {
  EXPECT_THAT(Sha512Digest::parse(kHex), HasValue(::testing::Property(&Sha512Digest::hex, Eq(kHex))));
  auto prefixed = Sha512Digest::parse("sha512:" + kHex);
  ASSERT_THAT(prefixed, Succeeded());
  EXPECT_EQ(prefixed->hex(), kHex);
  EXPECT_EQ(prefixed->content_digest(), "sha512:" + kHex);
  EXPECT_TRUE(Sha512Digest::is_hex(kHex));
}

TEST(Sha512Digest, RefusesUppercaseEverywhere) {
  // The sidecar reader used to accept (and lowercase) an uppercase digest
  // that every other reader refused.
  std::string upper = kHex;
  for (char& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(Sha512Digest::is_hex(upper));
  EXPECT_THAT(Sha512Digest::parse(upper), FailedWithMessage(HasSubstr("must be lowercase hex")));
  EXPECT_THAT(Sha512Digest::parse("sha512:" + upper), FailedWithMessage(HasSubstr("must be lowercase hex")));
}

TEST(Sha512Digest, ChecksTheDigitsNotOnlyPrefixAndLength) {
  // The HTTP cache used to check only "sha512:" and the length.
  std::string bad = "sha512:" + kHex;
  bad.back() = 'g';
  EXPECT_THAT(Sha512Digest::parse(bad, Sha512Digest::Prefix::Required),
              FailedWithMessage(HasSubstr("must be lowercase hex")));
  EXPECT_THAT(Sha512Digest::parse("sha512:abc"), FailedWithMessage(HasSubstr("128 hex digits after 'sha512:' (found 3)")));
  EXPECT_THAT(Sha512Digest::parse(""), FailedWithMessage(HasSubstr("must not be empty")));
}

TEST(Sha512Digest, PrefixRulesAreTheCallers) {
  EXPECT_THAT(Sha512Digest::parse(kHex, Sha512Digest::Prefix::Required),
              FailedWithMessage(HasSubstr("must start with 'sha512:'")));
  EXPECT_THAT(Sha512Digest::parse("sha512:" + kHex, Sha512Digest::Prefix::Forbidden),
              FailedWithMessage(HasSubstr("without 'sha512:'")));
  EXPECT_THAT(Sha512Digest::parse("sha256:" + kHex.substr(0, 64), Sha512Digest::Prefix::Required),
              FailedWithMessage(HasSubstr("must start with 'sha512:'")));
}

} // namespace
} // namespace fastboop
