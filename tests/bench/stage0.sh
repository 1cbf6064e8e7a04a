#!/usr/bin/env bash
# Benchmark: stage0 initramfs for oneplus-fajita from the Debian arm64 EROFS
# image, fastboop-stage0 against a stock-tool pipeline doing the same job
# (fsck.erofs --extract, modprobe --show-depends for the module closure,
# settings files, cpio -o -H newc). Both run in the same invocation; prints
# the median of N runs each and the ratio. Not a pass/fail test.
#
# Usage: tests/bench/stage0.sh [BUILD_DIR] [RUNS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build/default}" && pwd)
RUNS=${2:-5}
TOOL=$BUILD/bin/fastboop-stage0
[ -x "$TOOL" ] || { echo "build fastboop-stage0 first ($TOOL)" >&2; exit 1; }
for p in mkfs.erofs fsck.erofs modprobe cpio; do
  command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }
done
eval "$("$SRC/tests/data/fetch-debian-kernel.sh")"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
IMG=$W/rootfs.erofs
mkfs.erofs --quiet -zlz4hc -T0 --all-root "$IMG" "$FASTBOOP_KPKG_DIR" >/dev/null
# A stand-in PID1 for aarch64 (the payload is opaque to both sides).
printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\002\000\267\000' > "$W/init"
truncate -s 65536 "$W/init"
MODS="overlay erofs"
KV=$FASTBOOP_KVER

# Our side reads the EROFS image directly when this build has the reader,
# else the unpacked tree (and says so).
OURSRC=$IMG
if ! "$TOOL" inspect "$IMG" >/dev/null 2>&1; then
  OURSRC=$FASTBOOP_KPKG_DIR
  echo "note: this fastboop-stage0 cannot read EROFS images yet; timing it on the unpacked tree" >&2
fi
ours() {
  "$TOOL" build "$OURSRC" --device-profile oneplus-fajita --root-device /dev/sda17 --rootfs-type erofs \
    --stage0-init "$W/init" -o - > "$W/ours.cpio"
}
peer() {
  local X=$W/peer; rm -rf "$X"; mkdir -p "$X/root" "$X/stage"
  fsck.erofs --extract="$X/root" "$IMG" >/dev/null
  cd "$X/stage"
  mkdir -p dev proc sys run etc/stage0 etc/modules-load.d "lib/modules/$KV"
  for m in $MODS; do
    modprobe --show-depends -d "$X/root" -S "$KV" "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' > "$X/paths"
  while read -r p; do
    rel=${p#"$X/root/"}; rel=${rel#./}
    mkdir -p "$(dirname "$rel")"; cp "$p" "$rel"
    basename "$p" .ko >> etc/modules-load.d/fastboop-stage0.conf
  done < "$X/paths"
  cp "$X/root/lib/modules/$KV/modules.dep" "$X/root/lib/modules/$KV/modules.builtin" "lib/modules/$KV/"
  echo erofs > etc/stage0/stage0.rootfs; echo /dev/sda17 > etc/stage0/stage0.root_device
  echo 1048576 > etc/stage0/smoo.max_io_bytes
  cp "$W/init" init
  find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort | cpio -o -H newc --quiet > "$W/peer.cpio"
  cd "$W"
}
# Wall and CPU (user+sys, children included) per run, from bash's `time`.
TIMEFORMAT='%R %U %S'
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
: > "$W/t_ours"; : > "$W/t_peer"
for _ in $(seq "$RUNS"); do
  { time ours; } 2>> "$W/t_ours"
  { time peer; } 2>> "$W/t_peer"
done
OW=$(awk '{print $1}' "$W/t_ours" | median); OC=$(awk '{print $2+$3}' "$W/t_ours" | median)
PW=$(awk '{print $1}' "$W/t_peer" | median); PC=$(awk '{print $2+$3}' "$W/t_peer" | median)
# Same content: list both archives.
cmp <(cpio -it --quiet < "$W/ours.cpio" | grep -c .) <(cpio -it --quiet < "$W/peer.cpio" | grep -c .) >/dev/null \
  || echo "note: entry counts differ (ours $(cpio -it --quiet < "$W/ours.cpio" | wc -l), peer $(cpio -it --quiet < "$W/peer.cpio" | wc -l))" >&2
printf 'source:            %s\n' "$OURSRC"
awk -v ow="$OW" -v oc="$OC" -v pw="$PW" -v pc="$PC" -v n="$RUNS" 'BEGIN {
  printf "                     wall (s)   cpu (s)   median of %d\n", n
  printf "fastboop-stage0:   %8.3f  %8.3f\n", ow, oc
  printf "stock pipeline:    %8.3f  %8.3f   (fsck.erofs --extract + modprobe + cpio -o -H newc)\n", pw, pc
  printf "ratio (peer/ours): %8.2fx %8.2fx\n", pw / ow, pc / oc }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
