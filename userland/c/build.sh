#!/usr/bin/env bash
# build.sh OUT_DIR - builds the C programs (the demos malloc_c and malloc_brk_mmap in userland/demos;
# malloc_bench and proc_cat here) for Pagoda: gcc compiles each
# against libc-rs's headers, and a linker makes a static ET_EXEC at 0x200000 with entry _start from the object
# and libc-rs's staticlib (liblibc_rs.a: crt0, syscalls, stdio, malloc, threads; the compiler_builtins
# inside it supply memcpy, memset, memmove, memcmp and strlen).
#
# The exact commands (for malloc_c; $ROOT is the repository):
#   cargo build -p libc-rs --target x86_64-unknown-none --release
#   gcc -std=c11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdinc -I $ROOT/libc-rs/include \
#       -O2 -static -mgeneral-regs-only -fno-asynchronous-unwind-tables -Wall -Wextra -Werror \
#       -I userland/c -c userland/demos/malloc_c.c -o OUT_DIR/malloc_c.o
#   $LD -static -nostdlib --no-pie -m elf_x86_64 -e _start --image-base=0x200000 --gc-sections \
#       -z noexecstack --build-id=none -o OUT_DIR/malloc_c OUT_DIR/malloc_c.o \
#       $CARGO_TARGET_DIR/x86_64-unknown-none/release/liblibc_rs.a
# with $LD = ld.lld if installed, else the toolchain's rust-lld (`rust-lld -flavor gnu`), else GNU ld (which
# spells the base -Ttext-segment=0x200000). -mgeneral-regs-only because the kernel does not enable SSE for
# user tasks (no floating point in C programs). Then `readelf -lh` checks the result: ET_EXEC, entry =
# _start, no PT_INTERP, no PT_TLS, no segment both writable and executable.
#
# Environment: CARGO_TARGET_DIR (default $ROOT/target), CC (default gcc), LD (a GNU-style linker command),
# LIBC_RS_A (an already built liblibc_rs.a: skips the cargo build).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT_DIR=${1:?usage: build.sh OUT_DIR}
TARGET=x86_64-unknown-none
PROGRAMS=(malloc_c malloc_brk_mmap malloc_bench proc_cat)
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

# 1. libc-rs's staticlib.
if [ -z "${LIBC_RS_A:-}" ]; then
    (cd "$ROOT" && cargo build -q -p libc-rs --target "$TARGET" --release)
    LIBC_RS_A=${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/release/liblibc_rs.a
fi
[ -f "$LIBC_RS_A" ] || { echo "build.sh: $LIBC_RS_A not found" >&2; exit 1; }

# 2. The compiler and the linker.
CC=${CC:-gcc}
command -v "$CC" >/dev/null || { echo "build.sh: no C compiler ($CC); run \`make deps\` (installs gcc)" >&2; exit 1; }
CFLAGS=(-std=c11 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -nostdinc -I "$ROOT/libc-rs/include"
        -O2 -static -mgeneral-regs-only -fno-asynchronous-unwind-tables -Wall -Wextra -Werror)
if [ -n "${LD:-}" ]; then
    read -r -a LINKER <<<"$LD"
elif command -v ld.lld >/dev/null; then
    LINKER=(ld.lld)
elif RUST_LLD="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/rust-lld" &&
     [ -x "$RUST_LLD" ]; then
    LINKER=("$RUST_LLD" -flavor gnu)
elif command -v ld >/dev/null; then
    LINKER=(ld)
else
    echo "build.sh: no linker (ld.lld, rust-lld or ld)" >&2
    exit 1
fi
# lld and GNU ld name the base address differently.
if "${LINKER[@]}" --version 2>/dev/null | grep -q '^GNU ld'; then
    BASE_FLAG=(-Ttext-segment=0x200000)
else
    BASE_FLAG=(--image-base=0x200000)
fi
LDFLAGS=(-static -nostdlib --no-pie -m elf_x86_64 -e _start "${BASE_FLAG[@]}" --gc-sections -z noexecstack
         --build-id=none)

# 3. Compile, link, check.
for program in "${PROGRAMS[@]}"; do
    object="$OUT_DIR/$program.o"
    elf="$OUT_DIR/$program"
    # The seed demos live in userland/demos, the other C programs (benchmark, tools) here.
    source_file="$ROOT/userland/demos/$program.c"
    [ -f "$source_file" ] || source_file="$ROOT/userland/c/$program.c"
    "$CC" "${CFLAGS[@]}" -I "$ROOT/userland/c" -c "$source_file" -o "$object"
    "${LINKER[@]}" "${LDFLAGS[@]}" -o "$elf" "$object" "$LIBC_RS_A"

    headers=$(readelf -lhW "$elf")
    grep -q 'Type:.*EXEC' <<<"$headers" || { echo "build.sh: $elf is not ET_EXEC" >&2; exit 1; }
    ! grep -qE '^\s+(INTERP|TLS)\s' <<<"$headers" || { echo "build.sh: $elf has PT_INTERP or PT_TLS" >&2; exit 1; }
    if awk '$1 == "LOAD" && $7 ~ /W/ && $7 ~ /E/ { found = 1 } END { exit !found }' <<<"$headers"; then
        echo "build.sh: $elf has a writable and executable segment" >&2
        exit 1
    fi
    entry=$(sed -n 's/^ *Entry point address: *//p' <<<"$headers")
    start=$(nm "$elf" | awk '$3 == "_start" { print "0x" $1 }')
    [ "$((entry))" = "$((start))" ] || { echo "build.sh: entry $entry is not _start ($start)" >&2; exit 1; }
    echo "build.sh: $elf (${LINKER[0]##*/}, entry $entry)"
done
