/* malloc_work.h - the malloc-heavy workload of `make bench`, shared by Pagoda's malloc_bench (libc-rs +
 * ptmalloc-rs) and the Linux peer's bench.c (static musl), so both run exactly the same C code.
 *
 * A live set of SLOTS blocks; each step frees a random slot and allocates a new block of a random size
 * (mostly small, some medium, a few large), writes its first and last bytes, and every 16th step grows a
 * block with realloc. Sizes follow a skewed distribution like a typical program's. Returns a checksum so
 * the work cannot be optimized away. Random numbers: xorshift64*, seeded by the caller. */
#ifndef MALLOC_WORK_H
#define MALLOC_WORK_H

#include <stdint.h>
#include <stdlib.h>

#define MALLOC_WORK_SLOTS 1024

static uint64_t malloc_work_next(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static size_t malloc_work_size(uint64_t r)
{
	unsigned bucket = (unsigned)(r % 100);
	if (bucket < 70)
		return 16 + (size_t)((r >> 8) % 112);   /* 16..127: tcache/fastbin sizes */
	if (bucket < 95)
		return 128 + (size_t)((r >> 8) % 1920); /* 128..2047: small bins */
	return 2048 + (size_t)((r >> 8) % 30720);       /* 2 KiB..32 KiB: large bins */
}

/* Runs `steps` free+malloc steps; returns a checksum. */
static uint64_t malloc_work(uint64_t seed, unsigned steps)
{
	static unsigned char *slot[MALLOC_WORK_SLOTS];
	static size_t size[MALLOC_WORK_SLOTS];
	uint64_t state = seed | 1, sum = 0;
	for (unsigned i = 0; i < steps; i++) {
		uint64_t r = malloc_work_next(&state);
		unsigned k = (unsigned)(r % MALLOC_WORK_SLOTS);
		free(slot[k]);
		size[k] = malloc_work_size(malloc_work_next(&state));
		slot[k] = malloc(size[k]);
		if (!slot[k])
			return 0;
		slot[k][0] = (unsigned char)i;
		slot[k][size[k] - 1] = (unsigned char)k;
		if ((i & 15) == 0) {
			size_t bigger = size[k] + size[k] / 2;
			unsigned char *p = realloc(slot[k], bigger);
			if (!p)
				return 0;
			slot[k] = p;
			size[k] = bigger;
			p[bigger - 1] = 1;
		}
		sum += slot[k][0] + (uintptr_t)slot[k] % 4096;
	}
	for (unsigned k = 0; k < MALLOC_WORK_SLOTS; k++) {
		free(slot[k]);
		slot[k] = 0;
	}
	return sum;
}

#endif
