// The fast path of cmake-modules/FastboopCacheRun.cmake: a cache hit whose
// digests are all recorded is served by one small process instead of a CMake
// start-up plus a handful of coreutils (process start-up was most of a
// warm-cache build). It never hashes a file and never writes the shared
// cache. Whatever it cannot settle from records alone (an unrecorded digest,
// no entry, an odd argument, a non-flat key directory, ...) it declines, and
// fastboop-cache-hit hands the very same arguments to the CMake script, which
// stays the reference implementation. The key material (key_material, also
// used by store.hpp for `fastboop boot`) and the record format (memo.hpp)
// must match that script (ARCHITECTURE.md, "CMake artifact cache").
#pragma once

#include "common/result.hpp"

#include <optional>
#include <string>
#include <vector>

namespace fastboop::artifact_cache {

// The -D variables of FastboopCacheRun.cmake; lists are '|'-separated.
struct HitRequest {
  std::string cache_dir;
  std::string kind;
  std::string key_files;
  std::string key_dirs;
  std::string key_text;
  std::string outputs;
  std::string output_dir;
  std::string stamp;
  std::string depfile;
  std::string depfile_target;
  std::string memo_dir;
};

// "<cmake> -D<VAR>=<value>... -P <dir>/FastboopCacheRun.cmake -- <command>..."
// (without argv[0]). An error when the fast path should not try: an unknown
// -D variable, a value CMake would change or our lists cannot carry, no cache.
Result<HitRequest> parse_hit_arguments(const std::vector<std::string>& args);

// "dev-ino-size-mtime-ctime" as `stat -L -c %d-%i-%s-%.9Y-%.9Z` prints it:
// the name of a digest record.
std::optional<std::string> file_identity(const std::string& path);

// The SHA-512 text the key is made from, given each key input's name ("/"
// for a KEY_FILES entry, the file name for a KEY_DIRS entry) and digest.
struct KeyInput {
  std::string path;
  std::string name;
  std::string digest;
};
std::string key_material(const std::string& kind, const std::string& key_text,
                         const std::vector<KeyInput>& inputs);

// Serve the hit: stored outputs checked against their recorded digests,
// copied into place, digests of a placed stage0 recorded in MEMO_DIR, the
// depfile and stamp written. Returns the key (64 hex digits) on a hit; an
// error saying why it declined otherwise (nothing is left half-placed).
Result<std::string> serve_recorded_hit(const HitRequest& request);

} // namespace fastboop::artifact_cache
