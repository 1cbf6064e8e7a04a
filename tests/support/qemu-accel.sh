#!/usr/bin/env bash
# Which accelerator a QEMU guest of the tests and benchmarks may use: prints
# `kvm` or `tcg` on stdout and one line on stderr saying which and why. Every
# QEMU launch in tests/ (C++ through test_support's QemuGuest, scripts by
# calling this) asks here, so the choice is made and logged in one place.
#
#   qemu-accel.sh QEMU_BINARY        e.g. qemu-system-x86_64
#
# KVM is used only after it proved it runs a guest on this machine: a
# /dev/kvm that exists and is read-writable is not enough (nested
# virtualisation without the CPU features leaves one that hangs every guest
# right after SeaBIOS). The proof is a boot sector (qemu-accel-probe.S) that
# must print its marker and exit through isa-debug-exit within
# FASTBOOP_QEMU_PROBE_TIMEOUT seconds (default 10) under accel=kvm alone. The
# verdict is cached per boot of this machine, QEMU binary and KVM device under
# $FASTBOOP_TEST_CACHE/qemu-accel (default ~/.cache/fastboop-test).
#
# Environment:
#   FASTBOOP_QEMU_ACCEL=tcg|kvm    take this, no probe (kvm: you vouch for it)
#   FASTBOOP_QEMU_KVM_DEVICE=PATH  the KVM device to judge (default /dev/kvm);
#       another path is bind-mounted over /dev/kvm for the probe, in a private
#       mount namespace (root only), so a fake device really is what QEMU opens
#   FASTBOOP_QEMU_PROBE_TIMEOUT=S  seconds the probe guest gets
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
here=$(cd "$(dirname "$0")" && pwd)
qemu=${1:?usage: qemu-accel.sh QEMU_BINARY}

verdict() { # ACCEL REASON
  echo "qemu-accel: $qemu: $1 ($2)" >&2
  echo "$1"
  exit 0
}

case ${FASTBOOP_QEMU_ACCEL:-} in
  '') ;;
  tcg | kvm) verdict "$FASTBOOP_QEMU_ACCEL" "FASTBOOP_QEMU_ACCEL" ;;
  *) echo "qemu-accel: FASTBOOP_QEMU_ACCEL must be tcg or kvm, not '$FASTBOOP_QEMU_ACCEL'" >&2; exit 2 ;;
esac

# KVM runs guests of the host's own architecture only.
host=$(uname -m)
case "$(basename "$qemu")" in
  qemu-system-x86_64) guest=x86_64 ;;
  qemu-system-aarch64) guest=aarch64 ;;
  *) guest=unknown ;;
esac
[ "$guest" = "$host" ] || verdict tcg "$guest guest on an $host host"
# The probe guest is an x86 boot sector; other hosts are not probed.
[ "$host" = x86_64 ] || verdict tcg "no KVM probe for $host hosts"

dev=${FASTBOOP_QEMU_KVM_DEVICE:-/dev/kvm}
[ -e "$dev" ] || verdict tcg "$dev does not exist"
{ [ -r "$dev" ] && [ -w "$dev" ]; } || verdict tcg "$dev is not readable and writable"
qemu_path=$(command -v "$qemu") || verdict tcg "$qemu is not installed"

cache=${FASTBOOP_TEST_CACHE:-$HOME/.cache/fastboop-test}/qemu-accel
mkdir -p "$cache"
key=$( {
  cat /proc/sys/kernel/random/boot_id
  stat -L -c '%n %s %Y' "$qemu_path"
  stat -L -c '%n %d %i %t:%T' "$dev"
} | sha256sum | cut -c1-32)
exec 9>"$cache/.lock"
flock 9 # parallel tests: one probe at a time, the others read its verdict
if [ -f "$cache/$key" ]; then
  read -r accel reason <"$cache/$key"
  verdict "$accel" "cached: $reason"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
as --32 -o "$work/probe.o" "$here/qemu-accel-probe.S"
ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$work/probe.img" "$work/probe.o"
run=(timeout -k 2 "${FASTBOOP_QEMU_PROBE_TIMEOUT:-10}")
if [ "$dev" != /dev/kvm ]; then
  [ "$(id -u)" = 0 ] || verdict tcg "cannot put $dev in place of /dev/kvm without root"
  run+=(unshare -m sh -c 'mount --bind "$0" /dev/kvm && exec "$@"' "$dev")
fi
start=$(date +%s.%N)
rc=0
"${run[@]}" "$qemu_path" -M pc,accel=kvm -m 16 -display none -nodefaults -no-reboot \
  -serial "file:$work/serial" -device isa-debug-exit,iobase=0xf4,iosize=1 \
  -drive "format=raw,file=$work/probe.img,if=floppy" -boot a </dev/null >"$work/qemu.log" 2>&1 || rc=$?
took=$(printf '%.1f' "$(echo "$(date +%s.%N) - $start" | bc -l)")
if [ "$rc" = 99 ] && grep -q FBQ-ACCEL-OK "$work/serial" 2>/dev/null; then
  accel=kvm reason="a probe guest ran under KVM in ${took} s"
elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
  accel=tcg reason="$dev is present but a probe guest under KVM did not finish in ${took} s"
else
  accel=tcg reason="$dev is present but QEMU with KVM failed (exit $rc: $(tail -n 1 "$work/qemu.log" | tr -d '\r'))"
fi
printf '%s %s\n' "$accel" "$reason" >"$cache/$key.tmp"
mv "$cache/$key.tmp" "$cache/$key"
verdict "$accel" "$reason"
