#!/usr/bin/env bash
# Downloads with the real tools against a local HTTP server (python3 http.server
# with Range, 127.0.0.1, free port, bounded lifetime) serving the example rootfs:
#  - offline by default: a Boot Profile whose rootfs is http configures, and its
#    build fails offline without a single request reaching the server;
#  - FASTBOOP_ALLOW_DOWNLOAD=ON with a wrong ROOTFS_SHA512: the build fails and
#    says the digest does not match; with the right one it builds a boot.img;
#  - FASTBOOP_ALLOW_DOWNLOAD=ON with the Boot Profile: builds.
# Usage: download.sh <fastboop build dir> <source dir>
set -euo pipefail
BUILD=$1 SRC=$2
T=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# A private tool cache: nothing fetched earlier may answer for the server.
export XDG_CACHE_HOME=$T/xdg
unset FASTBOOP_OFFLINE

mkdir -p "$T/srv"
"$SRC/examples/rootfs/make-rootfs.sh" "$T/srv/rootfs.erofs" >/dev/null
SHA=$(sha512sum "$T/srv/rootfs.erofs" | cut -c1-128)
SIZE=$(stat -c %s "$T/srv/rootfs.erofs")
python3 "$SRC/tests/cmake/range_server.py" "$T/srv" "$T/port" "$T/requests.log" 600 2>"$T/server.err" &
srv=$!
for _ in $(seq 300); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { cat "$T/server.err"; fail "HTTP server did not start"; }
URL=http://127.0.0.1:$(cat "$T/port")/rootfs.erofs
touch "$T/requests.log"
cat > "$T/net.yaml" <<YAML
id: net
rootfs:
  erofs:
    http: $URL
    content: {digest: 'sha512:$SHA', size_bytes: $SIZE}
YAML

conf() { # <dir> <allow> <case> [-DVAR=...]
  local d=$1 allow=$2 case=$3; shift 3
  cmake -S "$SRC/tests/cmake/download" -B "$T/$d" -G Ninja -DFastboop_DIR="$BUILD/cmake-modules" \
    -DFASTBOOP_CACHE_DIR= -DFASTBOOP_ALLOW_DOWNLOAD="$allow" -DCASE="$case" "$@" >"$T/$d.conf.log" 2>&1 \
    || { cat "$T/$d.conf.log"; fail "$d: configure"; }
}

# 1. Offline by default, also for a Boot Profile's http rootfs.
conf offline OFF profile -DMANIFEST="$T/net.yaml"
if cmake --build "$T/offline" >"$T/offline.log" 2>&1; then fail "offline: Boot Profile with an http rootfs built"; fi
grep -q "offline mode" "$T/offline.log" || { cat "$T/offline.log"; fail "offline: no offline message"; }
[ ! -s "$T/requests.log" ] || fail "offline: the server got requests: $(head -3 "$T/requests.log")"
echo "ok: FASTBOOP_ALLOW_DOWNLOAD=OFF: Boot Profile build fails offline, no request reached the server"

# 2. Allowed, wrong sha512: fails and says why (not an option-parsing error).
BAD=$(printf 'not the rootfs' | sha512sum | cut -c1-128)
conf bad ON url -DURL="$URL" -DSHA="$BAD"
if cmake --build "$T/bad" >"$T/bad.log" 2>&1; then fail "wrong ROOTFS_SHA512: build succeeded"; fi
grep -E -q "not expected|[Uu]nknown option|[Uu]nrecognized" "$T/bad.log" && { cat "$T/bad.log"; fail "wrong ROOTFS_SHA512: the tool rejected its arguments"; }
grep -q "content digest mismatch: expected sha512:$BAD" "$T/bad.log" || { cat "$T/bad.log"; fail "wrong ROOTFS_SHA512: the message does not name the digest"; }
[ ! -e "$T/bad/img/boot.img" ] || fail "wrong ROOTFS_SHA512: a boot.img was left behind"
echo "ok: FASTBOOP_ALLOW_DOWNLOAD=ON, wrong ROOTFS_SHA512: build fails: $(grep -o -m1 "content digest mismatch: expected sha512:.\{16\}" "$T/bad.log")…"

# 3. Allowed, right sha512: downloads and builds.
conf good ON url -DURL="$URL" -DSHA="$SHA"
cmake --build "$T/good" >"$T/good.log" 2>&1 || { cat "$T/good.log"; fail "ROOTFS <url> with its sha512 did not build"; }
"$BUILD/bin/fastboop-bootimg" info "$T/good/img/boot.img" >/dev/null || fail "url: boot.img does not parse"
grep -q "GET /rootfs.erofs" "$T/requests.log" || fail "url: nothing was fetched from the server"
echo "ok: FASTBOOP_ALLOW_DOWNLOAD=ON, ROOTFS <url> + ROOTFS_SHA512: boot.img built from the server"

# 4. Allowed, Boot Profile with the http rootfs: builds.
conf online ON profile -DMANIFEST="$T/net.yaml"
cmake --build "$T/online" >"$T/online.log" 2>&1 || { cat "$T/online.log"; fail "Boot Profile with downloads allowed did not build"; }
"$BUILD/bin/fastboop-bootimg" info "$T/online/img/boot.img" >/dev/null || fail "profile: boot.img does not parse"
echo "ok: FASTBOOP_ALLOW_DOWNLOAD=ON, Boot Profile with an http rootfs: boot.img built"
