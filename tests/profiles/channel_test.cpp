// Channel heads (spec channels.md): the spec's worked byte examples, a
// channel mixing them with the upstream record vectors the codec tests hold,
// indexed and sequential reads, lazy hints, and hostile heads.
#include "pipeline/sources.hpp"
#include "profiles/channel.hpp"
#include "profiles/hints.hpp"
#include "profiles/postcard.hpp"
#include "profiles/profiles.hpp"
#include "test_support.hpp"

#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace fastboop;
using namespace fastboop::profiles;
using ::testing::HasSubstr;
using fastboop::test::hex_bytes;
using fastboop::test::bytes_of;
using fastboop::test::concat;

namespace {




// Spec §2.11: FBOODEVP `dev-one` (69 bytes).
Bytes spec_devp() {
  return hex_bytes("46 42 4f 4f 44 45 56 50 00 00 07 64 65 76 2d 6f"
             "6e 65 00 10 74 65 73 74 2d 64 65 76 69 63 65 2d"
             "74 72 65 65 01 b4 24 f8 ac 01 01 00 07 70 72 6f"
             "64 75 63 74 06 73 64 6d 38 34 35 02 80 20 00 00"
             "00 00 00 00 00");
}

// Spec §2.11: FBOOPROF `tiny` (196 bytes).
Bytes spec_bootp() {
  return concat({hex_bytes("46 42 4f 4f 50 52 4f 46 00 00 04"), bytes_of("tiny"), hex_bytes("00 01 01 1e"),
              bytes_of("https://example.com/rootfs.ero"), hex_bytes("00 01 87 01"),
              bytes_of("sha512:" + std::string(128, '0')), hex_bytes("80 08 00 00 00 00 00 00")});
}

const std::string kHintIdentity =
    "xz{source=http{url=len:9:https://a;cors_safelisted_mode=false;}}";

pipeline::PipelineHints spec_hints() {
  pipeline::PipelineHints h;
  h.entries.push_back(
      {kHintIdentity, {pipeline::ContentDigestHint{"sha512:" + std::string(128, '2'), 2}}});
  return h;
}

// The upstream vectors tests/profiles/devpro_codec_test.cpp and
// bootpro_test.cpp hold (spec profiles §1.7 and the FBOOPROF golden vector).
Bytes upstream_devp() {
  return concat({hex_bytes("46 42 4f 4f 44 45 56 50 00 00"), hex_bytes("03 64 65 76"), hex_bytes("01 01 44"),
              hex_bytes("06 71 63 6f 6d 2f 78"), hex_bytes("01 d1 31 8d a0 03"), hex_bytes("03"), hex_bytes("00 07"),
              bytes_of("product"), hex_bytes("06"), bytes_of("sdm845"), hex_bytes("01 08"), bytes_of("serialno"), hex_bytes("02"),
              bytes_of("S6"), hex_bytes("03 01"), bytes_of("v"), hex_bytes("02 80 20"), hex_bytes("00 01 80 80 02 00 00"),
              hex_bytes("02 00 01 01 63")});
}

Bytes upstream_bootp() {
  const Bytes d = concat({hex_bytes("87 01"), bytes_of("sha512:" + std::string(128, '1'))});
  return concat({hex_bytes("46 42 4f 4f 50 52 4f 46 00 00"),
              hex_bytes("01 78"),
              hex_bytes("00"),
              hex_bytes("01 02 01 72 01"),
              d,
              hex_bytes("ac 02"),
              hex_bytes("01 02 2f 6b"),
              hex_bytes("03 07 01 04 62 6f 6f 74 00 00 00"),
              hex_bytes("03 01 0b"),
              bytes_of("https://h/i"),
              hex_bytes("00 01"),
              d,
              hex_bytes("01"),
              hex_bytes("00 00"),
              hex_bytes("00"),
              hex_bytes("00"),
              hex_bytes("01 01 71"),
              hex_bytes("01 02 6d 31"),
              hex_bytes("01 03 64 65 76"),
              hex_bytes("00 01 01 65"),
              hex_bytes("01 02 6d 32 01 01 01 77 00")});
}

// A fake EROFS tail: 2048 bytes with the superblock magic at 1024 (spec §2.11).
Bytes erofs_tail() {
  Bytes b(2048, 0);
  store_le<std::uint32_t>(b.data() + 1024, 0xE0F5E1E2);
  return b;
}

// Counts the reads a head costs.
class CountingSource final : public pipeline::BlockSource {
public:
  explicit CountingSource(Bytes data) : m_inner(pipeline::make_memory_source(std::move(data))) {}
  std::uint64_t size() const override { return m_inner->size(); }
  std::string describe() const override { return "counting"; }
  Result<void> read_at(std::uint64_t o, std::span<std::uint8_t> d) override {
    ++reads;
    bytes += d.size();
    return m_inner->read_at(o, d);
  }
  int reads = 0;
  std::uint64_t bytes = 0;

private:
  pipeline::BlockSourcePtr m_inner;
};

Result<ChannelHead> head_of(Bytes data) {
  auto src = pipeline::make_memory_source(std::move(data));
  return read_channel_head(*src);
}

Bytes index_then(const Bytes& body) {
  auto src = pipeline::make_memory_source(body);
  auto index = index_for_channel(*src);
  EXPECT_TRUE(index.ok()) << index.error().message();
  return concat({index.ok() ? *index : Bytes{}, body});
}

} // namespace

