#!/usr/bin/env bash
# End-to-end: `fastboop boot` alone takes a Boot Profile manifest to a running
# rootfs on a real bootloader. The variant of run-e2e.sh with the root on the
# device's own storage (no smoo): U-Boot (cached) in QEMU with the example
# rootfs as a virtio disk, and one command that identifies the device by its
# Device Profile's probes, compiles the manifest in memory, builds stage0 and
# the boot image through the artifact cache, appends the host clock, downloads
# and boots. A second `-o` run for the same device kind generates nothing.
#
# Usage: run-e2e-boot.sh <fastboop build dir> <source dir>
# Skips (exit 77) without QEMU or the cross compiler unless FASTBOOP_REQUIRE_QEMU=1.
set -euo pipefail
BUILD=$1 SRC=$2
source "$SRC/tests/e2e/common.sh"
need qemu-system-aarch64 qemu-system-arm
need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
FASTBOOP=$BUILD/bin/fastboop
[ -x "$FASTBOOP" ] || { echo "FAIL: $FASTBOOP not built"; exit 1; }

step "U-Boot with fastboot over UDP (cached)"
UBOOT=$("$SRC/tests/push/uboot/build-uboot.sh")
step "example rootfs from Debian's arm64 kernel package (cached)"
"$SRC/examples/rootfs/make-rootfs.sh" "$W/rootfs.erofs" >/dev/null
step "QEMU virt device tree"
timeout 60 qemu-system-aarch64 -M virt,dumpdtb="$W/virt.dtb" -cpu cortex-a57 -m 1024 -nographic -nic none >/dev/null 2>&1 || true
[ -s "$W/virt.dtb" ] || fail "qemu did not dump the virt DTB"
# The distro's Boot Profile, uncompiled: fastboop compiles it in memory.
printf 'id: e2e-rootfs\nrootfs:\n  erofs:\n    file: rootfs.erofs\n' > "$W/e2e-rootfs.yaml"

start_uboot "$W/rootfs.erofs" "the rootfs"

# The test Device Profile, a private artifact cache, no host profiles.
export FASTBOOP_SCHEMA_PATH=$E2E/devpro FASTBOOP_DEVPRO_SYSTEM_DIRS= FASTBOOP_CACHE_DIR=$W/cache
BOOT_ARGS=(--root-device /dev/vda --dtb "$W/virt.dtb" --require-module virtio_mmio --require-module virtio_blk
           --setting stage0.root_device_timeout=60 --offline)
step "fastboop boot (no --device-profile: identified by its probes)"
timeout 600 "$FASTBOOP" boot "$W/e2e-rootfs.yaml" -s udp:127.0.0.1:$PORT "${BOOT_ARGS[@]}" 2>&1 | tee "$W/boot.log"
[ "${PIPESTATUS[0]}" = 0 ] || fail "fastboop boot failed"
grep -q "is a 'qemu-uboot-virt'" "$W/boot.log" || fail "the device was not identified as qemu-uboot-virt"
grep -q "generating stage0 for qemu-uboot-virt" "$W/boot.log" || fail "no stage0 generation in a fresh cache"
grep -q "boot OKAY" "$W/boot.log" || fail "no boot OKAY"

wait_for_poweroff

check 'Booting Linux on physical CPU' "the kernel started"
check 'Kernel command line: .*systemd\.clock_usec=[0-9]+' "the host clock on the kernel command line"
check 'stage0: step root-mount ok: /dev/vda' "lower root from the virtio disk"
check 'stage0: exec-init: exec ' "PID1 exec'd the root's init"
check 'FASTBOOP-ROOTFS-INIT-MARKER' "the rootfs init ran after switch root"
check 'reboot: Power down' "QEMU powered off by itself"
if grep -a -q -E 'Kernel panic|stage0: FATAL' "$LOG"; then fail "panic or FATAL in the serial log"; fi

step "the same device kind again (-o): nothing is generated"
"$FASTBOOP" boot "$W/e2e-rootfs.yaml" --device-profile qemu-uboot-virt -o "$W/again.img" "${BOOT_ARGS[@]}" \
  2>&1 | tee "$W/again.log"
[ "${PIPESTATUS[0]}" = 0 ] || fail "fastboop boot -o failed"
grep -q "cache hit: stage0 for qemu-uboot-virt" "$W/again.log" || fail "stage0 was not a cache hit"
grep -q "cache hit: boot.img for qemu-uboot-virt" "$W/again.log" || fail "boot.img was not a cache hit"
if grep -q generating "$W/again.log"; then fail "the second run generated something"; fi
step "end-to-end (fastboop boot): all checks passed"
