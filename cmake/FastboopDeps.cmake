# Every dependency comes from a Debian 12 package. A missing one stops configure
# and names the package to install (`.ci/setup` installs all of them).
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

macro(fastboop_require_pkgconfig target module debpkg)
  pkg_check_modules(${target} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR "Missing dependency '${module}': apt-get install ${debpkg}")
  endif()
  add_library(Fastboop::${target} ALIAS PkgConfig::${target})
endmacro()

fastboop_require_pkgconfig(yaml_cpp   yaml-cpp    libyaml-cpp-dev)
fastboop_require_pkgconfig(archive    libarchive  libarchive-dev)
fastboop_require_pkgconfig(lzma       liblzma     liblzma-dev)
fastboop_require_pkgconfig(curl       libcurl     libcurl4-openssl-dev)
fastboop_require_pkgconfig(usb        libusb-1.0  libusb-1.0-0-dev)
fastboop_require_pkgconfig(ext2fs     ext2fs      libext2fs-dev)
fastboop_require_pkgconfig(zlib       zlib        zlib1g-dev)
fastboop_require_pkgconfig(crypto     libcrypto   libssl-dev)
fastboop_require_pkgconfig(lz4        liblz4      liblz4-dev)
fastboop_require_pkgconfig(zstd       libzstd     libzstd-dev)
fastboop_require_pkgconfig(squashfs   libsquashfs1 libsquashfs-dev)
fastboop_require_pkgconfig(dw         libdw       libdw-dev) # elfutils: a generator's build-id

# libfdt ships no pkg-config file in Debian 12.
find_path(FDT_INCLUDE_DIR libfdt.h)
find_library(FDT_LIBRARY fdt)
if(NOT FDT_INCLUDE_DIR OR NOT FDT_LIBRARY)
  message(FATAL_ERROR "Missing dependency 'libfdt': apt-get install libfdt-dev")
endif()
add_library(Fastboop::fdt UNKNOWN IMPORTED GLOBAL)
set_target_properties(Fastboop::fdt PROPERTIES IMPORTED_LOCATION ${FDT_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${FDT_INCLUDE_DIR})

find_package(CLI11 CONFIG QUIET)
if(NOT CLI11_FOUND)
  message(FATAL_ERROR "Missing dependency 'CLI11': apt-get install libcli11-dev")
endif()
find_package(nlohmann_json CONFIG QUIET)
if(NOT nlohmann_json_FOUND)
  message(FATAL_ERROR "Missing dependency 'nlohmann-json': apt-get install nlohmann-json3-dev")
endif()
find_package(Threads REQUIRED)

if(BUILD_TESTING)
  find_package(GTest CONFIG QUIET)
  if(NOT GTest_FOUND)
    message(FATAL_ERROR "Missing dependency 'GoogleTest': apt-get install libgtest-dev libgmock-dev")
  endif()
endif()
