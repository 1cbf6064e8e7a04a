// libFuzzer targets for the stage0 parsers of untrusted input: augment
// archives, kernel images (compression layers, EFI zboot), module ELF
// .modinfo. Selected by the FUZZ_TARGET compile definition.
#include "stage0/cpio.hpp"
#include "stage0/kernel.hpp"
#include "stage0/modules.hpp"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fastboop::ByteSpan in(data, size);
#if defined(FUZZ_CPIO)
  fastboop::stage0::CpioImage image;
  if (image.merge_archive(in, "fuzz", std::uint64_t{64} << 20))
    (void)image.serialise();
#elif defined(FUZZ_KERNEL)
  (void)fastboop::stage0::decode_kernel(in, std::uint64_t{64} << 20);
#else
  (void)fastboop::stage0::module_firmware(in);
#endif
  return 0;
}
