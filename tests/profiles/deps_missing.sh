#!/usr/bin/env bash
# cmake/FastboopDeps.cmake: a missing dependency stops configure with the
# Debian package to install. A tiny project includes the module; each case
# hides one dependency the way a machine without the package would look.
# Usage: deps_missing.sh <fastboop cmake/ dir>
set -euo pipefail
MODDIR=$1
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$T/src" "$T/no-pc"
cat > "$T/src/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(deps_probe LANGUAGES CXX)
list(APPEND CMAKE_MODULE_PATH "$MODDIR")
include(FastboopDeps)
message(STATUS "fastboop: every dependency found")
CMAKE

n=0
# configure <env assignments...> -- <cmake -D options...>: output in $out, exit code in $rc.
configure() {
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  n=$((n + 1))
  rc=0
  out=$(env "${envs[@]}" cmake -S "$T/src" -B "$T/b$n" -G Ninja "$@" 2>&1) || rc=$?
}
expect_missing() { # <case> <expected message>
  [ "$rc" != 0 ] || fail "$1: configure succeeded; expected: $2"
  grep -qF -- "$2" <<<"$out" || fail "$1: expected '$2' in:
$out"
  echo "ok: $1: $2"
}

# With everything installed the probe project configures (so the failures below are the hidden dependency).
configure -- -DBUILD_TESTING=ON
[ "$rc" = 0 ] || fail "baseline configure failed:
$out"
grep -qF "fastboop: every dependency found" <<<"$out" || fail "baseline: no success message: $out"
echo "ok: baseline configures"

# No pkg-config modules at all: the first one checked (yaml-cpp) names its package.
configure PKG_CONFIG_LIBDIR="$T/no-pc" PKG_CONFIG_PATH= --
expect_missing "no .pc files" "Missing dependency 'yaml-cpp': apt-get install libyaml-cpp-dev"

# Only libzstd's .pc hidden: every earlier module is found, zstd is named.
mkdir -p "$T/some-pc"
for pc in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
  [ -d "$pc" ] && find "$pc" -maxdepth 1 -name '*.pc' ! -name 'libzstd.pc' -exec ln -sf {} "$T/some-pc/" \;
done
configure PKG_CONFIG_LIBDIR="$T/some-pc" PKG_CONFIG_PATH= --
expect_missing "libzstd.pc hidden" "Missing dependency 'libzstd': apt-get install libzstd-dev"

# libfdt (found by header and library, no .pc): its header is not found.
configure -- -DCMAKE_FIND_ROOT_PATH="$T/empty-root" -DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY
expect_missing "libfdt.h hidden" "Missing dependency 'libfdt': apt-get install libfdt-dev"

# CMake config packages.
configure -- -DCMAKE_DISABLE_FIND_PACKAGE_CLI11=ON
expect_missing "CLI11 hidden" "Missing dependency 'CLI11': apt-get install libcli11-dev"
configure -- -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON
expect_missing "nlohmann_json hidden" "Missing dependency 'nlohmann-json': apt-get install nlohmann-json3-dev"
configure -- -DBUILD_TESTING=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
expect_missing "GTest hidden" "Missing dependency 'GoogleTest': apt-get install libgtest-dev libgmock-dev"
