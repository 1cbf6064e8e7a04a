#!/bin/bash
# Filesystem read benchmark: every file of a real-world tree (this host's
# /usr/include, /usr/lib/python3.11 and /usr/share/doc) read through fastboop's readers vs the
# peer tools extracting the same image to tmpfs, in one run. Prints ratios.
# usage: tests/filesystems/bench.sh [BUILD_DIR]   (default build/default)
set -euo pipefail
build=${1:-build/default}
bench=$build/bin/fastboop-fs-bench
[ -x "$bench" ] || cmake --build "$build" --target fastboop-fs-bench >/dev/null
work=$(mktemp -d /dev/shm/fastboop-fs-bench-XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tree"
for d in /usr/include /usr/lib/python3.11 /usr/share/doc; do
  [ -d "$d" ] && cp -a "$d" "$work/tree/$(basename "$d")"
done
du -sh "$work/tree" | sed 's/^/tree: /'

t() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
ratio() { echo "scale=2; $2 / $1" | bc; }
report() { printf '%-22s us %6.3f s   peer %6.3f s   peer/us %sx\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }

mkfs.erofs --quiet -zlz4hc "$work/lz4hc.erofs" "$work/tree"
mkfs.erofs --quiet "$work/plain.erofs" "$work/tree"
size=$(( $(du -sm "$work/tree" | cut -f1) * 13 / 10 + 64 ))
mke2fs -q -F -t ext4 -d "$work/tree" "$work/root.ext4" "${size}M"

for img in lz4hc.erofs plain.erofs; do
  us=$(t "$bench" erofs "$work/$img")
  rm -rf "$work/out"; peer=$(t fsck.erofs --extract="$work/out" "$work/$img"); rm -rf "$work/out"
  report "erofs $img" "$us" "$peer"
done
us=$(t "$bench" ext4 "$work/root.ext4")
mkdir -p "$work/out"; peer=$(t debugfs -R "rdump / $work/out" "$work/root.ext4"); rm -rf "$work/out"
report "ext4 (debugfs rdump)" "$us" "$peer"
"$bench" erofs "$work/lz4hc.erofs"
