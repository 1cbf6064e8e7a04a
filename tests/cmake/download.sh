#!/usr/bin/env bash
# Downloads with the real tools against a local HTTP server (python3 http.server
# with Range, 127.0.0.1, free port, bounded lifetime) serving the example rootfs:
#  - offline by default: a Boot Profile whose rootfs is http configures, and its
#    build fails offline without a single request reaching the server;
#  - FASTBOOP_ALLOW_DOWNLOAD=ON with a wrong ROOTFS_SHA512: the build fails and
#    says the digest does not match; with the right one it builds a boot.img;
#  - FASTBOOP_ALLOW_DOWNLOAD=ON with the Boot Profile: builds, and since the
#    profile has no block-hash tables, the image is fetched whole and checked;
#  - the published form (fastboop_add_boot_profile OPTIMIZE, tables from the
#    local copy): builds from verified ranged reads, fetching a fraction of
#    the image; the server then serves a byte flipped in a block the build
#    reads: the build fails naming the URL and the block, no boot.img.
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

# 4. Allowed, Boot Profile with the http rootfs: builds. (A cache of its own:
#    step 3's checked copy must not answer for the server.)
export XDG_CACHE_HOME=$T/xdg-plain
from4=$(($(wc -l < "$T/requests.log") + 1))
conf online ON profile -DMANIFEST="$T/net.yaml"
cmake --build "$T/online" >"$T/online.log" 2>&1 || { cat "$T/online.log"; fail "Boot Profile with downloads allowed did not build"; }
"$BUILD/bin/fastboop-bootimg" info "$T/online/img/boot.img" >/dev/null || fail "profile: boot.img does not parse"
echo "ok: FASTBOOP_ALLOW_DOWNLOAD=ON, Boot Profile with an http rootfs: boot.img built"

# The bytes the server sent for its requests since line $1 of the log: a
# ranged GET sends its range, a GET without one the whole file.
fetched_since() {
  tail -n +"$1" "$T/requests.log" | awk -v size="$SIZE" '
    $1 == "GET" && $3 == "-" { s += size; next }
    $1 == "GET" { split(substr($3, 7), r, "-"); last = (r[2] == "" || r[2] >= size) ? size - 1 : r[2]; s += last - r[1] + 1 }
    END { print s + 0 }'
}
[ "$(fetched_since "$from4")" -ge "$SIZE" ] || fail "profile without tables: the image was not fetched whole ($(fetched_since "$from4") of $SIZE bytes)"
grep -q "no block-hash tables" "$T/online.log" || { cat "$T/online.log"; fail "profile without tables: no note"; }
echo "ok: a Boot Profile without block-hash tables: the image is fetched whole and checked before use"

# 5. The profile a distro publishes (OPTIMIZE): verified ranged reads.
export XDG_CACHE_HOME=$T/xdg-tables
from=$(($(wc -l < "$T/requests.log") + 1))
conf tables ON optimized -DMANIFEST="$T/net.yaml" -DARTIFACT="$T/srv/rootfs.erofs"
cmake --build "$T/tables" >"$T/tables.log" 2>&1 || { cat "$T/tables.log"; fail "optimized Boot Profile did not build"; }
"$BUILD/bin/fastboop-bootimg" info "$T/tables/img/boot.img" >/dev/null || fail "optimized profile: boot.img does not parse"
grep -q FBBLKTB0 "$T/tables/bp.fbp" || fail "OPTIMIZE wrote no block-hash table"
cmp -s "$T/tables/img/boot.img" "$T/online/img/boot.img" || fail "optimized profile: a different boot.img than the whole download"
got=$(fetched_since "$from")
[ "$got" -gt 0 ] || fail "optimized profile: nothing was fetched"
[ "$((got * 4))" -lt "$SIZE" ] || fail "optimized profile: fetched $got of $SIZE bytes (not ranged)"
tail -n +"$from" "$T/requests.log" | grep -q '^GET .* -$' && fail "optimized profile: a GET without Range"
echo "ok: an optimized Boot Profile builds the same boot.img from verified ranges: fetched $got of $SIZE bytes ($((got * 1000 / SIZE))‰)"

# 6. The same, with a byte flipped in a block the build reads (block 0 holds
#    the superblock): fails, names the URL and the block; no boot.img.
export XDG_CACHE_HOME=$T/xdg-tampered
cp "$T/srv/rootfs.erofs" "$T/rootfs.good"
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(1030); b = f.read(1); f.seek(1030); f.write(bytes([b[0] ^ 0xFF]))' "$T/srv/rootfs.erofs"
conf tampered ON optimized -DMANIFEST="$T/net.yaml" -DARTIFACT="$T/rootfs.good"
if cmake --build "$T/tampered" >"$T/tampered.log" 2>&1; then fail "a tampered image built"; fi
grep -q "bytes 0-65535 (block 0) do not match the profile's block-hash table" "$T/tampered.log" \
  || { cat "$T/tampered.log"; fail "tampered image: the error does not name the block"; }
grep -q "$URL" "$T/tampered.log" || { cat "$T/tampered.log"; fail "tampered image: the error does not name the URL"; }
[ ! -e "$T/tampered/img/boot.img" ] || fail "tampered image: a boot.img was left behind"
echo "ok: a byte flipped in a block the build reads: $(grep -o -m1 "bytes 0-65535 (block 0) do not match[^;]*" "$T/tampered.log")"
mv "$T/rootfs.good" "$T/srv/rootfs.erofs"
