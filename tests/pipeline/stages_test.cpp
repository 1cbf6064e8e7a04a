// Every stage against references built by the real tools: img2simg/simg2img,
// xz -T1/-T2, sgdisk, sfdisk, tar, dd.
#include "pipeline/sources.hpp"
#include "pipeline_test_util.hpp"

#include <cstdlib>
#include <filesystem>
#include <unistd.h>
#include <zlib.h>

namespace fastboop::test {
namespace {

namespace fs = std::filesystem;
using namespace pipeline;

BlockSourcePtr open_or_die(const fs::path& p) {
  auto r = open_file_source(p);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? std::move(r).value() : make_memory_source({});
}

// A GPT disk (boot + root) with random data, zero runs and a 4-byte fill
// pattern run, plus its sparse, xz and MBR variants. Built once per binary.
struct DiskFixture {
  // Built once into the test cache and reused by every test process
  // (ctest runs each case in its own process).
  fs::path dir;
  bool ready = false;
  std::string error;
  static constexpr const char* kRootGuid = "8A3C9F12-5B1E-4D2A-9E3F-0123456789AB";

  DiskFixture() {
    for (const char* p : {"sgdisk", "sfdisk", "img2simg", "simg2img", "xz", "tar", "dd"})
      if (!have_program(p)) {
        error = std::string("missing ") + p;
        return;
      }
    dir = cached_fixture("pipeline-disk-v1", [this](const fs::path& at, std::string&) { return make(at); }, error);
    ready = !dir.empty();
  }

