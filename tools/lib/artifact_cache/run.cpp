#include "artifact_cache/run.hpp"

#include "artifact_cache/memo.hpp"
#include "artifact_cache/store.hpp"
#include "artifact_cache/tool_identity.hpp"
#include "common/fd.hpp"
#include "common/file_io.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fastboop::artifact_cache {

namespace fs = std::filesystem;

namespace {

// After a remote fault, runs skip the remote for this long (every generation
// is its own process: without it a dead server would cost each one a timeout).
constexpr auto kRemoteBackoff = std::chrono::seconds(60);

void warn(const std::string& text) {
  std::fprintf(stderr, "fastboop: warning: %s\n", text.c_str());
}

void status(const std::string& text) {
  std::printf("-- fastboop: %s\n", text.c_str());
  std::fflush(stdout);
}

void remove_tree(const fs::path& p) {
  std::error_code ec;
  fs::remove_all(p, ec);
}

bool copy_into(const fs::path& from, const fs::path& to) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  return in.get() >= 0 && copy_fd_to(in.get(), to);
}

// Where each stored name goes: OUTPUT_DIR/<name>, or the OUTPUTS entry with
// that file name. Empty when the entry does not hold exactly what this run produces.
std::vector<fs::path> destinations(const RunRequest& r,
                                   const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<fs::path> out;
  if (!r.output_dir.empty()) {
    for (const auto& f : files)
      out.push_back(fs::path(r.output_dir) / f.first);
    return out;
  }
  if (files.size() != r.outputs.size())
    return {};
  for (const auto& f : files) {
    const auto it = std::find_if(r.outputs.begin(), r.outputs.end(), [&](const std::string& o) {
      return fs::path(o).filename() == f.first;
    });
    if (it == r.outputs.end())
      return {};
    out.emplace_back(*it);
  }
  return out;
}

enum class LocalLookup { Hit, Missing, Corrupt };

// How a hit's files reach the outputs. A local hit verifies and copies, so
// build trees sharing the cache never share an inode. A remote hit links: this
// very run wrote the entry and hashed every byte as it arrived, and writing
// the bytes twice (entry, then output) was most of a remote hit's cost. An
// output later changed in place changes the entry's identity with it, so the
// next hit hashes the entry again and finds it corrupt: it is never served.
enum class Placement { VerifyAndCopy, LinkFetched };

using Files = std::vector<std::pair<std::string, std::string>>;

// Puts each entry file into `stage`: a link to a file this run fetched, or
// a copy taken from the very descriptor that was verified (by its record
// when the inserter left one for its identity, else hashed).
LocalLookup stage_files(const RunRequest& r, const fs::path& entry, const Files& files,
                        const fs::path& stage, Placement how) {
  const std::string shared = digests_dir(r.cache_dir);
  for (const auto& [name, digest] : files) {
    const fs::path src = entry / name;
    if (how == Placement::LinkFetched && ::link(src.c_str(), (stage / name).c_str()) == 0)
      continue;
    UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    const auto id = in.get() >= 0 ? fd_identity(in.get()) : std::nullopt;
    auto actual = id ? recorded_digest({shared}, *id) : std::nullopt;
    if (actual != digest && in.get() >= 0)
      actual = cache_digest_fd(in.get());
    if (actual != digest) {
      warn("cache entry " + src.string() + " is corrupt; regenerating");
      return LocalLookup::Corrupt;
    }
    if (!copy_fd_to(in.get(), stage / name))
      return LocalLookup::Missing;
  }
  return LocalLookup::Hit;
}

// Renames the staged files into place.
bool place_files(const RunRequest& r, const Files& files, const std::vector<fs::path>& dests,
                 const fs::path& stage, const std::string& rand) {
  if (!r.output_dir.empty()) {
    remove_tree(r.output_dir);
    return ::rename(stage.c_str(), r.output_dir.c_str()) == 0;
  }
  for (std::size_t i = 0; i < files.size(); ++i)
    if (::rename((stage / files[i].first).c_str(), dests[i].c_str()) != 0 &&
        !(copy_into(stage / files[i].first, dests[i].string() + ".fastboop-tmp-" + rand) &&
          ::rename((dests[i].string() + ".fastboop-tmp-" + rand).c_str(), dests[i].c_str()) == 0))
      return false;
  return true;
}

// The records of a fetched entry, written once its links are in place (a
// link or rename moves the inode's ctime, so its identity): the digests the
// fetch verified. One record per inode serves every link to it: the entry
// file, the content index file and the placed output.
void record_linked(const RunRequest& r, const fs::path& entry, const Files& files) {
  for (const auto& [name, digest] : files) {
    const fs::path p = entry / name;
    if (const auto id = file_identity(p.string()))
      record_digest(digests_dir(r.cache_dir), *id, p.string(), digest);
  }
}

