#!/usr/bin/env bash
# Rootfs images for the stage0 image tests, built from the real Debian arm64
# kernel package with the real tools, cached by kernel version and this
# script. A pruned copy of the package (boot/, the module index, the module
# subtrees stage0 needs, the qcom DTBs) keeps them small.
# Usage: make-images.sh -> prints STAGE0_IMAGES=<dir>; the dir holds
#   tree/ root.ext4 root.erofs split-root.ext4 boot.vfat kver
set -euo pipefail
eval "$("$(dirname "$0")/../data/fetch-debian-kernel.sh")"
KEY=$( { echo "$FASTBOOP_KVER"; cat "$0"; } | sha256sum | cut -c1-16)
D=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}/stage0-images-$KEY
mkdir -p "$D"
exec 9>"$D/.lock"
flock 9
if [ ! -f "$D/done" ]; then
  KV=$FASTBOOP_KVER
  S=$FASTBOOP_KPKG_DIR
  T=$D/tree.tmp
  rm -rf "$T" && mkdir -p "$T/lib/modules/$KV/kernel" "$T/usr/lib/linux-image-$KV"
  cp -a "$S/boot" "$T/"
  cp -a "$S/lib/modules/$KV"/modules.* "$T/lib/modules/$KV/"
  for sub in fs lib crypto arch drivers/usb drivers/phy drivers/block; do
    mkdir -p "$T/lib/modules/$KV/kernel/$(dirname $sub)"
    cp -a "$S/lib/modules/$KV/kernel/$sub" "$T/lib/modules/$KV/kernel/$sub"
  done
  cp -a "$S/usr/lib/linux-image-$KV/qcom" "$T/usr/lib/linux-image-$KV/"
  find "$T" -exec touch -h -d @0 {} +
  rm -rf "$D/tree" && mv "$T" "$D/tree"
  SZ=$(( $(du -sm "$D/tree" | cut -f1) * 3 / 2 + 32 ))
  mke2fs -q -F -t ext4 -d "$D/tree" -E root_owner=0:0 -U 6f6f6f6f-0000-4000-8000-000000000002 \
    "$D/root.ext4" "${SZ}M" >/dev/null
  mkfs.erofs --quiet -zlz4hc -T0 --all-root "$D/root.erofs" "$D/tree" >/dev/null
  # Split layout: kernel and DTBs on a FAT boot partition, the rest on ext4.
  R=$D/split.tmp; rm -rf "$R" && cp -a "$D/tree" "$R"
  rm -rf "$R/boot" "$R/usr/lib/linux-image-$KV"
  mke2fs -q -F -t ext4 -d "$R" -E root_owner=0:0 "$D/split-root.ext4" "${SZ}M" >/dev/null
  rm -rf "$R"
  BSZ=$(( $(du -sm "$D/tree/boot" | cut -f1) + 16 ))
  rm -f "$D/boot.vfat"
  mkfs.fat -C -n BOOT "$D/boot.vfat" $(( BSZ * 1024 )) >/dev/null
  mcopy -i "$D/boot.vfat" "$D/tree/boot/vmlinuz-$KV" ::/vmlinuz
  mmd -i "$D/boot.vfat" ::/dtbs ::/dtbs/qcom
  mcopy -i "$D/boot.vfat" "$D/tree/usr/lib/linux-image-$KV/qcom/sdm845-oneplus-fajita.dtb" \
    "$D/tree/usr/lib/linux-image-$KV/qcom/apq8016-sbc.dtb" ::/dtbs/qcom/
  echo "$KV" > "$D/kver"
  touch "$D/done"
fi
echo "STAGE0_IMAGES=$D"
