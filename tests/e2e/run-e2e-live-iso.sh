#!/usr/bin/env bash
# End-to-end (issue 21): a distro live ISO as it is published boots on a real
# bootloader with the whole ISO on the device's disk. A Debian-live-style ISO
# of the example rootfs (make-live-iso.sh, cached) is the virtio disk of
# QEMU's U-Boot; `fastboop boot ISO --root-device /dev/vda` takes the kernel
# from live/vmlinuz and the modules from inside live/filesystem.squashfs, and
# the PID1 loop-mounts the squashfs's byte range of /dev/vda (stage0.root_offset
# and stage0.root_size) as the lower root, then execs the root's init.
#
# Usage: run-e2e-live-iso.sh <fastboop build dir> <source dir>
# Skips (exit 77) without QEMU, the cross compiler, mksquashfs or xorriso
# unless FASTBOOP_REQUIRE_QEMU=1.
set -euo pipefail
BUILD=$1 SRC=$2
source "$SRC/tests/e2e/common.sh"
need qemu-system-aarch64 qemu-system-arm
need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
need mksquashfs squashfs-tools
need xorriso xorriso
FASTBOOP=$BUILD/bin/fastboop
[ -x "$FASTBOOP" ] || { echo "FAIL: $FASTBOOP not built"; exit 1; }

step "U-Boot with fastboot over UDP (cached)"
UBOOT=$("$SRC/tests/push/uboot/build-uboot.sh")
step "Debian-live-style ISO of the example rootfs (cached)"
"$E2E/make-live-iso.sh" "$W/live.iso" >/dev/null
ISO_BYTES=$(stat -c %s "$W/live.iso")
ACCEL=$("$SRC/tests/support/qemu-accel.sh" qemu-system-aarch64)
step "QEMU virt device tree (accel=$ACCEL)"
timeout 60 qemu-system-aarch64 -M virt,accel=$ACCEL,dumpdtb="$W/virt.dtb" -cpu cortex-a57 -m 1024 -nographic -nic none >/dev/null 2>&1 || true
[ -s "$W/virt.dtb" ] || fail "qemu did not dump the virt DTB"

# What the image builder sees: a live layout, the kernel beside the squashfs.
"$BUILD/bin/fastboop-stage0" inspect "$W/live.iso" --json >"$W/inspect.json" 2>"$W/inspect.log" \
  || { cat "$W/inspect.log"; fail "fastboop-stage0 inspect"; }
python3 - "$W/inspect.json" <<'PY' || fail "inspect does not show the Debian live layout"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["live"]["layout"] == "debian-live", j
assert j["live"]["root"] == "live/filesystem.squashfs", j
assert j["live"]["kernel"] == "live/vmlinuz", j
assert j["filesystem"] == "squashfs", j
PY

start_uboot "$W/live.iso" "the ISO ($ISO_BYTES bytes)"

# The test Device Profile, a private artifact cache, no host profiles.
export FASTBOOP_SCHEMA_PATH=$E2E/devpro FASTBOOP_DEVPRO_SYSTEM_DIRS= FASTBOOP_CACHE_DIR=$W/cache
step "fastboop boot live.iso --root-device /dev/vda"
timeout 600 "$FASTBOOP" boot "$W/live.iso" -s udp:127.0.0.1:$PORT --device-profile qemu-uboot-virt \
  --root-device /dev/vda --dtb "$W/virt.dtb" --require-module virtio_mmio --require-module virtio_blk \
  --setting stage0.root_device_timeout=60 --offline 2>&1 | tee "$W/boot.log"
[ "${PIPESTATUS[0]}" = 0 ] || fail "fastboop boot failed"
grep -q "boot OKAY" "$W/boot.log" || fail "no boot OKAY"

wait_for_poweroff

check 'Booting Linux on physical CPU' "the kernel (live/vmlinuz) started"
check 'stage0: step settings ok: .*rootfs squashfs, root device /dev/vda' "squashfs root on /dev/vda"
check 'stage0: modules: loaded squashfs' "squashfs loaded from the modules inside the squashfs"
check 'stage0: modules: loaded loop' "loop loaded"
check 'stage0: root-mount: bytes [0-9]+\+[0-9]+ of /dev/vda on /dev/loop[0-9]+' \
  "the squashfs byte range of the ISO on a loop device"
check 'stage0: step root-mount ok: /dev/loop[0-9]+ \(squashfs\) \+ tmpfs -> /newroot' "squashfs lower root"
check 'stage0: exec-init: exec ' "PID1 exec'd the root's init"
check 'FASTBOOP-ROOTFS-INIT-MARKER' "the rootfs init ran after switch root"
check 'reboot: Power down' "QEMU powered off by itself"
if grep -a -q -E 'Kernel panic|stage0: FATAL' "$LOG"; then fail "panic or FATAL in the serial log"; fi
# The range the PID1 mounted is where the squashfs lies in the ISO.
range=$(grep -a -o -E 'bytes [0-9]+\+[0-9]+ of /dev/vda' "$LOG" | head -1)
off=${range#bytes }; off=${off%%+*}
head -c $((off + 4)) "$W/live.iso" | tail -c 4 | grep -q hsqs || fail "no squashfs at byte $off of the ISO"
echo "ok: squashfs magic at byte $off of the ISO"
step "end-to-end (live ISO on the virtio disk): all checks passed"
