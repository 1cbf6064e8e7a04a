// Shared command-line plumbing for the thin tool mains: CLI11 set-up with
// -v/-q, FASTBOOP_LOG, and the exit-code convention (0 ok, 1 invalid input or
// failure, 2 usage).
#pragma once

#include "common/result.hpp"

#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace fastboop::cli {

constexpr int exit_ok = 0;
constexpr int exit_invalid = 1;
constexpr int exit_usage = 2;

// Adds --version, -v (repeatable), -q to the app and applies them before the
// callbacks run.
void add_common_options(CLI::App& app);

// Parse argv and run. `body` runs after parsing and returns a Result; an error
// is printed as "<tool>: error: <message>" and mapped to an exit code.
int run(CLI::App& app, int argc, char** argv, const std::function<Result<void>()>& body);

// Exit code for an error.
int exit_code_for(const Error& error);

// True when stdout is a terminal (binary output to a TTY is refused).
bool stdout_is_tty();

} // namespace fastboop::cli
