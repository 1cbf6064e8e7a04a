#!/usr/bin/env bash
# Packaging: CPack's .deb unpacked into a scratch prefix, then a separate
# consumer project uses find_package(Fastboop CONFIG REQUIRED) from it and
# builds a boot.img with the installed tools.
# Usage: package.sh <fastboop build dir> <source dir>
set -euo pipefail
BUILD=$1 SRC=$2
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
(cd "$T" && cpack --config "$BUILD/CPackConfig.cmake" -B "$T/pkg" >"$T/cpack.log" 2>&1) || { cat "$T/cpack.log"; fail "cpack"; }
deb=$(ls "$T"/pkg/*.deb)
dpkg-deb -x "$deb" "$T/root"
P=$T/root/usr
for f in bin/fastboop-profile bin/fastboop-stage0 bin/fastboop-bootimg bin/fastboop-push bin/fastboop-cache \
         lib/fastboop/stage0/stage0-aarch64 share/fastboop/devpro/oneplus-fajita.yaml \
         share/man/man1/fastboop-push.1 share/bash-completion/completions/fastboop-push ; do
  [ -e "$P/$f" ] || fail "package lacks usr/$f"
done
ls "$P"/lib/*/cmake/Fastboop/FastboopConfig.cmake >/dev/null 2>&1 || ls "$P"/lib/cmake/Fastboop/FastboopConfig.cmake >/dev/null \
  || fail "package lacks the CMake package"
ls "$P"/lib/udev/rules.d/*fastboop* >/dev/null 2>&1 || fail "package lacks udev rules"
[ ! -e "$P/share/man/man1/fastboop-cache.1" ] || fail "package has a man page for the internal fastboop-cache"
echo "ok: $(basename "$deb") holds tools, PID1 payload, DevPros, man pages, bash completion, udev rules, CMake package"

"$SRC/examples/rootfs/make-rootfs.sh" "$T/rootfs.erofs" >/dev/null
cmake -S "$SRC/tests/cmake/consumer" -B "$T/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$P" \
  -DROOTFS="$T/rootfs.erofs" -DFASTBOOP_CACHE_DIR= >"$T/c.log" 2>&1 || { cat "$T/c.log"; fail "consumer configure"; }
grep -q "Fastboop from $P" "$T/c.log" || { cat "$T/c.log"; fail "consumer did not use the scratch prefix"; }
cmake --build "$T/consumer" >"$T/b.log" 2>&1 || { cat "$T/b.log"; fail "consumer build"; }
"$P/bin/fastboop-bootimg" info "$T/consumer/fajita/boot.img" >/dev/null || fail "consumer boot.img does not parse"
echo "ok: consumer project built a boot.img with the installed package"

# With a shared cache, a second build tree's hits are served by the installed
# fastboop-cache (Fastboop::cache), not by a CMake process per edge.
for b in warm1 warm2; do
  cmake -S "$SRC/tests/cmake/consumer" -B "$T/$b" -G Ninja -DCMAKE_PREFIX_PATH="$P" \
    -DROOTFS="$T/rootfs.erofs" -DFASTBOOP_CACHE_DIR="$T/cache" >"$T/c.log" 2>&1 || { cat "$T/c.log"; fail "configure $b"; }
done
grep -q "$P/bin/fastboop-cache" "$T/warm2/build.ninja" || fail "the installed package does not use fastboop-cache"
cmake --build "$T/warm1" >"$T/b.log" 2>&1 || { cat "$T/b.log"; fail "build warm1"; }
cmake --build "$T/warm2" >"$T/b.log" 2>&1 || { cat "$T/b.log"; fail "build warm2"; }
grep -q "cache hit bootimg .* (local)" "$T/b.log" || { cat "$T/b.log"; fail "second tree: no local hit"; }
cmp "$T/warm1/fajita/boot.img" "$T/consumer/fajita/boot.img" || fail "cached build differs from the uncached one"
echo "ok: installed package: a second build tree's hits are served by fastboop-cache, same bytes"
