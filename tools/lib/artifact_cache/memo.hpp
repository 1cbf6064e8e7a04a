// The digest records of the artifact cache (ARCHITECTURE.md, "Digest memo"):
// a file's SHA-512 remembered under its identity, one record per file named
// <dir>/<identity> and holding "<sha512> <path>\n". The reader and writer
// for C++ (fastboop-cache-hit and the cache store); the CMake script keeps
// its own, which this must match.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace fastboop::artifact_cache {

// The digest recorded for `path` under identity `id` in the first of `dirs`
// that has a valid record for exactly that path (empty dirs are skipped).
std::optional<std::string> recorded_digest(const std::vector<std::string>& dirs,
                                           const std::string& id, const std::string& path);

// Writes the record (temporary name, then rename: readers see all or none).
// Best effort: a record that cannot be written only costs a later re-hash.
void record_digest(const std::string& dir, const std::string& id, const std::string& path,
                   const std::string& digest);

// True when the identity's ctime is old enough that no later write can share
// it: older than now by 0.1 s when ctime has a sub-second part, 3 s when not.
bool identity_settled(const std::string& id);

bool is_hex_digest(std::string_view text);

} // namespace fastboop::artifact_cache