// A hit: every stored file verified against the manifest, staged privately,
// then renamed into place.
LocalLookup serve_local(const RunRequest& r, const fs::path& entry,
                        Placement how = Placement::VerifyAndCopy) {
  const auto files = read_manifest(entry);
  if (!files)
    return fs::exists(entry) ? LocalLookup::Corrupt : LocalLookup::Missing;
  const auto dests = destinations(r, *files);
  if (dests.empty())
    return LocalLookup::Corrupt;
  const fs::path parent =
      r.output_dir.empty() ? dests.front().parent_path() : fs::path(r.output_dir).parent_path();
  std::error_code ec;
  fs::create_directories(parent, ec);
  const std::string rand = random_suffix();
  const fs::path stage = r.output_dir.empty() ? parent / (".fastboop-tmp-" + rand)
                                              : fs::path(r.output_dir + ".fastboop-tmp-" + rand);
  if (::mkdir(stage.c_str(), 0777) != 0)
    return LocalLookup::Missing;
  const LocalLookup staged = stage_files(r, entry, *files, stage, how);
  if (staged != LocalLookup::Hit || !place_files(r, *files, dests, stage, rand)) {
    remove_tree(stage);
    return staged == LocalLookup::Hit ? LocalLookup::Missing : staged;
  }
  remove_tree(stage);
  if (how == Placement::LinkFetched)
    record_linked(r, entry, *files);
  // What we placed is recorded for the generators that read it (their keys);
  // renaming the directory kept the files' identities. A link to the entry
  // file has its record already.
  if (!r.output_dir.empty())
    for (std::size_t i = 0; i < files->size(); ++i)
      if (const auto id = file_identity(dests[i].string());
          id && (how == Placement::VerifyAndCopy ||
                 id != file_identity((entry / (*files)[i].first).string())))
        record_digest(r.memo_dir, *id, dests[i].string(), (*files)[i].second);
  return LocalLookup::Hit;
}

// Ninja wants the depfile to name the edge's output; the tools name their own.
Result<void> retarget_depfile(const RunRequest& r) {
  if (r.depfile.empty() || !fs::exists(r.depfile))
    return {};
  std::string text = TRY(read_text_file(r.depfile, std::uint64_t{64} << 20));
  const std::size_t colon = text.find(": ");
  if (colon == std::string::npos)
    return {};
  return write_file_atomic(r.depfile, escape_make(r.depfile_target) + text.substr(colon));
}

Result<void> generate(const RunRequest& r) {
  std::error_code ec;
  if (!r.output_dir.empty()) {
    fs::remove_all(r.output_dir, ec);
    fs::create_directories(r.output_dir, ec);
  }
  // An output a remote hit placed is a link to the cache entry: a command
  // writing it in place would write into the entry. It starts from no file.
  for (const auto& o : r.outputs) {
    fs::remove(o, ec);
    fs::create_directories(fs::path(o).parent_path(), ec);
  }
  std::fflush(stdout);
  std::vector<char*> argv;
  for (const auto& a : r.command)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0)
    return Error(std::string("cannot start a process: ") + std::strerror(errno), ErrorKind::Io);
  if (pid == 0) {
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "fastboop: cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    for (const auto& o : r.outputs)
      fs::remove(o, ec);
    const int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    return Error(fs::path(r.command.front()).filename().string() + " failed (exit " +
                 std::to_string(code) + ") while generating " + r.kind);
  }
  return retarget_depfile(r);
}

Result<void> finish(const RunRequest& r) {
  if (r.stamp.empty())
    return {};
  std::error_code ec;
  fs::create_directories(fs::path(r.stamp).parent_path(), ec);
  TRY_CTX(write_file_atomic(r.stamp, std::string_view()), "stamp " + r.stamp);
  return {};
}

// The outputs to store, in manifest order: OUTPUT_DIR's files sorted by name.
std::vector<fs::path> produced(const RunRequest& r) {
  if (r.output_dir.empty())
    return {r.outputs.begin(), r.outputs.end()};
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(r.output_dir, ec))
    if (e.is_regular_file())
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Copies the outputs into a private directory in the cache and renames it
// into place (store.hpp's Insertion); then records the outputs' digests.
Result<Entry> insert(const RunRequest& r, const std::string& key) {
  auto ins = TRY(Insertion::begin(r.cache_dir, r.kind, key));
  std::vector<std::string> names;
  for (const auto& p : produced(r)) {
    names.push_back(p.filename().string());
    if (!copy_into(p, ins.dir() / p.filename()))
      return Error("cannot copy " + p.string() + " into " + ins.dir().string() + ": " +
                       std::strerror(errno),
                   ErrorKind::Io);
  }
  Entry entry = TRY(ins.commit(names));
  if (!r.output_dir.empty())
    for (const auto& [name, digest] : entry.files) {
      const std::string out = (fs::path(r.output_dir) / name).string();
      if (const auto id = file_identity(out))
        record_digest(r.memo_dir, *id, out, digest);
    }
  return entry;
}

fs::path backoff_marker(const RunRequest& r) {
  return fs::path(r.cache_dir) / "remote-backoff";
}

