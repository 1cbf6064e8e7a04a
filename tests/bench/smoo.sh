#!/bin/bash
# Benchmark: the root served over USB by fastboop-push (smoo) against the two
# references on the same machine, in one boot of the x86-64 QEMU guest of
# smoo_qemu_tests (tests/smoo: Debian trixie's kernel, dummy_hcd, the smoo
# gadget stand-in on FunctionFS):
#   smoo      `fastboop-push serve IMAGE` exports an ext4 image of random
#             data, FASTBOOP_BENCH_SMOO_MIB MiB (default 64); the guest reads
#             /dev/ublkb0 whole with 1 MiB read()s (what `dd bs=1M` does);
#   virtio    the same image on a virtio disk, read the same way;
#   fastboot  fastboop-push downloads the same bytes (a boot.img holding the
#             image as its kernel) to a FunctionFS fastboot gadget over the
#             same dummy_hcd.
# Each is timed inside the guest (CLOCK_MONOTONIC). It prints MiB/s and the
# ratios; the goal is smoo >= 0.8x the fastboot download. Under TCG the guest
# CPU is shared by host, gadget and block layer: compare the ratios, not MiB/s.
#
# A second boot serves the image from HTTP instead (an ext4 partition of a
# GPT disk, Android sparse, xz in 1 MiB blocks, behind the guest's own HTTP
# server on loopback, named by a compiled Boot Profile) and prints the bytes
# fetched over HTTP against the bytes the block device read.
#
#   tests/bench/smoo.sh [BUILD_DIR]     (default: build/default)
# FASTBOOP_BENCH_SMOO_MIB      image size (default 64)
# FASTBOOP_BENCH_SMOO_TIMEOUT  seconds per guest boot (default 300 + 8 s/MiB)
# FASTBOOP_BENCH_SMOO_LOG      keep the guests' console logs as FILE.local/.http
# FASTBOOP_BENCH_SMOO_HTTP=0   skip the HTTP boot
# FASTBOOP_BENCH_SMOO_READAHEAD_KB  read_ahead_kb of both devices read (default:
#                              the kernel's; dd's throughput depends on it)
# Skipped, with the reason, when QEMU, the kernel package or the guest
# programs are missing; FASTBOOP_REQUIRE_QEMU=1 makes that a failure. ctest
# runs it once with 4 MiB (smoo_bench_smoke).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build/default}
push=$build/bin/fastboop-push
profile=$build/bin/fastboop-profile
guest=$build/tests/smoo/guest
mib=${FASTBOOP_BENCH_SMOO_MIB:-64}
limit=${FASTBOOP_BENCH_SMOO_TIMEOUT:-$((300 + 8 * mib))}

skip() {
  if [ "${FASTBOOP_REQUIRE_QEMU:-}" = 1 ]; then
    echo "smoo benchmark cannot run: $1 (FASTBOOP_REQUIRE_QEMU=1)" >&2
    exit 1
  fi
  echo "smoo benchmark skipped: $1"
  exit 0
}
for p in "$push" "$profile" "$guest/smoo-test-init" "$guest/smoo-gadget-standin" "$guest/smoo-test-httpd"; do
  [ -x "$p" ] || skip "missing $p (build smoo_qemu_tests)"
done
for p in qemu-system-x86_64 cpio ldd mkbootimg mke2fs sgdisk img2simg xz bc; do
  command -v "$p" >/dev/null || PATH="$PATH:/usr/sbin:/sbin" command -v "$p" >/dev/null ||
    skip "'$p' is not installed"
done
"$push" serve --help >/dev/null 2>&1 || skip "this fastboop-push has no 'serve' subcommand"

work=$(mktemp -d)
qemu_pid=''
trap 'kill $qemu_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

"$here/tests/data/fetch-debian-kernel.sh" amd64 trixie >"$work/kernel.env" 2>"$work/fetch.err" ||
  skip "cannot fetch Debian trixie's amd64 kernel: $(tail -n 1 "$work/fetch.err")"
eval "$(cat "$work/kernel.env")"
tree=$FASTBOOP_KPKG_DIR kver=$FASTBOOP_KVER

gadget_args="--ffs-dir /dev/ffs-smoo --state-file /run/smoo/state.json --export-map-file /run/smoo/exports.json"
gadget_args="$gadget_args --queue-depth 16 --max-io 1048576 --mimic-fastboot"