TEST(ChannelSpecExamples, RecordsDecodeAndReencodeByteForByte) {
  const Bytes devp = spec_devp();
  ASSERT_EQ(devp.size(), 69u);
  auto d = decode_device_profile(devp);
  ASSERT_TRUE(d.ok()) << d.error().message();
  EXPECT_EQ(d->id, "dev-one");
  EXPECT_EQ(d->devicetree_name, "test-device-tree");
  EXPECT_EQ(to_hex(*encode_device_profile(*d)), to_hex(devp));

  const Bytes bootp = spec_bootp();
  ASSERT_EQ(bootp.size(), 196u);
  auto b = decode_boot_profile(bootp);
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_EQ(b->id, "tiny");
  EXPECT_TRUE(validate_boot_profile(*b).ok());
  EXPECT_EQ(to_hex(*encode_boot_profile(*b)), to_hex(bootp));

  auto hints = encode_pipeline_hints_record(spec_hints());
  ASSERT_TRUE(hints.ok()) << hints.error().message();
  ASSERT_EQ(hints->size(), 300u);
  EXPECT_EQ(to_hex(ByteSpan(*hints).first(0x14)),
            to_hex(hex_bytes("46 42 50 48 49 4e 54 30 00 00 42 00 00 00 d8 00"
                       "00 00 01 40")));
  EXPECT_EQ(to_hex(ByteSpan(*hints).subspan(0x50, 12)),
            to_hex(hex_bytes("65 3b 7d 7d 47 42 58 48 49 4e 54 30")));
}

TEST(ChannelSpecExamples, IndexOfDevBootHintsIsTheSpecsBytes) {
  const Bytes body = concat({spec_devp(), spec_bootp(), *encode_pipeline_hints_record(spec_hints())});
  const Bytes channel = index_then(body);
  const Bytes index(channel.begin(), channel.end() - static_cast<std::ptrdiff_t>(body.size()));
  ASSERT_EQ(index.size(), 110u);
  EXPECT_EQ(to_hex(ByteSpan(index).first(0x30)),
            to_hex(hex_bytes("46 42 43 48 49 44 58 30 00 00 60 00 00 00 03 01 00 45 07 64 65 76 2d 6f 6e "
                       "65 00 45 c4 01 04 74"
                       "69 6e 79 02 89 02 ac 02 dd 02 d8 01 01 40 78 7a")));

  auto head = head_of(channel);
  ASSERT_TRUE(head.ok()) << head.error().message();
  EXPECT_TRUE(head->indexed);
  EXPECT_EQ(head->index_size, 110u);
  ASSERT_EQ(head->records.size(), 3u);
  EXPECT_EQ(head->records[0],
            (ChannelRecord{ChannelRecordKind::DeviceProfile, 110, 69, "dev-one", {}, 0, 0}));
  EXPECT_EQ(head->records[1],
            (ChannelRecord{ChannelRecordKind::BootProfile, 179, 196, "tiny", {}, 0, 0}));
  EXPECT_EQ(
      head->records[2],
      (ChannelRecord{
          ChannelRecordKind::PipelineHints, 375, 300, {}, {kHintIdentity}, 375 + 18 + 66, 216}));
  EXPECT_EQ(head->consumed, channel.size());
  EXPECT_FALSE(head->has_artifact());
}

