#include "common/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace fastboop::log {

namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::mutex g_mutex;
const char* prefix(Level l) {
  switch (l) {
  case Level::Error:
    return "error: ";
  case Level::Warn:
    return "warning: ";
  case Level::Info:
    return "";
  case Level::Debug:
    return "debug: ";
  case Level::Trace:
    return "trace: ";
  }
  return "";
}
} // namespace

void set_level(Level level) { g_level = static_cast<int>(level); }
Level level() { return static_cast<Level>(g_level.load()); }
bool enabled(Level l) { return static_cast<int>(l) <= g_level.load(); }

void init_from_env() {
  const char* v = std::getenv("FASTBOOP_LOG");
  if (!v || !*v)
    return;
  std::string s(v);
  if (s == "error")
    set_level(Level::Error);
  else if (s == "warn" || s == "warning")
    set_level(Level::Warn);
  else if (s == "info")
    set_level(Level::Info);
  else if (s == "debug")
    set_level(Level::Debug);
  else if (s == "trace")
    set_level(Level::Trace);
  else
    write(Level::Warn, "FASTBOOP_LOG=" + s + " is not one of error, warn, info, debug, trace; ignored");
}

void write(Level l, std::string_view message) {
  if (!enabled(l))
    return;
  std::lock_guard lock(g_mutex);
  std::fprintf(stderr, "%s%.*s\n", prefix(l), static_cast<int>(message.size()), message.data());
}

} // namespace fastboop::log
