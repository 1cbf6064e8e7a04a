#!/usr/bin/env bash
# Build the initramfs of usb_qemu_test: static /init (init.c), the USB gadget
# modules with their dependencies in load order, the host-built fastboop-push
# with every shared library it needs (same paths, plus the loader), and the
# files of EXTRA_DIR (boot images and sidecars) at /.
#   mk-initrd.sh KPKG_TREE KVER FASTBOOP_PUSH EXTRA_DIR OUT.cpio.gz [AOSP_FASTBOOT]
# With AOSP_FASTBOOT (tests/bench/push.sh) that client is copied to
# /bin/fastboot the same way. OUT is gzipped when it ends in .gz, else a plain
# cpio: the benchmark's 64 MiB of random bytes do not compress, and inflating
# them in the TCG guest would only cost boot time.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # modprobe, depmod
tree=$1 kver=$2 push=$3 extra=$4 out=$5 aosp=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{proc,sys,dev,bin,lib/modules}

cc -static -O2 -Wall -Werror -o "$root/init" "$here/init.c"

# modprobe resolves the dependencies on the unpacked package; "builtin" lines
# need nothing, the "insmod PATH" lines come in load order.
for mod in dummy_hcd libcomposite usb_f_fs; do # one module per call: the rest would be parameters
  modprobe -d "$tree" -S "$kver" --show-depends "$mod"
done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' > "$root/modlist"
[ -s "$root/modlist" ] || { echo "mk-initrd: no modules resolved for dummy_hcd/usb_f_fs in $tree" >&2; exit 1; }
while read -r m; do
  case "$m" in
    *.ko) cp "$m" "$root/lib/modules/" ;;
    *) echo "mk-initrd: $m is compressed; the guest kernel cannot load it" >&2; exit 1 ;;
  esac
  basename "$m" >> "$root/lib/modules/order"
done < "$root/modlist"
rm "$root/modlist"

# A program at /bin/NAME with its shared libraries at their host paths (the
# guest's loader looks there).
add_program() { # PATH NAME
  cp "$1" "$root/bin/$2"
  ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}
add_program "$push" fastboop-push
[ -z "$aosp" ] || add_program "$aosp" fastboot
cp -a "$extra"/. "$root/"
case $out in
  *.gz) (cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 > "$out.tmp" ;;
  *) (cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) > "$out.tmp" ;;
esac
mv "$out.tmp" "$out"
