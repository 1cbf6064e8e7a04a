#include "bootimg/kernel_encoding.hpp"

#include <array>

namespace fastboop::bootimg {

namespace {

using E = profiles::KernelEncoding;
using C = KernelCompression;

constexpr std::string_view kGzipMagic = "\x1f\x8b";
constexpr std::string_view kZstdMagic = "\x28\xb5\x2f\xfd";
constexpr std::string_view kLz4LegacyMagic = "\x02\x21\x4c\x18";

constexpr std::array<KernelEncodingInfo, 8> kTable{{
    {E::Image, "image", false, C::None, "", ""},
    {E::ImageDtb, "image+dtb", true, C::None, "", ""},
    {E::ImageGz, "image.gz", false, C::Gzip, "gzip", kGzipMagic},
    {E::ImageGzDtb, "image.gz+dtb", true, C::Gzip, "gzip", kGzipMagic},
    {E::ImageLz4, "image.lz4", false, C::Lz4Legacy, "lz4 (legacy frame)", kLz4LegacyMagic},
    {E::ImageLz4Dtb, "image.lz4+dtb", true, C::Lz4Legacy, "lz4 (legacy frame)", kLz4LegacyMagic},
    {E::ImageZst, "image.zst", false, C::Zstd, "zstd", kZstdMagic},
    {E::ImageZstDtb, "image.zst+dtb", true, C::Zstd, "zstd", kZstdMagic},
}};

// The wire format stores the enum's value, so row i must be encoding i.
constexpr bool rows_in_enum_order() {
  for (std::size_t i = 0; i < kTable.size(); ++i)
    if (static_cast<std::size_t>(kTable[i].encoding) != i)
      return false;
  return true;
}
static_assert(rows_in_enum_order());

} // namespace

std::span<const KernelEncodingInfo> kernel_encodings() { return kTable; }

const KernelEncodingInfo& kernel_encoding_info(profiles::KernelEncoding encoding) {
  const auto i = static_cast<std::size_t>(encoding);
  return i < kTable.size() ? kTable[i] : kTable[0];
}

} // namespace fastboop::bootimg
