#include "stage0/codec.hpp"

#include <lz4.h>
#include <lz4frame.h>
#include <lz4hc.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <string>

namespace fastboop::stage0 {

namespace {

constexpr std::uint32_t lz4_legacy_magic = 0x184C2102;
constexpr std::size_t lz4_legacy_block = 8u << 20; // what lz4 -l and the kernel use

Error too_big(std::string_view what, std::uint64_t limit) {
  return Error(std::string(what) + ": output exceeds the limit of " + std::to_string(limit) + " bytes");
}

Result<Bytes> gunzip(ByteSpan data, std::uint64_t limit) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
    return Error("gzip: inflateInit2 failed", ErrorKind::Io);
  Bytes out;
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(std::min<std::size_t>(data.size(), UINT32_MAX));
  std::uint8_t buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = buf;
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      std::string msg = zs.msg ? zs.msg : "corrupt or truncated stream";
      inflateEnd(&zs);
      return Error("gzip: " + msg + " at input offset " + std::to_string(zs.total_in));
    }
    out.insert(out.end(), buf, buf + (sizeof(buf) - zs.avail_out));
    if (out.size() > limit) {
      inflateEnd(&zs);
      return too_big("gzip", limit);
    }
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Error("gzip: truncated stream after " + std::to_string(zs.total_in) + " bytes");
    }
  }
  inflateEnd(&zs);
  return out;
}

Result<Bytes> unzstd(ByteSpan data, std::uint64_t limit) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  if (!ds)
    return Error("zstd: cannot create decoder", ErrorKind::Io);
  Bytes out;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  std::uint8_t buf[1 << 17];
  std::size_t rc = 1;
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{buf, sizeof(buf), 0};
    rc = ZSTD_decompressStream(ds, &ob, &in);
    if (ZSTD_isError(rc)) {
      ZSTD_freeDStream(ds);
      return Error(std::string("zstd: ") + ZSTD_getErrorName(rc) + " at input offset " +
                   std::to_string(in.pos));
    }
    out.insert(out.end(), buf, buf + ob.pos);
    if (out.size() > limit) {
      ZSTD_freeDStream(ds);
      return too_big("zstd", limit);
    }
    if (rc == 0)
      break; // one frame done; trailing data (padding) is ignored
    if (ob.pos == 0 && in.pos == in.size)
      break;
  }
  // Flush what is buffered inside the decoder.
  while (rc != 0) {
    ZSTD_outBuffer ob{buf, sizeof(buf), 0};
    rc = ZSTD_decompressStream(ds, &ob, &in);
    if (ZSTD_isError(rc) || ob.pos == 0) {
      ZSTD_freeDStream(ds);
      return Error("zstd: truncated stream");
    }
    out.insert(out.end(), buf, buf + ob.pos);
    if (out.size() > limit) {
      ZSTD_freeDStream(ds);
      return too_big("zstd", limit);
    }
  }
  ZSTD_freeDStream(ds);
  return out;
}

Result<Bytes> unlz4_legacy(ByteSpan data, std::uint64_t limit) {
  Bytes out;
  std::size_t pos = 4;
  while (pos + 4 <= data.size()) {
    std::uint32_t csize = load_le<std::uint32_t>(data.data() + pos);
    if (csize == lz4_legacy_magic) { // concatenated legacy stream
      pos += 4;
      continue;
    }
    pos += 4;
    if (csize > static_cast<std::uint32_t>(LZ4_compressBound(static_cast<int>(lz4_legacy_block))) || pos + csize > data.size())
      return Error("lz4: block at offset " + std::to_string(pos - 4) + " is truncated or oversized");
    std::size_t base = out.size();
    out.resize(base + lz4_legacy_block);
    int n = LZ4_decompress_safe(reinterpret_cast<const char*>(data.data() + pos),
                                reinterpret_cast<char*>(out.data() + base), static_cast<int>(csize),
                                static_cast<int>(lz4_legacy_block));
    if (n < 0)
      return Error("lz4: corrupt block at offset " + std::to_string(pos - 4));
    out.resize(base + static_cast<std::size_t>(n));
    if (out.size() > limit)
      return too_big("lz4", limit);
    pos += csize;
  }
  return out;
}

