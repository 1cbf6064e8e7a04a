// The smoo wire format against byte layouts written out from spec smoo.md
// §3-§5 (all little-endian).
#include "smoo/protocol.hpp"

#include <gtest/gtest.h>

using namespace fastboop;
using namespace fastboop::smoo;

namespace {

Bytes hex_bytes(std::initializer_list<int> values) {
  Bytes out;
  for (int v : values)
    out.push_back(static_cast<std::uint8_t>(v));
  return out;
}

} // namespace

TEST(SmooCodec, IdentIsMagicThenMajorMinor) {
  // §3: "SMOO", major u16, minor u16 (0.1 today).
  const Bytes wire = hex_bytes({'S', 'M', 'O', 'O', 0x00, 0x00, 0x01, 0x00});
  EXPECT_EQ(encode_ident(Ident{0, 1}), wire);
  auto decoded = decode_ident(wire);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->major, 0);
  EXPECT_EQ(decoded->minor, 1);
}

TEST(SmooCodec, IdentWithWrongMagicOrLengthIsNotASmooGadget) {
  auto wrong = decode_ident(hex_bytes({'F', 'A', 'S', 'T', 0, 0, 1, 0}));
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("not a smoo gadget"), std::string::npos)
      << wrong.error().message();
  EXPECT_FALSE(decode_ident(hex_bytes({'S', 'M', 'O', 'O', 0, 0, 1})));
  EXPECT_FALSE(decode_ident(hex_bytes({'S', 'M', 'O', 'O', 0, 0, 1, 0, 0})));
}

TEST(SmooCodec, ConfigExportsHeaderAndEntryLayout) {
  // §3: header = version u16 0, count u16, flags u32 0; entry = export_id
  // u32, block_size u32, size_bytes u64, 8 reserved zero bytes.
  const Bytes wire = hex_bytes({0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,   // header
                                0x78, 0x56, 0x34, 0x12,                           // export_id
                                0x00, 0x10, 0x00, 0x00,                           // 4096
                                0x00, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0x00,   // 5 GiB
                                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}); // reserved
  const ExportEntry entry{0x12345678, 4096, std::uint64_t{5} << 30};
  auto encoded = encode_config_exports({entry});
  ASSERT_TRUE(encoded) << encoded.error().message();
  EXPECT_EQ(*encoded, wire);
  auto decoded = decode_config_exports(wire);
  ASSERT_TRUE(decoded) << decoded.error().message();
  ASSERT_EQ(decoded->size(), 1u);
  EXPECT_EQ(decoded->front(), entry);
}

TEST(SmooCodec, ConfigExportsRejectsWhatTheSpecForbids) {
  const ExportEntry good{7, 512, 512 * 10};
  EXPECT_FALSE(encode_config_exports({ExportEntry{0, 512, 512}}));         // export_id 0
  EXPECT_FALSE(encode_config_exports({ExportEntry{7, 1000, 1000}}));       // not a power of two
  EXPECT_FALSE(encode_config_exports({ExportEntry{7, 256, 256}}));         // below 512
  EXPECT_FALSE(encode_config_exports({ExportEntry{7, 131072, 131072}}));   // above 65536
  EXPECT_FALSE(encode_config_exports({ExportEntry{7, 4096, 4097}}));       // not a multiple
  EXPECT_FALSE(encode_config_exports({good, good}));                       // duplicate id
  EXPECT_FALSE(encode_config_exports(std::vector<ExportEntry>(33, good))); // more than 32
  Bytes wire = *encode_config_exports({good});
  Bytes bad = wire;
  bad[0] = 1; // version
  EXPECT_FALSE(decode_config_exports(bad));
  bad = wire;
  bad[4] = 1; // flags
  EXPECT_FALSE(decode_config_exports(bad));
  bad = wire;
  bad[8 + 16] = 1; // reserved
  EXPECT_FALSE(decode_config_exports(bad));
  bad = wire;
  bad.pop_back(); // length != 8 + 24 * count
  EXPECT_FALSE(decode_config_exports(bad));
  EXPECT_FALSE(decode_config_exports(ByteSpan(wire).first(7)));
}

TEST(SmooCodec, StatusLayout) {
  // §3: version u16 0, flags u16 (bit 0 = export active), export_count u32, session_id u64.
  const Bytes wire = hex_bytes({0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0xEF, 0xCD, 0xAB,
                                0x89, 0x67, 0x45, 0x23, 0x01});
  Status s;
  s.flags = 1;
  s.export_count = 1;
  s.session_id = 0x0123456789ABCDEFull;
  EXPECT_EQ(encode_status(s), wire);
  auto decoded = decode_status(wire);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, s);
  EXPECT_TRUE(decoded->export_active());
  Bytes bad = wire;
  bad[0] = 1;
  EXPECT_FALSE(decode_status(bad)); // version
  bad = wire;
  bad[2] = 2;
  EXPECT_FALSE(decode_status(bad)); // unknown flag
  EXPECT_FALSE(decode_status(ByteSpan(wire).first(15)));
}

