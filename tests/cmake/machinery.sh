#!/usr/bin/env bash
# CMake machinery test with stand-in tools: cache hits across build trees, no-op
# rebuild, exact rebuild, identical outputs, corrupt-cache recovery.
# Usage: machinery.sh <modules dir> <fake tools dir> <project dir> <fastboop-cache>
set -euo pipefail
MOD=$1 FAKE=$2 PROJ=$3 HIT=$4
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cp -r "$PROJ" "$T/src"
export FAKE_COUNTER_DIR=$T/count; mkdir -p "$FAKE_COUNTER_DIR"
fail() { echo "FAIL: $*" >&2; exit 1; }
count() { [ -f "$FAKE_COUNTER_DIR/$1.count" ] && wc -l < "$FAKE_COUNTER_DIR/$1.count" || echo 0; }
conf() { cmake -S "$T/src" -B "$T/$1" -G Ninja -DFAKE_TOOLS="$FAKE" -DFASTBOOP_MODULES="$MOD" \
           -DCACHE_TOOL="$HIT" -DFASTBOOP_CACHE_DIR="$2" >/dev/null; }

conf A "$T/cache"
cmake --build "$T/A" >/dev/null
[ "$(count stage0)" = 4 ] || fail "first build: expected 4 stage0 generations, got $(count stage0)"
[ "$(count bootimg)" = 4 ] || fail "first build: expected 4 boot.img generations, got $(count bootimg)"
echo "ok: cold build generated 4 stage0 + 4 boot.img"

ninja -C "$T/A" -n | grep -q "no work to do" || fail "no-op rebuild has work: $(ninja -C "$T/A" -n)"
echo "ok: no-op rebuild runs nothing"

# Touch one device's input: only its chain is considered, and the cache means nothing regenerates.
sleep 1; touch "$T/src/rootfs2.img"
plan=$(ninja -C "$T/A" -n)
echo "$plan" | grep -q "shift-axolotl" || fail "touching rootfs2.img did not schedule shift-axolotl: $plan"
if echo "$plan" | grep -E -q "oneplus-fajita|arrow-db410c|google-sargo"; then fail "touching rootfs2.img scheduled other devices: $plan"; fi
cmake --build "$T/A" >/dev/null
[ "$(count stage0)" = 4 ] || fail "touch without content change regenerated stage0"
echo "ok: touching one input reruns only that device, served from cache"

# Change its content: exactly one stage0 and one boot.img generation.
printf 'rootfs-two-changed\n' > "$T/src/rootfs2.img"
cmake --build "$T/A" >/dev/null
[ "$(count stage0)" = 5 ] && [ "$(count bootimg)" = 5 ] || fail "content change: counts $(count stage0)/$(count bootimg), want 5/5"
echo "ok: changing one input regenerates exactly that device"

# A second build tree sharing the cache: zero generations, identical bytes.
conf B "$T/cache"
outB=$(cmake --build "$T/B")
[ "$(count stage0)" = 5 ] && [ "$(count bootimg)" = 5 ] || fail "second build tree generated: $(count stage0)/$(count bootimg)"
for f in devices_oneplus_fajita/boot.img devices_arrow_db410c/boot.img from_profile/boot.img from_stage0/boot.img from_stage0/boot.img.json; do
  cmp "$T/A/$f" "$T/B/$f" || fail "$f differs between build trees"
done
ninja -C "$T/B" -n | grep -q "no work to do" || fail "no-op after cache-hit build has work"
echo "ok: second build tree: zero generations, identical outputs, then no-op"
echo "$outB" | grep -q "cache hit stage0 .* (local)" || fail "no stage0 local hit: $outB"
echo "$outB" | grep -q "cache hit bootimg .* (local)" || fail "no boot.img local hit: $outB"
echo "ok: second build tree: local hits reported"

# Without a cache the same bytes come out.
conf C ""
cmake --build "$T/C" >/dev/null
cmp "$T/A/from_stage0/boot.img" "$T/C/from_stage0/boot.img" || fail "uncached output differs"
echo "ok: uncached build gives identical bytes"

