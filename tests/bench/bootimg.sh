#!/bin/sh
# Benchmark: pack a header v2 boot.img from a 40 MB kernel + 20 MB ramdisk +
# DTB with fastboop-bootimg and with Debian's mkbootimg, in the same run, same
# inputs, same page cache; print the best-of-N wall times and the ratio.
# Usage: tests/bench/bootimg.sh [BUILD_DIR] [RUNS]   (default build/default, 5)
set -eu
build=${1:-build/default}
runs=${2:-5}
tool=$(cd "$build" && pwd)/bin/fastboop-bootimg
[ -x "$tool" ] || { echo "no $tool; build the fastboop-bootimg target first" >&2; exit 1; }
command -v mkbootimg >/dev/null || { echo "mkbootimg not installed (apt-get install mkbootimg)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 40000000 /dev/urandom > "$work/kernel"
head -c 20000000 /dev/urandom > "$work/ramdisk"
head -c 150000 /dev/urandom > "$work/dtb"
args="--header_version 2 --pagesize 4096 --base 0 --kernel_offset 0x8000 --kernel $work/kernel
      --ramdisk $work/ramdisk --dtb $work/dtb --cmdline console=ttyMSM0,115200n8"

now_ns() { date +%s%N; }
best() { # best wall time in ms of "$@" over $runs runs
  b=
  i=0
  while [ $i -lt "$runs" ]; do
    t0=$(now_ns); "$@" >/dev/null; t1=$(now_ns)
    ms=$(( (t1 - t0) / 1000000 ))
    if [ -z "$b" ] || [ "$ms" -lt "$b" ]; then b=$ms; fi
    i=$((i + 1))
  done
  echo "$b"
}

# shellcheck disable=SC2086
"$tool" $args -o "$work/warm.img"   # warm the page cache for both
# shellcheck disable=SC2086
ours=$(best "$tool" $args -o "$work/ours.img")
# shellcheck disable=SC2086
theirs=$(best mkbootimg $args -o "$work/theirs.img")
if cmp -s "$work/ours.img" "$work/theirs.img"; then same=identical; else same=DIFFERENT; fi
size=$(wc -c < "$work/ours.img")
echo "inputs: kernel 40000000 B, ramdisk 20000000 B, dtb 150000 B; header v2, page 4096; output $size B ($same)"
echo "fastboop-bootimg: ${ours} ms (best of $runs)"
echo "Debian mkbootimg: ${theirs} ms (best of $runs)"
if [ "$ours" -gt 0 ]; then
  awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "ratio: %.1fx faster\n", a / b }'
else
  echo "ratio: >${theirs}x faster (ours rounded to 0 ms)"
fi
