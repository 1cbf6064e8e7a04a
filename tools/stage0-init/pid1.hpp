// The PID1 boot sequence (spec stage0.md §4, issue 5), step by step. Each
// step logs "stage0: step <name>" when it starts and "... ok" or
// "... skipped: <why>" when it ends; a fatal step ends the run and produces
// exactly one line "stage0: FATAL: step <name> failed: <cause>".
#pragma once

#include "stage0_settings/stage0_settings.hpp"
#include "sys.hpp"

#include <string>

namespace fastboop::stage0_init {

// Step names, in the order they run.
inline constexpr const char* kStepNames[] = {
    "mounts",        "settings", "modules",     "gadget", "smoo",        "root-wait", "root-mount",
    "ostree-detect", "fstab",    "switch-root", "ostree", "credentials", "plymouth",  "exec-init"};

struct RunResult {
  bool exec_ok = false;    // the final init was exec'd (only the fake returns)
  std::string failed_step; // empty on success
  std::string cause;
  stage0::OnFailure on_failure = stage0::OnFailure::Panic;
  std::string failure_line() const; // the one line printed on failure
};

// Runs every step through `sys`. On failure the failure line has already been
// logged; the caller decides what to do with on_failure (main.cpp terminates).
RunResult run_pid1(Sys& sys);

} // namespace fastboop::stage0_init
