#!/usr/bin/env bash
# Build the bundled example rootfs from real distro data: Debian's
# linux-image-*-arm64 package (kernel, modules, DTBs; fetched with apt-get into
# the cache) plus a tiny static /sbin/init, packed as a reproducible EROFS image.
# Usage: make-rootfs.sh OUTPUT.erofs      (prints the kernel version)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
eval "$("$HERE/../../tests/data/fetch-debian-kernel.sh")"
command -v aarch64-linux-gnu-gcc >/dev/null || { echo "make-rootfs: aarch64-linux-gnu-gcc missing (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross)" >&2; exit 1; }
command -v mkfs.erofs >/dev/null || { echo "make-rootfs: mkfs.erofs missing (apt-get install erofs-utils)" >&2; exit 1; }
# Cached by kernel package and by this script + init.c, so fresh build trees reuse it.
KEY=$( { cat "$FASTBOOP_KDEB.sha512" 2>/dev/null || sha512sum "$FASTBOOP_KDEB"; cat "$0" "$HERE/init.c"; } | sha512sum | cut -c1-32)
CACHED=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}/example-rootfs/$KEY.erofs
if [ -f "$CACHED" ]; then
  cp "$CACHED" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
  echo "$FASTBOOP_KVER"
  exit 0
fi
T=$(mktemp -d "${OUT}.tmp.XXXXXX"); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/tree"
cp -a "$FASTBOOP_KPKG_DIR/." "$T/tree/"
rm -rf "$T/tree/usr/share/doc"
mkdir -p "$T/tree"/{sbin,proc,sys,dev,run,tmp,etc}
aarch64-linux-gnu-gcc -static -Os -o "$T/tree/sbin/init" "$HERE/init.c"
aarch64-linux-gnu-strip "$T/tree/sbin/init"
printf 'fastboop-example\n' > "$T/tree/etc/hostname"
# Reproducible: fixed timestamps, owners and UUID.
find "$T/tree" -exec touch -h -d @0 {} +
mkfs.erofs --quiet -zlz4hc -T0 --all-root -U 6f6f6f6f-0000-4000-8000-000000000001 "$T/rootfs.erofs" "$T/tree" >/dev/null
mkdir -p "$(dirname "$CACHED")"
cp "$T/rootfs.erofs" "$CACHED.tmp.$$" && mv "$CACHED.tmp.$$" "$CACHED"
mv "$T/rootfs.erofs" "$OUT"
echo "$FASTBOOP_KVER"
