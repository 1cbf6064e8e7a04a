#!/usr/bin/env bash
# Build an initramfs (newc cpio) for the smoo QEMU guest (tests/smoo).
#   mk-initrd.sh OUT [--kernel TREE KVER] [--module NAME]... [--program PATH NAME]...
#                [--file PATH DEST]... [--conf FILE]
# --kernel/--module: the modules and their dependencies, in load order (from
#   modprobe --show-depends on the unpacked package), into /lib/modules with
#   /lib/modules/order; .ko.xz stays compressed (the guest kernel decompresses).
# --program: PATH at /bin/NAME (debug info stripped); a dynamic program brings every shared library
#   it needs at the same path, plus the loader.
# --file: PATH at DEST (absolute path inside the guest).
# --conf: FILE at /smoo-test.conf (what the guest's init does).
# OUT ending in .gz is gzipped (fast level): the benchmark's random images do
# not compress, and inflating them in a TCG guest only costs boot time.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" # modprobe
out=$1
shift
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{proc,sys,dev,run,bin,lib/modules,root}
tree= kver= modules=()
add_program() { # PATH NAME
  cp "$1" "$root/bin/$2"
  # Debug info would fill the guest's RAM-backed root (a -g fastboop is
  # 100 MiB); the guest never needs it.
  strip --strip-debug "$root/bin/$2" 2>/dev/null || true
  { ldd "$1" 2>/dev/null || true; } | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
    while read -r lib; do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
}
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) tree=$2 kver=$3; shift 3 ;;
    --module) modules+=("$2"); shift 2 ;;
    --program) add_program "$2" "$3"; shift 3 ;;
    --file) mkdir -p "$root$(dirname "$3")"; cp "$2" "$root$3"; shift 3 ;;
    --conf) cp "$2" "$root/smoo-test.conf"; shift 2 ;;
    *) echo "mk-initrd: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [ ${#modules[@]} -gt 0 ]; then
  [ -n "$tree" ] || { echo "mk-initrd: --module needs --kernel" >&2; exit 2; }
  for mod in "${modules[@]}"; do # one module per call: the rest would be parameters
    modprobe -d "$tree" -S "$kver" --show-depends "$mod" || { echo "mk-initrd: no module $mod in $tree" >&2; exit 1; }
  done | awk '$1 == "insmod" && !seen[$2]++ {print $2}' > "$root/modlist"
  while read -r m; do
    cp "$m" "$root/lib/modules/"
    basename "$m" >> "$root/lib/modules/order"
  done < "$root/modlist"
  rm "$root/modlist"
fi
case $out in
  *.gz) (cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 > "$out.tmp" ;;
  *) (cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) > "$out.tmp" ;;
esac
mv "$out.tmp" "$out"
