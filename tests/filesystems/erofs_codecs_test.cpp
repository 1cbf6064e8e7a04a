// Debian 12's mkfs.erofs only writes lz4/lz4hc. The MicroLZMA, deflate and
// zstd paths are checked on a small image laid out here by hand from the
// on-disk format (full indexes, one 4 KiB pcluster per lcluster, zero
// padding in front of the compressed bytes, as mkfs.erofs places them), with
// the compressed data produced by liblzma's MicroLZMA encoder (the one
// mkfs.erofs uses), zlib raw deflate and libzstd.
#include "filesystems/open.hpp"
#include "sources.hpp"
#include "test_support.hpp"

#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

namespace fastboop::test {
namespace {

constexpr std::size_t blk = 4096;

Bytes compress(int alg, ByteSpan in) {
  Bytes out(blk);
  if (alg == 1) {
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_options_lzma opt{};
    lzma_lzma_preset(&opt, 6);
    opt.dict_size = 64 * 1024;
    EXPECT_EQ(lzma_microlzma_encoder(&s, &opt), LZMA_OK);
    s.next_in = in.data();
    s.avail_in = in.size();
    s.next_out = out.data();
    s.avail_out = out.size();
    EXPECT_EQ(lzma_code(&s, LZMA_FINISH), LZMA_STREAM_END);
    EXPECT_EQ(s.total_in, in.size()) << "input must fit one pcluster";
    out.resize(s.total_out);
    lzma_end(&s);
  } else if (alg == 2) {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
  } else {
    std::size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 19);
    EXPECT_FALSE(ZSTD_isError(n));
    out.resize(n);
  }
  return out;
}

// Superblock, a root directory holding "f", and "f" compressed with `alg`.
Bytes make_image(int alg, const Bytes& content) {
  std::size_t lclusters = (content.size() + blk - 1) / blk;
  Bytes img((2 + lclusters) * blk, 0);
  auto put = [&img](std::size_t off, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i)
      img.at(off + static_cast<std::size_t>(i)) = static_cast<std::uint8_t>(v >> (8 * i));
  };
  const std::size_t sb = 1024;
  put(sb, 0xE0F5E1E2, 4);
  put(sb + 12, 12, 1);       // 4 KiB blocks
  put(sb + 14, 0, 2);        // root nid
  put(sb + 36, img.size() / blk, 4);
  put(sb + 40, 1, 4);        // inodes start in block 1
  put(sb + 80, 0x1 | 0x2, 4); // zero padding, compression configs
  put(sb + 84, 1u << alg, 2);
  // Compression configuration record after the superblock: le16 size, payload.
  const std::size_t cfg = sb + 128;
  if (alg == 1) {
    put(cfg, 14, 2);
    put(cfg + 2, 64 * 1024, 4);
  } else {
    put(cfg, 6, 2);
    put(cfg + 2, alg == 2 ? 15 : 0, 1);
  }
  // Root: compact inode, flat-inline layout, three dirents then their names.
  const std::size_t root = blk;
  const char* names[] = {".", "..", "f"};
  const std::uint64_t nids[] = {0, 0, 4};
  const std::uint8_t types[] = {2, 2, 1};
  std::size_t nameoff = 36;
  const std::size_t dir = root + 32;
  for (std::size_t i = 0; i < 3; ++i) {
    put(dir + i * 12, nids[i], 8);
    put(dir + i * 12 + 8, nameoff, 2);
    put(dir + i * 12 + 10, types[i], 1);
    for (const char* c = names[i]; *c; ++c)
      put(dir + nameoff++, static_cast<std::uint8_t>(*c), 1);
  }
  put(root, 2 << 1, 2);
  put(root + 4, 040755, 2);
  put(root + 6, 2, 2);
  put(root + 8, nameoff, 4);
  // "f": compact inode, full indexes: map header, 8 reserved bytes, one index per lcluster.
  const std::size_t f = blk + 4 * 32;
  put(f, 1 << 1, 2);
  put(f + 4, 0100644, 2);
  put(f + 6, 1, 2);
  put(f + 8, content.size(), 4);
  put(f + 16, lclusters, 4);
  const std::size_t hdr = f + 32;
  put(hdr + 6, static_cast<std::uint64_t>(alg), 1); // HEAD1 algorithm
  for (std::size_t l = 0; l < lclusters; ++l) {
    const std::size_t idx = hdr + 16 + l * 8;
    put(idx, 1, 2); // HEAD1, cluster offset 0
    put(idx + 4, 2 + l, 4);
    ByteSpan part(content.data() + l * blk, std::min(blk, content.size() - l * blk));
    Bytes packed = compress(alg, part);
    std::size_t at = (2 + l + 1) * blk - packed.size();
    for (std::size_t k = 0; k < packed.size(); ++k)
      img.at(at + k) = packed[k];
  }
  return img;
}

class ErofsCodecs : public ::testing::TestWithParam<int> {};

TEST_P(ErofsCodecs, DecodesHandBuiltImage) {
  std::string text;
  for (int i = 0; text.size() < 20000; ++i)
    text += "erofs pcluster line " + std::to_string(i * 7919 % 1000) + "\n";
  Bytes content(text.begin(), text.begin() + 20000);
  auto fs = filesystems::open_erofs(std::make_unique<MemorySource>(make_image(GetParam(), content)));
  ASSERT_TRUE(fs.ok()) << fs.error().message();
  auto data = filesystems::read_file(**fs, "/f");
  ASSERT_TRUE(data.ok()) << data.error().message();
  EXPECT_TRUE(*data == content);
  // A corrupted pcluster is an error naming the inode and offset, never garbage.
  Bytes bad = make_image(GetParam(), content);
  for (std::size_t k = 3 * blk - 600; k < 3 * blk; k += 7)
    bad[k] ^= 0x5A;
  auto fs2 = filesystems::open_erofs(std::make_unique<MemorySource>(std::move(bad)));
  ASSERT_TRUE(fs2.ok());
  auto broken = filesystems::read_file(**fs2, "/f");
  if (broken.ok()) {
    EXPECT_FALSE(*broken == content);
  } else {
    EXPECT_NE(broken.error().message().find(": inode 4"), std::string::npos)
        << broken.error().message();
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, ErofsCodecs, ::testing::Values(1, 2, 3),
                         [](const ::testing::TestParamInfo<int>& p) {
                           return std::string(p.param == 1 ? "microlzma" : p.param == 2 ? "deflate" : "zstd");
                         });

} // namespace
} // namespace fastboop::test
