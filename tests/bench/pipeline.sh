#!/usr/bin/env bash
# Benchmark: random access into a pmOS-like published image over HTTP.
#
# Artifact: `xz -0 -T2` of an Android sparse image of a GPT disk (FAT "boot"
# made with mkfs.fat + mcopy, holding the Debian arm64 kernel; ext4 "root"
# holding its /lib/modules tree plus bulk from this host's /usr; >= 1 GiB
# expanded), served by lighttpd on 127.0.0.1. Two fixtures, both printed:
#   small: root = modules + /usr/bin in a 1.2 GB ext4 (214 MiB compressed);
#   full : root sized to its content like pmbootstrap does (content + 30%),
#          ~3.5 GB of modules + /usr/{bin,share} + /usr/lib/{x86_64-linux-gnu,
#          llvm-14,gcc}: the size class of a published pmOS image, which
#          landscape.md §4.4-4.5 anchors at ~900 MB compressed (fajita).
#   FASTBOOP_BENCH_PIPELINE_FIXTURES="small full" (default) picks them.
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
# The profile carries block-hash tables (issue 17), so every block "ours"
# fetches is checked; the same run without the tables (the profile cut
# before its FBBLKTB0 record) gives the bytes fetched only to verify, and the
# table's size is printed. FASTBOOP_BENCH_HASH_BLOCK_SIZE (bytes) sets the
# table's block size (default: the tool's, 64 KiB).
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
# build_fixture <cache dir> <ext4 size, or "fit"> <bulk source dirs...>
build_fixture() {
  local img=$1 size=$2; shift 2
  [ -f "$img/done" ] && return 0
  echo "building the benchmark image (once, cached in $img) ..." >&2
  rm -rf "$img" && mkdir -p "$img/stage/lib/modules" "$img/stage/usr"
  cp -a "$KT/lib/modules/$KV" "$img/stage/lib/modules/"
  local d
  for d in "$@"; do mkdir -p "$img/stage$(dirname "$d")" && cp -a "$d" "$img/stage$d"; done
  if [ "$size" = fit ]; then # sized to the content, as pmbootstrap does, with room for ext4's own
    size=$(( $(du -s -B1M "$img/stage" | cut -f1) * 130 / 100 ))M
  fi
  local mib=${size%M}
  (cd "$img" &&
    mke2fs -q -t ext4 -E root_owner=0:0 -d stage root.ext4 "$size" &&
    mkfs.fat -C -n BOOT boot.vfat $((128 * 1024)) >/dev/null &&
    mcopy -i boot.vfat "$KT/boot/vmlinuz-$KV" ::/vmlinuz &&
    mcopy -i boot.vfat "$KT/boot/config-$KV" "$KT/boot/System.map-$KV" ::/ &&
    truncate -s $(( mib + 200 ))M disk.img &&
    sgdisk -o -n1:2048:+128M -c1:boot -t1:ef00 -n2:0:+"$size" -c2:root disk.img >/dev/null &&
    dd if=boot.vfat of=disk.img bs=1M seek=1 conv=notrunc status=none &&
    dd if=root.ext4 of=disk.img bs=512 seek=$((2048 + 128 * 2048)) conv=notrunc status=none &&
    stat -c %s disk.img > expanded &&
    img2simg disk.img disk.simg &&
    xz -0 -T2 -k disk.simg &&
    rm -rf stage root.ext4 boot.vfat disk.simg disk.img)
  touch "$img/done"
}

cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; PID=; rm -rf "$WORK"; }
trap cleanup EXIT

