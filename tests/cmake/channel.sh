#!/usr/bin/env bash
# fastboop_add_channel with the real tools: the channel a distro's build packs
# (Device Profile YAML, the Boot Profile target, the example rootfs, indexed)
# is reproducible, rebuilt exactly when an input changes, and, served over
# loopback HTTP, builds the same stage0 (fastboop-stage0 build URL) and the
# same boot.img (fastboop boot URL -o) as the separate profile and image did
# in the same build.
# Usage: channel.sh <fastboop build dir> <source dir>
set -euo pipefail
BUILD=$1 SRC=$2
T=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export XDG_CACHE_HOME=$T/xdg FASTBOOP_CACHE_DIR= FASTBOOP_SCHEMA_PATH= FASTBOOP_DEVPRO_SYSTEM_DIRS=
unset FASTBOOP_OFFLINE

mkdir -p "$T/srv"
"$SRC/examples/rootfs/make-rootfs.sh" "$T/rootfs.erofs" >/dev/null
SHA=$(sha512sum "$T/rootfs.erofs" | cut -c1-128)
SIZE=$(stat -c %s "$T/rootfs.erofs")
printf 'id: distro\nrootfs:\n  erofs:\n    file: %s\n    content: {digest: "sha512:%s", size_bytes: %s}\n' \
  "$T/rootfs.erofs" "$SHA" "$SIZE" > "$T/distro.yaml"
cp "$SRC/devprofiles.d/oneplus-fajita.yaml" "$T/fajita.yaml"

conf() { # <dir>
  cmake -S "$SRC/tests/cmake/channel" -B "$T/$1" -G Ninja -DFastboop_DIR="$BUILD/cmake-modules" \
    -DFASTBOOP_CACHE_DIR= -DMANIFEST="$T/distro.yaml" -DDEVPRO="$T/fajita.yaml" -DROOTFS="$T/rootfs.erofs" \
    >"$T/$1.conf.log" 2>&1 || { cat "$T/$1.conf.log"; fail "$1: configure"; }
}
conf a
cmake --build "$T/a" >"$T/a.log" 2>&1 || { cat "$T/a.log"; fail "build a"; }
CH=$T/a/ch.channel
[ -s "$CH" ] || fail "no channel written"
head -c 8 "$CH" | grep -q FBCHIDX0 || fail "the channel does not start with its index"
echo "ok: channel packed ($(stat -c %s "$CH") bytes)"

# Reproducible: a second build tree packs the same bytes.
conf b
cmake --build "$T/b" >"$T/b.log" 2>&1 || { cat "$T/b.log"; fail "build b"; }
cmp "$CH" "$T/b/ch.channel" || fail "two build trees packed different channels"
# Nothing to do when nothing changed; the depfile names the inputs, and a
# changed Device Profile repacks.
ninja -C "$T/a" -n ch | grep -q "packing channel" && fail "no-op build would repack"
grep -q "fajita.yaml" "$CH.d" || fail "the depfile does not name the Device Profile"
printf '\n' >> "$T/fajita.yaml"
ninja -C "$T/a" -n ch | grep -q "packing channel" || fail "a changed Device Profile does not repack"
echo "ok: reproducible across build trees; rebuilt exactly when an input changes"

python3 "$SRC/tests/cmake/range_server.py" "$T/a" "$T/port" "$T/requests.log" 600 2>"$T/server.err" &
srv=$!
for _ in $(seq 300); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { cat "$T/server.err"; fail "HTTP server did not start"; }
URL=http://127.0.0.1:$(cat "$T/port")/ch.channel

"$BUILD/bin/fastboop-stage0" build "$URL" --device-profile oneplus-fajita --root-device /dev/mmcblk1 \
  -o "$T/s0" 2>"$T/s0.log" || { cat "$T/s0.log"; fail "fastboop-stage0 build URL"; }
for f in "$T"/a/img_stage0/*; do
  n=$(basename "$f")
  [ "$n" = stage0.json ] && continue
  cmp "$f" "$T/s0/$n" || fail "stage0 $n differs between the channel URL and the separate profile + image"
done
echo "ok: fastboop-stage0 build URL: the same stage0 as the build's"

"$BUILD/bin/fastboop" boot "$URL" --device-profile oneplus-fajita --root-device /dev/mmcblk1 \
  -o "$T/boot.img" 2>"$T/boot.log" || { cat "$T/boot.log"; fail "fastboop boot URL -o"; }
cmp "$T/boot.img" "$T/a/img/boot.img" || fail "fastboop boot URL -o built another boot.img than the build"
echo "ok: fastboop boot URL -o: the same boot.img as the build's"
