# Print each device's boot.img: path, size, sha512, and the command that boots it.
# Usage: cmake -DIMAGES=<build>/images.txt -P summary.cmake
file(READ "${IMAGES}" images)
foreach(entry IN LISTS images)
  if(entry STREQUAL "")
    continue()
  endif()
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 device)
  list(GET parts 1 image)
  if(NOT EXISTS "${image}")
    message(FATAL_ERROR "${device}: ${image} was not built")
  endif()
  file(SIZE "${image}" size)
  file(SHA512 "${image}" digest)
  message("${device}:\n  boot.img ${image}\n  size     ${size} bytes\n  sha512   ${digest}\n"
          "  boot it: fastboop-push boot ${image}\n")
endforeach()
