// Shared command-line conventions for every tool main, so a new tool gets them
// by calling add_common_options() and run():
//   - --version ("<tool> <version>"), -v/--verbose (repeatable) and -q/--quiet,
//     accepted anywhere on the command line (before or after the subcommand);
//   - one exit-code table (exit_codes()), printed at the end of every --help
//     and in the man pages;
//   - errors, CLI11's own included, as "<tool>: error: <message>";
//   - man pages and bash completion generated from the CLI11 definitions
//     (`<tool> --generate-man-page`, `<tool> --generate-bash-completion`; the
//     build runs them, see cmake/FastboopPackaging.cmake).
#pragma once

#include "common/result.hpp"

#include <CLI/CLI.hpp>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fastboop::cli {

// The exit codes of every fastboop tool. exit_code_for() maps an ErrorKind
// onto this table; tests/cli checks every tool against it.
enum class Exit : int {
  Ok = 0,
  Failed = 1,       // invalid input data, or a check that failed
  Usage = 2,        // bad command line
  MissingInput = 3, // a named input (file, directory, device profile id) does not exist
  System = 4,       // the operating system refused (permissions, disk full, I/O)
  Device = 5,       // no device, or the device or its transport failed
  Network = 6,      // a download failed after its retries
  Unsupported = 7,  // a valid input that fastboop does not handle
};

struct ExitCodeRow {
  Exit code;
  std::string_view meaning;
};
std::span<const ExitCodeRow> exit_codes();

// Kept for existing callers: the same values as Exit.
constexpr int exit_ok = static_cast<int>(Exit::Ok);
constexpr int exit_invalid = static_cast<int>(Exit::Failed);
constexpr int exit_usage = static_cast<int>(Exit::Usage);

// One documented command line: shown under "Examples:" in --help and in the
// man page's EXAMPLES section; tests/docs runs each one.
struct Example {
  std::string command;
  std::string what;
};

// An environment variable a tool reads (ENVIRONMENT in the man page and --help).
struct EnvVar {
  std::string name;
  std::string meaning;
};

struct ToolDoc {
  std::vector<Example> examples;
  std::vector<EnvVar> environment;
};

// Adds --version, -v (repeatable) and -q to the app, the exit-code table and
// `doc` to its --help. Call it before adding subcommands.
void add_common_options(CLI::App& app, ToolDoc doc = {});

// Parse argv and run. `body` runs after parsing and returns a Result; an error
// is printed as "<tool>: error: <message>" and mapped to an exit code.
int run(CLI::App& app, int argc, char** argv, const std::function<Result<void>()>& body);

// Exit code for an error.
int exit_code_for(const Error& error);

// The verbosity -v/-q (or FASTBOOP_LOG) chose; -q means errors only.
bool quiet();

// True when stdout is a terminal (binary output to a TTY is refused).
bool stdout_is_tty();

// Generators over an app's definitions (what --generate-man-page and
// --generate-bash-completion print). `date` is the man page's date
// (YYYY-MM-DD); man_page_date() derives it from SOURCE_DATE_EPOCH.
std::string man_page(const CLI::App& app, std::string_view date);
std::string bash_completion(const CLI::App& app);
std::string man_page_date();

} // namespace fastboop::cli
