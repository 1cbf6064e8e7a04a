#!/usr/bin/env bash
# Benchmark of the CMake integration: eight devices, cold build, warm-cache
# build in a fresh build tree, and no-op rebuild. Prints the three times.
# Target: warm-cache and no-op under 0.5 s.
# Usage: tests/bench/cmake.sh <fastboop build dir>
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$SRC/examples/rootfs/make-rootfs.sh" "$T/rootfs.erofs" >/dev/null
eval "$("$SRC/tests/data/fetch-debian-kernel.sh")"
cp "$FASTBOOP_KPKG_DIR/usr/lib/linux-image-$FASTBOOP_KVER/qcom/apq8016-sbc.dtb" "$T/standin.dtb"
conf() { cmake -S "$SRC/tests/bench/cmake-matrix" -B "$T/$1" -G Ninja -DFastboop_DIR="$BUILD/cmake-modules" \
           -DROOTFS="$T/rootfs.erofs" -DSTANDIN_DTB="$T/standin.dtb" -DFASTBOOP_CACHE_DIR="$T/cache" >/dev/null; }
now() { date +%s.%N; }
conf cold; t0=$(now); cmake --build "$T/cold" >/dev/null; t1=$(now)
conf warm; t2=$(now); cmake --build "$T/warm" >/dev/null; t3=$(now)
t4=$(now); cmake --build "$T/warm" >/dev/null; t5=$(now)
n=$(ls "$T"/cold/*/boot.img | wc -l)
printf 'devices:           %d\n' "$n"
printf 'cold build:        %.2f s\n' "$(echo "$t1 - $t0" | bc)"
printf 'warm-cache build:  %.2f s (fresh build tree, shared cache)\n' "$(echo "$t3 - $t2" | bc)"
printf 'no-op rebuild:     %.2f s\n' "$(echo "$t5 - $t4" | bc)"
