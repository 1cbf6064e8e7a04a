#include "artifact_cache/store.hpp"

#include "artifact_cache/memo.hpp"
#include "common/fd.hpp"
#include "common/file_io.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/fs.h>
#include <random>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop::artifact_cache {

namespace fs = std::filesystem;

std::string digests_dir(const std::string& cache_dir) {
  return cache_dir + "/digests";
}

fs::path objects_dir(const std::string& cache_dir) {
  return fs::path(cache_dir) / "objects";
}

namespace {

// The digest of a stored file: its record (the inserter wrote one), else hashed.
Result<std::string> stored_digest(const std::string& cache_dir, const fs::path& path) {
  if (const auto id = file_identity(path.string()))
    if (auto d = recorded_digest({digests_dir(cache_dir)}, *id))
      return *d;
  return cache_digest_file(path);
}

Result<std::optional<Entry>> verified_entry(const std::string& cache_dir, const fs::path& dir);

} // namespace

UniqueFd take_turn(const std::string& cache_dir, std::string_view name) {
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  UniqueFd fd(::open((fs::path(cache_dir) / "turns").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
  if (fd.get() < 0)
    return fd;
  const Bytes d = hash_bytes(kCacheHash, as_bytes(name));
  struct flock byte {};
  byte.l_type = F_WRLCK;
  byte.l_whence = SEEK_SET;
  byte.l_start = static_cast<off_t>((std::uint32_t{d[0]} << 24) | (std::uint32_t{d[1]} << 16) |
                                    (std::uint32_t{d[2]} << 8) | d[3]);
  byte.l_len = 1;
  while (::fcntl(fd.get(), F_OFD_SETLKW, &byte) != 0)
    if (errno != EINTR)
      return UniqueFd(); // no OFD locks on this filesystem: no turns
  return fd;
}

std::string random_suffix() {
  std::random_device rd;
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s;
  for (int i = 0; i < 12; ++i)
    s += kChars[rd() % (sizeof kChars - 1)];
  return s;
}

bool copy_fd_to(int in, const fs::path& to) {
  struct stat st {};
  if (::fstat(in, &st) != 0)
    return false;
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777));
  if (out.get() < 0)
    return false;
  if (::ioctl(out.get(), FICLONE, in) == 0)
    return ::close(out.release()) == 0;
  off_t in_off = 0;
  bool kernel_copy = true;
  std::vector<char> buf;
  while (in_off < st.st_size) {
    ssize_t n = -1;
    if (kernel_copy) {
      n = ::copy_file_range(in, &in_off, out.get(), nullptr,
                            static_cast<std::size_t>(st.st_size - in_off), 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 && in_off == 0) {
        kernel_copy = false; // EXDEV, ENOSYS, EINVAL: read and write instead
        buf.resize(1 << 16);
        continue;
      }
      if (n <= 0)
        return false;
      continue;
    }
    n = ::pread(in, buf.data(), buf.size(), in_off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return false;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(out.get(), buf.data() + done, static_cast<std::size_t>(n - done));
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        return false;
      done += w;
    }
    in_off += n;
  }
  return ::close(out.release()) == 0;
}

std::optional<std::vector<std::pair<std::string, std::string>>>
read_manifest(const fs::path& entry) {
  auto text = read_text_file(entry / "manifest.txt", 1 << 20);
  if (!text || text->empty() || text->back() != '\n')
    return std::nullopt;
  std::vector<std::pair<std::string, std::string>> files;
  std::size_t start = 0;
  while (start < text->size()) {
    const std::size_t nl = text->find('\n', start);
    const std::string line = text->substr(start, nl - start);
    start = nl + 1;
    const std::size_t space = line.find(' ');
    if (space == std::string::npos)
      return std::nullopt;
    std::string digest = line.substr(0, space), name = line.substr(space + 1);
    if (!is_hex_digest(digest) || name.empty() || name.find('/') != std::string::npos ||
        name == "." || name == "..")
      return std::nullopt;
    files.emplace_back(std::move(name), std::move(digest));
  }
  if (files.empty())
    return std::nullopt;
  return files;
}

