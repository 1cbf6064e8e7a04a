#!/usr/bin/env bash
# Fetch Debian's current linux-image-<arch> package (real distro data for the
# stage0, PID1, USB and end-to-end tests), unpack it and run depmod on the tree.
# Cached: a second call prints the cached result without touching the network.
#
# Usage: fetch-debian-kernel.sh [arm64|amd64] [SUITE]   (default arm64) -> prints KEY=VALUE lines:
#   FASTBOOP_KPKG_DIR=<unpacked tree>  FASTBOOP_KVER=<kernel version>  FASTBOOP_KDEB=<.deb path>
# Without SUITE the package comes from the machine's own apt sources (bookworm:
# 6.1). With SUITE (e.g. trixie: 6.12, the first Debian kernel with
# CONFIG_BLK_DEV_UBLK, which the smoo tests need) a private sources list names
# that suite of the same Debian mirror the machine's sources name, with its own
# lists directory: the machine's apt state is never touched.
# Cache root: $FASTBOOP_TEST_CACHE, default ~/.cache/fastboop-test.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # depmod
ARCH=${1:-arm64}
SUITE=${2:-}
case $ARCH in arm64|amd64) ;; *) echo "fetch-debian-kernel: unsupported architecture '$ARCH'" >&2; exit 2;; esac
case $SUITE in ''|[a-z]*) ;; *) echo "fetch-debian-kernel: bad suite name '$SUITE'" >&2; exit 2;; esac
CACHE=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}
D=$CACHE/debian-kernel-${SUITE:+$SUITE-}$ARCH
mkdir -p "$D"
exec 9>"$D/.lock"
flock 9   # tests run in parallel; one fetch at a time

# The Debian mirror the machine's own sources use for the main archive (not
# security, not a third-party repository): deb822 .sources files first, then
# one-line sources.list entries.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS=""; IGNORECASE=1}
         /(^|\n)Suites:[^\n]*(bookworm|trixie|stable)( |\n|$)/ && !/-security/ {
           if (match($0, /(^|\n)URIs:[ \t]*[^ \t\n]+/)) { s = substr($0, RSTART, RLENGTH); sub(/.*URIs:[ \t]*/, "", s); print s; exit } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f"
  done
}

if [ ! -f "$D/done" ]; then
  A="-oAPT::Architecture=$ARCH -oAPT::Architectures=$ARCH -oDir::State::Lists=$D/lists -oDir::Cache=$D/apt-cache"
  if [ -n "$SUITE" ]; then
    MIRROR=$(debian_mirror | grep -m1 -i 'debian' || true)
    [ -n "$MIRROR" ] || { echo "fetch-debian-kernel: no Debian mirror in /etc/apt sources to take '$SUITE' from" >&2; exit 1; }
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main" > "$D/sources.list"
    mkdir -p "$D/sources.list.d"
    A="$A -oDir::Etc::SourceList=$D/sources.list -oDir::Etc::SourceParts=$D/sources.list.d"
  fi
  mkdir -p "$D/lists/partial" "$D/apt-cache/archives/partial"
  apt-get $A update >/dev/null
  KPKG=$(apt-cache $A depends "linux-image-$ARCH" | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$KPKG" ] || { echo "fetch-debian-kernel: cannot resolve linux-image-$ARCH${SUITE:+ in $SUITE}" >&2; exit 1; }
  (cd "$D" && rm -f ./*.deb && apt-get $A download "$KPKG" >/dev/null 2>&1)
  rm -rf "$D/tree.tmp"
  dpkg -x "$D"/"${KPKG}"_*_"$ARCH".deb "$D/tree.tmp"
  KV=${KPKG#linux-image-}
  # trixie ships merged-/usr packages (/usr/lib/modules only); a merged-/usr
  # system has /lib -> usr/lib, which depmod -b, modprobe -d and our readers
  # of the tree expect.
  if [ ! -e "$D/tree.tmp/lib" ] && [ -d "$D/tree.tmp/usr/lib/modules" ]; then ln -s usr/lib "$D/tree.tmp/lib"; fi
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
