#!/bin/bash
# Builds glibc 2.36's own malloc tests (malloc/tst-*.c from Debian's glibc-source package, extracted at run
# time, never committed) against our support shim, runs each on the host glibc and with
# LD_PRELOAD=libptmalloc_rs.so, and fails if a test that passes on glibc fails on ptmalloc-rs.
# Usage: run.sh PRELOAD_SO BUILD_DIR
set -u
so=$(realpath "$1")
build=$2
here=$(cd "$(dirname "$0")" && pwd)

tarball=$(ls /usr/src/glibc/glibc-*.tar.xz 2>/dev/null | head -n1)
if [ -z "$tarball" ]; then
  echo "glibc-source is not installed (make test installs it)" >&2
  exit 1
fi
mkdir -p "$build"
src=$build/$(basename "$tarball" .tar.xz)
if [ ! -d "$src/malloc" ]; then
  tar -xJf "$tarball" -C "$build" --wildcards "*/malloc/tst-*" || exit 1
fi
cp "$here/shim/test-skeleton.c" "$src/test-skeleton.c"

cc_flags=(-O1 -g -w -fno-builtin -pthread -D_GNU_SOURCE -I "$here/shim" -I "$src")
gcc "${cc_flags[@]}" -c -o "$build/support.o" "$here/shim/support.c" || exit 1

# The tests that exercise malloc itself; the rest need glibc internals (mcheck, mtrace, dynarray, obstack,
# compat symbols, libc_malloc_debug.so).
tests=${TESTS:-"tst-calloc tst-free-errno tst-mallinfo2 tst-malloc-backtrace tst-malloc-fork-deadlock
  tst-malloc-stats-cancellation tst-malloc-tcache-leak tst-malloc-thread-exit tst-malloc-thread-fail
  tst-malloc-too-large tst-malloc tst-malloc_info tst-mallocalign1 tst-mallocfork tst-mallocfork2
  tst-mallocfork3 tst-mallopt tst-memalign tst-mxfast tst-posix_memalign tst-pvalloc tst-pvalloc-fortify
  tst-realloc tst-reallocarray tst-safe-linking tst-tcfree1 tst-tcfree2 tst-tcfree3 tst-trim1 tst-valloc
  tst-malloc-usable"}

test_env() {
  case $1 in
    tst-mxfast) echo "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0" ;;
    tst-malloc-usable) echo "MALLOC_CHECK_=3" ;;
    *) echo "PTMALLOC_RS_TEST=1" ;;
  esac
}

outcome() {
  case $1 in
    0) echo pass ;;
    77) echo unsupported ;;
    124) echo timeout ;;
    *) echo "fail($1)" ;;
  esac
}

printf '%-32s %-14s %-14s\n' test glibc ptmalloc-rs
passed=0
failed=0
regressions=""
for t in $tests; do
  extra=()
  [ "$t" = tst-pvalloc-fortify ] && extra=(-D_FORTIFY_SOURCE=2)
  if ! gcc "${cc_flags[@]}" "${extra[@]}" -o "$build/$t" "$src/malloc/$t.c" "$build/support.o" 2>"$build/$t.build.log"; then
    printf '%-32s %-14s %-14s\n' "$t" "not built" "not built"
    continue
  fi
  env_setting=$(test_env "$t")
  (cd "$build" && env "$env_setting" timeout 120 "./$t" >"$t.glibc.log" 2>&1)
  glibc=$(outcome $?)
  (cd "$build" && env "$env_setting" LD_PRELOAD="$so" timeout 120 "./$t" >"$t.ptmalloc.log" 2>&1)
  ours=$(outcome $?)
  printf '%-32s %-14s %-14s\n' "$t" "$glibc" "$ours"
  if [ "$glibc" = pass ]; then
    if [ "$ours" = pass ]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      regressions="$regressions $t"
    fi
  fi
done
echo "glibc malloc tests that pass on glibc: $passed passed, $failed failed on ptmalloc-rs"
if [ -n "$regressions" ]; then
  echo "regressions:$regressions (logs in $build)"
  exit 1
fi
echo "$passed passed, $failed failed"