# KVM only when a probe guest proved it works here (tests/support/qemu-accel.sh).
accel=$("$here/tests/support/qemu-accel.sh" qemu-system-x86_64)
echo "QEMU accelerator: $accel"
# boot NAME INITRD [QEMU ARGS...]: runs the guest to power-off, bounded; the
# log (CR stripped) is in $work/NAME.log.
boot() {
  local name=$1 initrd=$2
  shift 2
  local mem=$((1024 + 4 * mib))
  timeout -k 5 "$limit" qemu-system-x86_64 -M "pc,accel=$accel" -cpu max -m "$mem" -nographic -no-reboot -nic none \
    -kernel "$tree/boot/vmlinuz-$kver" -initrd "$initrd" "$@" \
    -append "console=ttyS0 quiet panic=-1 no_timer_check rdinit=/bin/smoo-test-init" \
    </dev/null >"$work/$name.raw" 2>&1 &
  qemu_pid=$!
  local qrc=0
  wait "$qemu_pid" || qrc=$?
  qemu_pid=
  tr -d '\r' <"$work/$name.raw" >"$work/$name.log"
  [ -z "${FASTBOOP_BENCH_SMOO_LOG:-}" ] || cp "$work/$name.log" "$FASTBOOP_BENCH_SMOO_LOG.$name"
  fail() { tail -n 60 "$work/$name.log" >&2; echo "smoo benchmark ($name, QEMU accel=$accel) failed: $1" >&2; exit 1; }
  if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then fail "QEMU did not power off within ${limit}s (killed)"; fi
  [ "$qrc" = 0 ] || fail "QEMU exited with $qrc"
  grep -q 'SMQ-DONE' "$work/$name.log" || fail "the guest did not finish"
  ! grep -q 'SMQ-ERROR' "$work/$name.log" || fail "the guest reported an error"
  grep -q 'SMQ-SERVE-EXIT rc=0' "$work/$name.log" || fail "fastboop-push serve did not stop cleanly"
}
field() { sed -n "s/.*SMQ-BENCH $1 .*$2=\\([0-9]*\\).*/\\1/p" "$work/$3.log" | head -n 1; }
mibs() { echo "$1 / 1048576 / ($2 / 1000000000)" | bc -l; }

initrd_common=(--kernel "$tree" "$kver" --module dummy_hcd --module libcomposite --module usb_f_fs
  --module ublk_drv --module virtio_blk --program "$guest/smoo-test-init" smoo-test-init
  --program "$guest/smoo-gadget-standin" smoo-gadget --program "$guest/smoo-test-httpd" test-httpd
  --program "$push" fastboop-push)

# --- one boot: smoo vs virtio vs fastboot ------------------------------------
# fastboop-push serves only what holds a filesystem: ext4 of random data.
mkdir -p "$work/fill"
head -c $((mib * 1024 * 1024 * 6 / 10)) /dev/urandom >"$work/fill/random.bin"
PATH="$PATH:/usr/sbin:/sbin" mke2fs -q -F -t ext4 -O ^has_journal -E root_owner=0:0 -d "$work/fill" "$work/image.raw" "${mib}M"
rm -rf "$work/fill"
mkbootimg --kernel "$work/image.raw" --header_version 0 -o "$work/boot.img"
bsize=$(stat -c %s "$work/boot.img")
cat >"$work/boot.img.json" <<JSON
{"device_profile": {"id": "bench-smoo", "match": [{"vid": "0x18d1", "pid": "0x4ee0"}],
  "probe": [{"getvar": "product", "op": "equals", "value": "smooqemu"}],
  "boot": {"fastboot_boot": {"android_bootimg": {"header_version": 0, "page_size": 2048, "kernel": {"encoding": "image"}}}}},
 "image": {"size": $bsize, "sha512": "$(sha512sum "$work/boot.img" | cut -d' ' -f1)"}}
JSON
cat >"$work/local.conf" <<CONF
mode bench
gadget $gadget_args
serve -q serve /image.raw
virtio /dev/vda
fastboot /boot.img
CONF
[ -z "${FASTBOOP_BENCH_SMOO_READAHEAD_KB:-}" ] || echo "readahead_kb $FASTBOOP_BENCH_SMOO_READAHEAD_KB" >>"$work/local.conf"
"$here/tests/smoo/mk-initrd.sh" "$work/local.cpio" "${initrd_common[@]}" --conf "$work/local.conf" \
  --file "$work/image.raw" /image.raw --file "$work/boot.img" /boot.img \
  --file "$work/boot.img.json" /boot.img.json
