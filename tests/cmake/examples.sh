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

# The main job's summary (what `fastboop-example` prints last): per image its
# path, size, sha512 and the fastboop-push line that boots it.
summary=$(cmake -DIMAGES="$T/A/images.txt" -P "$SRC/examples/cmake-distro/summary.cmake" 2>&1) \
  || { echo "$summary"; fail "summary.cmake failed"; }
for d in oneplus-fajita arrow-db410c; do
  img=$T/A/distro_${d//-/_}/boot.img
  block=$(echo "$summary" | sed -n "/^$d:\$/,/fastboop-push/p")
  [ -n "$block" ] || { echo "$summary"; fail "summary has no entry for $d"; }
  echo "$block" | grep -q -x "  boot.img $img" || { echo "$summary"; fail "summary: $d path"; }
  echo "$block" | grep -q -x "  size     $(stat -c %s "$img") bytes" || { echo "$summary"; fail "summary: $d size"; }
  echo "$block" | grep -q -x "  sha512   $(sha512sum "$img" | cut -c1-128)" || { echo "$summary"; fail "summary: $d sha512"; }
  echo "$block" | grep -q -x "  boot it: fastboop-push boot $img" || { echo "$summary"; fail "summary: $d push line"; }
done
echo "ok: summary prints each image's path, size, sha512 and fastboop-push boot line"

# Exact rebuild: touching the rootfs reruns exactly the edges that read it (each
# device's stage0 and boot.img, not the rootfs itself), then nothing.
before=$(sha512sum "$T"/A/distro_*/boot.img)
sleep 1; touch "$T/A/rootfs.erofs"
plan=$(ninja -C "$T/A" -n)
edges=$(echo "$plan" | grep -c "^\[" || true)
s0=$(echo "$plan" | grep -c "fastboop: stage0 for" || true)
bi=$(echo "$plan" | grep -c "fastboop: boot.img for" || true)
[ "$s0" = 2 ] && [ "$bi" = 2 ] && [ "$edges" = 4 ] || { echo "$plan"; fail "touching the rootfs: expected 2 stage0 + 2 boot.img edges, got $s0 + $bi of $edges"; }
cmake --build "$T/A" > "$T/a2.log" 2>&1 || { cat "$T/a2.log"; fail "rebuild after touching the rootfs"; }
[ "$(sha512sum "$T"/A/distro_*/boot.img)" = "$before" ] || fail "touching the rootfs changed the images"
ninja -C "$T/A" -n | grep -q "no work to do" || fail "no-op after the exact rebuild has work: $(ninja -C "$T/A" -n)"
echo "ok: touching the rootfs reruns exactly 2 stage0 + 2 boot.img edges, same bytes, then a no-op"

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