TEST(ChannelHead, MixedSpecAndUpstreamVectorsReadTheSameSequentialAndIndexed) {
  const Bytes body =
      concat({upstream_devp(), spec_bootp(), *encode_pipeline_hints_record(spec_hints()), spec_devp(),
           upstream_bootp(), erofs_tail()});
  auto seq = head_of(body);
  ASSERT_TRUE(seq.ok()) << seq.error().message();
  EXPECT_FALSE(seq->indexed);
  ASSERT_EQ(seq->records.size(), 5u);
  std::vector<std::string> ids;
  for (const auto& r : seq->records)
    ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"dev", "tiny", "", "dev-one", "x"}));
  ASSERT_EQ(seq->boot_profiles.size(), 2u);
  ASSERT_EQ(seq->device_profiles.size(), 2u);
  EXPECT_EQ(seq->consumed, body.size() - 2048);
  EXPECT_TRUE(seq->has_artifact());

  const Bytes channel = index_then(body);
  auto idx = head_of(channel);
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  EXPECT_TRUE(idx->indexed);
  ASSERT_EQ(idx->records.size(), seq->records.size());
  for (std::size_t i = 0; i < idx->records.size(); ++i) {
    auto shifted = seq->records[i];
    shifted.offset += idx->index_size;
    if (shifted.kind == ChannelRecordKind::PipelineHints)
      shifted.payload_offset += idx->index_size;
    EXPECT_EQ(idx->records[i], shifted) << i;
  }
  EXPECT_EQ(idx->boot_profiles, seq->boot_profiles);
  EXPECT_EQ(idx->device_profiles, seq->device_profiles);
  EXPECT_EQ(idx->consumed, channel.size() - 2048);
}

TEST(ChannelHead, IndexedHeadReadsFewerTimesThanSequential) {
  Bytes body;
  for (int i = 0; i < 20; ++i) {
    auto p = *decode_boot_profile(spec_bootp());
    p.id = "p" + std::to_string(i);
    p.dt_overlays.push_back(
        Bytes(30000, static_cast<std::uint8_t>(i))); // past the 4 KiB first window
    append(body, *encode_boot_profile(p));
  }
  append(body, erofs_tail());
  CountingSource seq(body);
  ASSERT_TRUE(read_channel_head(seq).ok());
  CountingSource idx(index_then(body));
  auto head = read_channel_head(idx);
  ASSERT_TRUE(head.ok()) << head.error().message();
  EXPECT_EQ(head->boot_profiles.size(), 20u);
  EXPECT_LT(idx.reads, seq.reads);
  EXPECT_LE(idx.reads, 2);
}

TEST(ChannelHead, NakedArtifactAndEmptyStreamHaveNoRecords) {
  auto bare = head_of(erofs_tail());
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->records.empty());
  EXPECT_EQ(bare->consumed, 0u);
  auto empty = head_of({});
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->has_artifact());
}

