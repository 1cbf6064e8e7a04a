#!/usr/bin/env bash
# Fetch Debian's current linux-image-<arch> package (real distro data for the
# stage0, PID1, USB and end-to-end tests), unpack it and run depmod on the tree.
# Cached: a second call prints the cached result without touching the network.
#
# Usage: fetch-debian-kernel.sh [arm64|amd64]   (default arm64) -> prints KEY=VALUE lines:
#   FASTBOOP_KPKG_DIR=<unpacked tree>  FASTBOOP_KVER=<kernel version>  FASTBOOP_KDEB=<.deb path>
# Cache root: $FASTBOOP_TEST_CACHE, default ~/.cache/fastboop-test.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # depmod
ARCH=${1:-arm64}
case $ARCH in arm64|amd64) ;; *) echo "fetch-debian-kernel: unsupported architecture '$ARCH'" >&2; exit 2;; esac
CACHE=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}
D=$CACHE/debian-kernel-$ARCH
mkdir -p "$D"
exec 9>"$D/.lock"
flock 9   # tests run in parallel; one fetch at a time

if [ ! -f "$D/done" ]; then
  A="-oAPT::Architecture=$ARCH -oAPT::Architectures=$ARCH -oDir::State::Lists=$D/lists -oDir::Cache=$D/apt-cache"
  mkdir -p "$D/lists/partial" "$D/apt-cache/archives/partial"
  apt-get $A update >/dev/null
  KPKG=$(apt-cache $A depends "linux-image-$ARCH" | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$KPKG" ] || { echo "fetch-debian-kernel: cannot resolve linux-image-$ARCH" >&2; exit 1; }
  (cd "$D" && rm -f ./*.deb && apt-get $A download "$KPKG" >/dev/null 2>&1)
  rm -rf "$D/tree.tmp"
  dpkg -x "$D"/"${KPKG}"_*_"$ARCH".deb "$D/tree.tmp"
  KV=${KPKG#linux-image-}
  depmod -b "$D/tree.tmp" "$KV"
  rm -rf "$D/tree" && mv "$D/tree.tmp" "$D/tree"
  echo "$KV" > "$D/kver"
  ls "$D"/*.deb > "$D/deb"
  touch "$D/done"
fi
[ -f "$D/deb" ] || ls "$D"/*.deb > "$D/deb" # caches from before the deb record
echo "FASTBOOP_KPKG_DIR=$D/tree"
echo "FASTBOOP_KVER=$(cat "$D/kver")"
echo "FASTBOOP_KDEB=$(cat "$D/deb")"
