// Levelled logging to stderr. Level from -v/-q on every tool, or the
// FASTBOOP_LOG environment variable (error, warn, info, debug, trace).
#pragma once

#include <string_view>

namespace fastboop::log {

enum class Level { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 };

void set_level(Level level);
Level level();
// Reads FASTBOOP_LOG; unknown values are ignored with a warning.
void init_from_env();
bool enabled(Level level);
void write(Level level, std::string_view message);

inline void error(std::string_view m) { write(Level::Error, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
inline void info(std::string_view m) { write(Level::Info, m); }
inline void debug(std::string_view m) { write(Level::Debug, m); }
inline void trace(std::string_view m) { write(Level::Trace, m); }

} // namespace fastboop::log
