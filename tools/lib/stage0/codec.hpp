// Stream codecs used by stage0: detecting and expanding gzip/zstd/lz4/xz data
// (kernels, modules) and deterministic compressors for the initramfs. Every
// decoder is bounded by an output limit so hostile input cannot exhaust memory.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <optional>
#include <string_view>

namespace fastboop::stage0 {

enum class Codec { None, Gzip, Zstd, Lz4, Xz };

std::string_view codec_name(Codec codec);
Result<Codec> parse_codec(std::string_view name);
// File-name suffix for an initramfs compressed with `codec` ("", ".gz", ...).
std::string_view codec_suffix(Codec codec);

// Codec of a buffer by its magic bytes (lz4 frame and legacy both count as Lz4).
Codec detect_codec(ByteSpan data);

constexpr std::uint64_t default_decode_limit = std::uint64_t{1} << 30;

// Expand a whole buffer of the given codec; trailing data after the first
// stream of a gzip member is ignored, as the kernel's decompressors do.
Result<Bytes> decompress(Codec codec, ByteSpan data, std::uint64_t limit = default_decode_limit);

// Compress deterministically in the form the Linux initramfs unpacker reads:
// gzip without name or timestamp, zstd frame, lz4 legacy frame (lz4 -l), xz
// with CRC32 check.
Result<Bytes> compress(Codec codec, ByteSpan data);

// gzip at a chosen zlib level (the kernel Image.gz normalisation uses 9).
Result<Bytes> gzip_compress(ByteSpan data, int level);

} // namespace fastboop::stage0
