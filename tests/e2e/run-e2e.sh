#!/usr/bin/env bash
# End-to-end acceptance test: a real distro kernel boots our stage0 after
# fastboop-push hands it to a real bootloader.
#
#   U-Boot (Debian source, qemu_arm64 + fastboot over UDP, cached)
#   <- fastboop-push boot  <- boot.img from add_fastboop_boot_image()
#   <- stage0 from the example EROFS rootfs (Debian linux-image-arm64 + /sbin/init)
#
# Usage: run-e2e.sh <fastboop build dir> <source dir> <guest helper dir>
# Skips (exit 77) without QEMU or the cross compiler unless FASTBOOP_REQUIRE_QEMU=1.
set -euo pipefail
BUILD=$1 SRC=$2 GUEST=$3
source "$SRC/tests/e2e/common.sh"
need qemu-system-aarch64 qemu-system-arm
need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
[ -x "$GUEST/smoo-gadget-standin" ] || { echo "FAIL: smoo stand-in not built at $GUEST"; exit 1; }

step "U-Boot with fastboot over UDP (cached)"
UBOOT=$("$SRC/tests/push/uboot/build-uboot.sh")
step "example rootfs from Debian's arm64 kernel package (cached)"
"$SRC/examples/rootfs/make-rootfs.sh" "$W/rootfs.erofs" >/dev/null
ACCEL=$("$SRC/tests/support/qemu-accel.sh" qemu-system-aarch64)
step "QEMU virt device tree (accel=$ACCEL)"
timeout 60 qemu-system-aarch64 -M virt,accel=$ACCEL,dumpdtb="$W/virt.dtb" -cpu cortex-a57 -m 1024 -nographic -nic none >/dev/null 2>&1 || true
[ -s "$W/virt.dtb" ] || fail "qemu did not dump the virt DTB"

step "boot images through add_fastboop_boot_image()"
cmake -S "$E2E/project" -B "$W/build" -G Ninja -DFastboop_DIR="$BUILD/cmake-modules" \
  -DROOTFS="$W/rootfs.erofs" -DVIRT_DTB="$W/virt.dtb" -DSMOO_STANDIN="$GUEST/smoo-gadget-standin" \
  -DFASTBOOP_CACHE_DIR="${FASTBOOP_E2E_CACHE:-}" >"$W/configure.log" 2>&1 || { cat "$W/configure.log"; fail "configure"; }
cmake --build "$W/build" >"$W/build.log" 2>&1 || { cat "$W/build.log"; fail "build"; }
IMG=$W/build/qemu_boot/boot.img OTHER=$W/build/other_boot/boot.img
[ -f "$IMG.json" ] && [ -f "$OTHER.json" ] || fail "boot.img sidecars missing"
# The device's stage0 came from the compiled Boot Profile, not the bare image.
# grep reads everything (no -q): with pipefail, ninja killed by SIGPIPE after
# an early match would fail the check whenever the commands outgrow one write.
ninja -C "$W/build" -t commands qemu_boot | grep "fastboop-stage0 build [^ ]*\.fbp " >/dev/null \
  || fail "qemu_boot's stage0 is not built from the compiled Boot Profile"
PUSH=$BUILD/bin/fastboop-push

start_uboot "$W/rootfs.erofs" "the rootfs"

step "negative: an image built for oneplus-fajita is refused before any download"
set +e
timeout 120 "$PUSH" boot "$OTHER" -s udp:127.0.0.1:$PORT >"$W/negative.log" 2>&1
rc=$?
set -e
cat "$W/negative.log"
[ $rc -ne 0 ] || fail "the pusher accepted an image built for oneplus-fajita"
if grep -a -q 'Starting download' "$LOG"; then fail "U-Boot saw a download during the negative run"; fi
grep -q -i "oneplus-fajita" "$W/negative.log" || fail "refusal does not name the profile"

step "fastboop-push boot (probes must match qemu-uboot-virt)"
timeout 300 "$PUSH" boot "$IMG" -s udp:127.0.0.1:$PORT 2>&1 | tee "$W/push.log"
[ "${PIPESTATUS[0]}" = 0 ] || fail "fastboop-push boot failed"
grep -q -i 'okay' "$W/push.log" || fail "push output shows no OKAY"

wait_for_poweroff

check "Starting download of $(stat -c %s "$IMG") bytes" "U-Boot received the whole image"
check 'Booting Linux on physical CPU' "the kernel started"
for s in mounts settings modules gadget smoo root-wait root-mount ostree-detect fstab switch-root \
         ostree credentials plymouth exec-init; do
  check "stage0: step $s" "PID1 step $s"
done
check 'stage0: modules: loaded dummy_hcd' "dummy_hcd loaded as the UDC"
check 'stage0: step root-mount ok: /dev/vda' "lower root from the virtio disk"
check 'stage0: exec-init: exec ' "PID1 exec'd the root's init"
check 'SMOO-STANDIN-MARKER' "the smoo stand-in ran"
# The host side of dummy_hcd is read by the stand-in (while it runs) and again by
# the rootfs init after switch root (bounded wait): either proves enumeration.
check 'SMOO-STANDIN-HOST-SIDE: device [0-9.-]+ id 18d1:4ee0 serial FBE2E0001 interface ff/42/03|FASTBOOP-ROOTFS-USB: 1-1 id 18d1:4ee0 serial FBE2E0001 interface ff/42/03' \
  "gadget enumerated on the dummy host side as 18d1:4ee0, ff/42/03"
check 'FASTBOOP-ROOTFS-INIT-MARKER' "the rootfs init ran after switch root"
check 'reboot: Power down' "QEMU powered off by itself"
if grep -a -q -E 'Kernel panic|stage0: FATAL' "$LOG"; then fail "panic or FATAL in the serial log"; fi
step "end-to-end: all checks passed"
