#!/usr/bin/env bash
# Benchmark of the CMake integration: eight devices, cold build, no-op
# rebuild, warm-cache build in a fresh build tree; then the remote cache (a
# lighttpd WebDAV server on loopback): runner A cold, runner B with an empty
# local cache and the shared remote. Prints the times and the bytes moved.
# Targets: warm-cache and no-op under 0.5 s; runner B within 2x of warm-cache.
# The warm-cache build and runner B are short (tenths of a second), so they
# run as FASTBOOP_BENCH_RUNS pairs (default 5): a warm-cache build in a fresh
# build tree, then runner B in a fresh build tree with a fresh local cache,
# both removed once measured. Pairs, so both legs see the machine in the same
# state; removed, so no run pays for memory the previous runs still hold (on
# a VM whose host reclaims idle guest memory, first touching new memory costs
# more than the build itself). A first pair warms up and is not counted
# (right after runner A both legs run several times slower). The medians and
# the median of the pairs' ratios are what is compared.
# Usage: tests/bench/cmake.sh <fastboop build dir>
set -euo pipefail
BUILD=$(cd "$1" && pwd); SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d); dav=
trap '[ -z "$dav" ] || kill "$dav"; rm -rf "$T"' EXIT
"$SRC/examples/rootfs/make-rootfs.sh" "$T/rootfs.erofs" >/dev/null
eval "$("$SRC/tests/data/fetch-debian-kernel.sh")"
cp "$FASTBOOP_KPKG_DIR/usr/lib/linux-image-$FASTBOOP_KVER/qcom/apq8016-sbc.dtb" "$T/standin.dtb"
conf() { cmake -S "$SRC/tests/bench/cmake-matrix" -B "$T/$1" -G Ninja -DFastboop_DIR="$BUILD/cmake-modules" \
           -DROOTFS="$T/rootfs.erofs" -DSTANDIN_DTB="$T/standin.dtb" -DFASTBOOP_CACHE_DIR="$T/cache" >/dev/null; }
now() { date +%s.%N; }
RUNS=${FASTBOOP_BENCH_RUNS:-5}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
conf cold; t0=$(now); cmake --build "$T/cold" >/dev/null; t1=$(now)
t4=$(now); cmake --build "$T/cold" >/dev/null; t5=$(now)
n=$(ls "$T"/cold/*/boot.img | wc -l)

# Remote: runner A cold against an empty remote; runner B with an empty
# local cache and that remote.
PATH=$PATH:/usr/sbin
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/dav"
printf '%s\n' "server.document-root = \"$T/dav\"" 'server.bind = "127.0.0.1"' "server.port = $PORT" \
  'server.modules = ("mod_webdav")' "server.errorlog = \"$T/lighttpd-error.log\"" 'webdav.activate = "enable"' \
  > "$T/lighttpd.conf"
lighttpd -D -f "$T/lighttpd.conf" & dav=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.05; done
rconf() { cmake -S "$SRC/tests/bench/cmake-matrix" -B "$T/$1" -G Ninja -DFastboop_DIR="$BUILD/cmake-modules" \
            -DROOTFS="$T/rootfs.erofs" -DSTANDIN_DTB="$T/standin.dtb" -DFASTBOOP_CACHE_DIR="$T/cache-$1" \
            -DFASTBOOP_REMOTE_CACHE="http://127.0.0.1:$PORT/fastboop" >/dev/null; }
stat_of() { "$BUILD/bin/fastboop-cache" stats --cache-dir="$T/cache-$1" | awk -v k="$2" 'index($0, k " ") == 1 {print $NF}'; }
rconf runnerA; t6=$(now); cmake --build "$T/runnerA" >"$T/runnerA.log" 2>&1; t7=$(now)

warm=(); runner_b=(); ratios=()
for i in $(seq 0 "$RUNS"); do
  conf warm; t2=$(now); cmake --build "$T/warm" >/dev/null; t3=$(now)
  rconf runnerB; t8=$(now); cmake --build "$T/runnerB" >"$T/runnerB.log" 2>&1; t9=$(now)
  w=$(echo "$t3 - $t2" | bc); b=$(echo "$t9 - $t8" | bc)
  [ "$i" = 0 ] || { warm+=("$w"); runner_b+=("$b"); ratios+=("$(echo "scale=2; $b / $w" | bc)"); }
  for f in "$T"/cold/*/boot.img; do
    d=$(basename "$(dirname "$f")")
    cmp "$f" "$T/warm/$d/boot.img" || { echo "warm-cache: $f differs" >&2; exit 1; }
    cmp "$f" "$T/runnerB/$d/boot.img" || { echo "runner B: $f differs" >&2; exit 1; }
  done
  grep -h "warning" "$T/runnerB.log" >&2 || true
  [ "$i" = "$RUNS" ] || rm -rf "$T/warm" "$T/runnerB" "$T/cache-runnerB"
done
grep -h "warning" "$T/runnerA.log" >&2 || true
W=$(median "${warm[@]}"); B=$(median "${runner_b[@]}")
printf 'devices:           %d\n' "$n"
printf 'cold build:        %.2f s\n' "$(echo "$t1 - $t0" | bc)"
printf 'no-op rebuild:     %.2f s\n' "$(echo "$t5 - $t4" | bc)"
printf 'warm-cache build:  %.2f s (fresh build tree, shared cache; median of %s)\n' "$W" "${warm[*]}"
printf 'remote, runner A:  %.2f s (cold, %s bytes up)\n' "$(echo "$t7 - $t6" | bc)" "$(stat_of runnerA "bytes up")"
printf 'remote, runner B:  %.2f s (empty local cache: %s remote hits, %s misses, %s bytes down; median of %s)\n' \
  "$B" "$(stat_of runnerB "remote hits")" "$(stat_of runnerB misses)" "$(stat_of runnerB "bytes down")" "${runner_b[*]}"
printf 'runner B / warm-cache build: %.1fx (medians), %.1fx (median of the pairs: %s)\n' \
  "$(echo "$B / $W" | bc -l)" "$(median "${ratios[@]}")" "${ratios[*]}"
