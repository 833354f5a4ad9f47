/* malloc_bench: the malloc-heavy workload of malloc_work.h on libc-rs + ptmalloc-rs, timed with the TSC
 * (lfence; rdtsc) and printed as `BENCH malloc_heavy <ticks per step>` — the Linux peer runs the same
 * code on musl. Median of 9 runs of 20000 steps after one warm-up run. */
#include <stdint.h>
#include <stdio.h>

#include "malloc_work.h"

#define RUNS 9
#define STEPS 20000

static inline uint64_t ticks(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

int main(void)
{
	uint64_t per_step[RUNS], check = 0;
	for (int run = -1; run < RUNS; run++) {
		uint64_t t0 = ticks();
		check += malloc_work(0x9e3779b97f4a7c15ull + (uint64_t)run, STEPS);
		uint64_t t1 = ticks();
		if (run >= 0)
			per_step[run] = (t1 - t0) / STEPS;
	}
	for (int i = 1; i < RUNS; i++)
		for (int j = i; j > 0 && per_step[j - 1] > per_step[j]; j--) {
			uint64_t t = per_step[j];
			per_step[j] = per_step[j - 1];
			per_step[j - 1] = t;
		}
	if (check == 0) {
		printf("BENCH_ERROR malloc_heavy: an allocation failed\n");
		return 1;
	}
	printf("BENCH malloc_heavy %llu\n", (unsigned long long)per_step[RUNS / 2]);
	return 0;
}
