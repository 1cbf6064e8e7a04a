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
using fastboop::test::hex_bytes;

namespace {


const std::string identity = "android_sparseimg{source=file{path=len:1:s;}}";
const std::string digest = "sha512:" + std::string(128, 'a');

pipeline::PipelineHints spec_record() {
  pipeline::SparseIndex sparse{28, 12, 8, 2, 2, 0, {}};
  sparse.chunks.push_back({0, 0xCAC1, 1, 20, 28, 40, 8, 0, 8, std::nullopt, std::nullopt});
  sparse.chunks.push_back({1, 0xCAC3, 1, 12, 48, 60, 0, 8, 16, std::nullopt, std::nullopt});
  pipeline::PipelineHints hints;
  hints.entries.push_back({identity, {sparse, pipeline::ContentDigestHint{digest, 16}}});
  return hints;
}

// Encode without the encoder's validation, to feed the decoder bad records.
Bytes raw_record(const pipeline::PipelineHints& hints, std::vector<std::string> identities) {
  pipeline::PipelineHints one;
  one.entries.push_back(spec_record().entries[0]);
  Bytes good = *encode_pipeline_hints_record(one);
  // Splice: header, metadata (given identities), payload (given entries, valid or not).
  Bytes meta;
  meta.push_back(static_cast<std::uint8_t>(identities.size()));
  for (const auto& id : identities) {
    meta.push_back(static_cast<std::uint8_t>(id.size()));
    meta.insert(meta.end(), id.begin(), id.end());
  }
  Bytes payload = {'G', 'B', 'X', 'H', 'I', 'N', 'T', '0', 0, 0, static_cast<std::uint8_t>(hints.entries.size())};
  for (const auto& e : hints.entries) {
    pipeline::PipelineHints single;
    single.entries.push_back({e.pipeline_identity, {pipeline::ContentDigestHint{digest, 1}}});
    Bytes b = *encode_pipeline_hints_blob(single);
    // Entry bytes without the per-entry hint list, then the real hints.
    payload.push_back(static_cast<std::uint8_t>(e.pipeline_identity.size()));
    payload.insert(payload.end(), e.pipeline_identity.begin(), e.pipeline_identity.end());
    payload.push_back(static_cast<std::uint8_t>(e.hints.size()));
    for (const auto& h : e.hints) {
      pipeline::PipelineHints holder;
      holder.entries.push_back({"x", {h}});
      Bytes hb = *encode_pipeline_hints_blob(holder);
      payload.insert(payload.end(), hb.begin() + 10 + 1 + 2 + 1, hb.end()); // skip magic, count, "x", hint count
    }
    (void)b;
  }
  Bytes out(good.begin(), good.begin() + 18);
  store_le<std::uint32_t>(out.data() + 10, static_cast<std::uint32_t>(meta.size()));
  store_le<std::uint32_t>(out.data() + 14, static_cast<std::uint32_t>(payload.size()));
  out.insert(out.end(), meta.begin(), meta.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

} // namespace

TEST(PipelineHints, SpecVector) {
  const Bytes bytes = *encode_pipeline_hints_record(spec_record());
  ASSERT_EQ(bytes.size(), 300u);
  EXPECT_EQ(to_hex(ByteSpan(bytes).first(18)), to_hex(hex_bytes("46 42 50 48 49 4e 54 30 00 00 2f 00 00 00 eb 00 00 00")));
  // metadata: 1 identity of 45 bytes
  EXPECT_EQ(bytes[18], 0x01);
  EXPECT_EQ(bytes[19], 0x2d);
  const std::size_t payload = 18 + 47;
  EXPECT_EQ(std::string(bytes.begin() + payload, bytes.begin() + payload + 8), "GBXHINT0");
  const std::size_t hints = payload + 10 + 2 + 45;
  EXPECT_EQ(bytes[hints], 0x02); // 2 hints
  EXPECT_EQ(to_hex(ByteSpan(bytes).subspan(hints + 1, 8 + 15 + 15)),
            to_hex(hex_bytes("00 1c 0c 08 02 02 00 02"
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
  Bytes good = *encode_pipeline_hints_record(rec);
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(decode_pipeline_hints_record(ByteSpan(good).first(n), nullptr).ok()) << n;
  // The splicer reproduces the encoder for valid input.
  EXPECT_EQ(raw_record(rec, {identity}), good);
  EXPECT_THAT(decode_pipeline_hints_record(raw_record(rec, {"other"}), nullptr).error().message(),
              HasSubstr("metadata identities differ"));
  EXPECT_THAT(decode_pipeline_hints_record(raw_record(rec, {identity, identity}), nullptr).error().message(),
              HasSubstr("not sorted and unique"));
  auto dup = rec;
  dup.entries.push_back(dup.entries[0]);
  EXPECT_FALSE(decode_pipeline_hints_record(raw_record(dup, {identity}), nullptr).ok());
  auto twice = rec;
  twice.entries[0].hints.push_back(twice.entries[0].hints[1]);
  EXPECT_FALSE(decode_pipeline_hints_record(raw_record(twice, {identity}), nullptr).ok());
  auto none = rec;
  none.entries[0].hints.clear();
  EXPECT_FALSE(decode_pipeline_hints_record(raw_record(none, {identity}), nullptr).ok());
  // The encoder refuses invalid hints too.
  EXPECT_FALSE(encode_pipeline_hints_record(none).ok());
  EXPECT_FALSE(encode_pipeline_hints_record(dup).ok());
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
  const Bytes hints = *encode_pipeline_hints_record(spec_record());
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
