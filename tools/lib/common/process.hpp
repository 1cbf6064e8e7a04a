// Run a helper program (dtc, ...) with stdin data, capturing stdout and stderr.
// No shell is involved: arguments are passed as a vector.
#pragma once

#include "common/bytes.hpp"
#include "common/result.hpp"

#include <string>
#include <vector>

namespace fastboop {

struct ProcessOutput {
  int exit_code = -1; // -1 when killed by a signal
  Bytes out;
  std::string err;
};

// Searches PATH for argv[0] unless it contains a '/'. A missing program is an
// error naming it (and the Debian package when `debian_package` is given).
Result<ProcessOutput> run_process(const std::vector<std::string>& argv, ByteSpan stdin_data = {},
                                  const std::string& debian_package = {});

// Locate a program on PATH; empty when absent.
std::string find_program(const std::string& name);

} // namespace fastboop
