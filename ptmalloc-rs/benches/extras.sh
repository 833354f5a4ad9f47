#!/bin/bash
# Evaluates ptmalloc-rs's additions against its defaults, in the same run as glibc (benches/run.sh with the
# variant allocators): time-decay purging (ptmalloc-rs-decay, PTMALLOC_RS_DECAY_MS=$DECAY_MS, default 1000)
# on every workload plus a server's requests after an idle period, and the arena limit that follows the
# usable CPUs (ptmalloc-rs-quota, PTMALLOC_RS_CPU_QUOTA=1) with 16 threads pinned to one CPU.
# Usage: extras.sh PRELOAD_SO BUILD_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
ALLOCATORS="glibc ptmalloc-rs ptmalloc-rs-decay ptmalloc-rs-quota" EXTRAS=1 bash "$here/run.sh" "$@"
