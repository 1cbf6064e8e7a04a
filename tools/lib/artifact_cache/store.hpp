// The content-addressed artifact cache from C++: the same directory, key
// rule, entry layout and digest records as cmake-modules/FastboopCacheRun.cmake
// (ARCHITECTURE.md, "CMake artifact cache"), so `fastboop boot` and the CMake
// functions find each other's entries. The key material is key_material()
// (fast_hit.hpp), the one C++ rendering of the script's, shared with
// fastboop-cache-hit; the record format is memo.hpp's.
#pragma once

#include "artifact_cache/fast_hit.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fastboop::artifact_cache {

// $FASTBOOP_CACHE_DIR (empty: no cache), else $XDG_CACHE_HOME/fastboop/artifacts,
// else $HOME/.cache/fastboop/artifacts: the functions' default.
std::string default_cache_dir();

// The SHA-512 of a key input: its record in <cache>/digests when the file's
// identity has one, else hashed (and recorded once the file has settled, as
// the script does).
Result<std::string> input_digest(const std::string& cache_dir, const std::filesystem::path& path);

// A KEY_FILES entry (name "/").
Result<KeyInput> file_input(const std::string& cache_dir, const std::filesystem::path& path);
// A KEY_DIRS entry: every regular file beneath `dir`, named relative to it,
// sorted by name in byte order (the script's GLOB_RECURSE + list(SORT)).
Result<std::vector<KeyInput>> directory_inputs(const std::string& cache_dir,
                                               const std::filesystem::path& dir);

// The entry name: SHA-512 of key_material(), first 64 hex digits.
std::string cache_key(const std::string& kind, const std::string& key_text,
                      const std::vector<KeyInput>& inputs);

struct Entry {
  std::filesystem::path dir;
  std::vector<std::pair<std::string, std::string>> files; // name, sha512 (manifest order)
  std::filesystem::path file(const std::string& name) const { return dir / name; }
  bool has(const std::string& name) const;
};

// The entry for (kind, key) when it exists and every file verifies against
// its manifest; nullopt when there is none or it fails (a later insert
// replaces a failed one, as the script does).
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
  // `names` in manifest order (every file the stage holds).
  Result<Entry> commit(const std::vector<std::string>& names);

private:
  Insertion(std::string cache_dir, std::string kind, std::string key, std::filesystem::path stage);
  std::string m_cache_dir, m_kind, m_key;
  std::filesystem::path m_stage;
};

} // namespace fastboop::artifact_cache