namespace {

Result<std::optional<Entry>> verified_entry(const std::string& cache_dir, const fs::path& dir) {
  auto files = read_manifest(dir);
  if (!files)
    return std::optional<Entry>{};
  for (const auto& [name, digest] : *files) {
    struct stat st {};
    if (::stat((dir / name).c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return std::optional<Entry>{};
    if (TRY(stored_digest(cache_dir, dir / name)) != digest)
      return std::optional<Entry>{};
  }
  return std::optional<Entry>(Entry{dir, std::move(*files)});
}

void remove_tree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

} // namespace

std::string key_material(const std::string& kind, const std::string& key_text,
                         const std::vector<KeyInput>& inputs) {
  // KEY_TEXT arrives '|'-separated and was hashed as a CMake list (';').
  std::string text = key_text;
  std::replace(text.begin(), text.end(), '|', ';');
  std::string m = "fastboop-cache-v2\n" + kind + "\n" + text + "\n";
  for (const auto& in : inputs)
    m += (in.name == "/" ? in.digest : in.name + " " + in.digest) + "\n";
  return m;
}

bool Entry::has(const std::string& name) const {
  return std::any_of(files.begin(), files.end(), [&](const auto& f) { return f.first == name; });
}

std::string default_cache_dir() {
  if (const char* c = std::getenv("FASTBOOP_CACHE_DIR"))
    return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/fastboop/artifacts";
  if (const char* h = std::getenv("HOME"))
    return std::string(h) + "/.cache/fastboop/artifacts";
  return "";
}

namespace {

// The key digest by hashing: plain, or the tree (digest.hpp) with "tree:".
Result<std::string> hash_key_digest(const fs::path& path, bool tree) {
  if (!tree)
    return cache_digest_file(path);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0)
    return Error("cannot open " + path.string() + ": " + std::strerror(errno), ErrorKind::Io);
  auto hex = tree_digest_fd(fd.get(), static_cast<std::uint64_t>(st.st_size));
  if (!hex)
    return Error("cannot read " + path.string() + ": " + std::strerror(errno), ErrorKind::Io);
  return "tree:" + *hex;
}

} // namespace

Result<std::string> input_digest(const std::string& cache_dir, const fs::path& path,
                                 const std::string& memo_dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Error("cannot open " + path.string() + ": " + std::strerror(errno),
                 errno == ENOENT ? ErrorKind::NotFound : ErrorKind::Io);
  const bool tree = is_tree_sized(static_cast<std::uint64_t>(st.st_size));
  // A tree digest's record has its own name: a plain record of the same file
  // (an entry file's, a placed output's) is never read as its key digest.
  const std::string prefix = tree ? "tree:" : "";
  const auto id = file_identity(path.string());
  const std::optional<std::string> name =
      id ? std::optional<std::string>(tree ? *id + ".tree" : *id) : std::nullopt;
  const std::vector<std::string> dirs{memo_dir, digests_dir(cache_dir)};
  if (name)
    if (auto d = recorded_digest(dirs, *name))
      return prefix + *d;
  // Recorded only when no later write can share the identity we stat'ed
  // before hashing (ARCHITECTURE.md, "Digest memo").
  const bool settled = id && !cache_dir.empty() && identity_settled(*id);
  UniqueFd turn;
  if (settled) {
    turn = take_turn(cache_dir, "input " + *name);
    if (auto d = recorded_digest(dirs, *name))
      return prefix + *d;
  }
  auto digest = hash_key_digest(path, tree);
  if (digest && settled && file_identity(path.string()) == id)
    record_digest(digests_dir(cache_dir), *name, path.string(), digest->substr(prefix.size()));
  return digest;
}

Result<KeyInput> entry_file_input(const std::string& cache_dir, const fs::path& dir,
                                  const std::string& name, const std::string& digest) {
  struct stat st {};
  const fs::path p = dir / name;
  if (::stat(p.c_str(), &st) == 0 && !is_tree_sized(static_cast<std::uint64_t>(st.st_size)))
    return KeyInput{p.string(), name, digest};
  return KeyInput{p.string(), name, TRY(input_digest(cache_dir, p))};
}

Result<KeyInput> file_input(const std::string& cache_dir, const fs::path& path,
                            const std::string& memo_dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Error("cache key input " + path.string() + " is not a file", ErrorKind::NotFound);
  return KeyInput{path.string(), "/", TRY(input_digest(cache_dir, path, memo_dir))};
}

Result<std::vector<KeyInput>> directory_inputs(const std::string& cache_dir, const fs::path& dir,
                                               const std::string& memo_dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st {};
    if (::stat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode))
      names.push_back(fs::relative(it->path(), dir).string());
  }
  if (ec)
    return Error("cache key directory " + dir.string() + ": " + ec.message(), ErrorKind::Io);
  std::sort(names.begin(), names.end());
  std::vector<KeyInput> out;
  for (const auto& n : names)
    out.push_back({(dir / n).string(), n, TRY(input_digest(cache_dir, dir / n, memo_dir))});
  return out;
}