# A corrupt cache entry is detected on read and regenerated.
for entry in "$T"/cache/bootimg/*/boot.img; do echo garbage >> "$entry"; done
conf D "$T/cache"
out=$(cmake --build "$T/D" 2>&1)
echo "$out" | grep -q "is corrupt; regenerating" || fail "corrupt cache entry not reported"
cmp "$T/A/devices_oneplus_fajita/boot.img" "$T/D/devices_oneplus_fajita/boot.img" || fail "regenerated output differs"
echo "ok: corrupt cache entry detected and regenerated"

# The entry replaced after failing verification now verifies.
conf E "$T/cache"
out=$(cmake --build "$T/E" 2>&1)
echo "$out" | grep -q "is corrupt" && fail "replaced cache entry still corrupt"
echo "$out" | grep -q "cache hit bootimg" || fail "replaced entry not a hit: $out"
echo "ok: the replaced entry verifies"

# The digest memo: input and entry records in the shared cache, each build
# tree's own outputs in that tree.
ls "$T/cache/digests/"* >/dev/null 2>&1 || fail "no digest memo in the shared cache"
grep -q " $T/cache/bootimg/" "$T"/cache/digests/* || fail "no memo record for a cache entry file"
grep -q " $T/A/s0/" "$T/A/CMakeFiles/fastboop-digests/"* || fail "no memo record for build tree A's stage0 outputs"
echo "ok: digest memo records in the shared cache and per build tree"

# An input rewritten in place with the same size, even with its mtime put
# back, is a new identity (ctime moved): hashed again, never a stale hit.
s0c=$(count stage0)
printf 'memo-test-content-AAAA\n' > "$T/src/rootfs2.img"; touch -d @1000000000 "$T/src/rootfs2.img"
sleep 1 # settled: old enough for its digest to be recorded
conf M1 "$T/cache"; cmake --build "$T/M1" >/dev/null
[ "$(count stage0)" = $((s0c + 1)) ] || fail "memo: new content not generated"
grep -q " $T/src/rootfs2.img\$" "$T"/cache/digests/* || fail "memo: no record for the settled input"
ino=$(stat -c %i "$T/src/rootfs2.img")
printf 'memo-test-content-BBBB\n' > "$T/src/rootfs2.img"; touch -d @1000000000 "$T/src/rootfs2.img"
[ "$(stat -c %i "$T/src/rootfs2.img")" = "$ino" ] || fail "memo: test expected an in-place rewrite"
conf M2 "$T/cache"; cmake --build "$T/M2" >/dev/null
[ "$(count stage0)" = $((s0c + 2)) ] || fail "memo: same-size rewrite with the old mtime was a stale cache hit"
cmp -s "$T/M1/s0/stage0.cpio" "$T/M2/s0/stage0.cpio" && fail "memo: same-size rewrite gave the old stage0"
# And in the same tree, right after a rewrite (not yet settled; the mtime is
# left alone here, or Ninja itself would see nothing to do).
printf 'memo-test-content-CCCC\n' > "$T/src/rootfs2.img"
cmake --build "$T/M2" >/dev/null
[ "$(count stage0)" = $((s0c + 3)) ] || fail "memo: immediate same-size rewrite was a stale cache hit"
echo "ok: memo: a same-size rewrite with its mtime restored is regenerated, not a stale hit"

# Two builds at once on one fresh cache: both miss and generate; the slow one
# (held at its gate inside stage0) loses the insert race and must keep the
# entries the fast one inserted, not delete and replace them.
conf P "$T/cache2"; conf Q "$T/cache2"
FAKE_GATE=$T/gate cmake --build "$T/P" >"$T/p.log" 2>&1 & pid=$!
i=0; while [ ! -e "$T/gate.started" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
[ -e "$T/gate.started" ] || { kill $pid; fail "build P never reached its stage0 generation"; }
cmake --build "$T/Q" >"$T/q.log" 2>&1 || { touch "$T/gate"; wait $pid; cat "$T/q.log"; fail "build Q (concurrent) failed"; }
before=$(stat -c %i "$T"/cache2/stage0/* | sort | tr '\n' ' ')
touch "$T/gate"
wait $pid || { cat "$T/p.log"; fail "build P (concurrent) failed"; }
grep -q "fastboop: generating stage0" "$T/p.log" || fail "build P did not race (no stage0 generation)"
after=$(stat -c %i "$T"/cache2/stage0/* | sort | tr '\n' ' ')
[ "$before" = "$after" ] || fail "the losing runner replaced the winner's cache entries ($before -> $after)"
ls -a "$T/cache2/stage0" | grep -q '^\.tmp-' && fail "temporary insert directory left behind"
for f in devices_oneplus_fajita/boot.img devices_arrow_db410c/boot.img from_profile/boot.img from_stage0/boot.img; do
  cmp "$T/P/$f" "$T/Q/$f" || fail "$f differs between the concurrent builds"
done
echo "ok: two concurrent builds on one cache: both succeed, identical bytes, winner's entries kept"

# Install rules place each device's image under its id.
cmake --install "$T/A" --prefix "$T/inst" >/dev/null
for d in oneplus-fajita arrow-db410c shift-axolotl; do
  [ -f "$T/inst/share/fastboop/boot-images/$d/boot.img.json" ] || fail "install: $d missing"
done
echo "ok: fastboop_install_boot_images"
echo "machinery: all checks passed"
