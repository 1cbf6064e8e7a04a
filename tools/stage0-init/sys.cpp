#include "sys.hpp"

#include <cstring>

namespace fastboop::stage0_init {

std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

} // namespace fastboop::stage0_init
