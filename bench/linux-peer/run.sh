#!/usr/bin/env bash
# Run the Linux peer benchmark (bench.c as /init of a Debian cloud kernel)
# under QEMU TCG with -icount shift=0, once with mitigations=off and once with
# the kernel's default mitigations.
#
# stdout: one line per result,  LINUX <variant> <name> <ticks>
# stderr: everything else (progress, kernel version, mitigation status).
#
# Environment:
#   CPU      QEMU -cpu model (default qemu64; compare with Pagoda on the same one)
#   TIMEOUT  seconds allowed per QEMU run (default 120)
#   QEMU     QEMU binary (default qemu-system-x86_64)
#
# Idempotent: downloads and builds are cached in build/linux-peer/ at the
# repository root; delete that directory to start over (and to pick up a newer
# kernel package).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="$ROOT/build/linux-peer"
CPU="${CPU:-qemu64}"
TIMEOUT="${TIMEOUT:-120}"
QEMU="${QEMU:-qemu-system-x86_64}"
NAMES=(null_syscall demand_zero_fault ipc_pipe_roundtrip ipc_futex_roundtrip context_switch
	brk_grow_shrink mmap_munmap_64k mmap_munmap_100m mprotect_pair malloc_heavy)

log() { echo "linux-peer: $*" >&2; }
fail() { echo "linux-peer: error: $*" >&2; exit 1; }

mkdir -p "$OUT"

# --- 1. toolchain ----------------------------------------------------------
if ! command -v musl-gcc >/dev/null 2>&1; then
	log "musl-gcc not found; installing musl-tools"
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get install -y musl-tools >&2 ||
			{ apt-get update >&2 && apt-get install -y musl-tools >&2; } ||
			fail "apt-get install musl-tools failed"
	else
		fail "musl-gcc missing; install it (Debian: apt-get install musl-tools) and re-run"
	fi
	command -v musl-gcc >/dev/null 2>&1 || fail "musl-gcc still missing after installing musl-tools"
fi
command -v "$QEMU" >/dev/null 2>&1 || fail "$QEMU not found"
command -v python3 >/dev/null 2>&1 || fail "python3 not found (needed to write the cpio archive)"

# --- 2. kernel (downloaded once) -------------------------------------------
KDIR="$OUT/kernel"
if [ ! -s "$KDIR/vmlinuz" ] || [ ! -s "$KDIR/package" ]; then
	command -v apt-get >/dev/null 2>&1 || fail "apt-get not found; cannot fetch the Debian kernel"
	PKG="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')"
	[ -n "$PKG" ] || fail "cannot resolve linux-image-cloud-amd64 (try: apt-get update)"
	log "downloading $PKG"
	rm -rf "$KDIR"
	mkdir -p "$KDIR/pkg"
	(cd "$KDIR" && apt-get download "$PKG" >&2) || fail "apt-get download $PKG failed"
	DEB="$(ls "$KDIR"/*.deb | head -n1)"
	dpkg-deb -x "$DEB" "$KDIR/pkg" || fail "dpkg-deb -x $DEB failed"
	VMLINUZ="$(ls "$KDIR"/pkg/boot/vmlinuz-* | head -n1)"
	[ -s "$VMLINUZ" ] || fail "no boot/vmlinuz-* in $DEB"
	cp "$VMLINUZ" "$KDIR/vmlinuz"
	# Record "package version" for the log, then drop the unpacked tree
	# (mostly modules we never load).
	echo "$(dpkg-deb -f "$DEB" Package) $(dpkg-deb -f "$DEB" Version)" > "$KDIR/package"
	rm -rf "$KDIR/pkg" "$DEB"
fi
log "kernel: $(cat "$KDIR/package")"

# --- 3. benchmark init and initramfs ---------------------------------------
musl-gcc -O2 -static -Wall -Wextra -o "$OUT/init" "$HERE/bench.c" || fail "compiling bench.c failed"
python3 "$HERE/mkcpio.py" "$OUT/init" "$OUT/init.cpio" || fail "building init.cpio failed"

# --- 4. run ------------------------------------------------------------------
# Common command line: no KASLR / randomised mmap / randomised kernel stack
# offset, so run-to-run differences come from nothing but the code.
BASE_APPEND="console=ttyS0 quiet nokaslr norandmaps randomize_kstack_offset=off"

run_variant() {
	local variant="$1" append="$2"
	local logf="$OUT/qemu-${variant//=/-}.log"
	log "running variant $variant (-cpu $CPU, timeout ${TIMEOUT}s)"
	local start=$SECONDS rc=0
	timeout "$TIMEOUT" "$QEMU" -accel tcg -icount shift=0 -cpu "$CPU" -m 512M \
		-kernel "$KDIR/vmlinuz" -initrd "$OUT/init.cpio" \
		-append "$append" -nographic -no-reboot \
		</dev/null >"$logf" 2>&1 || rc=$?
	log "variant $variant: qemu exit $rc after $((SECONDS - start)) s (log: $logf)"
	[ "$rc" -eq 124 ] && fail "variant $variant timed out after ${TIMEOUT}s; see $logf"
	[ "$rc" -eq 0 ] || fail "variant $variant: qemu exited with status $rc; see $logf"

	# Serial output has CRLF line ends and firmware terminal escape codes
	# (ESC c, ESC [ ... letter); strip both before matching whole lines.
	local clean="$OUT/qemu-${variant//=/-}.txt"
	tr -d '\r' <"$logf" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' >"$clean"

	grep '^INFO ' "$clean" >&2 || true
	if grep -q '^BENCH_ERROR' "$clean"; then
		grep '^BENCH_ERROR' "$clean" >&2
		fail "variant $variant: benchmark reported an error"
	fi
	grep -q '^BENCH_DONE' "$clean" || fail "variant $variant: no BENCH_DONE line; see $logf"

	local name value
	for name in "${NAMES[@]}"; do
		value="$(awk -v n="$name" '$1 == "BENCH" && $2 == n { print $3; exit }' "$clean")"
		[[ "$value" =~ ^[0-9]+$ ]] || fail "variant $variant: missing or bad BENCH line for $name; see $logf"
		echo "LINUX $variant $name $value"
	done
}

run_variant "mitigations=off" "$BASE_APPEND mitigations=off"
run_variant "default" "$BASE_APPEND"
