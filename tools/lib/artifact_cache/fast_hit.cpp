#include "artifact_cache/fast_hit.hpp"

#include "artifact_cache/memo.hpp"

#include "common/file_io.hpp"
#include "common/hash.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fastboop::artifact_cache {

namespace {

constexpr std::string_view kScriptName = "FastboopCacheRun.cmake";

Error decline(std::string why) {
  return Error(std::move(why), ErrorKind::Unsupported);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// A value CMake would change (surrounding single quotes, trailing blanks) or
// that our '|' lists cannot carry.
bool odd_value(std::string_view v) {
  if (v.find('\n') != std::string_view::npos || v.find(';') != std::string_view::npos)
    return true;
  if (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    return true;
  return v.size() >= 2 && v.front() == '\'' && v.back() == '\'';
}

// '|'-separated list; an empty field (other than an empty list) declines.
Result<std::vector<std::string>> split_list(const std::string& text, std::string_view what) {
  std::vector<std::string> out;
  if (text.empty())
    return out;
  std::size_t start = 0;
  while (true) {
    const std::size_t bar = text.find('|', start);
    std::string field =
        text.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    if (field.empty())
      return decline(std::string(what) + " has an empty entry");
    out.push_back(std::move(field));
    if (bar == std::string::npos)
      return out;
    start = bar + 1;
  }
}

bool is_regular(const std::string& path) { // follows symlinks, like `test -f`
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists_no_follow(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// The digest recorded for `path` under identity `id`: this build tree's memo
// first, then the shared one.
std::optional<std::string> recorded_digest(const HitRequest& r, const std::string& id,
                                           const std::string& path) {
  return artifact_cache::recorded_digest({r.memo_dir, r.cache_dir + "/digests"}, id, path);
}

// The files of a flat key directory, sorted by name in byte order (as CMake's
// glob sorts). Hidden entries, anything but regular files, and names our
// lists or records cannot carry are CMake's to handle.
Result<std::vector<KeyInput>> directory_inputs(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d)
    return decline("cannot list " + dir);
  std::vector<std::string> names;
  bool odd = false;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view n = e->d_name;
    if (n == "." || n == "..")
      continue;
    if (n.front() == '.' || n.find_first_of("|\n;\\") != std::string_view::npos) {
      odd = true;
      break;
    }
    names.emplace_back(n);
  }
  ::closedir(d);
  if (odd)
    return decline(dir + " has a hidden or oddly named entry");
  std::sort(names.begin(), names.end());
  std::vector<KeyInput> out;
  for (const auto& n : names) {
    const std::string path = dir + "/" + n;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      return decline(path + " is not a regular file");
    out.push_back({path, n, {}});
  }
  return out;
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

// Copy one stored file: a reflink where the filesystem has them, else an
// in-kernel copy. Mode as cp gives it (the source's, minus the umask).
bool copy_file(const std::string& from, const std::string& to) {
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return false;
  struct stat st {};
  if (::fstat(in, &st) != 0) {
    ::close(in);
    return false;
  }
  const int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
  if (out < 0) {
    ::close(in);
    return false;
  }
  bool ok = ::ioctl(out, FICLONE, in) == 0;
  if (!ok) {
    off_t left = st.st_size;
    bool kernel_copy = true;
    while (left > 0) {
      ssize_t n = kernel_copy ? ::copy_file_range(in, nullptr, out, nullptr,
                                                  static_cast<std::size_t>(left), 0)
                              : -1;
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 && kernel_copy && left == st.st_size) {
        kernel_copy = false; // EXDEV, ENOSYS, EINVAL: read and write instead
        continue;
      }
      if (!kernel_copy) {
        char buf[1 << 16];
        n = ::read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
          continue;
        if (n > 0 && ::write(out, buf, static_cast<std::size_t>(n)) != n)
          n = -1;
      }
      if (n <= 0)
        break;
      left -= n;
    }
    ok = left == 0;
  }
  ok = (::close(out) == 0) && ok;
  ::close(in);
  return ok;
}

struct StoredFile {
  std::string name;
  std::string digest;
  std::string destination; // OUTPUTS mode: the output it becomes
};

} // namespace

Result<HitRequest> parse_hit_arguments(const std::vector<std::string>& args) {
  if (args.empty())
    return decline("no arguments");
  HitRequest r;
  const std::pair<std::string_view, std::string HitRequest::*> vars[] = {
      {"FASTBOOP_CACHE_DIR", &HitRequest::cache_dir},
      {"KIND", &HitRequest::kind},
      {"KEY_FILES", &HitRequest::key_files},
      {"KEY_DIRS", &HitRequest::key_dirs},
      {"KEY_TEXT", &HitRequest::key_text},
      {"OUTPUTS", &HitRequest::outputs},
      {"OUTPUT_DIR", &HitRequest::output_dir},
      {"STAMP", &HitRequest::stamp},
      {"DEPFILE", &HitRequest::depfile},
      {"DEPFILE_TARGET", &HitRequest::depfile_target},
      {"MEMO_DIR", &HitRequest::memo_dir}};
  bool script = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--")
      break;
    if (a == "-P")
      continue;
    const std::size_t eq = a.find('=');
    if (odd_value(eq == std::string::npos ? std::string_view(a)
                                          : std::string_view(a).substr(eq + 1)))
      return decline("argument '" + a + "' is left to CMake");
    if (a.rfind("-D", 0) == 0) {
      const std::string_view name =
          std::string_view(a).substr(2, eq == std::string::npos ? 0 : eq - 2);
      auto it = std::find_if(std::begin(vars), std::end(vars),
                             [&](const auto& v) { return v.first == name; });
      if (eq == std::string::npos || it == std::end(vars))
        return decline("unknown variable " + a);
      r.*(it->second) = a.substr(eq + 1);
    } else if (ends_with(a, kScriptName)) {
      script = true;
    } else {
      return decline("unexpected argument " + a);
    }
  }
  if (!script)
    return decline("no FastboopCacheRun.cmake script");
  if (r.cache_dir.empty() || r.kind.empty())
    return decline("no cache directory or kind");
  if (r.output_dir.empty() && r.outputs.empty())
    return decline("no outputs");
  return r;
}

std::optional<std::string> file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return std::nullopt;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%llu-%llu-%lld-%lld.%09ld-%lld.%09ld",
                static_cast<unsigned long long>(st.st_dev),
                static_cast<unsigned long long>(st.st_ino), static_cast<long long>(st.st_size),
                static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec,
                static_cast<long long>(st.st_ctim.tv_sec), st.st_ctim.tv_nsec);
  return std::string(buf);
}