  bool make(const fs::path& at) {
    Bytes payload = nibble_bytes(3u << 20, 7);
    // Zero run and a fill-pattern run so img2simg emits FILL chunks.
    std::fill(payload.begin() + (1u << 20), payload.begin() + (3u << 19), 0);
    for (std::size_t i = 2u << 20; i < (5u << 19); i += 4) {
      payload[i] = 0xDE;
      payload[i + 1] = 0xAD;
      payload[i + 2] = 0xBE;
      payload[i + 3] = 0xEF;
    }
    write_file(at / "payload.bin", payload);
    write_file(at / "boot.bin", nibble_bytes(1u << 20, 8));
    std::string d = at.string();
    auto out = sh("set -e; cd '" + d + "'\n"
                  "truncate -s 8M disk.img\n"
                  "sgdisk -o -n1:2048:+1M -c1:boot -t1:ef00 -n2:0:+4M -c2:root -u2:" + std::string(kRootGuid) + " disk.img >/dev/null 2>&1\n"
                  "dd if=boot.bin of=disk.img bs=512 seek=2048 conv=notrunc status=none\n"
                  "dd if=payload.bin of=disk.img bs=512 seek=4096 conv=notrunc status=none\n"
                  "dd if=disk.img of=root.ref bs=512 skip=4096 count=8192 status=none\n"
                  "img2simg disk.img disk.simg\n"
                  "simg2img disk.simg disk.expanded\n"
                  "cmp disk.img disk.expanded\n"
                  "xz -0 -T2 --block-size=256KiB -c disk.simg > disk.simg.mb.xz\n"
                  "xz -0 -T1 -c disk.simg > disk.simg.sb.xz\n"
                  "xz -0 -T2 --block-size=300KiB -c payload.bin > part1.xz\n"
                  "xz -0 -T1 -c boot.bin > part2.xz\n"
                  "cat part1.xz part2.xz > concat.xz; cat payload.bin boot.bin > concat.ref\n"
                  "truncate -s 6M mbr.img\n"
                  "printf 'label: dos\\nlabel-id: 0x1234abcd\\n2048,2048,c\\n4096,,83\\n' | sfdisk -q mbr.img\n"
                  "dd if=payload.bin of=mbr.img bs=512 seek=4096 conv=notrunc status=none\n"
                  "dd if=mbr.img of=mbr2.ref bs=512 skip=4096 status=none\n");
    if (out.exit_code != 0) {
      error = out.err;
      return false;
    }
    return true;
  }
  fs::path operator/(const std::string& n) const { return dir / n; }
};

DiskFixture& fixture() {
  static DiskFixture f;
  return f;
}

#define NEED_FIXTURE()                                                                             \
  do {                                                                                             \
    FASTBOOP_REQUIRE_PROGRAM("sgdisk");                                                            \
    FASTBOOP_REQUIRE_PROGRAM("img2simg");                                                          \
    FASTBOOP_REQUIRE_PROGRAM("sfdisk");                                                            \
    ASSERT_TRUE(fixture().ready) << fixture().error;                                               \
  } while (0)

TEST(FileSource, RandomReadsAndBounds) {
  TempDir t;
  Bytes data = random_bytes(100000, 1);
  write_file(t / "f", data);
  auto src = open_or_die(t / "f");
  expect_random_reads_match(*src, data, 1);
  EXPECT_FALSE(open_file_source(t / "missing").ok());
  auto err = open_file_source(t.path());
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().message().find("not a regular file"), std::string::npos);
}

TEST(AndroidSparse, RandomReadsMatchSimg2img) {
  NEED_FIXTURE();
  Bytes ref = read_file(fixture() / "disk.img");
  auto idx = scan_sparse_index(*open_or_die(fixture() / "disk.simg"));
  ASSERT_TRUE(idx.ok()) << idx.error().message();
  bool raw = false, fill = false;
  for (const auto& c : idx->chunks) {
    raw |= c.chunk_type == 0xCAC1;
    fill |= c.chunk_type == 0xCAC2;
  }
  EXPECT_TRUE(raw && fill) << "fixture must exercise RAW and FILL chunks";
  auto src = open_android_sparse(open_or_die(fixture() / "disk.simg"));
  ASSERT_TRUE(src.ok()) << src.error().message();
  expect_random_reads_match(**src, ref, 2);
  // The scanned index is accepted as a hint, and yields the same bytes.
  ASSERT_TRUE(validate_sparse_index(*idx, fs::file_size(fixture() / "disk.simg")).ok());
  auto hinted = open_android_sparse(open_or_die(fixture() / "disk.simg"), &*idx);
  ASSERT_TRUE(hinted.ok()) << hinted.error().message();
  expect_random_reads_match(**hinted, ref, 3, 50);
}

// Hand-built image covering DONT_CARE and CRC32 chunks (img2simg emits neither).
Bytes handmade_sparse() {
  Bytes b;
  append_le<std::uint32_t>(b, 0xED26FF3A);
  append_le<std::uint16_t>(b, 1);
  append_le<std::uint16_t>(b, 0);
  append_le<std::uint16_t>(b, 28);
  append_le<std::uint16_t>(b, 12);
  append_le<std::uint32_t>(b, 8);  // blk_sz
  append_le<std::uint32_t>(b, 4);  // total_blks
  append_le<std::uint32_t>(b, 4);  // total_chunks
  append_le<std::uint32_t>(b, 0);
  auto chunk = [&](std::uint16_t type, std::uint32_t blocks, std::uint32_t payload) {
    append_le<std::uint16_t>(b, type);
    append_le<std::uint16_t>(b, 0);
    append_le<std::uint32_t>(b, blocks);
    append_le<std::uint32_t>(b, 12 + payload);
  };
  chunk(0xCAC1, 1, 8);
  append(b, as_bytes("ABCDEFGH"));
  chunk(0xCAC3, 2, 0);
  chunk(0xCAC2, 1, 4);
  append(b, as_bytes("wxyz"));
  chunk(0xCAC4, 0, 4);
  append_le<std::uint32_t>(b, 0x12345678);
  return b;
}

TEST(AndroidSparse, DontCareFillAndCrcChunks) {
  auto src = open_android_sparse(make_memory_source(handmade_sparse()));
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes want;
  append(want, as_bytes("ABCDEFGH"));
  want.resize(24, 0);
  append(want, as_bytes("wxyzwxyz"));
  expect_random_reads_match(**src, want, 4, 100, 20);
  Bytes mid(5);
  expect_ok((*src)->read_at(25, mid));
  EXPECT_EQ(as_chars(mid), "xyzwx");
}

TEST(AndroidSparse, HostileHeadersFailNamingLayerAndOffset) {
  Bytes good = handmade_sparse();
  struct Case {
    std::size_t at;
    std::uint32_t value;
    const char* needle;
  } cases[] = {
      {0, 0x11111111, "bad magic"},
      {20, 0xFFFFFFFF, "cannot fit"},          // absurd chunk count
      {16, 1000, "expand to"},                // total_blks disagrees
      {12, 0, "block size"},
      {28 + 8, 0xFFFFFFF0, "past the end"},     // first chunk total_sz absurd
      {28, 0xCAFF, "unknown type"},
  };
  for (const auto& c : cases) {
    Bytes bad = good;
    if (c.at == 28)
      store_le<std::uint16_t>(&bad[c.at], static_cast<std::uint16_t>(c.value));
    else
      store_le<std::uint32_t>(&bad[c.at], c.value);
    auto r = open_android_sparse(make_memory_source(bad));
    ASSERT_FALSE(r.ok()) << c.needle;
    EXPECT_NE(r.error().message().find(c.needle), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("android_sparseimg: offset 0x"), std::string::npos) << r.error().message();
  }
  // Found by fuzz_pipeline_sparse: a file header larger than the file made
  // the chunk-count bound underflow and reserve absurd memory.
  Bytes big_header = good;
  store_le<std::uint16_t>(&big_header[8], 0xFFFF);
  auto bh = open_android_sparse(make_memory_source(big_header));
  ASSERT_FALSE(bh.ok());
  EXPECT_NE(bh.error().message().find("exceeds the file"), std::string::npos) << bh.error().message();
  Bytes truncated(good.begin(), good.end() - 10);
  auto r = open_android_sparse(make_memory_source(truncated));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("past the end"), std::string::npos) << r.error().message();
}