Result<Bytes> unlz4_frame(ByteSpan data, std::uint64_t limit) {
  LZ4F_dctx* dctx = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
    return Error("lz4: cannot create decoder", ErrorKind::Io);
  Bytes out;
  std::size_t pos = 0;
  std::uint8_t buf[1 << 17];
  std::size_t hint = 1;
  while (pos < data.size() && hint != 0) {
    std::size_t out_size = sizeof(buf);
    std::size_t in_size = data.size() - pos;
    hint = LZ4F_decompress(dctx, buf, &out_size, data.data() + pos, &in_size, nullptr);
    if (LZ4F_isError(hint)) {
      LZ4F_freeDecompressionContext(dctx);
      return Error(std::string("lz4: ") + LZ4F_getErrorName(hint) + " at input offset " +
                   std::to_string(pos));
    }
    pos += in_size;
    out.insert(out.end(), buf, buf + out_size);
    if (out.size() > limit) {
      LZ4F_freeDecompressionContext(dctx);
      return too_big("lz4", limit);
    }
    if (in_size == 0 && out_size == 0)
      break;
  }
  LZ4F_freeDecompressionContext(dctx);
  if (hint != 0)
    return Error("lz4: truncated frame");
  return out;
}

Result<Bytes> unxz(ByteSpan data, std::uint64_t limit) {
  lzma_stream zs = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&zs, std::uint64_t{1} << 30, LZMA_CONCATENATED) != LZMA_OK)
    return Error("xz: cannot create decoder", ErrorKind::Io);
  Bytes out;
  zs.next_in = data.data();
  zs.avail_in = data.size();
  std::uint8_t buf[1 << 16];
  lzma_ret rc = LZMA_OK;
  while (rc == LZMA_OK) {
    zs.next_out = buf;
    zs.avail_out = sizeof(buf);
    rc = lzma_code(&zs, zs.avail_in == 0 ? LZMA_FINISH : LZMA_RUN);
    out.insert(out.end(), buf, buf + (sizeof(buf) - zs.avail_out));
    if (out.size() > limit) {
      lzma_end(&zs);
      return too_big("xz", limit);
    }
  }
  std::uint64_t at = zs.total_in;
  lzma_end(&zs);
  if (rc != LZMA_STREAM_END)
    return Error("xz: corrupt or truncated stream (liblzma code " + std::to_string(rc) +
                 ") near input offset " + std::to_string(at));
  return out;
}

} // namespace

std::string_view codec_name(Codec codec) {
  switch (codec) {
  case Codec::None: return "none";
  case Codec::Gzip: return "gzip";
  case Codec::Zstd: return "zstd";
  case Codec::Lz4: return "lz4";
  case Codec::Xz: return "xz";
  }
  return "none";
}

Result<Codec> parse_codec(std::string_view name) {
  for (Codec c : {Codec::None, Codec::Gzip, Codec::Zstd, Codec::Lz4, Codec::Xz})
    if (codec_name(c) == name)
      return c;
  return Error("unknown compression '" + std::string(name) + "' (expected none, gzip, lz4, zstd or xz)",
               ErrorKind::Usage);
}

std::string_view codec_suffix(Codec codec) {
  switch (codec) {
  case Codec::None: return "";
  case Codec::Gzip: return ".gz";
  case Codec::Zstd: return ".zst";
  case Codec::Lz4: return ".lz4";
  case Codec::Xz: return ".xz";
  }
  return "";
}

