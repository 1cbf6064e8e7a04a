#!/usr/bin/env bash
# A Debian-live-style ISO of the example rootfs (issue 21): the same tree as
# examples/rootfs/make-rootfs.sh (Debian's linux-image-arm64 package plus the
# static /sbin/init) packed by mksquashfs as live/filesystem.squashfs, with the
# kernel as live/vmlinuz and an initrd as live/initrd.img beside it, as
# live-build lays them out, made into an ISO by xorriso.
# Usage: make-live-iso.sh OUTPUT.iso      (prints the kernel version)
# Cached by kernel package and by this script + init.c under
# $FASTBOOP_TEST_CACHE/live-iso (default ~/.cache/fastboop-test).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
OUT=$1
eval "$("$SRC/tests/data/fetch-debian-kernel.sh")"
for t in aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu mksquashfs:squashfs-tools xorriso:xorriso cpio:cpio; do
  command -v "${t%%:*}" >/dev/null || { echo "make-live-iso: ${t%%:*} missing (apt-get install ${t#*:})" >&2; exit 1; }
done
INIT_C=$SRC/examples/rootfs/init.c
KEY=$( { cat "$FASTBOOP_KDEB.sha512" 2>/dev/null || sha512sum "$FASTBOOP_KDEB"; cat "$0" "$INIT_C"; } | sha512sum | cut -c1-32)
CACHE=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}/live-iso
CACHED=$CACHE/$KEY.iso
mkdir -p "$CACHE"
exec 8>"$CACHE/.lock"
flock 8 # parallel runs build it once
if [ ! -f "$CACHED" ]; then
  T=$(mktemp -d "$CACHE/tmp.XXXXXX"); trap 'rm -rf "$T"' EXIT
  mkdir -p "$T/tree" "$T/iso/live"
  cp -a "$FASTBOOP_KPKG_DIR/." "$T/tree/"
  rm -rf "$T/tree/usr/share/doc"
  mkdir -p "$T/tree"/{sbin,proc,sys,dev,run,tmp,etc}
  aarch64-linux-gnu-gcc -static -Os -o "$T/tree/sbin/init" "$INIT_C"
  aarch64-linux-gnu-strip "$T/tree/sbin/init"
  printf 'fastboop-example-live\n' > "$T/tree/etc/hostname"
  # The kernel beside the root image, as live-build puts it; stage0 takes it
  # from there. The distro's own initrd is never used by stage0: a small
  # stand-in keeps the layout honest.
  cp "$T/tree/boot/vmlinuz-$FASTBOOP_KVER" "$T/iso/live/vmlinuz"
  (cd "$T/tree" && printf 'etc/hostname\n' | cpio -o -H newc --quiet) | gzip -n > "$T/iso/live/initrd.img"
  # gzip: what every squashfs-enabled kernel reads, and quick to make.
  mksquashfs "$T/tree" "$T/iso/live/filesystem.squashfs" -comp gzip -noappend -no-progress -quiet \
    -all-root -mkfs-time 0 -all-time 0 -no-xattrs >/dev/null
  find "$T/iso" -exec touch -h -d @0 {} +
  xorriso -as mkisofs -quiet -R -J -V FASTBOOP_LIVE -o "$T/live.iso" "$T/iso" 2>/dev/null
  mv "$T/live.iso" "$CACHED"
fi
cp "$CACHED" "$OUT.tmp.$$" && mv "$OUT.tmp.$$" "$OUT"
echo "$FASTBOOP_KVER"
