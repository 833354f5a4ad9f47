#!/bin/sh
# Builds a bootable hybrid ISO (SeaBIOS and UEFI) around a kernel ELF.
#   grub/mkiso.sh KERNEL_ELF OUTPUT_ISO [KERNEL_ARGS] [GRUB_TIMEOUT] [PROGRAM_ELF...]
# Each PROGRAM_ELF becomes a multiboot2 module /boot/bin/NAME with the command line NAME, which is how
# the kernel finds programs to run (init=NAME, spawn).
# The kernel is stripped for the ISO (GRUB reads unstripped ones slowly); its text symbols go into the
# `ksyms` module so that backtraces name functions.
set -eu
kernel=$1
out=$2
args=${3:-}
timeout=${4:-0}
if [ $# -ge 4 ]; then shift 4; else shift $#; fi
here=$(cd "$(dirname "$0")" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/pagoda-iso.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/boot/grub"
strip --strip-all -o "$stage/boot/kernel" "$kernel"
# Text symbols with sizes, demangled, sorted by address (see kernel/lib/ksyms).
nm -n -S -C --defined-only "$kernel" | grep ' [tTwW] ' > "$stage/boot/kernel.sym" || true
mkdir -p "$stage/boot/bin"
modules=""
for program in "$@"; do
    name=$(basename "$program")
    strip --strip-all -o "$stage/boot/bin/$name" "$program"
    modules="$modules    module2 /boot/bin/$name $name\n"
done
# `vga=normal` asks for EGA text mode, as GRUB's Linux loader reads it: gfxpayload set after
# `multiboot2` overrides the graphics mode the kernel's header asks for.
case " $args " in
    *" vga=normal "*) textmode="    set gfxpayload=text" ;;
    *) textmode="" ;;
esac
# Escape characters that are special to sed's replacement text.
esc_args=$(printf '%s' "$args" | sed -e 's/[\\&|]/\\&/g')
sed -e "s|@ARGS@|$esc_args|g" -e "s|@TIMEOUT@|$timeout|g" -e "s|^ *@MODULES@\$|$modules|" \
    -e "s|^ *@TEXTMODE@\$|$textmode|" \
    "$here/grub.cfg.in" > "$stage/boot/grub/grub.cfg"
mkdir -p "$(dirname "$out")"
grub-mkrescue -o "$out.$$.tmp" "$stage" >/dev/null 2>&1 || {
    echo "mkiso: grub-mkrescue failed; run 'make deps' (needs grub-pc-bin, grub-efi-amd64-bin, xorriso, mtools)" >&2
    grub-mkrescue -o "$out.$$.tmp" "$stage"
    exit 1
}
mv "$out.$$.tmp" "$out"
