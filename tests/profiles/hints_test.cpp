// FBPHINT0 pipeline-hints records: the spec §3.8 vector, validation, and
// `show` recognising records appended to a compiled Boot Profile.
#include "profiles/hints.hpp"
#include "profiles/profiles.hpp"
#include "profiles/tooling.hpp"
#include "test_support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace fastboop;
using namespace fastboop::profiles;
using ::testing::HasSubstr;

namespace {

Bytes hex(std::string_view text) {
  Bytes out;
  int nibble = -1;
  for (char c : text) {
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0)
      continue;
    if (nibble < 0) {
      nibble = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(nibble * 16 + v));
      nibble = -1;
    }
  }
  return out;
}

const std::string identity = "android_sparseimg{source=file{path=len:1:s;}}";
const std::string digest = "sha512:" + std::string(128, 'a');

PipelineHintsRecord spec_record() {
  PipelineHint sparse;
  sparse.kind = PipelineHint::Kind::AndroidSparseIndex;
  sparse.sparse = {28, 12, 8, 2, 2, 0, {}};
  sparse.sparse.chunks.push_back({0, 0xCAC1, 1, 20, 28, 40, 8, 0, 8, std::nullopt, std::nullopt});
  sparse.sparse.chunks.push_back({1, 0xCAC3, 1, 12, 48, 60, 0, 8, 16, std::nullopt, std::nullopt});
  PipelineHint content;
  content.kind = PipelineHint::Kind::ContentDigest;
  content.digest = {digest, 16};
  return {{identity}, {{identity, {sparse, content}}}};
}

} // namespace

TEST(PipelineHints, SpecVector) {
  const Bytes bytes = encode_pipeline_hints_record(spec_record());
  ASSERT_EQ(bytes.size(), 300u);
  EXPECT_EQ(to_hex(ByteSpan(bytes).first(18)), to_hex(hex("46 42 50 48 49 4e 54 30 00 00 2f 00 00 00 eb 00 00 00")));
  // metadata: 1 identity of 45 bytes
  EXPECT_EQ(bytes[18], 0x01);
  EXPECT_EQ(bytes[19], 0x2d);
  const std::size_t payload = 18 + 47;
  EXPECT_EQ(std::string(bytes.begin() + payload, bytes.begin() + payload + 8), "GBXHINT0");
  const std::size_t hints = payload + 10 + 2 + 45;
  EXPECT_EQ(bytes[hints], 0x02); // 2 hints
  EXPECT_EQ(to_hex(ByteSpan(bytes).subspan(hints + 1, 8 + 15 + 15)),
            to_hex(hex("00 1c 0c 08 02 02 00 02"
                       "00 c1 95 03 01 14 1c 28 08 01 00 01 08 00 00"
                       "01 c3 95 03 01 0c 30 3c 00 01 08 01 10 00 00")));
  EXPECT_EQ(to_hex(ByteSpan(bytes).subspan(hints + 1 + 38, 3)), "028701");
  EXPECT_EQ(bytes.back(), 0x10);

  std::size_t consumed = 0;
  auto decoded = decode_pipeline_hints_record(bytes, &consumed);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(consumed, 300u);
  EXPECT_EQ(*decoded, spec_record());
}

TEST(PipelineHints, DecoderValidates) {
  auto rec = spec_record();
  Bytes good = encode_pipeline_hints_record(rec);
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(decode_pipeline_hints_record(ByteSpan(good).first(n), nullptr).ok()) << n;
  auto mismatch = rec;
  mismatch.identities = {"other"};
  EXPECT_THAT(decode_pipeline_hints_record(encode_pipeline_hints_record(mismatch), nullptr).error().message(),
              HasSubstr("metadata identities differ"));
  auto dup = rec;
  dup.entries.push_back(dup.entries[0]);
  dup.identities.push_back(identity);
  EXPECT_THAT(decode_pipeline_hints_record(encode_pipeline_hints_record(dup), nullptr).error().message(),
              HasSubstr("not strictly ascending"));
  auto twice = rec;
  twice.entries[0].hints.push_back(twice.entries[0].hints[1]);
  EXPECT_THAT(decode_pipeline_hints_record(encode_pipeline_hints_record(twice), nullptr).error().message(),
              HasSubstr("two hints of one kind"));
  auto none = rec;
  none.entries[0].hints.clear();
  EXPECT_THAT(decode_pipeline_hints_record(encode_pipeline_hints_record(none), nullptr).error().message(),
              HasSubstr("has no hints"));
}

TEST(PipelineHints, ShowRecognisesAppendedRecord) {
  auto profile = compile_boot_profile_manifest_text(
      "id: p\nrootfs: {ext4: {android_sparseimg: {source: {file: s, content: {digest: '" + digest +
          "', size_bytes: 16}}}}}\n",
      "m", ".");
  ASSERT_TRUE(profile.ok()) << profile.error().message();
  EXPECT_EQ(pipeline_identity(profile->rootfs.source), identity);
  Bytes channel = *encode_boot_profile(*profile);
  const std::size_t profile_size = channel.size();
  const Bytes hints = encode_pipeline_hints_record(spec_record());
  channel.insert(channel.end(), hints.begin(), hints.end());

  std::size_t consumed = 0;
  ASSERT_TRUE(decode_boot_profile_prefix(channel, &consumed).ok());
  EXPECT_EQ(consumed, profile_size);

  auto shown = show_bytes(channel, "c.fbp", ShowFormat::Yaml);
  ASSERT_TRUE(shown.ok()) << shown.error().message();
  EXPECT_THAT(*shown, HasSubstr("--- # boot_profile p\n"));
  EXPECT_THAT(*shown, HasSubstr("--- # pipeline_hints\nentries:\n  - pipeline_identity: "));
  EXPECT_THAT(*shown, HasSubstr("chunk_type: 51905"));
  auto json = show_bytes(channel, "c.fbp", ShowFormat::Json);
  ASSERT_TRUE(json.ok());
  EXPECT_THAT(*json, HasSubstr("\"pipeline_hints\""));

  channel.push_back(0);
  EXPECT_THAT(show_bytes(channel, "c.fbp", ShowFormat::Yaml).error().message(),
              HasSubstr("c.fbp: record at byte offset 464: 1 trailing byte(s) are not a FBOODEVP, FBOOPROF or FBPHINT0"));
}
