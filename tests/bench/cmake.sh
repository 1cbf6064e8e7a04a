#!/usr/bin/env bash
# Benchmark of the CMake integration: eight devices, cold build, warm-cache
# build in a fresh build tree, and no-op rebuild; then the remote cache (a
# lighttpd WebDAV server on loopback): runner A cold, runner B with an empty
# local cache and the shared remote. Prints the times and the bytes moved.
# Targets: warm-cache and no-op under 0.5 s; runner B within 2x of warm-cache.
# The warm-cache build and runner B are short (tenths of a second), so each is
# run FASTBOOP_BENCH_RUNS times (default 3; each run a fresh build tree, and
# for runner B a fresh local cache) and the median is what is compared.
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
RUNS=${FASTBOOP_BENCH_RUNS:-3}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
conf cold; t0=$(now); cmake --build "$T/cold" >/dev/null; t1=$(now)
warm=()
for i in $(seq "$RUNS"); do
  conf "warm$i"; t2=$(now); cmake --build "$T/warm$i" >/dev/null; t3=$(now)
  warm+=("$(echo "$t3 - $t2" | bc)")
done
t4=$(now); cmake --build "$T/warm1" >/dev/null; t5=$(now)
n=$(ls "$T"/cold/*/boot.img | wc -l)
W=$(median "${warm[@]}")
printf 'devices:           %d\n' "$n"
printf 'cold build:        %.2f s\n' "$(echo "$t1 - $t0" | bc)"
printf 'warm-cache build:  %.2f s (fresh build tree, shared cache; median of %s)\n' "$W" "${warm[*]}"
printf 'no-op rebuild:     %.2f s\n' "$(echo "$t5 - $t4" | bc)"

# Remote leg: runner A cold against an empty remote, runner B with an empty
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
runner_b=()
for i in $(seq "$RUNS"); do
  rconf "runnerB$i"; t8=$(now); cmake --build "$T/runnerB$i" >"$T/runnerB$i.log" 2>&1; t9=$(now)
  runner_b+=("$(echo "$t9 - $t8" | bc)")
  for f in "$T"/cold/*/boot.img; do
    cmp "$f" "$T/runnerB$i/$(basename "$(dirname "$f")")/boot.img" || { echo "runner B: $f differs" >&2; exit 1; }
  done
done
grep -h "warning" "$T"/runner*.log >&2 || true
B=$(median "${runner_b[@]}")
printf 'remote, runner A:  %.2f s (cold, %s bytes up)\n' "$(echo "$t7 - $t6" | bc)" "$(stat_of runnerA "bytes up")"
printf 'remote, runner B:  %.2f s (empty local cache: %s remote hits, %s misses, %s bytes down; median of %s)\n' \
  "$B" "$(stat_of runnerB1 "remote hits")" "$(stat_of runnerB1 misses)" "$(stat_of runnerB1 "bytes down")" "${runner_b[*]}"
printf 'runner B / warm-cache build: %.1fx (medians)\n' "$(echo "$B / $W" | bc -l)"
