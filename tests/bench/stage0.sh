#!/usr/bin/env bash
# Benchmark: stage0 initramfs for oneplus-fajita from images of the Debian
# arm64 kernel package, fastboop-stage0 against a stock-tool pipeline doing
# the same job in the same run, on two images:
#
#  * EROFS (the issue's case). Stock: fsck.erofs --extract, then the module
#    closure with modprobe --show-depends, settings files, cpio -o -H newc.
#    erofs-utils 1.5 (Debian 12) can only extract the whole image; there is
#    no per-path extraction (no --cat / erofsfuse), so that is what it does.
#  * ext4. Stock: debugfs dumps only the needed files: first the module
#    index files, then modprobe --show-depends on them and the closure's
#    files, repeated until the closure stops growing (soft dependencies live
#    in each module's .modinfo).
#
# Both archives' entry lists are compared and a difference fails the run;
# so does a fastboop-stage0 that cannot read the image itself (no fallback to
# the unpacked tree). Prints the median of RUNS runs each, the ratios and a
# verdict against the targets: >= 3x faster than the stock pipeline and
# <= 0.3 s wall. Missing a target is reported, not an error exit.
#
# Usage: tests/bench/stage0.sh [BUILD_DIR] [RUNS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$SRC/build/default}" && pwd)
RUNS=${2:-5}
TOOL=$BUILD/bin/fastboop-stage0
[ -x "$TOOL" ] || { echo "build fastboop-stage0 first ($TOOL)" >&2; exit 1; }
for p in mkfs.erofs fsck.erofs mke2fs debugfs modprobe cpio; do
  command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }
done
eval "$("$SRC/tests/data/fetch-debian-kernel.sh")"
KV=$FASTBOOP_KVER
TREE=$FASTBOOP_KPKG_DIR
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkfs.erofs --quiet -zlz4hc -T0 --all-root "$W/rootfs.erofs" "$TREE" >/dev/null
SZ=$(( $(du -sm "$TREE" | cut -f1) * 3 / 2 + 64 ))
mke2fs -q -F -t ext4 -d "$TREE" -E root_owner=0:0 "$W/rootfs.ext4" "${SZ}M" >/dev/null
# A stand-in PID1 for aarch64 (the payload is opaque to both sides).
printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\002\000\267\000' > "$W/init"
truncate -s 65536 "$W/init"
MODS="overlay erofs"

ours() { # IMAGE OUT
  "$TOOL" build "$1" --device-profile oneplus-fajita --root-device /dev/sda17 --rootfs-type erofs \
    --stage0-init "$W/init" -o - > "$2"
}

