/* malloc.h - libc-rs: the malloc family of ptmalloc-rs with glibc 2.36's extensions and mallopt numbers. */
#ifndef _MALLOC_H
#define _MALLOC_H

#include <bits/types.h>

void *malloc(size_t size);
void free(void *pointer);
void *calloc(size_t count, size_t size);
void *realloc(void *pointer, size_t size);
void *reallocarray(void *pointer, size_t count, size_t size);
void *memalign(size_t alignment, size_t size);
void *aligned_alloc(size_t alignment, size_t size);
int posix_memalign(void **out, size_t alignment, size_t size);
void *valloc(size_t size);
void *pvalloc(size_t size);
size_t malloc_usable_size(void *pointer);

/* mallopt parameters (glibc's numbers). */
#define M_MXFAST 1
#define M_NLBLKS 2
#define M_GRAIN 3
#define M_KEEP 4
#define M_TRIM_THRESHOLD -1
#define M_TOP_PAD -2
#define M_MMAP_THRESHOLD -3
#define M_MMAP_MAX -4
#define M_CHECK_ACTION -5
#define M_PERTURB -6
#define M_ARENA_TEST -7
#define M_ARENA_MAX -8

int mallopt(int parameter, int value);

struct mallinfo2 {
	size_t arena;    /* non-mmapped space obtained from the system */
	size_t ordblks;  /* free chunks */
	size_t smblks;   /* free fastbin chunks */
	size_t hblks;    /* mmapped regions */
	size_t hblkhd;   /* bytes in mmapped regions */
	size_t usmblks;  /* always 0 */
	size_t fsmblks;  /* bytes in free fastbin chunks */
	size_t uordblks; /* bytes in use */
	size_t fordblks; /* bytes free */
	size_t keepcost; /* releasable top space */
};

struct mallinfo2 mallinfo2(void);
/* glibc's report, to stderr. */
void malloc_stats(void);
int malloc_trim(size_t pad);

#endif
