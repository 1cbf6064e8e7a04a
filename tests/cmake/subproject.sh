#!/usr/bin/env bash
# fastboop as a subproject of another build (add_subdirectory or FetchContent of
# the source tree): the functions work from the parent's directory, stage0 gets
# the PID1 payload built in the same build (and is ordered after it), and
# fastboop adds no tests or CPack configuration to the parent.
# Usage: subproject.sh <subdirectory|fetchcontent> <source dir> <build dir> <build type> [<compiler launcher>]
set -euo pipefail
HOW=$1 SRC=$2 B=$3 TYPE=$4 LAUNCHER=${5:-}
fail() { echo "FAIL: $*" >&2; exit 1; }
# A stable build path (not mktemp) so a compiler cache hits on reruns.
rm -rf "$B"; mkdir -p "$B"
"$SRC/examples/rootfs/make-rootfs.sh" "$B/rootfs.erofs" >/dev/null
launch=()
[ -n "$LAUNCHER" ] && launch=(-DCMAKE_C_COMPILER_LAUNCHER="$LAUNCHER" -DCMAKE_CXX_COMPILER_LAUNCHER="$LAUNCHER")
cmake -S "$SRC/tests/cmake/subproject" -B "$B/p" -G Ninja -DHOW="$HOW" -DFASTBOOP_SOURCE_DIR="$SRC" \
  -DROOTFS="$B/rootfs.erofs" -DFASTBOOP_CACHE_DIR= -DCMAKE_BUILD_TYPE="$TYPE" \
  -DFASTBOOP_STAGE0_INIT_ARCHES=aarch64 "${launch[@]}" >"$B/conf.log" 2>&1 \
  || { cat "$B/conf.log"; fail "$HOW: configure"; }
echo "ok: $HOW: parent project configured with add_fastboop_boot_image in its own directory"

# Guards: no fastboop tests among the parent's, no CPack config of fastboop's.
n=$(ctest --test-dir "$B/p" -N | sed -n 's/^Total Tests: //p')
[ "$n" = 0 ] || fail "$HOW: fastboop added $n tests to the parent project"
[ ! -e "$B/p/CPackConfig.cmake" ] || fail "$HOW: fastboop configured CPack in the parent project"
echo "ok: $HOW: no fastboop tests or CPack in the parent"

# stage0 is built with the payload from this build tree.
cmds=$(ninja -C "$B/p" -t commands fajita)
payload=$(echo "$cmds" | grep -o -- "--stage0-init [^ ]*" | head -1 | cut -d' ' -f2)
[ -n "$payload" ] || fail "$HOW: stage0 runs without --stage0-init: $(echo "$cmds" | grep fastboop-stage0)"
case $payload in "$B/p/"*/stage0-aarch64) ;; *) fail "$HOW: payload $payload is not from this build";; esac
# The build itself is the same for both ways in; cmake.subdirectory does it
# (a second full compile of the toolchain would double this test's CI time).
if [ "$HOW" = fetchcontent ]; then
  echo "ok: $HOW: build graph wired like add_subdirectory (the build is cmake.subdirectory's)"
  rm -rf "$B"; exit 0
fi
# Ordered after it: building only the image from a clean tree builds the payload first.
cmake --build "$B/p" --target fajita >"$B/build.log" 2>&1 || { cat "$B/build.log"; fail "$HOW: build"; }
[ -x "$payload" ] || fail "$HOW: payload $payload not built"
img=$B/p/fajita/boot.img
bootimg=$(find "$B/p" -name fastboop-bootimg -type f -perm -u+x | head -1)
"$bootimg" info "$img" >/dev/null || fail "$HOW: boot.img does not parse"
echo "ok: $HOW: boot.img built for oneplus-fajita with the in-tree PID1 ($(stat -c %s "$img") bytes)"
rm -rf "$B"