TEST(SmooCodec, RequestLayout) {
  // §4: op u8, 3 reserved, request_id u32, export_id u32, lba u64,
  // num_blocks u32, flags u32 — exactly 28 bytes.
  const Bytes wire = hex_bytes({0x00, 0x00, 0x00, 0x00, // read, reserved
                                0x05, 0x00, 0x01, 0x00, // (queue 1 << 16) | tag 5
                                0xDD, 0xCC, 0xBB, 0xAA, // export_id
                                0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // lba
                                0x20, 0x00, 0x00, 0x00,                         // 32 blocks
                                0x00, 0x00, 0x00, 0x00});                       // flags
  const Request r{Op::Read, 0x00010005, 0xAABBCCDD, 0x0102030405060708ull, 32};
  EXPECT_EQ(encode_request(r), wire);
  auto decoded = decode_request(wire);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, r);
}

TEST(SmooCodec, RequestRejectsWrongLengthReservedFlagsAndOp) {
  const Bytes wire = encode_request(Request{Op::Write, 1, 2, 3, 4});
  EXPECT_TRUE(decode_request(wire));
  for (std::size_t at : {1u, 2u, 3u, 24u, 27u}) {
    Bytes bad = wire;
    bad[at] = 1;
    EXPECT_FALSE(decode_request(bad)) << "byte " << at;
  }
  Bytes bad = wire;
  bad[0] = 4; // no op 4
  EXPECT_FALSE(decode_request(bad));
  EXPECT_FALSE(decode_request(ByteSpan(wire).first(27)));
  Bytes longer = wire;
  longer.push_back(0);
  EXPECT_FALSE(decode_request(longer));
}

TEST(SmooCodec, ResponseLayoutEchoesTheRequestWithStatusAtByte1) {
  const Request r{Op::Read, 0x00010005, 0xAABBCCDD, 0x0102030405060708ull, 32};
  const Bytes wire = hex_bytes({0x00, 0x05, 0x00, 0x00, // read, EIO, reserved
                                0x05, 0x00, 0x01, 0x00, 0xDD, 0xCC, 0xBB, 0xAA, // ids
                                0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // lba
                                0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  EXPECT_EQ(encode_response(response_for(r, status_eio)), wire);
  auto decoded = decode_response(wire);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->status, 5);
  EXPECT_EQ(decoded->request_id, r.request_id);
  Bytes bad = wire;
  bad[2] = 1;
  EXPECT_FALSE(decode_response(bad));
}

TEST(SmooCodec, ErrnosAreLinuxNumbers) {
  EXPECT_EQ(status_eio, 5);
  EXPECT_EQ(status_einval, 22);
  EXPECT_EQ(status_eopnotsupp, 95);
}

TEST(SmooExportId, Fnv1aKnownVectors) {
  // The published FNV-1a 32-bit test vectors.
  EXPECT_EQ(fnv1a32({}), 0x811c9dc5u);
  EXPECT_EQ(fnv1a32(as_bytes("a")), 0xe40c292cu);
  EXPECT_EQ(fnv1a32(as_bytes("foobar")), 0xbf9cf968u);
}

TEST(SmooExportId, HashesBlockSizeThenBlockCountThenIdentity) {
  // §5: block_size u32 LE, block count u64 LE, then the identity bytes.
  Bytes material =
      hex_bytes({0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00});
  append(material, std::string_view("sha512:abc"));
  EXPECT_EQ(export_id_for(4096, 256, as_bytes("sha512:abc")), fnv1a32(material));
  // Stable for one source, different for another size or identity.
  EXPECT_EQ(export_id_for(4096, 256, as_bytes("x")), export_id_for(4096, 256, as_bytes("x")));
  EXPECT_NE(export_id_for(4096, 256, as_bytes("x")), export_id_for(4096, 257, as_bytes("x")));
  EXPECT_NE(export_id_for(4096, 256, as_bytes("x")), export_id_for(512, 256, as_bytes("x")));
  EXPECT_NE(export_id_for(4096, 256, as_bytes("x")), export_id_for(4096, 256, as_bytes("y")));
  EXPECT_NE(export_id_for(4096, 256, as_bytes("x")), 0u);
}