TEST(ChannelHints, LoadedLazilyForTheIdentitiesAskedAndCrossChecked) {
  const Bytes body = concat({spec_bootp(), *encode_pipeline_hints_record(spec_hints())});
  for (const Bytes& channel : {body, index_then(body)}) {
    auto src = pipeline::make_memory_source(channel);
    auto head = read_channel_head(*src);
    ASSERT_TRUE(head.ok()) << head.error().message();
    const std::set<std::string> none{"file{path=len:1:x;}"};
    auto skipped = read_channel_hints(*src, *head, &none);
    ASSERT_TRUE(skipped.ok());
    EXPECT_TRUE(skipped->entries.empty());
    const std::set<std::string> wanted{kHintIdentity};
    auto loaded = read_channel_hints(*src, *head, &wanted);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message();
    EXPECT_EQ(*loaded, spec_hints());
  }
  // An index whose hoisted identity differs from the record's.
  Bytes channel = index_then(body);
  auto head = head_of(channel);
  ASSERT_TRUE(head.ok());
  auto tampered = *head;
  tampered.records[1].identities = {
      "xz{source=http{url=len:9:https://b;cors_safelisted_mode=false;}}"};
  auto src = pipeline::make_memory_source(channel);
  auto bad = read_channel_hints(*src, tampered, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("differ from the ones the index lists"));
}

// Upstream's reader accepts a hints record listing no identity (its optimize
// writes one for a profile with nothing to hint); so do we, and it hints nothing.
TEST(ChannelHints, AnEmptyHintsRecordIsAcceptedAndHintsNothing) {
  const Bytes body = concat({spec_bootp(), *encode_pipeline_hints_record({}), erofs_tail()});
  for (const Bytes& channel : {body, index_then(body)}) {
    auto src = pipeline::make_memory_source(channel);
    auto head = read_channel_head(*src);
    ASSERT_TRUE(head.ok()) << head.error().message();
    EXPECT_EQ(head->boot_profiles.size(), 1u);
    EXPECT_TRUE(head->has_artifact());
    auto hints = read_channel_hints(*src, *head, nullptr);
    ASSERT_TRUE(hints.ok()) << hints.error().message();
    EXPECT_TRUE(hints->entries.empty());
  }
}

TEST(ChannelHints, BootProfileIdentitiesCoverEveryStage) {
  auto p = *decode_boot_profile(upstream_bootp());
  auto ids = boot_profile_pipeline_identities(p, true);
  EXPECT_EQ(ids.size(), 4u); // rootfs file; kernel gpt <- xz <- http
  EXPECT_EQ(boot_profile_pipeline_identities(p, false).size(), 3u);
}

// --- hostile heads ---------------------------------------------------------------

TEST(ChannelHostile, RecordClaimingAHugeLengthFailsNamingTheOffset) {
  // A device profile whose id claims 2^40 bytes, after a good record.
  const Bytes body =
      concat({spec_devp(), bytes_of("FBOODEVP"), hex_bytes("00 00 80 80 80 80 80 20"), Bytes(100, 'a')});
  auto head = head_of(body);
  ASSERT_FALSE(head.ok());
  EXPECT_THAT(head.error().message(), HasSubstr("byte offset 69"));
  EXPECT_THAT(head.error().message(), HasSubstr("exceeds"));
  // A hint record claiming 4 GiB.
  auto hints = head_of(concat({bytes_of("FBPHINT0"), hex_bytes("00 00 ff ff ff ff ff ff ff ff"), Bytes(10, 0)}));
  ASSERT_FALSE(hints.ok());
  EXPECT_THAT(hints.error().message(), HasSubstr("only 28 remain"));
}

TEST(ChannelHostile, ARecordLargerThanTheLimitStopsAtTheLimit) {
  // A string length that fits the stream but exceeds 4 MiB: the window stops
  // growing at the limit instead of reading the whole stream.
  Bytes body = concat({bytes_of("FBOODEVP"), hex_bytes("00 00 80 80 80 04"), Bytes(std::size_t{9} << 20, 'a')});
  CountingSource src(body);
  auto head = read_channel_head(src);
  ASSERT_FALSE(head.ok());
  EXPECT_THAT(head.error().message(), HasSubstr("4 MiB limit"));
  EXPECT_LE(src.bytes, (std::uint64_t{4} << 20) + 65536);
}

TEST(ChannelHostile, TenThousandRecordsAreRefusedAfter128) {
  Bytes body;
  for (int i = 0; i < 10000; ++i) {
    auto p = *decode_device_profile(spec_devp());
    p.id = "d" + std::to_string(i);
    append(body, *encode_device_profile(p));
  }
  CountingSource src(body);
  auto head = read_channel_head(src);
  ASSERT_FALSE(head.ok());
  EXPECT_THAT(head.error().message(), HasSubstr("more than 128 records"));
  EXPECT_LT(src.bytes, body.size() / 10); // stopped early
}

