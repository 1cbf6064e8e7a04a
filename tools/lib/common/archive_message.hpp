// libarchive's error text for an archive handle. archive_error_string() may
// return NULL (seen by fuzz_stage0_cpio), which must never reach std::string.
#pragma once

#include <archive.h>
#include <string>

namespace fastboop {

inline std::string archive_message(archive* a) {
  const char* s = archive_error_string(a);
  return s ? std::string(s) : std::string("unknown libarchive error");
}

} // namespace fastboop
