// One generation through the artifact cache, as the CMake functions run it
// (`fastboop-cache run`, ARCHITECTURE.md "CMake artifact cache"): the key from
// the inputs (digest memo), a verified local hit copied into place, else a
// verified remote hit stored locally and served, else the command run and its
// outputs inserted (and uploaded). This is the cache's only implementation;
// `fastboop boot` uses the same store (store.hpp).
#pragma once

#include "artifact_cache/remote.hpp"
#include "artifact_cache/stats.hpp"
#include "common/result.hpp"

#include <string>
#include <vector>

namespace fastboop::artifact_cache {

struct RunRequest {
  std::string cache_dir;              // empty: no cache, the command just runs
  std::string kind;                   // stage0, bootimg
  std::vector<std::string> key_tools; // the generators (tool_identity.hpp)
  std::vector<std::string> key_files;
  std::vector<std::string> key_dirs;
  std::string key_text;             // '|'-separated non-path options
  std::vector<std::string> outputs; // the files the command writes, or
  std::string output_dir;           // the directory whose files it writes
  std::string stamp;                // touched on success
  std::string depfile;              // the command's depfile, retargeted to:
  std::string depfile_target;
  std::string memo_dir; // this build tree's digest records
  std::vector<std::string> command;
};

enum class Served { Uncached, LocalHit, RemoteHit, Generated };

struct RunOutcome {
  Served served = Served::Uncached;
  std::string key; // empty when uncached
};

// Runs the request. `remote` may be null. Remote faults and a failed insert
// are warnings on stderr and never fail the run; a failed command does.
// Counters for `fastboop-cache stats` are added to `counters`.
Result<RunOutcome> run_cached(const RunRequest& request, RemoteCache* remote, Counters& counters);

} // namespace fastboop::artifact_cache