TEST(Gpt, SelectorsMatchDdOfThePartition) {
  NEED_FIXTURE();
  Bytes root = read_file(fixture() / "root.ref");
  Bytes boot = read_file(fixture() / "boot.bin");
  auto table = read_gpt(*open_or_die(fixture() / "disk.img"), std::nullopt);
  ASSERT_TRUE(table.ok()) << table.error().message();
  EXPECT_EQ(table->lba_size, 512u);
  ASSERT_EQ(table->partitions.size(), 2u);
  EXPECT_EQ(table->partitions[1].label, "root");
  EXPECT_EQ(table->partitions[1].partuuid, DiskFixture::kRootGuid);

  std::vector<std::pair<GptSelector, const Bytes*>> cases;
  cases.push_back({GptSelector{.partlabel = std::string(" root ")}, &root}); // trimmed
  cases.push_back({GptSelector{.partuuid = std::string("8a3c9f125b1e-4d2a-9e3f-0123456789ab")}, &root});
  cases.push_back({GptSelector{.index = 1}, &root});
  cases.push_back({GptSelector{.index = 0, .lba_size = 512}, &boot});
  for (auto& [sel, ref] : cases) {
    auto part = open_gpt_partition(open_or_die(fixture() / "disk.img"), sel);
    ASSERT_TRUE(part.ok()) << part.error().message();
    expect_random_reads_match(**part, *ref, 5, 40);
  }
  auto none = open_gpt_partition(open_or_die(fixture() / "disk.img"), GptSelector{.partlabel = std::string("Root")});
  ASSERT_FALSE(none.ok()); // case-sensitive
  EXPECT_NE(none.error().message().find("1:'root'"), std::string::npos) << none.error().message();
  auto unused = open_gpt_partition(open_or_die(fixture() / "disk.img"), GptSelector{.index = 5});
  EXPECT_FALSE(unused.ok());
  auto two = open_gpt_partition(open_or_die(fixture() / "disk.img"), GptSelector{.partlabel = std::string("root"), .index = 1});
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.error().message().find("exactly one selector"), std::string::npos);
  auto wrong_lba = open_gpt_partition(open_or_die(fixture() / "disk.img"), GptSelector{.index = 1, .lba_size = 4096});
  EXPECT_FALSE(wrong_lba.ok());
}

TEST(Gpt, CorruptHeaderAndEntryArrayCrcsAreRejected) {
  NEED_FIXTURE();
  Bytes disk = read_file(fixture() / "disk.img");
  Bytes bad_entries = disk;
  bad_entries[1024 + 128 + 60] ^= 0xFF; // a byte of entry 1's name
  auto r = read_gpt(*make_memory_source(bad_entries), std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("entry array CRC32 mismatch"), std::string::npos) << r.error().message();
  Bytes bad_header = disk;
  bad_header[512 + 40] ^= 0x01; // first usable LBA
  r = read_gpt(*make_memory_source(bad_header), std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("header CRC32 mismatch"), std::string::npos) << r.error().message();
  Bytes absurd = disk;
  store_le<std::uint32_t>(&absurd[512 + 80], 0x7FFFFFFF); // entry count (CRC fixed below)
  store_le<std::uint32_t>(&absurd[512 + 16], 0);
  {
    Bytes h(absurd.begin() + 512, absurd.begin() + 512 + 92);
    uLong c = crc32(0, h.data(), 92);
    store_le<std::uint32_t>(&absurd[512 + 16], static_cast<std::uint32_t>(c));
  }
  r = read_gpt(*make_memory_source(absurd), std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("absurd"), std::string::npos) << r.error().message();
}