# The stage directory from a (partial) root holding the module index and
# every module of the closure; $X/paths lists the closure.
stage() { # ROOT OUT
  local root=$1 st=$X/stage
  mkdir -p "$st" && cd "$st"
  mkdir -p dev proc sys run etc/stage0 etc/modules-load.d "lib/modules/$KV"
  while read -r p; do
    rel=${p#"$root/"}; rel=${rel#./}
    mkdir -p "$(dirname "$rel")"; cp "$p" "$rel"
    basename "$p" .ko >> etc/modules-load.d/fastboop-stage0.conf
  done < "$X/paths"
  cp "$root/lib/modules/$KV/modules.dep" "$root/lib/modules/$KV/modules.builtin" "lib/modules/$KV/"
  echo erofs > etc/stage0/stage0.rootfs; echo /dev/sda17 > etc/stage0/stage0.root_device
  echo 1048576 > etc/stage0/smoo.max_io_bytes
  cp "$W/init" init
  find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort | cpio -o -H newc --quiet > "$2"
  cd "$W"
}
closure() { # ROOT; also lists in $X/missing the dependency files kmod found absent
  for m in $MODS; do
    modprobe --show-depends -d "$1" -S "$KV" "$m" 2>>"$X/kmod.err" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' > "$X/paths"
  sed -n 's/.* path=\([^ ]*\) error=No such file.*/\1/p' "$X/kmod.err" 2>/dev/null | sort -u > "$X/missing"
  : > "$X/kmod.err"
}

peer_erofs() { # OUT
  X=$W/peer; rm -rf "$X"; mkdir -p "$X/root"
  fsck.erofs --extract="$X/root" "$W/rootfs.erofs" >/dev/null
  closure "$X/root"
  stage "$X/root" "$1"
}

peer_ext4() { # OUT
  X=$W/peer; rm -rf "$X"; mkdir -p "$X/root/lib/modules/$KV"
  local m=/lib/modules/$KV
  # 1. Only the module index files kmod needs.
  for f in modules.dep modules.dep.bin modules.softdep modules.builtin modules.builtin.bin \
           modules.alias.bin modules.symbols.bin; do
    echo "dump -p $m/$f $X/root$m/$f"
  done > "$X/index.cmds"
  debugfs -f "$X/index.cmds" "$W/rootfs.ext4" >/dev/null 2>&1
  # 2. The closure against the partial root, then only those module files.
  # kmod drops a dependency whose file is absent (naming it on stderr) and
  # reads soft dependencies from each module's own .modinfo, so repeat until
  # the closure stops growing.
  : > "$X/have"
  for _ in 1 2 3 4 5 6 7 8; do
    closure "$X/root"
    LC_ALL=C sort -u "$X/paths" "$X/missing" | comm -23 - "$X/have" > "$X/new"
    [ -s "$X/new" ] || break
    while read -r p; do
      mkdir -p "$(dirname "$p")"
      echo "dump -p ${p#"$X/root"} $p"
    done < "$X/new" > "$X/mods.cmds"
    debugfs -f "$X/mods.cmds" "$W/rootfs.ext4" >/dev/null 2>&1
    LC_ALL=C sort -u "$X/have" "$X/new" -o "$X/have"
  done
  stage "$X/root" "$1"
}

TIMEFORMAT='%R %U %S' # wall, user, sys (children included)
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
FAIL=0
bench() { # NAME IMAGE PEERFN PEERDESC
  local name=$1 img=$2 peerfn=$3 desc=$4
  # Our side must read the image itself: no fallback to the unpacked tree.
  if ! "$TOOL" inspect "$img" >/dev/null 2>"$W/inspect.err"; then
    echo "$name: fastboop-stage0 cannot read $img: $(cat "$W/inspect.err")" >&2
    FAIL=1; return
  fi
  : > "$W/t_ours"; : > "$W/t_peer"
  for _ in $(seq "$RUNS"); do
    { time ours "$img" "$W/ours.cpio"; } 2>> "$W/t_ours"
    { time $peerfn "$W/peer.cpio"; } 2>> "$W/t_peer"
  done
  # The same entries on both sides, or the comparison means nothing.
  if ! diff <(cpio -it --quiet < "$W/ours.cpio" | LC_ALL=C sort) \
            <(cpio -it --quiet < "$W/peer.cpio" | LC_ALL=C sort) > "$W/entries.diff"; then
    echo "$name: the archives' entry lists differ (< ours, > stock):" >&2
    cat "$W/entries.diff" >&2
    FAIL=1; return
  fi
  local n; n=$(cpio -it --quiet < "$W/ours.cpio" | wc -l)
  local ow oc pw pc
  ow=$(awk '{print $1}' "$W/t_ours" | median); oc=$(awk '{print $2+$3}' "$W/t_ours" | median)
  pw=$(awk '{print $1}' "$W/t_peer" | median); pc=$(awk '{print $2+$3}' "$W/t_peer" | median)
  awk -v name="$name" -v ow="$ow" -v oc="$oc" -v pw="$pw" -v pc="$pc" -v runs="$RUNS" -v n="$n" \
      -v desc="$desc" 'BEGIN {
    printf "%s image (%d identical entries), median of %d runs\n", name, n, runs
    printf "                     wall (s)   cpu (s)\n"
    printf "  fastboop-stage0: %8.3f  %8.3f\n", ow, oc
    printf "  stock pipeline:  %8.3f  %8.3f   (%s)\n", pw, pc, desc
    ratio = pw / ow
    printf "  ratio (stock/ours): %6.2fx wall %6.2fx cpu\n", ratio, pc / oc
    printf "  verdict: speed-up %s (%.2fx vs >= 3x), wall %s (%.3f s vs <= 0.3 s)\n",
           (ratio >= 3 ? "MET" : "MISSED"), ratio, (ow <= 0.3 ? "MET" : "MISSED"), ow }'
}
bench erofs "$W/rootfs.erofs" peer_erofs "fsck.erofs --extract (whole image) + modprobe + cpio -o -H newc"
bench ext4 "$W/rootfs.ext4" peer_ext4 "debugfs dump of the needed files only + modprobe + cpio -o -H newc"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (cores: $(nproc))"
exit $FAIL
