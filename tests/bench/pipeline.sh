#!/usr/bin/env bash
# Benchmark: random access into a pmOS-like published image over HTTP.
#
# Artifact: `xz -0 -T2` of an Android sparse image of a GPT disk (FAT "boot"
# made with mkfs.fat + mcopy, holding the Debian arm64 kernel; ext4 "root"
# with its /lib/modules tree plus /usr/bin as bulk; >= 1 GiB expanded),
# served by lighttpd on 127.0.0.1.
# Task: extract the kernel, modules.dep and twenty modules.
#   ours : a Boot Profile (rootfs ext4 + kernel on the FAT boot partition,
#          both gpt <- android_sparseimg <- xz <- http) compiled with
#          `fastboop-profile compile --optimize` (FBPHINT0 appended; not
#          timed), opened the way fastboop-stage0 opens it (stage0::open_source:
#          http range reads -> xz blocks -> sparse via the hint -> gpt -> FAT /
#          ext4), driven by build/<preset>/bin/pipeline_bench.
#   naive: download everything (curl), xz -dc, simg2img, mcopy + debugfs dump.
# Prints bytes fetched as a share of the compressed size and the wall-time
# ratio, both measured in this run. Not a pass/fail test.
#
# Usage: tests/bench/pipeline.sh [build-dir]   (default: build/default)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build/default}
BENCH=$BUILD/bin/pipeline_bench
[ -x "$BENCH" ] || { echo "build the pipeline_bench target first ($BENCH missing)" >&2; exit 1; }
PROFILE_TOOL=$BUILD/bin/fastboop-profile
[ -x "$PROFILE_TOOL" ] || { echo "build the fastboop-profile target first ($PROFILE_TOOL missing)" >&2; exit 1; }
for p in lighttpd curl xz img2simg simg2img sgdisk mke2fs debugfs mkfs.fat mcopy; do
  command -v $p >/dev/null || { echo "missing $p" >&2; exit 1; }
done
CACHE=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}
eval "$("$SRC/tests/data/fetch-debian-kernel.sh")"
KV=$FASTBOOP_KVER
KT=$FASTBOOP_KPKG_DIR
IMG=$CACHE/bench-pipeline-v3

if [ ! -f "$IMG/done" ]; then
  echo "building the benchmark image (once, cached in $IMG) ..." >&2
  rm -rf "$IMG" && mkdir -p "$IMG/stage/lib/modules" "$IMG/stage/usr"
  cp -a "$KT/lib/modules/$KV" "$IMG/stage/lib/modules/"
  cp -a /usr/bin "$IMG/stage/usr/bin"
  (cd "$IMG" &&
    mke2fs -q -t ext4 -E root_owner=0:0 -d stage root.ext4 1200M &&
    mkfs.fat -C -n BOOT boot.vfat $((128 * 1024)) >/dev/null &&
    mcopy -i boot.vfat "$KT/boot/vmlinuz-$KV" ::/vmlinuz &&
    mcopy -i boot.vfat "$KT/boot/config-$KV" "$KT/boot/System.map-$KV" ::/ &&
    truncate -s 1400M disk.img &&
    sgdisk -o -n1:2048:+128M -c1:boot -t1:ef00 -n2:0:+1200M -c2:root disk.img >/dev/null &&
    dd if=boot.vfat of=disk.img bs=1M seek=1 conv=notrunc status=none &&
    dd if=root.ext4 of=disk.img bs=512 seek=$((2048 + 128 * 2048)) conv=notrunc status=none &&
    img2simg disk.img disk.simg &&
    xz -0 -T2 -k disk.simg &&
    rm -rf stage root.ext4 boot.vfat disk.simg)
  touch "$IMG/done"
fi

WORK=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/www" "$WORK/ours" "$WORK/naive" "$WORK/cache" "$WORK/optcache"
ln "$IMG/disk.simg.xz" "$WORK/www/disk.simg.xz" 2>/dev/null || cp "$IMG/disk.simg.xz" "$WORK/www/"
PORT=$(( 20000 + RANDOM % 20000 ))
cat > "$WORK/lighttpd.conf" <<CONF
server.document-root = "$WORK/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.errorlog = "$WORK/error.log"
server.modules = ( "mod_accesslog" )
accesslog.filename = "$WORK/access.log"
accesslog.format = "%b"
mimetype.assign = ( "" => "application/octet-stream" )
CONF
lighttpd -D -f "$WORK/lighttpd.conf" & PID=$!
for _ in $(seq 100); do curl -sf -o /dev/null -I "http://127.0.0.1:$PORT/disk.simg.xz" && break; sleep 0.1; done
: > "$WORK/access.log"
URL=http://127.0.0.1:$PORT/disk.simg.xz
COMPRESSED=$(stat -c %s "$IMG/disk.simg.xz")
EXPANDED=$(stat -c %s "$IMG/disk.img")

