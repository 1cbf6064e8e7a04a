// fastboop-cache-hit: the CMake functions' command prefix for a cached
// generation. Serves a hit whose digests are all recorded (see
// artifact_cache/fast_hit.hpp); anything else runs the given CMake command
// line, FastboopCacheRun.cmake, unchanged.
#include "artifact_cache/fast_hit.hpp"
#include "common/log.hpp"
#include "common/version.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

using namespace fastboop;

namespace {

constexpr const char* kHelp =
    "Usage: fastboop-cache-hit <cmake> -D<VAR>=<value>... -P FastboopCacheRun.cmake -- "
    "<command>...\n"
    "\n"
    "Serve a fastboop artifact cache hit whose input digests are all recorded, without\n"
    "starting CMake: stored outputs are checked against their recorded digests and copied\n"
    "into place, and the depfile and stamp are written. Anything it cannot settle from\n"
    "records alone runs the given CMake command line unchanged. The fastboop CMake\n"
    "functions (add_fastboop_stage0, add_fastboop_boot_image) put it in front of every\n"
    "cached generation; there is no need to run it by hand.\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help\n"
    "  --version      show the version\n"
    "\n"
    "Environment: FASTBOOP_LOG=debug says why a hit was not served.\n";

} // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (argc == 2 && std::strcmp(argv[1], "--version") == 0) {
    std::printf("fastboop-cache-hit %s\n", std::string(version_string()).c_str());
    return 0;
  }
  if (argc < 2) {
    std::fputs(kHelp, stderr);
    return 2;
  }
  log::init_from_env();
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto request = artifact_cache::parse_hit_arguments(args);
  if (request) {
    auto key = artifact_cache::serve_recorded_hit(*request);
    if (key) {
      std::printf("-- fastboop: cache hit %s %s (fast path)\n", request->kind.c_str(),
                  key->c_str());
      return 0;
    }
    log::debug("fastboop-cache-hit: running CMake: " + key.error().message());
  } else {
    log::debug("fastboop-cache-hit: running CMake: " + request.error().message());
  }
  std::fflush(stdout);
  ::execvp(argv[1], argv + 1);
  std::fprintf(stderr, "fastboop-cache-hit: cannot run %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