// sgdisk/sfdisk cannot write 4096-byte-sector tables to an image file, so this
// one disk is assembled here (UEFI layout, CRCs by zlib) to cover the probe.
TEST(Gpt, ProbesA4096ByteLbaSize) {
  constexpr std::size_t lba = 4096;
  Bytes disk(64 * lba, 0);
  Bytes data = random_bytes(10 * lba, 99);
  std::copy(data.begin(), data.end(), disk.begin() + 10 * lba);
  std::uint8_t* e = &disk[2 * lba];
  e[0] = 0xAF; // type GUID: any non-zero
  for (int i = 0; i < 16; ++i)
    e[16 + i] = static_cast<std::uint8_t>(i + 1);
  store_le<std::uint64_t>(e + 32, 10);
  store_le<std::uint64_t>(e + 40, 19);
  const char* name = "data";
  for (int i = 0; name[i]; ++i)
    e[56 + 2 * i] = static_cast<std::uint8_t>(name[i]);
  std::uint8_t* h = &disk[lba];
  std::memcpy(h, "EFI PART", 8);
  store_le<std::uint32_t>(h + 8, 0x00010000);
  store_le<std::uint32_t>(h + 12, 92);
  store_le<std::uint64_t>(h + 24, 1);
  store_le<std::uint64_t>(h + 32, 63);
  store_le<std::uint64_t>(h + 40, 6);
  store_le<std::uint64_t>(h + 48, 58);
  store_le<std::uint64_t>(h + 72, 2);
  store_le<std::uint32_t>(h + 80, 4);
  store_le<std::uint32_t>(h + 84, 128);
  store_le<std::uint32_t>(h + 88, static_cast<std::uint32_t>(crc32(0, e, 4 * 128)));
  store_le<std::uint32_t>(h + 16, static_cast<std::uint32_t>(crc32(0, h, 92)));
  auto part = open_gpt_partition(make_memory_source(disk), GptSelector{.partlabel = std::string("data")});
  ASSERT_TRUE(part.ok()) << part.error().message();
  expect_random_reads_match(**part, data, 17, 20, 9000);
  auto table = read_gpt(*make_memory_source(disk), std::nullopt);
  ASSERT_TRUE(table.ok());
  EXPECT_EQ(table->lba_size, 4096u);
  EXPECT_EQ(table->partitions.at(0).partuuid, "04030201-0605-0807-090A-0B0C0D0E0F10");
  auto uuid = open_gpt_partition(make_memory_source(disk), GptSelector{.partuuid = std::string("04030201-0605-0807-090A-0B0C0D0E0F10")});
  EXPECT_TRUE(uuid.ok());
  auto forced = open_gpt_partition(make_memory_source(disk), GptSelector{.index = 0, .lba_size = 512});
  EXPECT_FALSE(forced.ok());
}

TEST(Mbr, IndexAndPartuuidMatchDd) {
  NEED_FIXTURE();
  Bytes ref = read_file(fixture() / "mbr2.ref");
  for (MbrSelector sel : {MbrSelector{.index = 1}, MbrSelector{.partuuid = std::string(" 1234ABCD-02 ")}}) {
    auto part = open_mbr_partition(open_or_die(fixture() / "mbr.img"), sel);
    ASSERT_TRUE(part.ok()) << part.error().message();
    expect_random_reads_match(**part, ref, 6, 40);
  }
  auto unused = open_mbr_partition(open_or_die(fixture() / "mbr.img"), MbrSelector{.index = 2});
  ASSERT_FALSE(unused.ok());
  EXPECT_NE(unused.error().message().find("unused"), std::string::npos);
  auto wrong = open_mbr_partition(open_or_die(fixture() / "mbr.img"), MbrSelector{.partuuid = std::string("deadbeef-01")});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("1234abcd"), std::string::npos) << wrong.error().message();
  auto bad_lba = open_mbr_partition(open_or_die(fixture() / "mbr.img"), MbrSelector{.index = 1, .lba_size = 1000});
  EXPECT_FALSE(bad_lba.ok());
  Bytes img = read_file(fixture() / "mbr.img");
  img[511] = 0;
  auto nosig = open_mbr_partition(make_memory_source(img), MbrSelector{.index = 1});
  ASSERT_FALSE(nosig.ok());
  EXPECT_NE(nosig.error().message().find("55 AA"), std::string::npos);
  img[511] = 0xAA;
  img[446 + 16] = 0x7F; // bad boot indicator of entry 1
  auto badboot = open_mbr_partition(make_memory_source(img), MbrSelector{.index = 0});
  ASSERT_FALSE(badboot.ok());
  EXPECT_NE(badboot.error().message().find("boot indicator"), std::string::npos);
}

