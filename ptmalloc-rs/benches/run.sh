#!/bin/bash
# The ptmalloc-rs benchmark: the same workloads under glibc, ptmalloc-rs, jemalloc, mimalloc, tcmalloc (Debian
# packages) and talc, dlmalloc (Rust crates behind our C ABI wrapper benches/peers, which the Makefile builds
# into BUILD_DIR/peers) through LD_PRELOAD, alternating the order, RUNS (default 5) runs each; prints medians
# of the time metric, peak RSS and minor faults with ratios to glibc measured in the same run.
# Workloads: glibc's benchtests bench-malloc-simple and bench-malloc-thread (from glibc-source, built here),
# our own (churn, prodcons, idle, bigalloc) and two real programs from Debian packages (perl, gcc).
# Usage: run.sh PRELOAD_SO BUILD_DIR. Environment: RUNS, ALLOCATORS (names, see below), EXTRAS=1 (the
# additions' workloads), ONLY (a regular expression on workload names), DECAY_MS (of ptmalloc-rs-decay).
set -u
so=$(realpath "$1")
build=$2
runs=${RUNS:-5}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build"
build=$(realpath "$build")

tarball=$(ls /usr/src/glibc/glibc-*.tar.xz 2>/dev/null | head -n1)
[ -n "$tarball" ] || { echo "glibc-source is not installed" >&2; exit 1; }
src=$build/$(basename "$tarball" .tar.xz)
if [ ! -f "$src/benchtests/bench-malloc-thread.c" ]; then
  tar -xJf "$tarball" -C "$build" --wildcards "*/benchtests/bench-malloc-*.c" "*/benchtests/json-lib.*" \
    "*/benchtests/bench-timing.h" || exit 1
fi
# The thread benchmark runs for a fixed 10 s; 2 s per run is enough here.
sed 's/^#define BENCHMARK_DURATION.*/#define BENCHMARK_DURATION 2/' "$src/benchtests/bench-malloc-thread.c" \
  > "$build/bench-malloc-thread.c"
cflags=(-O2 -w -fno-builtin -pthread -I "$here/shim" -I "$src/benchtests")
gcc "${cflags[@]}" -o "$build/bench-malloc-simple" "$src/benchtests/bench-malloc-simple.c" "$src/benchtests/json-lib.c" -lm || exit 1
gcc "${cflags[@]}" -o "$build/bench-malloc-thread" "$build/bench-malloc-thread.c" "$src/benchtests/json-lib.c" -lm || exit 1
for w in churn prodcons idle bigalloc; do
  gcc "${cflags[@]}" -o "$build/$w" "$here/c/$w.c" || exit 1
done

libdir=/usr/lib/x86_64-linux-gnu
# ALLOCATORS may pick a subset or add the ptmalloc-rs variants with an addition turned on.
read -r -a allocators <<<"${ALLOCATORS:-glibc ptmalloc-rs jemalloc mimalloc tcmalloc talc dlmalloc}"
declare -A lib=([glibc]="" [ptmalloc-rs]="$so" [jemalloc]="$libdir/libjemalloc.so.2"
  [mimalloc]="$libdir/libmimalloc.so.2" [tcmalloc]="$libdir/libtcmalloc_minimal.so.4"
  [talc]="$build/peers/release/libpeer_talc.so" [dlmalloc]="$build/peers/release/libpeer_dlmalloc.so"
  [ptmalloc-rs-decay]="$so" [ptmalloc-rs-quota]="$so")
declare -A variant_env=([ptmalloc-rs-decay]="PTMALLOC_RS_DECAY_MS=${DECAY_MS:-1000}"
  [ptmalloc-rs-quota]="PTMALLOC_RS_CPU_QUOTA=1")

# name | metric kind | command (run in $build)
workloads=(
  "malloc-simple|simple|./bench-malloc-simple"
  "malloc-thread-1|thread|./bench-malloc-thread 1"
  "malloc-thread-4|thread|./bench-malloc-thread 4"
  "churn|wall|./churn 20000000"
  "prodcons|wall|./prodcons 800000"
  "idle-90%-free|wall|./idle 1000000 1500"
  "bigalloc|wall|./bigalloc 2500"
  "perl|wall|perl $here/c/perl-workload.pl"
  "gcc -O2|wall|gcc -O2 -w -c $here/c/churn.c $here/c/prodcons.c $here/c/idle.c $here/c/bigalloc.c $src/benchtests/json-lib.c -I $src/benchtests"
)
# Workloads of the additions' evaluation (benches/extras.sh): a server's requests after the idle period, and
# 16 threads on one CPU (where an arena limit that follows the usable CPUs matters).
extra_workloads=(
  "idle-then-work|wall|./idle 1000000 1500 20000"
  "thread-16-on-1cpu|thread|taskset -c 0 ./bench-malloc-thread 16"
)
[ -n "${EXTRAS:-}" ] && workloads+=("${extra_workloads[@]}")
# ONLY (an extended regular expression) keeps the workloads whose name matches.
if [ -n "${ONLY:-}" ]; then
  kept=()
  for w in "${workloads[@]}"; do [[ ${w%%|*} =~ $ONLY ]] && kept+=("$w"); done
  workloads=("${kept[@]}")
