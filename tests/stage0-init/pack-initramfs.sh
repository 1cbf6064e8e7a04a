#!/bin/sh
# Pack a staged initramfs tree into an uncompressed newc cpio, the way
# fastboop-stage0 lays out its archive (sorted names, owner 0:0). Used by the
# stage0-init QEMU test until fastboop-stage0 can build the initramfs itself.
# Usage: pack-initramfs.sh STAGING_DIR OUTPUT.cpio
set -eu
[ $# -eq 2 ] || { echo "usage: $0 STAGING_DIR OUTPUT.cpio" >&2; exit 2; }
staging=$1
out=$2
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
(cd "$staging" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$tmp"
mv "$tmp" "$out"
trap - EXIT
