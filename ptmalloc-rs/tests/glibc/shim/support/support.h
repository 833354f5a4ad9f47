/* Our stand-in for glibc's support/support.h: the helpers glibc's malloc tests use (ptmalloc-rs tests). */
#ifndef PTMALLOC_RS_SHIM_SUPPORT_H
#define PTMALLOC_RS_SHIM_SUPPORT_H
#define _GNU_SOURCE 1
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

void support_record_failure (void);
int support_record_failure_is_failed (void);
void write_message (const char *message);
void *xmalloc (size_t n);
void *xcalloc (size_t n, size_t s);
void *xrealloc (void *p, size_t n);
char *xstrdup (const char *s);
void *xposix_memalign (size_t alignment, size_t n);
char *xasprintf (const char *format, ...);
long xsysconf (int name);
void *support_shared_allocate (size_t size);
void support_shared_free (void *p);
void support_need_proc (const char *reason);
void ignore_stderr (void);
#define DEFAULT_TIMEOUT 20
#endif
