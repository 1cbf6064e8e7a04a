// The DevPro search path and pool (spec §1.8), with levels that layer: a
// higher level overrides a lower one by id, and a duplicate id within one
// level is an error naming both files. (Upstream treats every local directory
// as one level and cannot override, spec §7 N2.)
#include "common/log.hpp"
#include "profiles/builtin.hpp"
#include "profiles/profiles.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <system_error>

namespace fastboop::profiles {

namespace fs = std::filesystem;

std::string_view profile_origin_name(ProfileOrigin origin) {
  switch (origin) {
  case ProfileOrigin::BuiltIn:
    return "builtin";
  case ProfileOrigin::SystemDir:
    return "system";
  case ProfileOrigin::UserDir:
    return "user";
  case ProfileOrigin::SchemaPath:
    return "schema-path";
  case ProfileOrigin::File:
    return "file";
  case ProfileOrigin::Channel:
    return "channel";
  }
  return "unknown";
}

namespace {
// The non-empty entries of a ':'-separated list.
std::vector<std::string> split_path_list(std::string_view rest) {
  std::vector<std::string> out;
  while (true) {
    const auto colon = rest.find(':');
    const auto entry = rest.substr(0, colon);
    if (!entry.empty())
      out.emplace_back(entry);
    if (colon == std::string_view::npos)
      return out;
    rest.remove_prefix(colon + 1);
  }
}
} // namespace

std::vector<DevproSearchDir> device_profile_search_dirs() {
  std::vector<DevproSearchDir> dirs;
  auto add = [&](fs::path p, ProfileOrigin origin) {
    for (const auto& d : dirs)
      if (d.path == p)
        return;
    dirs.push_back({std::move(p), origin});
  };
  if (const char* schema = std::getenv("FASTBOOP_SCHEMA_PATH"))
    for (const auto& entry : split_path_list(schema))
      add(fs::path(entry), ProfileOrigin::SchemaPath);
  // An empty XDG_CONFIG_HOME counts as unset (XDG base-directory spec), not as
  // the relative directory upstream derives from it (§7 N15).
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg)
    add(fs::path(xdg) / "fastboop" / "devpro", ProfileOrigin::UserDir);
  else if (home && *home)
    add(fs::path(home) / ".config" / "fastboop" / "devpro", ProfileOrigin::UserDir);
  // FASTBOOP_DEVPRO_SYSTEM_DIRS, when set (even empty), replaces the system
  // directories: tests use it so the host's installed profiles stay out.
  if (const char* system = std::getenv("FASTBOOP_DEVPRO_SYSTEM_DIRS")) {
    for (const auto& entry : split_path_list(system))
      add(fs::path(entry), ProfileOrigin::SystemDir);
    return dirs;
  }
#ifdef FASTBOOP_INSTALLED_DEVPRO_DIR
  add(fs::path(FASTBOOP_INSTALLED_DEVPRO_DIR), ProfileOrigin::SystemDir); // e.g. /usr/local/share/...
#endif
  add(fs::path("/usr/share/fastboop/devpro"), ProfileOrigin::SystemDir);
  return dirs;
}

