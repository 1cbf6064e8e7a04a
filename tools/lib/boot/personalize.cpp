#include "boot/personalize.hpp"

#include "common/file_io.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

namespace fastboop::boot {

namespace {

bool plain_token(std::string_view v) {
  return !v.empty() && v.size() <= 128 && std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("._@+-/:").find(c) != std::string_view::npos;
  });
}

std::optional<std::string> env_value(const HostSources& h, const std::string& name) {
  auto it = h.env.find(name);
  if (it == h.env.end() || it->second.empty())
    return std::nullopt;
  return it->second;
}

// KEY=value from a shell-style assignment file (quotes stripped).
std::optional<std::string> assignment(const HostSources& h, const std::string& file,
                                      const std::string& key) {
  auto text = read_text_file(std::filesystem::path(h.root) / file, 1 << 16);
  if (!text)
    return std::nullopt;
  std::size_t start = 0;
  while (start < text->size()) {
    std::size_t nl = text->find('\n', start);
    if (nl == std::string::npos)
      nl = text->size();
    std::string line = text->substr(start, nl - start);
    start = nl + 1;
    if (line.rfind(key + "=", 0) != 0)
      continue;
    std::string v = line.substr(key.size() + 1);
    while (!v.empty() && (v.back() == '\r' || v.back() == ' '))
      v.pop_back();
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
      v = v.substr(1, v.size() - 2);
    if (!v.empty())
      return v;
  }
  return std::nullopt;
}

std::optional<std::string> first_of(std::initializer_list<std::optional<std::string>> choices) {
  for (const auto& c : choices)
    if (c && plain_token(*c))
      return c;
  return std::nullopt;
}

std::optional<std::string> zone_from_localtime(const HostSources& h) {
  std::error_code ec;
  const auto target =
      std::filesystem::read_symlink(std::filesystem::path(h.root) / "etc/localtime", ec);
  if (ec)
    return std::nullopt;
  const std::string t = target.string();
  const std::size_t at = t.find("zoneinfo/");
  if (at == std::string::npos)
    return std::nullopt;
  return t.substr(at + 9);
}

std::optional<std::string> first_line(const HostSources& h, const std::string& file) {
  auto text = read_text_file(std::filesystem::path(h.root) / file, 1 << 12);
  if (!text)
    return std::nullopt;
  std::string v = text->substr(0, text->find('\n'));
  if (v.empty())
    return std::nullopt;
  return v;
}

} // namespace

HostSources current_host() {
  HostSources h;
  for (const char* name : {"LC_ALL", "LC_MESSAGES", "LANG", "TZ"})
    if (const char* v = std::getenv(name))
      h.env[name] = v;
  return h;
}

HostSettings read_host_settings(const HostSources& h) {
  HostSettings s;
  s.locale = first_of({env_value(h, "LC_ALL"), env_value(h, "LANG"),
                       assignment(h, "etc/locale.conf", "LANG"), std::string("en_US.UTF-8")});
  // "C" and "POSIX" say nothing about the user's language.
  if (s.locale == "C" || s.locale == "POSIX")
    s.locale = "en_US.UTF-8";
  s.locale_messages =
      first_of({env_value(h, "LC_MESSAGES"), assignment(h, "etc/locale.conf", "LC_MESSAGES")});
  std::optional<std::string> xkb = assignment(h, "etc/default/keyboard", "XKBLAYOUT");
  if (xkb)
    xkb = xkb->substr(0, xkb->find(','));
  s.keymap = first_of({assignment(h, "etc/vconsole.conf", "KEYMAP"), xkb, std::string("us")});
  std::optional<std::string> tz = env_value(h, "TZ");
  if (tz && tz->front() == ':')
    tz = tz->substr(1);
  s.timezone =
      first_of({tz, zone_from_localtime(h), first_line(h, "etc/timezone"), std::string("UTC")});
  return s;
}

std::vector<std::string> firstboot_tokens(const HostSettings& s) {
  std::vector<std::string> out;
  auto add = [&](const char* key, const std::optional<std::string>& v) {
    if (v)
      out.push_back(std::string("systemd.set_credential=firstboot.") + key + ":" + *v);
  };
  add("locale", s.locale);
  add("locale-messages", s.locale_messages);
  add("keymap", s.keymap);
  add("timezone", s.timezone);
  return out;
}

std::string clock_token(std::chrono::system_clock::time_point now) {
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  return "systemd.clock_usec=" + std::to_string(us);
}

} // namespace fastboop::boot
