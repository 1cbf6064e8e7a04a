// libFuzzer: the casync blob index (.caibx) parser and the chunk lookups of a
// read. The chunk store is an empty directory: every chunk read fails cleanly.
#include "fuzz_common.hpp"

#include <filesystem>
#include <sys/mman.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fastboop::pipeline;
  static const std::string store = [] {
    char templ[] = "/tmp/fuzz-casync-store-XXXXXX";
    return std::string(::mkdtemp(templ) ? templ : "/nonexistent");
  }();
  const int fd = ::memfd_create("fuzz.caibx", 0);
  if (fd < 0)
    return 0;
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0)
      break;
    done += static_cast<std::size_t>(n);
  }
  CasyncOptions options;
  options.http.network = NetworkMode::Offline;
  options.http.cache_dir = store;
  auto s = open_casync("/proc/self/fd/" + std::to_string(fd), store, options);
  if (s.ok())
    fuzz::read_some(**s, data, size);
  ::close(fd);
  return 0;
}
