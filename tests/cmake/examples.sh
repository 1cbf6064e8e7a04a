#!/usr/bin/env bash
# The examples with the real tools: examples/cmake-distro in two build trees
# sharing one cache (the second generates nothing and gives identical bytes),
# no-op rebuild, and examples/makefile producing the same images.
# Usage: examples.sh <fastboop build dir> <source dir>
set -euo pipefail
BUILD=$1 SRC=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
conf() { cmake -S "$SRC/examples/cmake-distro" -B "$T/$1" -G Ninja -DFastboop_DIR="$BUILD/cmake-modules" \
           -DFASTBOOP_CACHE_DIR="$T/cache" >/dev/null; }

conf A
cmake --build "$T/A" > "$T/a.log" 2>&1 || { cat "$T/a.log"; fail "example build"; }
gen=$(grep -c "fastboop: generating" "$T/a.log" || true)
[ "$gen" = 4 ] || fail "cold build: expected 4 generations, got $gen"
for d in oneplus_fajita arrow_db410c; do
  "$BUILD/bin/fastboop-bootimg" info "$T/A/distro_$d/boot.img" >/dev/null || fail "$d: boot.img does not parse"
done
ninja -C "$T/A" -n | grep -q "no work to do" || fail "no-op rebuild has work"
echo "ok: cmake-distro built 2 devices, no-op rebuild runs nothing"

conf B
cmake --build "$T/B" > "$T/b.log" 2>&1 || { cat "$T/b.log"; fail "second build"; }
grep -q "fastboop: generating" "$T/b.log" && fail "second build tree generated something"
hits=$(grep -c "fastboop: cache hit" "$T/b.log" || true)
[ "$hits" = 4 ] || fail "second build tree: expected 4 cache hits, got $hits"
for d in oneplus_fajita arrow_db410c; do
  cmp "$T/A/distro_$d/boot.img" "$T/B/distro_$d/boot.img" || fail "$d differs between build trees"
done
echo "ok: second build tree: 4 cache hits, zero generations, identical bytes"

make -s -C "$T" -f "$SRC/examples/makefile/Makefile" FASTBOOP_BIN="$BUILD/bin" ROOTFS="$T/A/rootfs.erofs" >/dev/null
for d in oneplus-fajita arrow-db410c; do
  cmp "$T/out/$d/boot.img" "$T/A/distro_${d//-/_}/boot.img" || fail "makefile $d differs from cmake"
done
again=$(make -C "$T" -f "$SRC/examples/makefile/Makefile" FASTBOOP_BIN="$BUILD/bin" ROOTFS="$T/A/rootfs.erofs" 2>&1)
echo "$again" | grep -q "Nothing to be done" || fail "makefile no-op rebuild did work: $again"
echo "ok: examples/makefile gives the same bytes and a no-op rebuild"