# Files: modules.dep and twenty modules spread over the tree (deterministic).
MODDIR=/lib/modules/$KV
(cd "$KT" && find "lib/modules/$KV/kernel" -name '*.ko*' | LC_ALL=C sort | awk 'NR % 180 == 1' | head -20 | sed 's|^|/|') > "$WORK/modules.txt"
{ echo "$MODDIR/modules.dep"; cat "$WORK/modules.txt"; } > "$WORK/files.txt"

now() { date +%s.%N; }

# --- ours -------------------------------------------------------------------
# The Boot Profile a distro would publish; its hints are collected from the
# local copy (--local-artifact stands in for the http leaf: nothing fetched).
DIGEST=sha512:$(sha512sum "$IMG/disk.simg.xz" | cut -d' ' -f1)
{
  echo "id: bench"
  printf 'rootfs:\n  ext4:\n    gpt:\n      partlabel: root\n      android_sparseimg:\n        xz:\n'
  printf '          http: %s\n          content: {digest: "%s", size_bytes: %s}\n' "$URL" "$DIGEST" "$COMPRESSED"
  printf 'kernel:\n  path: /vmlinuz\n  fat:\n    gpt:\n      partlabel: boot\n      android_sparseimg:\n        xz:\n'
  printf '          http: %s\n          content: {digest: "%s", size_bytes: %s}\n' "$URL" "$DIGEST" "$COMPRESSED"
} > "$WORK/bench.yaml"
echo "compiling the Boot Profile with --optimize (hints from the local copy; not timed) ..." >&2
"$PROFILE_TOOL" compile "$WORK/bench.yaml" -o "$WORK/bench.fbp" --optimize \
  --local-artifact "$IMG/disk.simg.xz" --cache-dir "$WORK/optcache"
rm -rf "$WORK/optcache"
: > "$WORK/access.log"
T0=$(now)
XDG_CACHE_HOME=$WORK/cache "$BENCH" --profile "$WORK/bench.fbp" --files "$WORK/files.txt" --out "$WORK/ours" \
  > "$WORK/ours.log"
T1=$(now)
sleep 3 # lighttpd buffers its access log; let it flush before counting
OURS_S=$(sed -n 's/^ours: extraction wall \([0-9.]*\) s.*/\1/p' "$WORK/ours.log")
OURS_BYTES=$(awk '{ if ($1 != "-") s += $1 } END { print s + 0 }' "$WORK/access.log")
OURS_REQ=$(wc -l < "$WORK/access.log")
: > "$WORK/access.log"

# --- naive ------------------------------------------------------------------
T2=$(now)
(cd "$WORK/naive" &&
  curl -sf -o disk.simg.xz "$URL" &&
  xz -dc disk.simg.xz > disk.simg && rm disk.simg.xz &&
  simg2img disk.simg disk.img && rm disk.simg &&
  mcopy -i "disk.img@@$((2048 * 512))" ::/vmlinuz vmlinuz &&
  OFF=$(( (2048 + 128 * 2048) * 512 )) &&
  { while read -r f; do echo "dump $f $(basename "$f")"; done < "$WORK/files.txt"; } > cmds &&
  debugfs -f cmds "disk.img?offset=$OFF" >/dev/null 2>&1)
T3=$(now)
sleep 3
NAIVE_BYTES=$(awk '{ if ($1 != "-") s += $1 } END { print s + 0 }' "$WORK/access.log")

# Same bytes out of both.
cmp "$WORK/ours/vmlinuz" "$WORK/naive/vmlinuz"
cmp "$WORK/ours/vmlinuz" "$KT/boot/vmlinuz-$KV"
while read -r f; do cmp "$WORK/ours/$(basename "$f")" "$WORK/naive/$(basename "$f")"; done < "$WORK/files.txt"

PAYLOAD=$(du -cb "$WORK"/ours/* | tail -1 | cut -f1)
awk -v p="$PAYLOAD" -v o="$OURS_BYTES" 'BEGIN { printf "payload extracted: %.2f MiB (kernel + modules.dep + 20 modules); fetched/payload = %.2f\n", p / 2^20, o / p }'
awk -v c="$COMPRESSED" -v e="$EXPANDED" -v o="$OURS_BYTES" -v r="$OURS_REQ" -v n="$NAIVE_BYTES" \
    -v os="$OURS_S" -v ot="$T0" -v ot1="$T1" -v x="$T2" -v y="$T3" 'BEGIN {
  printf "artifact: %.1f MiB compressed (xz -0 -T2), %.2f GiB expanded\n", c / 2^20, e / 2^30
  printf "ours : fetched %.2f MiB in %d requests = %.2f%% of compressed; extraction wall %.2f s (process %.2f s)\n", o / 2^20, r, 100 * o / c, os, ot1 - ot
  printf "naive: fetched %.2f MiB = %.1f%% of compressed; wall %.2f s\n", n / 2^20, 100 * n / c, y - x
  printf "speedup: %.1fx   (targets: <= 5%% fetched, >= 10x)\n", (y - x) / os
}'
cat "$WORK/ours.log"