Codec detect_codec(ByteSpan d) {
  auto starts = [&](std::initializer_list<std::uint8_t> magic) {
    return d.size() >= magic.size() && std::equal(magic.begin(), magic.end(), d.begin());
  };
  if (starts({0x1f, 0x8b, 0x08}))
    return Codec::Gzip;
  if (starts({0x28, 0xb5, 0x2f, 0xfd}))
    return Codec::Zstd;
  if (starts({0x04, 0x22, 0x4d, 0x18}) || starts({0x02, 0x21, 0x4c, 0x18}))
    return Codec::Lz4;
  if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00}))
    return Codec::Xz;
  return Codec::None;
}

Result<Bytes> decompress(Codec codec, ByteSpan data, std::uint64_t limit) {
  switch (codec) {
  case Codec::None: return Bytes(data.begin(), data.end());
  case Codec::Gzip: return gunzip(data, limit);
  case Codec::Zstd: return unzstd(data, limit);
  case Codec::Xz: return unxz(data, limit);
  case Codec::Lz4:
    if (data.size() >= 4 && load_le<std::uint32_t>(data.data()) == lz4_legacy_magic)
      return unlz4_legacy(data, limit);
    return unlz4_frame(data, limit);
  }
  return Error("unknown codec");
}

Result<Bytes> gzip_compress(ByteSpan data, int level) {
  z_stream zs{};
  // windowBits 16+15: gzip wrapper with MTIME 0 and no file name.
  if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
    return Error("gzip: deflateInit2 failed", ErrorKind::Io);
  Bytes out(deflateBound(&zs, data.size()) + 64);
  zs.next_in = const_cast<Bytef*>(data.data());
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END)
    return Error("gzip: compression failed", ErrorKind::Io);
  return out;
}

Result<Bytes> compress(Codec codec, ByteSpan data) {
  switch (codec) {
  case Codec::None: return Bytes(data.begin(), data.end());
  case Codec::Gzip: return gzip_compress(data, 9);
  case Codec::Zstd: {
    Bytes out(ZSTD_compressBound(data.size()));
    std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 12);
    if (ZSTD_isError(n))
      return Error(std::string("zstd: ") + ZSTD_getErrorName(n), ErrorKind::Io);
    out.resize(n);
    return out;
  }
  case Codec::Lz4: {
    // Legacy frame: the format the kernel's initramfs unpacker accepts.
    Bytes out;
    append_le<std::uint32_t>(out, lz4_legacy_magic);
    std::size_t pos = 0;
    Bytes block(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(lz4_legacy_block))));
    while (pos < data.size()) {
      std::size_t n = std::min(lz4_legacy_block, data.size() - pos);
      int c = LZ4_compress_HC(reinterpret_cast<const char*>(data.data() + pos),
                              reinterpret_cast<char*>(block.data()), static_cast<int>(n),
                              static_cast<int>(block.size()), LZ4HC_CLEVEL_MAX);
      if (c <= 0)
        return Error("lz4: compression failed", ErrorKind::Io);
      append_le<std::uint32_t>(out, static_cast<std::uint32_t>(c));
      out.insert(out.end(), block.begin(), block.begin() + c);
      pos += n;
    }
    return out;
  }
  case Codec::Xz: {
    lzma_options_lzma opt;
    lzma_lzma_preset(&opt, 6);
    opt.dict_size = 1u << 20; // the kernel's own initramfs setting (usr/Makefile)
    lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, nullptr}};
    Bytes out(lzma_stream_buffer_bound(data.size()));
    std::size_t out_pos = 0;
    lzma_ret rc = lzma_stream_buffer_encode(filters, LZMA_CHECK_CRC32, nullptr, data.data(),
                                            data.size(), out.data(), &out_pos, out.size());
    if (rc != LZMA_OK)
      return Error("xz: compression failed (liblzma code " + std::to_string(rc) + ")", ErrorKind::Io);
    out.resize(out_pos);
    return out;
  }
  }
  return Error("unknown codec");
}

} // namespace fastboop::stage0