TEST(Xz, MultiBlockRandomAccessMatchesXzDc) {
  NEED_FIXTURE();
  auto xzsrc = open_or_die(fixture() / "disk.simg.mb.xz");
  auto blocks = read_xz_block_table(*xzsrc);
  ASSERT_TRUE(blocks.ok()) << blocks.error().message();
  EXPECT_GT(blocks->size(), 4u) << "xz -T2 --block-size must give a multi-block file";
  Bytes ref = read_file(fixture() / "disk.simg");
  auto src = open_xz(std::move(xzsrc), XzOptions{.cache_dir = fixture().dir, .block_cache_bytes = 512u << 10});
  ASSERT_TRUE(src.ok()) << src.error().message();
  expect_random_reads_match(**src, ref, 8, 100);
}

TEST(Xz, SingleBlockDecodesThroughTheCacheFile) {
  NEED_FIXTURE();
  Bytes ref = read_file(fixture() / "disk.simg");
  auto src = open_xz(open_or_die(fixture() / "disk.simg.sb.xz"), XzOptions{.cache_dir = fixture().dir});
  ASSERT_TRUE(src.ok()) << src.error().message();
  expect_random_reads_match(**src, ref, 9);
}

TEST(Xz, ConcatenatedStreams) {
  NEED_FIXTURE();
  Bytes ref = read_file(fixture() / "concat.ref");
  auto src = open_xz(open_or_die(fixture() / "concat.xz"), XzOptions{.cache_dir = fixture().dir});
  ASSERT_TRUE(src.ok()) << src.error().message();
  expect_random_reads_match(**src, ref, 10, 60);
}

TEST(Xz, CorruptBlockFailsItsIntegrityCheck) {
  NEED_FIXTURE();
  Bytes xz = read_file(fixture() / "disk.simg.mb.xz");
  auto blocks = read_xz_block_table(*make_memory_source(xz));
  ASSERT_TRUE(blocks.ok());
  const auto& b = (*blocks)[2];
  xz[b.compressed_offset + b.total_size / 2] ^= 0x55;
  auto src = open_xz(make_memory_source(xz));
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes buf(16);
  expect_ok((*src)->read_at(0, buf)); // block 0 is intact
  auto r = (*src)->read_at(b.uncompressed_offset + 5, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("xz: offset 0x"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("block 3"), std::string::npos) << r.error().message();
  Bytes truncated(xz.begin(), xz.end() - 7);
  auto t = open_xz(make_memory_source(truncated));
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("xz"), std::string::npos);
}

// A read spanning many blocks decodes them on several threads
// (decode_ahead); the bytes must be the serial ones, and a corrupt block in
// the middle must fail the read naming that block, not a neighbour.
TEST(Xz, ReadSpanningManyBlocksMatchesAndNamesTheCorruptBlock) {
  NEED_FIXTURE();
  Bytes xz = read_file(fixture() / "disk.simg.mb.xz");
  Bytes ref = read_file(fixture() / "disk.simg");
  auto blocks = read_xz_block_table(*make_memory_source(xz));
  ASSERT_TRUE(blocks.ok());
  ASSERT_GT(blocks->size(), 6u);
  {
    auto src = open_xz(make_memory_source(xz));
    ASSERT_TRUE(src.ok()) << src.error().message();
    Bytes all(ref.size());
    expect_ok((*src)->read_at(0, all));
    EXPECT_TRUE(all == ref);
    Bytes mid(ref.size() / 2);
    expect_ok((*src)->read_at(ref.size() / 4 + 3, mid)); // partly cached now
    EXPECT_TRUE(std::equal(mid.begin(), mid.end(), ref.begin() + static_cast<std::ptrdiff_t>(ref.size() / 4 + 3)));
  }
  const auto& b = (*blocks)[4];
  xz[b.compressed_offset + b.total_size / 2] ^= 0x55;
  auto src = open_xz(make_memory_source(xz));
  ASSERT_TRUE(src.ok()) << src.error().message();
  Bytes all(ref.size());
  auto r = (*src)->read_at(0, all);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("block 5"), std::string::npos) << r.error().message();
  // The intact blocks before it still read.
  Bytes head(static_cast<std::size_t>(b.uncompressed_offset));
  expect_ok((*src)->read_at(0, head));
  EXPECT_TRUE(std::equal(head.begin(), head.end(), ref.begin()));
}