TEST(ChannelHostile, IndexPointingPastTheEndOrIntoAnotherRecord) {
  const Bytes body = concat({spec_devp(), spec_bootp()});
  const auto index_with = [&](std::vector<ChannelRecord> entries, const Bytes& tail) {
    // Encode without the writer's validation by building a valid index of the
    // same shape and patching nothing: entries are given relative.
    postcard::Writer w;
    w.varint(entries.size());
    for (const auto& e : entries) {
      w.varint(e.kind == ChannelRecordKind::BootProfile ? 0 : 1);
      w.varint(e.offset);
      w.varint(e.size);
      w.string(e.id);
    }
    Bytes out = bytes_of("FBCHIDX0");
    append_le<std::uint16_t>(out, 0);
    append_le<std::uint32_t>(out, static_cast<std::uint32_t>(w.data().size()));
    append(out, w.data());
    append(out, tail);
    return out;
  };
  auto past = head_of(index_with({{ChannelRecordKind::DeviceProfile, 0, 69, "dev-one", {}, 0, 0},
                                  {ChannelRecordKind::BootProfile, 69, 100000, "tiny", {}, 0, 0}},
                                 body));
  ASSERT_FALSE(past.ok());
  EXPECT_THAT(past.error().message(), HasSubstr("runs past the end"));

  auto overlap = head_of(index_with({{ChannelRecordKind::DeviceProfile, 0, 69, "dev-one", {}, 0, 0},
                                     {ChannelRecordKind::BootProfile, 40, 196, "tiny", {}, 0, 0}},
                                    body));
  ASSERT_FALSE(overlap.ok());
  EXPECT_THAT(overlap.error().message(), HasSubstr("inside the previous entry"));

  auto into =
      head_of(index_with({{ChannelRecordKind::BootProfile, 20, 196, "tiny", {}, 0, 0}}, body));
  ASSERT_FALSE(into.ok());
  EXPECT_THAT(into.error().message(), HasSubstr("not a FBOOPROF record"));

  auto short_size =
      head_of(index_with({{ChannelRecordKind::DeviceProfile, 0, 100, "dev-one", {}, 0, 0}}, body));
  ASSERT_FALSE(short_size.ok());
  EXPECT_THAT(short_size.error().message(),
              HasSubstr("the record there is 69 bytes, the index says 100"));

  auto wrong_id =
      head_of(index_with({{ChannelRecordKind::DeviceProfile, 0, 69, "dev-two", {}, 0, 0}}, body));
  ASSERT_FALSE(wrong_id.ok());
  EXPECT_THAT(wrong_id.error().message(), HasSubstr("the record there is 'dev-one'"));

  Bytes bad_length = bytes_of("FBCHIDX0");
  append(bad_length, hex_bytes("00 00 ff ff ff 7f"));
  append(bad_length, body);
  auto huge = head_of(bad_length);
  ASSERT_FALSE(huge.ok());
  EXPECT_THAT(huge.error().message(), HasSubstr("-byte payload"));

  // Upstream's hand-built header with a garbage payload (spec §2.11).
  auto garbage = head_of(concat({bytes_of("FBCHIDX0"), hex_bytes("00 00 10 00 00 00"), Bytes(16, 0)}));
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.error().message(), HasSubstr("FBCHIDX0"));
}

TEST(ChannelHostile, AProfileNamingADeviceTwiceIsAClearError) {
  auto p = *decode_boot_profile(spec_bootp());
  p.stage0.devices["aa"] = {};
  p.stage0.devices["ab"] = {};
  Bytes bytes = *encode_boot_profile(p);
  // Rename the second key to the first: the map now names "aa" twice.
  const std::string needle = "\x02"
                             "ab";
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(it, bytes.end());
  *(it + 2) = 'a';
  auto head = head_of(bytes);
  ASSERT_FALSE(head.ok());
  EXPECT_THAT(head.error().message(), HasSubstr("stage0.devices"));
  EXPECT_THAT(head.error().message(), HasSubstr("byte offset 0"));
}