bool remote_backing_off(const RunRequest& r) {
  struct stat st {};
  if (::stat(backoff_marker(r).c_str(), &st) != 0)
    return false;
  const auto age =
      std::chrono::system_clock::now() - std::chrono::system_clock::from_time_t(st.st_mtim.tv_sec);
  return age < kRemoteBackoff;
}

// Counts the fault and starts the back-off. Only the run that starts it warns,
// so parallel generators hitting the same dead server print one line.
void remote_fault(const RunRequest& r, const Error& e, Counters& counters) {
  ++counters.remote_errors;
  const fs::path marker = backoff_marker(r);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::open(marker.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) {
      ::close(fd);
      warn("remote cache: " + e.message() + "; going on locally");
      return;
    }
    if (errno != EEXIST || remote_backing_off(r))
      return;
    ::unlink(marker.c_str()); // a stale back-off: this fault starts a new one
  }
}

// A remote hit: fetched into a private directory in the cache, every file
// verified, committed as the local entry, then served from it.
bool fetch_remote(const RunRequest& r, const std::string& key, RemoteCache& remote,
                  Counters& counters) {
  auto ins = Insertion::begin(r.cache_dir, r.kind, key);
  if (!ins) {
    warn(ins.error().message());
    return false;
  }
  auto fetched = remote.fetch(r.kind, key, ins->dir(), objects_dir(r.cache_dir));
  if (!fetched) {
    remote_fault(r, fetched.error(), counters);
    return false;
  }
  if (!*fetched)
    return false;
  if (destinations(r, **fetched).empty()) {
    remote_fault(r, Error("the entry for " + key + " does not hold this generation's outputs"),
                 counters);
    return false;
  }
  std::vector<std::string> names, digests;
  for (const auto& f : **fetched) {
    names.push_back(f.first);
    digests.push_back(f.second);
  }
  // Served by link (serve_local), which records the files under their final
  // identity: records written now would be stale.
  auto entry = ins->commit(names, digests, Record::Later);
  if (!entry) {
    warn(entry.error().message());
    return false;
  }
  return serve_local(r, entry->dir, Placement::LinkFetched) == LocalLookup::Hit;
}

} // namespace

Result<RunOutcome> run_cached(const RunRequest& r, RemoteCache* remote, Counters& counters) {
  if (r.command.empty())
    return Error("no command to run", ErrorKind::Usage);
  if (r.cache_dir.empty()) {
    TRY(generate(r));
    TRY(finish(r));
    return RunOutcome{};
  }
  std::vector<KeyInput> inputs;
  for (const auto& t : r.key_tools)
    inputs.push_back(TRY(tool_input(r.cache_dir, t, r.memo_dir)));
  for (const auto& f : r.key_files)
    inputs.push_back(TRY(file_input(r.cache_dir, f, r.memo_dir)));
  for (const auto& d : r.key_dirs)
    for (auto& in : TRY(directory_inputs(r.cache_dir, d, r.memo_dir)))
      inputs.push_back(std::move(in));
  const std::string key = cache_key(r.kind, r.key_text, inputs);
  const fs::path entry = fs::path(r.cache_dir) / r.kind / key;

  RunOutcome outcome{Served::Generated, key};
  const LocalLookup local = serve_local(r, entry);
  if (local == LocalLookup::Hit) {
    outcome.served = Served::LocalHit;
    ++counters.local_hits;
  } else if (local == LocalLookup::Missing && remote && !remote_backing_off(r)) {
    const auto down = remote->bytes_down();
    if (fetch_remote(r, key, *remote, counters)) {
      outcome.served = Served::RemoteHit;
      ++counters.remote_hits;
    }
    counters.bytes_down += remote->bytes_down() - down;
  }
  if (outcome.served != Served::Generated) {
    // The tool did not run, so write the depfile it would have: the key inputs.
    if (!r.depfile.empty()) {
      std::vector<std::string> deps;
      for (const auto& in : inputs)
        deps.push_back(in.path);
      TRY(write_depfile(r.depfile, r.depfile_target, deps));
    }
    TRY(finish(r));
    status("cache hit " + r.kind + " " + key +
           (outcome.served == Served::RemoteHit ? " (remote)" : " (local)"));
    return outcome;
  }

  status("generating " + r.kind + " (cache key " + key + ")");
  TRY(generate(r));
  ++counters.misses;
  auto stored = insert(r, key);
  if (!stored) {
    warn("cannot store " + r.kind + " in the cache: " + stored.error().message());
  } else if (remote && remote->config().access == RemoteAccess::ReadWrite &&
             !remote_backing_off(r)) {
    const auto up = remote->bytes_up();
    const auto down = remote->bytes_down();
    if (auto sent =
            remote->upload(r.kind, key, stored->dir, stored->files, objects_dir(r.cache_dir));
        !sent)
      remote_fault(r, sent.error(), counters);
    counters.bytes_up += remote->bytes_up() - up;
    counters.bytes_down += remote->bytes_down() - down;
  }
  TRY(finish(r));
  return outcome;
}

} // namespace fastboop::artifact_cache