boot local "$work/local.cpio" -drive "if=virtio,format=raw,readonly=on,file=$work/image.raw"
smoo_b=$(field smoo bytes local) smoo_ns=$(field smoo ns local)
virtio_b=$(field virtio bytes local) virtio_ns=$(field virtio ns local)
fb_b=$(field fastboot bytes local) fb_ns=$(field fastboot ns local)
[ "$smoo_b" = $((mib * 1048576)) ] || { tail -n 40 "$work/local.log" >&2; echo "smoo read $smoo_b bytes" >&2; exit 1; }
[ "$virtio_b" = $((mib * 1048576)) ] || { echo "virtio read $virtio_b bytes" >&2; exit 1; }
grep -q "SMQ-BENCH fastboot .* rc=0" "$work/local.log" || { tail -n 40 "$work/local.log" >&2; echo "fastboot leg failed" >&2; exit 1; }
grep -q "SMQ-FASTBOOT-DATA $bsize\$" "$work/local.log" || { echo "the fastboot gadget did not get the whole image" >&2; exit 1; }
smoo=$(mibs "$smoo_b" "$smoo_ns") virtio=$(mibs "$virtio_b" "$virtio_ns") fb=$(mibs "$fb_b" "$fb_ns")
echo "one guest boot (TCG), $mib MiB, dummy_hcd, timed inside the guest:"
printf '  %-34s %9.2f MiB/s\n' "smoo: dd of /dev/ublkb0" "$smoo" "virtio disk: dd of /dev/vda" "$virtio" \
  "fastboot download (fastboop-push)" "$fb"
printf '  %-34s %9.2fx   (goal >= 0.80x)\n' "smoo / fastboot download" "$(echo "$smoo / $fb" | bc -l)"
printf '  %-34s %9.2fx\n' "smoo / virtio disk" "$(echo "$smoo / $virtio" | bc -l)"
grep -o 'SMQ-DEVICE-READ .*' "$work/local.log" | sed 's/^/  /'

# --- second boot: served from HTTP -------------------------------------------
if [ "${FASTBOOP_BENCH_SMOO_HTTP:-1}" = 0 ]; then
  echo "HTTP boot skipped: FASTBOOP_BENCH_SMOO_HTTP=0"
  exit 0
fi
mkdir -p "$work/content" "$work/www"
head -c $((mib * 1024 * 1024 / 2)) /dev/urandom >"$work/content/random.bin"
head -c $((mib * 1024 * 1024 / 4)) /dev/zero >"$work/content/zeros.bin"
ext=$((mib + 8))
(cd "$work" &&
  PATH="$PATH:/usr/sbin:/sbin" mke2fs -q -F -t ext4 -E root_owner=0:0 -d content root.ext4 "${ext}M" &&
  truncate -s $((ext + 4))M disk.img &&
  PATH="$PATH:/usr/sbin:/sbin" sgdisk -o -n1:2048:+${ext}M -c1:root disk.img >/dev/null &&
  dd if=root.ext4 of=disk.img bs=512 seek=2048 conv=notrunc status=none &&
  img2simg disk.img disk.simg && xz -T2 --block-size=1MiB -c disk.simg >www/disk.simg.xz)
xzsize=$(stat -c %s "$work/www/disk.simg.xz")
cat >"$work/root.yaml" <<YAML
id: bench-smoo-http
rootfs:
  ext4:
    gpt:
      partlabel: root
      android_sparseimg:
        xz:
          http: http://127.0.0.1:8080/disk.simg.xz
          content: {digest: "sha512:$(sha512sum "$work/www/disk.simg.xz" | cut -d' ' -f1)", size_bytes: $xzsize}
YAML
"$profile" compile "$work/root.yaml" -o "$work/root.fbp"
cat >"$work/http.conf" <<CONF
mode bench
gadget $gadget_args
http /www 8080
serve -q serve /root.fbp
CONF
"$here/tests/smoo/mk-initrd.sh" "$work/http.cpio" "${initrd_common[@]}" --conf "$work/http.conf" \
  --file "$work/www/disk.simg.xz" /www/disk.simg.xz --file "$work/root.fbp" /root.fbp
boot http "$work/http.cpio"
hb=$(field smoo bytes http) hns=$(field smoo ns http)
fetched=$(sed -n 's/.*SMQ-HTTP-FETCHED bytes=\([0-9]*\).*/\1/p' "$work/http.log")
devread=$(sed -n 's/.*SMQ-DEVICE-READ bytes=\([0-9]*\).*/\1/p' "$work/http.log")
[ "$hb" = "$(stat -c %s "$work/root.ext4")" ] || { tail -n 40 "$work/http.log" >&2; echo "http export read $hb bytes" >&2; exit 1; }
echo "second boot: the ext4 partition served from HTTP (gpt <- sparse <- xz <- http, loopback):"
printf '  %-34s %9.2f MiB/s\n' "smoo over http: dd of /dev/ublkb0" "$(mibs "$hb" "$hns")"
printf '  %-34s %12d bytes\n' "device read" "$devread" "fetched over HTTP" "$fetched" "compressed artifact" "$xzsize"
printf '  %-34s %9.2f %%\n' "fetched / device read" "$(echo "100 * $fetched / $devread" | bc -l)"