fi

results=$build/results.tsv
: > "$results"
echo "running ${#workloads[@]} workloads x ${#allocators[@]} allocators x $runs runs..." >&2
for ((run = 0; run < runs; run++)); do
  for ((k = 0; k < ${#allocators[@]}; k++)); do
    a=${allocators[$(((k + run) % ${#allocators[@]}))]}
    [ -z "${lib[$a]}" ] || [ -f "${lib[$a]}" ] || continue
    for w in "${workloads[@]}"; do
      IFS='|' read -r name kind cmd <<<"$w"
      preload=()
      [ -n "${lib[$a]}" ] && preload=("LD_PRELOAD=${lib[$a]}")
      [ -n "${variant_env[$a]:-}" ] && preload+=("${variant_env[$a]}")
      start=$(date +%s%N)
      (cd "$build" && /usr/bin/time -f "%M %R" -o "$build/time.out" env "${preload[@]}" $cmd >"$build/out.txt" 2>"$build/err.txt")
      status=$?
      end=$(date +%s%N)
      read -r rss faults <"$build/time.out"
      case $kind in
        wall) metric=$(((end - start) / 1000)) ;;
        simple) metric=$(grep -o '_time": [0-9.e+-]*' "$build/out.txt" | awk '{s += $2} END {printf "%.3f", s}') ;;
        thread) metric=$(grep -o '"time_per_iteration": [0-9.e+-]*' "$build/out.txt" | awk '{print $2}') ;;
      esac
      idle=$(awk '/rss_after_idle_kb/ {print $2}' "$build/out.txt")
      [ "$status" = 0 ] || metric=NaN
      printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$a" "${metric:-NaN}" "$rss" "$faults" "${idle:--}" >>"$results"
    done
  done
done

awk -F'\t' -v order="${allocators[*]}" '
function median(list,   n, arr, i, j, t) {
  n = split(list, arr, " ")
  for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (arr[j] + 0 < arr[i] + 0) { t = arr[i]; arr[i] = arr[j]; arr[j] = t }
  return n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
}
{
  key = $1 SUBSEP $2
  if (!($1 in seen)) { seen[$1] = 1; names[++nw] = $1 }
  time[key] = time[key] " " $3; rss[key] = rss[key] " " $4; flt[key] = flt[key] " " $5
  if ($6 != "-") idle[key] = idle[key] " " $6
}
END {
  na = split(order, alloc, " ")
  printf "%-18s %-18s %12s %7s %10s %7s %10s %7s\n", "workload", "allocator", "time", "speed", "peak RSS", "RSS", "minflt", "faults"
  printf "%-18s %-18s %12s %7s %10s %7s %10s %7s\n", "", "", "(median)", "xglibc", "KiB", "xglibc", "", "xglibc"
  for (w = 1; w <= nw; w++) {
    g = names[w] SUBSEP "glibc"
    gt = median(time[g]); gr = median(rss[g]); gf = median(flt[g])
    for (i = 1; i <= na; i++) {
      k = names[w] SUBSEP alloc[i]
      if (!(k in time)) continue
      t = median(time[k]); r = median(rss[k]); f = median(flt[k])
      sp = (t > 0) ? gt / t : 0; rr = (gr > 0) ? r / gr : 0; fr = (gf > 0) ? f / gf : 0
      printf "%-18s %-18s %12.4g %7.2f %10d %7.2f %10d %7.2f\n", names[w], alloc[i], t, sp, r, rr, f, fr
      if (sp > 0) { lsp[alloc[i]] += log(sp); nsp[alloc[i]]++ }
      if (rr > 0) { lrss[alloc[i]] += log(rr); nrss[alloc[i]]++ }
    }
  }
  print ""
  print "geometric means over all workloads (speed: >1 is faster than glibc; RSS: <1 is smaller):"
  for (i = 1; i <= na; i++) if (nsp[alloc[i]] > 0)
    printf "  %-18s speed %.3f  peak RSS %.3f\n", alloc[i], exp(lsp[alloc[i]] / nsp[alloc[i]]), exp(lrss[alloc[i]] / nrss[alloc[i]])
  print ""
  print "RSS after freeing 90% and idling 1.5 s (idle workloads, KiB, median):"
  for (w = 1; w <= nw; w++) for (i = 1; i <= na; i++) {
    k = names[w] SUBSEP alloc[i]
    if (k in idle) printf "  %-18s %-18s %10d\n", names[w], alloc[i], median(idle[k])
  }
  print ""
  print "time: wall microseconds, except malloc-simple (sum of ns/op of its cases) and malloc-thread (ns/iteration)"
}' "$results"