namespace {

bool is_profile_file_name(const fs::path& p) {
  const auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// One level: profiles from one source, duplicate ids rejected.
Result<void> add_level_profile(std::vector<LoadedDeviceProfile>& level, LoadedDeviceProfile loaded) {
  for (const auto& other : level)
    if (other.profile.id == loaded.profile.id)
      return Error("duplicate device profile id '" + loaded.profile.id + "' in " + other.source + " and " +
                   loaded.source);
  level.push_back(std::move(loaded));
  return ok();
}

Result<std::vector<LoadedDeviceProfile>> parse_builtins() {
  std::vector<LoadedDeviceProfile> level;
  for (const auto& file : builtin_device_profile_files()) {
    const std::string source = "builtin:" + std::string(file.name);
    auto profile = TRY_CTX(parse_device_profile(file.text, source), "built-in device profiles are broken");
    TRY(add_level_profile(level, {std::move(profile), ProfileOrigin::BuiltIn, source}));
  }
  return level;
}

Result<std::vector<LoadedDeviceProfile>> load_directory(const DevproSearchDir& dir) {
  std::vector<LoadedDeviceProfile> level;
  std::error_code ec;
  if (!fs::is_directory(dir.path, ec))
    return level;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir.path, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (is_profile_file_name(it->path()) && fs::is_regular_file(it->path(), ec2))
      files.push_back(it->path());
  }
  if (ec)
    return Error("cannot list device profile directory " + dir.path.string() + ": " + ec.message(),
                 ErrorKind::Io);
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    auto profile = load_device_profile_file(file);
    if (!profile) {
      // An unreadable local file must not take the whole pool down.
      log::warn("skipping device profile: " + profile.error().message());
      continue;
    }
    TRY(add_level_profile(level, {std::move(*profile), dir.origin, file.string()}));
  }
  return level;
}

} // namespace

namespace {
std::mutex g_channel_mutex;
std::vector<LoadedDeviceProfile> g_channel_profiles;
} // namespace

void set_channel_device_profiles(const std::string& channel, const std::vector<DeviceProfile>& profiles) {
  std::vector<LoadedDeviceProfile> level;
  for (const auto& p : profiles)
    level.push_back({p, ProfileOrigin::Channel, "channel:" + channel + "#" + p.id});
  const std::lock_guard lock(g_channel_mutex);
  g_channel_profiles = std::move(level);
}

bool device_profile_source_is_file(std::string_view source) {
  return !source.starts_with("builtin:") && !source.starts_with("channel:");
}

Result<std::vector<LoadedDeviceProfile>> builtin_device_profiles() {
  static std::once_flag once;
  static std::optional<Result<std::vector<LoadedDeviceProfile>>> cached;
  std::call_once(once, [] { cached.emplace(parse_builtins()); });
  return *cached;
}

Result<std::vector<LoadedDeviceProfile>> load_all_device_profiles() {
  std::vector<LoadedDeviceProfile> all;
  for (const auto& dir : device_profile_search_dirs()) {
    auto level = TRY(load_directory(dir));
    log::debug("device profile directory " + dir.path.string() + " (" +
               std::string(profile_origin_name(dir.origin)) + "): " + std::to_string(level.size()) + " profile(s)");
    std::move(level.begin(), level.end(), std::back_inserter(all));
  }
  {
    // A channel's ids are unique within it (the channel reader checks).
    const std::lock_guard lock(g_channel_mutex);
    all.insert(all.end(), g_channel_profiles.begin(), g_channel_profiles.end());
  }
  auto builtins = TRY(builtin_device_profiles());
  std::move(builtins.begin(), builtins.end(), std::back_inserter(all));
  return all;
}

Result<std::vector<LoadedDeviceProfile>> load_device_profile_pool() {
  auto all = TRY(load_all_device_profiles());
  std::map<std::string, LoadedDeviceProfile> by_id;
  for (auto& loaded : all)
    by_id.try_emplace(loaded.profile.id, std::move(loaded)); // first = highest precedence
  std::vector<LoadedDeviceProfile> pool;
  pool.reserve(by_id.size());
  for (auto& [id, loaded] : by_id)
    pool.push_back(std::move(loaded));
  return pool;
}

Result<LoadedDeviceProfile> find_device_profile(std::string_view id) {
  auto pool = TRY(load_device_profile_pool());
  for (auto& loaded : pool)
    if (loaded.profile.id == id)
      return std::move(loaded);
  std::string ids;
  for (const auto& loaded : pool)
    ids += (ids.empty() ? "" : ", ") + loaded.profile.id;
  std::string dirs;
  for (const auto& d : device_profile_search_dirs())
    dirs += (dirs.empty() ? "" : ", ") + d.path.string();
  return Error("device profile '" + std::string(id) + "' not found; available ids: [" + ids +
                   "]; checked dirs: [" + dirs + "] and the built-ins",
               ErrorKind::NotFound);
}

} // namespace fastboop::profiles
