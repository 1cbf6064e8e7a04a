// A descriptor closed when it goes out of scope (the artifact cache's own;
// release() hands it over).
#pragma once

#include <unistd.h>
#include <utility>

namespace fastboop::artifact_cache {

struct UniqueFd {
  int fd = -1;
  explicit UniqueFd(int f) : fd(f) {}
  ~UniqueFd() {
    if (fd >= 0)
      ::close(fd);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int release() { return std::exchange(fd, -1); }
};

} // namespace fastboop::artifact_cache
