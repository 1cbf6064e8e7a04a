#!/bin/bash
# Benchmark: push a 64 MiB boot image to the fastboot device emulator over
# loopback TCP (and UDP) with fastboop-push and with Debian's AOSP fastboot in
# the same run; prints the throughput of each and the ratio (ours / AOSP).
#   tests/bench/push.sh [BUILD_DIR]     (default: build/default)
# FASTBOOP_BENCH_PUSH_MIB (default 64) sets the kernel size and
# FASTBOOP_BENCH_PUSH_RUNS (default 3) the runs per client; ctest runs this
# script with 1 MiB x 1 as a smoke test so it cannot silently break.
#
# USB leg: the same image over the real USB stack, in one boot of the x86-64
# QEMU guest of push_usb_tests (tests/push/usb: Debian's amd64 kernel, a
# FunctionFS gadget on dummy_udc enumerated by dummy_hcd). Its init, started
# with fbq.bench=RUNS, pushes RUNS times with fastboop-push and RUNS times with
# /usr/bin/fastboot (copied in with their libraries), alternating, and times
# each client inside the guest (CLOCK_MONOTONIC, process start to exit). Both
# clients and the gadget share the guest's CPU, and without KVM that CPU is
# TCG: compare the ratio, not the MB/s with the loopback lines. The smoke run
# does the USB leg too (1 MiB x 1 takes one ~15 s guest boot). The guest uses
# KVM only when tests/support/qemu-accel.sh proved it works here; under TCG the
# USB leg's image is capped at FASTBOOP_BENCH_PUSH_USB_TCG_MIB (default 16) MiB
# and the script says so, so the leg fits its time budget. It is skipped,
# with the reason printed, when QEMU, a compiler, cpio or the kernel package is
# unavailable or FASTBOOP_BENCH_PUSH_USB=0; FASTBOOP_REQUIRE_QEMU=1 turns that
# skip into a failure, as for the QEMU tests. FASTBOOP_BENCH_PUSH_USB_TIMEOUT
# (seconds) bounds the guest; it is killed after it. FASTBOOP_BENCH_PUSH_USB_LOG
# names a file to keep the guest's console log in (per-run times, gadget log).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build/default}
push=$build/bin/fastboop-push
emu=$build/bin/fastboot_emulator
for p in "$push" "$emu"; do [ -x "$p" ] || { echo "missing $p (build fastboop-push and push_tests)" >&2; exit 1; }; done
command -v fastboot >/dev/null || { echo "Debian 'fastboot' is not installed" >&2; exit 1; }
command -v mkbootimg >/dev/null || { echo "Debian 'mkbootimg' is not installed" >&2; exit 1; }

work=$(mktemp -d)
emu_pid='' qemu_pid=''
trap 'kill $emu_pid $qemu_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM # so the EXIT trap also stops QEMU when ctest times us out
mib=${FASTBOOP_BENCH_PUSH_MIB:-64}
runs=${FASTBOOP_BENCH_PUSH_RUNS:-3}
head -c $((mib * 1024 * 1024)) /dev/urandom > "$work/kernel"
mkbootimg --kernel "$work/kernel" --header_version 0 -o "$work/boot.img"
size=$(stat -c %s "$work/boot.img")
sha=$(sha512sum "$work/boot.img" | cut -d' ' -f1)
# The sidecar as fastboop-bootimg writes it (probe keys, the profile's boot
# constraints the pusher checks the image against, image size + digest).
cat > "$work/boot.img.json" <<JSON
{"device_profile": {"id": "bench", "match": [], "probe": [{"getvar": "product", "op": "equals", "value": "bench"}],
  "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 0, "page_size": 2048, "kernel": {"encoding": "image"}}}}},
 "image": {"size": $size, "sha512": "$sha"}}
JSON

"$emu" --tcp-port 0 --udp-port 0 --port-file "$work/ports" --var product=bench \
  --var max-download-size=0x10000000 --udp-max-packet 8192 &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/ports" ] && break; sleep 0.05; done
tcp=$(awk '$1=="tcp"{print $2}' "$work/ports")
udp=$(awk '$1=="udp"{print $2}' "$work/ports")

# Best of N runs (seconds, as a decimal).
best_of() {
  local best= t0 t1 dt
  for _ in $(seq "$runs"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "command failed: $*" >&2; "$@" >&2 || true; exit 1; }
    t1=$(date +%s.%N)
    dt=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$dt < $best" | bc -l)" = 1 ]; then best=$dt; fi
  done
  echo "$best"
}

