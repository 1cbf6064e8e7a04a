# The harness the U-Boot end-to-end scripts share: sourced after they set
# BUILD and SRC. A work dir with the serial log (kept on failure), timed
# steps, skip-or-fail for missing tools, U-Boot in QEMU with one virtio disk,
# and checks of the serial log.
E2E=$SRC/tests/e2e

# need <program> <Debian package>: skip (77) without it, unless
# FASTBOOP_REQUIRE_QEMU=1 makes a skip a failure.
need() {
  command -v "$1" >/dev/null && return 0
  if [ "${FASTBOOP_REQUIRE_QEMU:-0}" = 1 ]; then echo "FAIL: $1 missing ($2) and FASTBOOP_REQUIRE_QEMU=1"; exit 1; fi
  echo "SKIP: $1 missing (apt-get install $2)"; exit 77
}

W=$(mktemp -d); QPID=
LOG=$W/serial.log
keep_log() {
  local rc=$?
  [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    mkdir -p "$BUILD/e2e-artifacts" && cp -f "$W"/*.log "$BUILD/e2e-artifacts/" 2>/dev/null || true
    echo "logs kept in $BUILD/e2e-artifacts/"
    tail -40 "$LOG" 2>/dev/null || true
  fi
  rm -rf "$W"
}
trap keep_log EXIT
t0=$(date +%s); step() { echo "### [$(( $(date +%s) - t0 ))s] $*"; }
fail() { echo "FAIL: $* (QEMU accel=${ACCEL:-not started})"; exit 1; }

# start_uboot <disk image> <what it is>: U-Boot (UBOOT) in QEMU (ACCEL) with
# the image as a read-only virtio disk and fastboot over UDP on PORT; returns
# once U-Boot listens.
start_uboot() {
  ACCEL=${ACCEL:-$("$SRC/tests/support/qemu-accel.sh" qemu-system-aarch64)}
  PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  step "QEMU: U-Boot + $2 as a virtio disk (udp port $PORT, accel=$ACCEL)"
  qemu-system-aarch64 -M virt,accel=$ACCEL -cpu cortex-a57 -m 1024 -nographic -no-reboot -bios "$UBOOT" \
    -netdev user,id=n0,hostfwd=udp:127.0.0.1:$PORT-:5554 -device virtio-net-pci,netdev=n0,romfile= \
    -drive if=none,file="$1",format=raw,id=d0,readonly=on -device virtio-blk-device,drive=d0 \
    </dev/null >"$LOG" 2>&1 &
  QPID=$!
  for _ in $(seq 600); do grep -q 'Listening for fastboot' "$LOG" && break; kill -0 $QPID 2>/dev/null || break; sleep 0.1; done
  grep -q 'Listening for fastboot' "$LOG" || fail "U-Boot never listened for fastboot within 60 s"
}

# wait_for_poweroff: the guest powers off by itself after the root's init
# (180 s at most, or a panic/FATAL ends the wait early).
wait_for_poweroff() {
  step "waiting for the root's init and power-off"
  for _ in $(seq 1800); do kill -0 $QPID 2>/dev/null || break; grep -a -q -E 'Kernel panic|FATAL' "$LOG" && break; sleep 0.1; done
  if kill -0 $QPID 2>/dev/null; then
    kill $QPID; wait $QPID 2>/dev/null || true; QPID=
    grep -a -q -E 'Kernel panic|FATAL' "$LOG" || fail "the guest did not power off within 180 s"
  fi
  wait $QPID 2>/dev/null || true
  QPID=
}

# check <regex> <what it proves>: the serial log has it.
check() { grep -a -q -E "$1" "$LOG" || fail "serial log lacks: $2"; echo "ok: $2"; }
