#!/usr/bin/env bash
# Fetch Debian's current linux-image-*-amd64 package for the dummy_hcd USB
# test (an x86-64 guest, so the host-built fastboop-push runs in it), unpack
# it and run depmod on the tree. Cached: a second call touches no network.
#
# Usage: fetch-amd64-kernel.sh  -> prints FASTBOOP_KPKG_DIR=<tree> and FASTBOOP_KVER=<version>
# Cache root: $FASTBOOP_TEST_CACHE, default ~/.cache/fastboop-test.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # modprobe, depmod
CACHE=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}
D=$CACHE/debian-kernel-amd64
mkdir -p "$D"
exec 9>"$D/.lock"
flock 9   # tests run in parallel; one fetch at a time

if [ ! -f "$D/done" ]; then
  A="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$D/lists -oDir::Cache=$D/apt-cache"
  mkdir -p "$D/lists/partial" "$D/apt-cache/archives/partial"
  apt-get $A update >/dev/null
  KPKG=$(apt-cache $A depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$KPKG" ] || { echo "fetch-amd64-kernel: cannot resolve linux-image-amd64" >&2; exit 1; }
  (cd "$D" && rm -f ./*.deb && apt-get $A download "$KPKG" >/dev/null 2>&1)
  rm -rf "$D/tree.tmp"
  dpkg -x "$D"/"${KPKG}"_*_amd64.deb "$D/tree.tmp"
  KV=${KPKG#linux-image-}
  depmod -b "$D/tree.tmp" "$KV"
  rm -rf "$D/tree" && mv "$D/tree.tmp" "$D/tree"
  echo "$KV" > "$D/kver"
  touch "$D/done"
fi
echo "FASTBOOP_KPKG_DIR=$D/tree"
echo "FASTBOOP_KVER=$(cat "$D/kver")"
