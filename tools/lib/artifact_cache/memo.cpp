#include "artifact_cache/memo.hpp"

#include "common/file_io.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sys/stat.h>

namespace fastboop::artifact_cache {

namespace {

std::string identity_of(const struct stat& st) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%llu-%llu-%lld-%lld.%09ld-%lld.%09ld",
                static_cast<unsigned long long>(st.st_dev),
                static_cast<unsigned long long>(st.st_ino), static_cast<long long>(st.st_size),
                static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec,
                static_cast<long long>(st.st_ctim.tv_sec), st.st_ctim.tv_nsec);
  return buf;
}

} // namespace

std::optional<std::string> file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return std::nullopt;
  return identity_of(st);
}

std::optional<std::string> fd_identity(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return std::nullopt;
  return identity_of(st);
}

std::optional<std::string> recorded_digest(const std::vector<std::string>& dirs,
                                           const std::string& id) {
  for (const std::string& dir : dirs) {
    if (dir.empty())
      continue;
    const std::string record = dir + "/" + id;
    struct stat st {};
    if (::stat(record.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    auto text = read_text_file(record, 1 << 16);
    if (!text)
      continue;
    const std::size_t nl = text->find('\n');
    if (nl == std::string::npos)
      continue;
    const std::string_view line = std::string_view(*text).substr(0, nl);
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos)
      continue;
    const std::string_view digest = line.substr(0, space);
    if (space + 1 < line.size() && is_hex_digest(digest))
      return std::string(digest);
  }
  return std::nullopt;
}

void record_digest(const std::string& dir, const std::string& id, const std::string& path,
                   const std::string& digest) {
  if (dir.empty() || id.empty())
    return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  (void)write_file_atomic(dir + "/" + id, digest + " " + path + "\n");
}

bool identity_settled(const std::string& id) {
  // "dev-ino-size-mtime-ctime", the times as "<s>.<9 digits>".
  const std::size_t dash = id.rfind('-');
  if (dash == std::string::npos)
    return false;
  const std::string ctime = id.substr(dash + 1);
  const std::size_t dot = ctime.find('.');
  if (dot == std::string::npos || dot == 0 || ctime.size() != dot + 10)
    return false;
  const long long sec = std::stoll(ctime.substr(0, dot));
  const long long nsec = std::stoll(ctime.substr(dot + 1));
  const long long margin_ms = nsec == 0 ? 3000 : 100; // whole-second filesystems: 3 s
  const long long now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  return now_ms - (sec * 1000 + nsec / 1000000 + margin_ms) > 0;
}

} // namespace fastboop::artifact_cache