std::string key_material(const std::string& kind, const std::string& key_text,
                         const std::vector<KeyInput>& inputs) {
  // The script receives KEY_TEXT as a '|'-separated list and hashes it as a CMake list.
  std::string text = key_text;
  std::replace(text.begin(), text.end(), '|', ';');
  std::string m = "fastboop-cache-v1\n" + kind + "\n" + text + "\n";
  for (const auto& in : inputs)
    m += (in.name == "/" ? in.digest : in.name + " " + in.digest) + "\n";
  return m;
}

Result<std::string> serve_recorded_hit(const HitRequest& r) {
  // Key inputs in the script's order: KEY_FILES, then each KEY_DIRS entry's
  // files sorted by name.
  std::vector<KeyInput> inputs;
  for (auto& f : TRY(split_list(r.key_files, "KEY_FILES"))) {
    if (!is_regular(f))
      return decline(f + " is not a regular file");
    inputs.push_back({f, "/", {}});
  }
  for (const auto& d : TRY(split_list(r.key_dirs, "KEY_DIRS"))) {
    if (!is_directory(d))
      return decline(d + " is not a directory");
    for (auto& in : TRY(directory_inputs(d)))
      inputs.push_back(std::move(in));
  }
  if (inputs.empty())
    return decline("no key inputs");
  for (auto& in : inputs) {
    const auto id = file_identity(in.path);
    if (!id)
      return decline("cannot stat " + in.path);
    auto digest = recorded_digest(r, *id, in.path);
    if (!digest)
      return decline("no recorded digest for " + in.path);
    in.digest = std::move(*digest);
  }
  const std::string key =
      sha512_hex(as_bytes(key_material(r.kind, r.key_text, inputs))).substr(0, 64);
  const std::string entry = r.cache_dir + "/" + r.kind + "/" + key;
  if (!is_regular(entry + "/manifest.txt"))
    return decline("no entry " + entry);

  // The manifest, as the script checks it; each name's destination.
  const std::vector<std::string> outputs = TRY(split_list(r.outputs, "OUTPUTS"));
  const auto manifest = read_text_file(entry + "/manifest.txt", 1 << 20);
  if (!manifest)
    return decline("cannot read " + entry + "/manifest.txt");
  std::vector<StoredFile> stored;
  std::string outdir;
  std::size_t start = 0;
  while (start < manifest->size()) {
    const std::size_t nl = manifest->find('\n', start);
    if (nl == std::string::npos)
      return decline(entry + "/manifest.txt does not end with a newline");
    const std::string line = manifest->substr(start, nl - start);
    start = nl + 1;
    const std::size_t space = line.find(' ');
    if (space == std::string::npos || space == 0)
      return decline("odd manifest line in " + entry);
    StoredFile s{line.substr(space + 1), line.substr(0, space), {}};
    if (!is_hex_digest(s.digest) || s.name.empty() || s.name.find('/') != std::string::npos ||
        s.name == "." || s.name == "..")
      return decline("odd manifest line in " + entry);
    if (r.output_dir.empty()) {
      for (const auto& o : outputs)
        if (o.size() > s.name.size() && ends_with(o, "/" + s.name))
          s.destination = o;
      if (s.destination.empty())
        return decline(s.name + " is not one of the outputs");
      const std::string dir = s.destination.substr(0, s.destination.size() - s.name.size() - 1);
      if (!outdir.empty() && outdir != dir)
        return decline("outputs in several directories");
      outdir = dir;
    }
    stored.push_back(std::move(s));
  }
  if (stored.empty())
    return decline("empty manifest in " + entry);
  if (r.output_dir.empty() && stored.size() != outputs.size())
    return decline("the entry does not hold every output");

  // Stored files are checked against their recorded digests before copying:
  // a verified entry is never replaced, so the copy is of what was verified.
  for (const auto& s : stored) {
    const std::string path = entry + "/" + s.name;
    const auto id = file_identity(path);
    const auto digest = id ? recorded_digest(r, *id, path) : std::nullopt;
    if (!digest || *digest != s.digest)
      return decline(path + " has no recorded digest matching the manifest");
  }
  std::string stage;
  if (!r.output_dir.empty()) {
    stage = r.output_dir + ".fastboop-tmp-" + std::to_string(::getpid());
  } else {
    std::error_code ec;
    std::filesystem::create_directories(outdir, ec);
    if (!is_directory(outdir))
      return decline("cannot create " + outdir);
    stage = outdir + "/.fastboop-tmp-" + std::to_string(::getpid());
  }
  if (exists_no_follow(stage))
    return decline(stage + " exists");
  if (::mkdir(stage.c_str(), 0777) != 0)
    return decline("cannot create " + stage);
  for (const auto& s : stored)
    if (!copy_file(entry + "/" + s.name, stage + "/" + s.name)) {
      remove_tree(stage);
      return decline("cannot copy " + entry + "/" + s.name);
    }

  // Into place; a stage0's files are recorded for the boot.img key.
  if (!r.output_dir.empty()) {
    if (exists_no_follow(r.output_dir))
      remove_tree(r.output_dir);
    if (::rename(stage.c_str(), r.output_dir.c_str()) != 0) {
      remove_tree(stage);
      return decline("cannot move " + stage + " to " + r.output_dir);
    }
    if (!r.memo_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(r.memo_dir, ec);
      for (const auto& s : stored) {
        const std::string path = r.output_dir + "/" + s.name;
        const auto id = file_identity(path);
        if (!id)
          continue;
        record_digest(r.memo_dir, *id, path, s.digest);
      }
    }
  } else {
    for (const auto& s : stored)
      if (::rename((stage + "/" + s.name).c_str(), s.destination.c_str()) != 0) {
        remove_tree(stage);
        return decline("cannot move " + s.name + " to " + s.destination);
      }
    remove_tree(stage);
  }

  // The depfile the tool would have written: the key inputs.
  if (!r.depfile.empty()) {
    std::vector<std::string> deps;
    for (const auto& in : inputs)
      deps.push_back(in.path);
    if (!write_depfile(r.depfile, r.depfile_target, deps))
      return decline("cannot write " + r.depfile);
  }
  if (!r.stamp.empty() && !write_file_atomic(r.stamp, std::string_view()))
    return decline("cannot write " + r.stamp);
  return key;
}

} // namespace fastboop::artifact_cache
