// The content-addressed artifact cache (ARCHITECTURE.md, "CMake artifact
// cache"): key rule, entry layout and verified lookup, shared by
// `fastboop-cache run` (the CMake functions' generations, run.hpp) and
// `fastboop boot`, so each finds the other's entries. The record format is
// memo.hpp's.
#pragma once

#include "artifact_cache/digest.hpp"

#include "common/fd.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fastboop::artifact_cache {

// A key input: its path, its name ("/" for a key file, the path relative to
// its key directory otherwise) and its cache digest (digest.hpp).
struct KeyInput {
  std::string path;
  std::string name;
  std::string digest;
};

// The text the key is the cache digest of. Its first line is the cache's
// format version ("fastboop-cache-v2": SHA-256 digests); a new layout or
// digest takes a new version, so no earlier fastboop's entry is ever found
// under a key of this one.
std::string key_material(const std::string& kind, const std::string& key_text,
                         const std::vector<KeyInput>& inputs);

// A turn among the runs sharing the cache at `cache_dir`, held until the
// descriptor closes: an open-file-description lock on one byte of
// <cache>/turns, the byte picked by `name`'s digest. One file serves every
// turn; a lock file per name would stay forever (one removed while another
// run waits on it lets a third in beside the first). Two names on one byte
// only wait for each other, so a run never holds two turns at once. Empty
// when the file or its locks are unavailable: the caller goes on without.
UniqueFd take_turn(const std::string& cache_dir, std::string_view name);

// A name part no other writer picks: private staging directories beside
// entries and outputs.
std::string random_suffix();

// Copies the open file `in` to the new file `to`: a reflink where the
// filesystem has them, else an in-kernel copy, else read and write. Mode as
// cp gives it (the source's, minus the umask). Copying from the descriptor
// that was verified serves exactly the verified bytes.
bool copy_fd_to(int in, const std::filesystem::path& to);

// <cache>/digests: the digest records (memo.hpp) shared by every build tree
// using the cache: key inputs and entry files.
std::string digests_dir(const std::string& cache_dir);
// <cache>/objects: the content index of downloaded files (remote.hpp).
std::filesystem::path objects_dir(const std::string& cache_dir);

// $FASTBOOP_CACHE_DIR (empty: no cache), else $XDG_CACHE_HOME/fastboop/artifacts,
// else $HOME/.cache/fastboop/artifacts: the functions' default.
std::string default_cache_dir();

// The key digest of an input: the cache digest, or for a file over
// kTreeAbove "tree:" and its tree digest (digest.hpp). Its record (in
// `memo_dir`, this build tree's, or <cache>/digests) when the file's identity
// has one, else hashed, and recorded in <cache>/digests once the file has
// settled. Parallel callers needing the same settled file take turns
// (take_turn), so one hashes it and the others read its record.
Result<std::string> input_digest(const std::string& cache_dir, const std::filesystem::path& path,
                                 const std::string& memo_dir = {});

// A file of an entry (the stage0 files in a boot.img's key) as a key input
// named `name`: the manifest's `digest` when that is its key digest (files up
// to kTreeAbove), else its tree digest.
Result<KeyInput> entry_file_input(const std::string& cache_dir, const std::filesystem::path& dir,
                                  const std::string& name, const std::string& digest);

// A key file (name "/").
Result<KeyInput> file_input(const std::string& cache_dir, const std::filesystem::path& path,
                            const std::string& memo_dir = {});
// A key directory: every regular file beneath `dir`, named relative to it,
// sorted by name in byte order.
Result<std::vector<KeyInput>> directory_inputs(const std::string& cache_dir,
                                               const std::filesystem::path& dir,
                                               const std::string& memo_dir = {});

// The entry name: the cache digest of key_material() (64 hex digits).
std::string cache_key(const std::string& kind, const std::string& key_text,
                      const std::vector<KeyInput>& inputs);

// When a file's digest record is written: now, or by the caller once the
// file's links (which move its identity) are in place.
enum class Record { Now, Later };

struct Entry {
  std::filesystem::path dir;
  std::vector<std::pair<std::string, std::string>> files; // name, digest (manifest order)
  std::filesystem::path file(const std::string& name) const { return dir / name; }
  bool has(const std::string& name) const;
};

// The manifest's "<digest> <name>" lines (cache digests); nullopt when
// missing or malformed (a line of another digest length included).
std::optional<std::vector<std::pair<std::string, std::string>>>
read_manifest(const std::filesystem::path& entry);

// The entry for (kind, key) when it exists and every file verifies against
// its manifest; nullopt when there is none or it fails (a later insert
// replaces a failed one).
Result<std::optional<Entry>> find_entry(const std::string& cache_dir, const std::string& kind,
                                        const std::string& key);

// Insertion: a private directory inside the cache to generate into, then
// committed as the entry (manifest written, entry files recorded, renamed
// into place). A racing inserter's verified entry wins and is returned; the
// staging directory is removed on every path.
class Insertion {
public:
  static Result<Insertion> begin(const std::string& cache_dir, const std::string& kind,
                                 const std::string& key);
  Insertion(Insertion&& other) noexcept;
  Insertion& operator=(Insertion&&) = delete;
  ~Insertion();
  const std::filesystem::path& dir() const { return m_stage; }
  // `names` in manifest order (every file the stage holds). `digests`, when
  // given, are their cache digests as the caller just verified them (not hashed again).
  // Record::Later: the caller is about to link the files (a remote hit), which
  // moves their identity; it records them once, afterwards.
  Result<Entry> commit(const std::vector<std::string>& names,
                       const std::vector<std::string>& digests = {}, Record records = Record::Now);

private:
  Insertion(std::string cache_dir, std::string kind, std::string key, std::filesystem::path stage);
  std::string m_cache_dir, m_kind, m_key;
  std::filesystem::path m_stage;
};

} // namespace fastboop::artifact_cache