# run_fixture <cache dir>
run_fixture() {
  IMG=$1
  WORK=$(mktemp -d)
  PID=
  mkdir -p "$WORK/www" "$WORK/ours" "$WORK/naive" "$WORK/cache" "$WORK/optcache"
  ln "$IMG/disk.simg.xz" "$WORK/www/disk.simg.xz" 2>/dev/null || cp "$IMG/disk.simg.xz" "$WORK/www/"
  PORT=$(( 20000 + RANDOM % 20000 ))
  # One server per phase, stopped before its log is read: lighttpd buffers the
  # access log and writes it out at shutdown at the latest, so a count taken
  # while it runs can miss the last requests (or, after truncating the log,
  # hand them to the next phase).
  start_server() {
    cat > "$WORK/lighttpd.conf" <<CONF
server.document-root = "$WORK/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.errorlog = "$WORK/error.log"
server.modules = ( "mod_accesslog" )
accesslog.filename = "$WORK/access-$1.log"
accesslog.format = "%b"
mimetype.assign = ( "" => "application/octet-stream" )
CONF
    lighttpd -D -f "$WORK/lighttpd.conf" & PID=$!
    for _ in $(seq 100); do curl -sf -o /dev/null -I "http://127.0.0.1:$PORT/disk.simg.xz" && break; sleep 0.1; done
  }
  stop_server() { kill "$PID" && wait "$PID" || true; PID=; }
  # Body bytes and requests of a phase's log, less the readiness probe (a HEAD, "-").
  served_bytes() { awk '{ if ($1 != "-") s += $1 } END { print s + 0 }' "$WORK/access-$1.log"; }
  served_requests() { grep -c -v '^-$' "$WORK/access-$1.log" || true; }
  URL=http://127.0.0.1:$PORT/disk.simg.xz
  COMPRESSED=$(stat -c %s "$IMG/disk.simg.xz")
  EXPANDED=$(cat "$IMG/expanded")

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
    --local-artifact "$IMG/disk.simg.xz" --cache-dir "$WORK/optcache" \
    ${FASTBOOP_BENCH_HASH_BLOCK_SIZE:+--hash-block-size "$FASTBOOP_BENCH_HASH_BLOCK_SIZE"}
  rm -rf "$WORK/optcache"
  TABLE_AT=$(grep -obUa FBBLKTB0 "$WORK/bench.fbp" | head -1 | cut -d: -f1)
  TABLE_BYTES=$(( $(stat -c %s "$WORK/bench.fbp") - TABLE_AT ))
  head -c "$TABLE_AT" "$WORK/bench.fbp" > "$WORK/bench-unverified.fbp"
  mkdir -p "$WORK/unverified" "$WORK/cache-unverified"
  start_server unverified
  XDG_CACHE_HOME=$WORK/cache-unverified "$BENCH" --profile "$WORK/bench-unverified.fbp" --files "$WORK/files.txt" \
    --out "$WORK/unverified" --digest-check when-complete > /dev/null 2>&1
  stop_server
  UNVERIFIED_BYTES=$(served_bytes unverified)
  start_server ours
  T0=$(now)
  XDG_CACHE_HOME=$WORK/cache "$BENCH" --profile "$WORK/bench.fbp" --files "$WORK/files.txt" --out "$WORK/ours" \
    > "$WORK/ours.log"
  T1=$(now)
  stop_server
  OURS_S=$(sed -n 's/^ours: extraction wall \([0-9.]*\) s.*/\1/p' "$WORK/ours.log")
  OURS_BYTES=$(served_bytes ours)
  OURS_REQ=$(served_requests ours)

  # --- naive ------------------------------------------------------------------
  start_server naive
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
  stop_server
  NAIVE_BYTES=$(served_bytes naive)

  # Same bytes out of both.
  cmp "$WORK/ours/vmlinuz" "$WORK/naive/vmlinuz"
  cmp "$WORK/ours/vmlinuz" "$KT/boot/vmlinuz-$KV"
  while read -r f; do cmp "$WORK/ours/$(basename "$f")" "$WORK/naive/$(basename "$f")"; done < "$WORK/files.txt"

  PAYLOAD=$(du -cb "$WORK"/ours/* | tail -1 | cut -f1)
  awk -v p="$PAYLOAD" -v o="$OURS_BYTES" 'BEGIN { printf "payload extracted: %.2f MiB (kernel + modules.dep + 20 modules); fetched/payload = %.2f\n", p / 2^20, o / p }'
  awk -v t="$TABLE_BYTES" -v o="$OURS_BYTES" -v u="$UNVERIFIED_BYTES" -v c="$COMPRESSED" 'BEGIN {
    printf "block-hash table: %.1f KiB (%.3f%% of compressed); fetched only to verify: %.2f MiB (unverified run fetched %.2f MiB = %.2f%%)\n", t / 1024, 100 * t / c, (o - u) / 2^20, u / 2^20, 100 * u / c
  }'
  awk -v c="$COMPRESSED" -v e="$EXPANDED" -v o="$OURS_BYTES" -v r="$OURS_REQ" -v n="$NAIVE_BYTES" \
      -v os="$OURS_S" -v ot="$T0" -v ot1="$T1" -v x="$T2" -v y="$T3" 'BEGIN {
    printf "artifact: %.1f MiB compressed (xz -0 -T2), %.2f GiB expanded\n", c / 2^20, e / 2^30
    printf "ours : fetched %.2f MiB in %d requests = %.2f%% of compressed, every block checked; extraction wall %.2f s (process %.2f s)\n", o / 2^20, r, 100 * o / c, os, ot1 - ot
    printf "naive: fetched %.2f MiB = %.1f%% of compressed; wall %.2f s\n", n / 2^20, 100 * n / c, y - x
    printf "speedup: %.1fx   (targets: <= 5%% fetched, >= 10x)\n", (y - x) / os
  }'
  cat "$WORK/ours.log"
  cleanup
}

for fixture in ${FASTBOOP_BENCH_PIPELINE_FIXTURES:-small full}; do
  case $fixture in
    small) build_fixture "$CACHE/bench-pipeline-v4-small" 1200M /usr/bin ;;
    full)  build_fixture "$CACHE/bench-pipeline-v4-full" fit /usr/bin /usr/share /usr/lib/x86_64-linux-gnu \
             /usr/lib/llvm-14 /usr/lib/gcc ;;
    *) echo "unknown fixture '$fixture' (small, full)" >&2; exit 2 ;;
  esac
  echo "=== fixture: $fixture"
  run_fixture "$CACHE/bench-pipeline-v4-$fixture"
done
