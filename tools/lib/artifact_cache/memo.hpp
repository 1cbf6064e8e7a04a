// The digest records of the artifact cache (ARCHITECTURE.md, "Digest memo"):
// a file's cache digest (digest.hpp) remembered under its identity, one record
// per inode named <dir>/<identity> and holding "<digest> <path>\n" (the path
// one of its links had, for people reading the directory). The reader
// and writer (fastboop-cache run and the cache store). A record of another
// digest length (an older fastboop's SHA-512) is not valid: the file is hashed
// again and the record rewritten.
#pragma once

#include "artifact_cache/digest.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::artifact_cache {

// "dev-ino-size-mtime-ctime" (times as "<s>.<9 digits>", as GNU
// `stat -L -c %d-%i-%s-%.9Y-%.9Z` prints them): the name of a digest record.
std::optional<std::string> file_identity(const std::string& path);
std::optional<std::string> fd_identity(int fd);

// The digest recorded under identity `id` in the first of `dirs` that has a
// valid record (empty dirs are skipped). The identity names an inode (device
// and inode number) in one state (size, mtime, ctime): every link to it has
// those bytes, so a record written for one link holds for all of them.
std::optional<std::string> recorded_digest(const std::vector<std::string>& dirs,
                                           const std::string& id);

// Writes the record (temporary name, then rename: readers see all or none).
// Best effort: a record that cannot be written only costs a later re-hash.
void record_digest(const std::string& dir, const std::string& id, const std::string& path,
                   const std::string& digest);

// True when the identity's ctime is old enough that no later write can share
// it: older than now by 0.1 s when ctime has a sub-second part, 3 s when not.
bool identity_settled(const std::string& id);

} // namespace fastboop::artifact_cache
