// libFuzzer: the iso9660 stage's own directory-record walk (volume
// descriptors, records, Rock Ridge NM/CE, multi-extent sections), the live
// layout detection over it, and reads of the file found.
#include "fuzz_common.hpp"
#include "pipeline/pipeline.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::pipeline;
  auto iso = fuzz::input(data, size);
  (void)detect_live_layout(*iso);
  (void)list_iso9660_dir(*iso, "live");
  for (const char* path : {"live/filesystem.squashfs", "LiveOS/squashfs.img", "a/b/c"}) {
    auto s = open_iso9660_file(fuzz::input(data, size), path);
    if (s.ok())
      fuzz::read_some(**s, data, size);
  }
  return 0;
}