report() { # name seconds
  printf '%-28s %8.3f s  %8.1f MB/s\n' "$1" "$2" "$(echo "$size / $2 / 1000000" | bc -l)"
}

printf 'image: %d bytes (%d MiB kernel in a v0 boot.img), best of %d\n' "$size" "$mib" "$runs"
for net in tcp udp; do
  port=$([ $net = tcp ] && echo "$tcp" || echo "$udp")
  ours=$(best_of "$push" -q boot "$work/boot.img" -s "$net:127.0.0.1:$port")
  aosp=$(best_of fastboot -s "$net:127.0.0.1:$port" boot "$work/boot.img")
  report "fastboop-push $net" "$ours"
  report "AOSP fastboot $net" "$aosp"
  printf '%-28s %8.2fx\n' "ratio (ours/AOSP) $net" "$(echo "$aosp / $ours" | bc -l)"
done

# --- USB leg (dummy_hcd in the QEMU guest) -----------------------------------
usb_skip() {
  if [ "${FASTBOOP_REQUIRE_QEMU:-0}" = 1 ]; then
    echo "USB leg cannot run: $1 (FASTBOOP_REQUIRE_QEMU=1)" >&2
    exit 1
  fi
  echo "USB leg skipped: $1"
}

usb_leg() {
  if [ "${FASTBOOP_BENCH_PUSH_USB:-1}" = 0 ]; then
    echo "USB leg skipped: FASTBOOP_BENCH_PUSH_USB=0"
    return
  fi
  local p
  for p in qemu-system-x86_64 cc cpio ldd; do
    command -v "$p" >/dev/null || { usb_skip "'$p' is not installed (see .ci/packages/push.txt)"; return; }
  done
  PATH="$PATH:/usr/sbin:/sbin" command -v modprobe >/dev/null || { usb_skip "'modprobe' (kmod) is not installed"; return; }
  local kernel
  if ! kernel=$("$here/tests/data/fetch-debian-kernel.sh" amd64 2>"$work/fetch.err"); then
    usb_skip "cannot fetch Debian's amd64 kernel package: $(tail -n 1 "$work/fetch.err")"
    return
  fi
  local tree kver
  tree=$(sed -n 's/^FASTBOOP_KPKG_DIR=//p' <<<"$kernel")
  kver=$(sed -n 's/^FASTBOOP_KVER=//p' <<<"$kernel")
  [ -f "$tree/boot/vmlinuz-$kver" ] || { usb_skip "no vmlinuz-$kver in $tree"; return; }

  # KVM only if a probe guest proved it runs here; TCG is ~10x slower, so the
  # leg's image shrinks to fit the same budget (the ratio is what counts).
  local accel usb_mib=$mib
  accel=$("$here/tests/support/qemu-accel.sh" qemu-system-x86_64)
  local tcg_cap=${FASTBOOP_BENCH_PUSH_USB_TCG_MIB:-16}
  if [ "$accel" = tcg ] && [ "$mib" -gt "$tcg_cap" ]; then
    usb_mib=$tcg_cap
    echo "usb: TCG guest (no working KVM): image scaled down from $mib MiB to $usb_mib MiB (FASTBOOP_BENCH_PUSH_USB_TCG_MIB)"
  fi
  # The gadget is 18d1:4ee0, serial FBQEMU01, and answers product=fbqemu.
  mkdir -p "$work/usb"
  if [ "$usb_mib" = "$mib" ]; then
    cp "$work/boot.img" "$work/usb/boot.img"
  else
    head -c $((usb_mib * 1024 * 1024)) "$work/kernel" > "$work/usb-kernel"
    mkbootimg --kernel "$work/usb-kernel" --header_version 0 -o "$work/usb/boot.img"
  fi
  size=$(stat -c %s "$work/usb/boot.img")
  sha=$(sha512sum "$work/usb/boot.img" | cut -d' ' -f1)
  cat > "$work/usb/boot.img.json" <<JSON
{"device_profile": {"id": "bench-usb", "match": [{"vid": "0x18d1", "pid": "0x4ee0"}],
  "probe": [{"getvar": "product", "op": "equals", "value": "fbqemu"}],
  "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 0, "page_size": 2048, "kernel": {"encoding": "image"}}}}},
 "image": {"size": $size, "sha512": "$sha"}}
JSON
  "$here/tests/push/usb/mk-initrd.sh" "$tree" "$kver" "$push" "$work/usb" "$work/initrd.cpio" \
    "$(command -v fastboot)" >"$work/mk.log" 2>&1 || { cat "$work/mk.log" >&2; echo "mk-initrd.sh failed" >&2; exit 1; }
  rm -rf "$work/usb"

  # RAM: the initrd, its unpacked copy and AOSP's read of the image each hold
  # the image once; 1 GiB covers 64 MiB with room to spare.
  local mem=$((512 + 4 * usb_mib)) limit=${FASTBOOP_BENCH_PUSH_USB_TIMEOUT:-$((180 + 4 * runs * usb_mib))}
  [ "$mem" -ge 1024 ] || mem=1024
  # no_timer_check: on a loaded host TCG fails the kernel's IO-APIC timer check.
  timeout -k 5 "$limit" qemu-system-x86_64 -M pc,accel="$accel" -m "$mem" -nographic -no-reboot -nic none \
    -kernel "$tree/boot/vmlinuz-$kver" -initrd "$work/initrd.cpio" \
    -append "console=ttyS0 quiet panic=-1 no_timer_check fbq.bench=$runs" </dev/null >"$work/usb.log" 2>&1 &
  qemu_pid=$!
  local qrc=0
  wait "$qemu_pid" || qrc=$?
  qemu_pid=
  [ -z "${FASTBOOP_BENCH_PUSH_USB_LOG:-}" ] || cp "$work/usb.log" "$FASTBOOP_BENCH_PUSH_USB_LOG"
  local log
  log=$(tr -d '\r' <"$work/usb.log")
  fail() { printf '%s\n' "$log" | tail -n 60 >&2; echo "USB leg failed (QEMU accel=$accel): $1" >&2; exit 1; }
  if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then fail "QEMU did not power off within ${limit}s (killed)"; fi
  [ "$qrc" = 0 ] || fail "QEMU exited with $qrc"
  grep -q 'FBQ-DONE' <<<"$log" || fail "the guest did not finish"
  ! grep -q 'FBQ-ERROR' <<<"$log" || fail "the guest reported an error"
  local ok data
  # Anchored on the marker, not the line start: a client's unfinished
  # progress line may precede it on the console.
  ok=$(grep -c 'FBQ-BENCH [a-z]* run=[0-9]* rc=0 ' <<<"$log" || true)
  [ "$ok" = $((2 * runs)) ] || fail "$ok of $((2 * runs)) pushes succeeded"
  # Every push delivered the whole image to the gadget.
  data=$(grep -c "GADGET DATA $size\$" <<<"$log" || true)
  [ "$data" = $((2 * runs)) ] || fail "the gadget received $data of $((2 * runs)) complete images"
  local ours_ns aosp_ns
  ours_ns=$(sed -n 's/.*FBQ-BENCH-BEST ours ns=//p' <<<"$log")
  aosp_ns=$(sed -n 's/.*FBQ-BENCH-BEST aosp ns=//p' <<<"$log")
  ours=$(echo "$ours_ns / 1000000000" | bc -l)
  aosp=$(echo "$aosp_ns / 1000000000" | bc -l)
  echo "usb: QEMU guest (accel=$accel), dummy_hcd, timed inside the guest"
  report "fastboop-push usb" "$ours"
  report "AOSP fastboot usb" "$aosp"
  printf '%-28s %8.2fx\n' "ratio (ours/AOSP) usb" "$(echo "$aosp / $ours" | bc -l)"
  # Per run: the client's and the gadget's CPU time and how busy the guest was
  # (the gadget's small share shows it is not what limits the push).
  sed -n 's/.*FBQ-BENCH \([a-z]* run=.*\)/  guest: \1/p' <<<"$log"
}
usb_leg