TEST(ChannelHostile, DuplicateIdsAndIdentitiesAcrossRecords) {
  auto devs = head_of(concat({spec_devp(), spec_bootp(), spec_devp()}));
  ASSERT_FALSE(devs.ok());
  EXPECT_THAT(devs.error().message(), HasSubstr("device profile 'dev-one' appears twice"));
  auto boots = head_of(concat({spec_bootp(), spec_bootp()}));
  ASSERT_FALSE(boots.ok());
  EXPECT_THAT(boots.error().message(), HasSubstr("boot profile 'tiny' appears twice"));
  const Bytes h = *encode_pipeline_hints_record(spec_hints());
  auto hints = head_of(concat({h, h}));
  ASSERT_FALSE(hints.ok());
  EXPECT_THAT(hints.error().message(), HasSubstr("pipeline identity"));
}

TEST(ChannelHostile, IndexElsewhereThanTheStartAndReindexingAreRefused) {
  const Bytes channel = index_then(spec_devp());
  auto later = head_of(concat({spec_bootp(), channel}));
  ASSERT_FALSE(later.ok());
  EXPECT_THAT(later.error().message(), HasSubstr("only valid at the start"));
  auto src = pipeline::make_memory_source(channel);
  auto again = index_for_channel(*src);
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.error().message(), HasSubstr("already starts with a FBCHIDX0"));
  auto bare = pipeline::make_memory_source(erofs_tail());
  EXPECT_FALSE(index_for_channel(*bare).ok());
}

TEST(ChannelHostile, InvalidBootProfileIsFatalEvenAfterGoodRecords) {
  // FAT as the switch-root filesystem fails validation (spec §2.2).
  auto p = *decode_boot_profile(spec_bootp());
  p.rootfs.filesystem = FilesystemKind::Fat;
  auto head = head_of(concat({spec_devp(), *encode_boot_profile(p)}));
  ASSERT_FALSE(head.ok());
  EXPECT_THAT(head.error().message(), HasSubstr("boot profile 'tiny'"));
}

// --- the search path ----------------------------------------------------------

TEST(ChannelDeviceProfiles, JoinTheSearchPathBelowLocalProfilesAboveBuiltIns) {
  test::TempDir dir;
  auto local = *decode_device_profile(spec_devp());
  local.display_name = "local";
  test::write_file(dir / "dev-one.yaml", device_profile_to_yaml(local));
  ::setenv("FASTBOOP_SCHEMA_PATH", dir.path().c_str(), 1);
  auto from_channel = *decode_device_profile(spec_devp()); // id dev-one, shadowed by the local file
  auto builtin_id = *decode_device_profile(spec_devp());
  builtin_id.id = "arrow-db410c"; // a built-in id: the channel's wins
  auto only = *decode_device_profile(spec_devp());
  only.id = "only-in-channel";
  set_channel_device_profiles("ch.bin", {from_channel, builtin_id, only});
  auto one = find_device_profile("dev-one");
  auto arrow = find_device_profile("arrow-db410c");
  auto mine = find_device_profile("only-in-channel");
  set_channel_device_profiles("", {});
  ::unsetenv("FASTBOOP_SCHEMA_PATH");
  ASSERT_TRUE(one.ok() && arrow.ok() && mine.ok());
  EXPECT_EQ(one->origin, ProfileOrigin::SchemaPath);
  EXPECT_EQ(one->profile.display_name, std::optional<std::string>("local"));
  EXPECT_EQ(arrow->origin, ProfileOrigin::Channel);
  EXPECT_EQ(arrow->source, "channel:ch.bin#arrow-db410c");
  EXPECT_FALSE(device_profile_source_is_file(arrow->source));
  EXPECT_EQ(mine->origin, ProfileOrigin::Channel);
  EXPECT_FALSE(find_device_profile("only-in-channel").ok()); // for that run only
}
