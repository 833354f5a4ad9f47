/* stdlib.h - libc-rs: the malloc family (ptmalloc-rs, glibc 2.36 semantics), exit, abort, getenv. */
#ifndef _STDLIB_H
#define _STDLIB_H

#include <bits/types.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

void *malloc(size_t size);
void free(void *pointer);
void *calloc(size_t count, size_t size);
void *realloc(void *pointer, size_t size);
void *reallocarray(void *pointer, size_t count, size_t size);
void *aligned_alloc(size_t alignment, size_t size);
int posix_memalign(void **out, size_t alignment, size_t size);
void *valloc(size_t size);

/* Flushes stdout and stderr, then ends the process (every thread). */
void exit(int status) __attribute__((__noreturn__));
void _Exit(int status) __attribute__((__noreturn__));
/* Ends the process with SIGABRT. */
void abort(void) __attribute__((__noreturn__));
char *getenv(const char *name);

#endif