TEST(Stack, GptOfSparseOfXzMatchesDd) {
  NEED_FIXTURE();
  Bytes root = read_file(fixture() / "root.ref");
  for (const char* name : {"disk.simg.mb.xz", "disk.simg.sb.xz"}) {
    auto xz = open_xz(open_or_die(fixture() / name), XzOptions{.cache_dir = fixture().dir});
    ASSERT_TRUE(xz.ok()) << xz.error().message();
    auto sparse = open_android_sparse(std::move(xz).value());
    ASSERT_TRUE(sparse.ok()) << sparse.error().message();
    auto part = open_gpt_partition(std::move(sparse).value(), GptSelector{.partlabel = std::string("root")});
    ASSERT_TRUE(part.ok()) << part.error().message();
    EXPECT_NE((*part)->describe().find("gpt[partlabel=root] <- android_sparseimg <- xz <- file("), std::string::npos)
        << (*part)->describe();
    expect_random_reads_match(**part, root, 11, 80);
  }
}

TEST(Tar, EntryRangeMatchesTheFile) {
  NEED_FIXTURE();
  TempDir t;
  Bytes a = random_bytes(70001, 12), b = random_bytes(1234567, 13);
  fs::create_directories(t / "src/deep/dir");
  std::string longname(120, 'n');
  write_file(t / "src/a.bin", a);
  write_file(t / ("src/deep/dir/" + longname), b);
  fs::create_directories(t / "src/empty");
  for (const char* format : {"gnu", "pax", "ustar"}) {
    if (std::string(format) == "ustar")
      fs::rename(t / ("src/deep/dir/" + longname), t / "src/deep/dir/short");
    std::string tarf = (t / (std::string(format) + ".tar")).string();
    must_sh("cd '" + (t / "src").string() + "' && tar --format=" + format + " -cf '" + tarf + "' .");
    std::string second = std::string(format) == "ustar" ? "deep/dir/short" : "deep/dir/" + longname;
    for (auto [entry, ref] : {std::pair<std::string, const Bytes*>{"/a.bin", &a}, {"./" + second, &b}}) {
      auto src = open_tar_entry(open_or_die(tarf), entry);
      ASSERT_TRUE(src.ok()) << format << ": " << src.error().message();
      expect_random_reads_match(**src, *ref, 14, 30);
      auto idx = locate_tar_entry(*open_or_die(tarf), entry);
      ASSERT_TRUE(idx.ok());
      EXPECT_EQ(idx->entry_type, '0');
      EXPECT_LT(idx->header_offset, idx->data_offset);
      auto hinted = open_tar_entry(open_or_die(tarf), entry, &*idx);
      ASSERT_TRUE(hinted.ok());
      expect_random_reads_match(**hinted, *ref, 15, 10);
    }
    auto dir = open_tar_entry(open_or_die(tarf), "empty");
    ASSERT_FALSE(dir.ok()) << "a directory is not a regular file";
    EXPECT_NE(dir.error().message().find("no regular file entry 'empty'"), std::string::npos) << dir.error().message();
  }
  EXPECT_FALSE(normalize_tar_entry("a/../b").ok());
  EXPECT_FALSE(normalize_tar_entry(" / ").ok());
  EXPECT_EQ(*normalize_tar_entry(" ./x/y/ "), "x/y");
  auto notar = open_tar_entry(make_memory_source(random_bytes(4096, 3)), "a");
  ASSERT_FALSE(notar.ok());
  EXPECT_NE(notar.error().message().find("tar"), std::string::npos);
}

} // namespace
} // namespace fastboop::test