std::string cache_key(const std::string& kind, const std::string& key_text,
                      const std::vector<KeyInput>& inputs) {
  return cache_digest(key_material(kind, key_text, inputs));
}

Result<std::optional<Entry>> find_entry(const std::string& cache_dir, const std::string& kind,
                                        const std::string& key) {
  const fs::path dir = fs::path(cache_dir) / kind / key;
  if (!fs::exists(dir))
    return std::optional<Entry>{};
  return verified_entry(cache_dir, dir);
}

Insertion::Insertion(std::string cache_dir, std::string kind, std::string key, fs::path stage)
    : m_cache_dir(std::move(cache_dir)), m_kind(std::move(kind)), m_key(std::move(key)),
      m_stage(std::move(stage)) {}

Insertion::Insertion(Insertion&& o) noexcept
    : m_cache_dir(std::move(o.m_cache_dir)), m_kind(std::move(o.m_kind)), m_key(std::move(o.m_key)),
      m_stage(std::exchange(o.m_stage, {})) {}

Insertion::~Insertion() {
  if (!m_stage.empty())
    remove_tree(m_stage);
}

Result<Insertion> Insertion::begin(const std::string& cache_dir, const std::string& kind,
                                   const std::string& key) {
  const fs::path stage = fs::path(cache_dir) / kind / (".tmp-" + key + "-" + random_suffix());
  std::error_code ec;
  fs::create_directories(stage, ec);
  if (ec)
    return Error("artifact cache: cannot create " + stage.string() + ": " + ec.message(),
                 ErrorKind::Io);
  return Insertion(cache_dir, kind, key, stage);
}

Result<Entry> Insertion::commit(const std::vector<std::string>& names,
                                const std::vector<std::string>& digests, Record when) {
  if (!digests.empty() && digests.size() != names.size())
    return Error("artifact cache: " + std::to_string(names.size()) + " names but " +
                 std::to_string(digests.size()) + " digests");
  const fs::path entry = fs::path(m_cache_dir) / m_kind / m_key;
  std::string manifest;
  std::vector<std::pair<std::string, std::string>> files;
  std::vector<std::pair<std::string, std::string>> records; // identity, name
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    const fs::path p = m_stage / name;
    const auto id = file_identity(p.string());
    std::string digest = digests.empty() ? TRY(cache_digest_file(p)) : digests[i];
    manifest += digest + " " + name + "\n";
    if (id && when == Record::Now)
      records.emplace_back(*id, name);
    files.emplace_back(name, std::move(digest));
  }
  TRY(write_file_atomic(m_stage / "manifest.txt", manifest));
  // Entry files are never written again: their identity vouches for them
  // (renaming the directory keeps it).
  for (std::size_t i = 0; i < records.size(); ++i)
    record_digest(digests_dir(m_cache_dir), records[i].first, (entry / records[i].second).string(),
                  files[i].second);
  if (::rename(m_stage.c_str(), entry.c_str()) == 0) {
    m_stage.clear();
    return Entry{entry, std::move(files)};
  }
  // Another inserter won, or a bad entry is in the way: keep a verified
  // winner, move a failed entry aside and take its place.
  if (auto winner = TRY(verified_entry(m_cache_dir, entry)))
    return std::move(*winner);
  const fs::path trash = fs::path(m_cache_dir) / m_kind / (".bad-" + m_key + "-" + random_suffix());
  if (::rename(entry.c_str(), trash.c_str()) == 0)
    remove_tree(trash);
  if (::rename(m_stage.c_str(), entry.c_str()) != 0)
    return Error("artifact cache: cannot move " + m_stage.string() + " to " + entry.string(),
                 ErrorKind::Io);
  m_stage.clear();
  return Entry{entry, std::move(files)};
}

} // namespace fastboop::artifact_cache
