#!/bin/bash
# Benchmark: push a 64 MiB boot image to the fastboot device emulator over
# loopback TCP (and UDP) with fastboop-push and with Debian's AOSP fastboot in
# the same run; prints the throughput of each and the ratio (ours / AOSP).
#   tests/bench/push.sh [BUILD_DIR]     (default: build/default)
# FASTBOOP_BENCH_PUSH_MIB (default 64) sets the kernel size and
# FASTBOOP_BENCH_PUSH_RUNS (default 3) the runs per client; ctest runs this
# script with 1 MiB x 1 as a smoke test so it cannot silently break.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build/default}
push=$build/bin/fastboop-push
emu=$build/bin/fastboot_emulator
for p in "$push" "$emu"; do [ -x "$p" ] || { echo "missing $p (build fastboop-push and push_tests)" >&2; exit 1; }; done
command -v fastboot >/dev/null || { echo "Debian 'fastboot' is not installed" >&2; exit 1; }
command -v mkbootimg >/dev/null || { echo "Debian 'mkbootimg' is not installed" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill $emu_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
mib=${FASTBOOP_BENCH_PUSH_MIB:-64}
runs=${FASTBOOP_BENCH_PUSH_RUNS:-3}
head -c $((mib * 1024 * 1024)) /dev/urandom > "$work/kernel"
mkbootimg --kernel "$work/kernel" --header_version 0 -o "$work/boot.img"
size=$(stat -c %s "$work/boot.img")
sha=$(sha512sum "$work/boot.img" | cut -d' ' -f1)
# The sidecar as fastboop-bootimg writes it (probe keys, image size + digest).
cat > "$work/boot.img.json" <<JSON
{"device_profile": {"id": "bench", "match": [], "probe": [{"getvar": "product", "op": "equals", "value": "bench"}]},
 "image": {"size": $size, "sha512": "$sha"}}
JSON

"$emu" --tcp-port 0 --udp-port 0 --port-file "$work/ports" --var product=bench \
  --var max-download-size=0x10000000 --udp-max-packet 8192 &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.05; done
tcp=$(awk '$1=="tcp"{print $2}' "$work/ports")
udp=$(awk '$1=="udp"{print $2}' "$work/ports")

# Best of N runs (seconds, as a decimal).
best_of() {
  local best= t0 t1 dt
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "command failed: $*" >&2; "$@" >&2 || true; exit 1; }
    t1=$(date +%s.%N)
    dt=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then best=$dt; fi
  done
  echo "$best"
}

report() { # name seconds
  printf '%-28s %8.3f s  %8.1f MB/s\n' "$1" "$2" "$(echo "$size / $2 / 1000000" | bc -l)"
}

printf 'image: %d bytes (%d MiB kernel in a v0 boot.img), best of %d\n' "$size" "$mib" "$runs"
for net in tcp udp; do
  port=$([ $net = tcp ] && echo "$tcp" || echo "$udp")
  ours=$(best_of "$push" -q boot "$work/boot.img" -s "$net:127.0.0.1:$port")
  aosp=$(best_of fastboot -s "$net:127.0.0.1:$port" boot "$work/boot.img")
  report "fastboop-push $net" "$ours"
  report "AOSP fastboot $net" "$aosp"
  printf '%-28s %8.2fx\n' "ratio (ours/AOSP) $net" "$(echo "$aosp / $ours" | bc -l)"
done
