// BlockSource: a read-only, random-access view of bytes (a file, an HTTP
// object, the expansion of an xz/sparse stage, a partition). Stages stack:
// each wrapper owns the source it reads from.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace fastboop::pipeline {

class BlockSource {
public:
  virtual ~BlockSource() = default;
  // Exact size of the exposed bytes.
  virtual std::uint64_t size() const = 0;
  // Fill `out` entirely from `offset`. A read past size() or a short read
  // from below is an error naming this stage and the offset.
  virtual Result<void> read_at(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
  // Human description for errors and `inspect`, e.g. "gpt[partlabel=root] <- xz <- http(https://…)".
  virtual std::string describe() const = 0;
};

using BlockSourcePtr = std::unique_ptr<BlockSource>;

// Convenience: read [offset, offset+length) into a new buffer.
inline Result<Bytes> read_bytes(BlockSource& source, std::uint64_t offset, std::size_t length) {
  Bytes out(length);
  TRY(source.read_at(offset, out));
  return out;
}

} // namespace fastboop::pipeline
