#!/bin/bash
# Build U-Boot for QEMU's arm64 "virt" machine with fastboot over UDP, from
# Debian's u-boot source package, and print the path of u-boot.bin.
# Cached under ${FASTBOOP_TEST_CACHE:-~/.cache/fastboop-test}/uboot/<source
# version>-<config hash>/; a second call only prints the path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
config=$here/uboot-fastboot.config
CACHE=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}/uboot
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9

# A private deb-src list: the system's apt configuration is left alone.
src=$CACHE/apt
mkdir -p "$src/lists/partial" "$src/parts"
sources=$(ls /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 || true)
if [ -n "$sources" ]; then
  sed 's/^Types: deb$/Types: deb-src/' "$sources" > "$src/parts/src.sources"
else
  grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > "$src/parts/src.list"
fi
S=(-oDir::State::Lists="$src/lists" -oDir::Etc::SourceList=/dev/null -oDir::Etc::SourceParts="$src/parts")
if [ ! -f "$src/updated" ]; then
  apt-get "${S[@]}" update >/dev/null
  touch "$src/updated"
fi
version=$(apt-cache "${S[@]}" showsrc u-boot | awk '/^Version:/{print $2; exit}')
[ -n "$version" ] || { echo "build-uboot: cannot find the u-boot source package" >&2; exit 1; }
key=$version-$(sha256sum "$config" | cut -c1-16)
out=$CACHE/$key
if [ ! -f "$out/u-boot.bin" ]; then
  work=$CACHE/work-$key
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && apt-get "${S[@]}" source --download-only "u-boot=$version" >/dev/null 2>&1)
  (cd "$work" && dpkg-source -x u-boot_*.dsc src >/dev/null 2>&1)
  B=$work/build
  (
    cd "$work/src"
    make O="$B" CROSS_COMPILE=aarch64-linux-gnu- qemu_arm64_defconfig >/dev/null
    scripts/kconfig/merge_config.sh -m -O "$B" "$B/.config" "$config" >/dev/null
    make O="$B" CROSS_COMPILE=aarch64-linux-gnu- olddefconfig >/dev/null
    make O="$B" CROSS_COMPILE=aarch64-linux-gnu- -j"$(nproc)" u-boot.bin >"$work/build.log" 2>&1 ||
      { tail -30 "$work/build.log" >&2; exit 1; }
  )
  mkdir -p "$out.tmp"
  cp "$B/u-boot.bin" "$out.tmp/u-boot.bin"
  rm -rf "$out" && mv "$out.tmp" "$out"
  rm -rf "$work"
fi
echo "$out/u-boot.bin"
