/* string.h - libc-rs. memcpy, memmove, memset, memcmp and strlen come from Rust's compiler_builtins (linked
 * into liblibc_rs.a); the others from libc-rs (src/string.rs). */
#ifndef _STRING_H
#define _STRING_H

#include <bits/types.h>

void *memcpy(void *restrict destination, const void *restrict source, size_t n);
void *memmove(void *destination, const void *source, size_t n);
void *memset(void *destination, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strcpy(char *restrict destination, const char *restrict source);
char *strchr(const char *s, int c);

#endif
