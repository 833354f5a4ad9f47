/* stdio.h - libc-rs: stdout (line-buffered) and stderr (unbuffered), the printf family and a few writers.
 * printf conversions: %d %i %u %o %x %X %c %s %p %% with flags - + space # 0, width, precision (or *), and
 * hh h l ll z j t; no floating point (%f %e %g) and no %n. No stdin, no files. */
#ifndef _STDIO_H
#define _STDIO_H

#include <bits/types.h>

typedef struct libc_rs_file FILE;

extern FILE *stdout;
extern FILE *stderr;
#define stdout stdout
#define stderr stderr

#define EOF (-1)
#define BUFSIZ 1024

int printf(const char *format, ...) __attribute__((__format__(__printf__, 1, 2)));
int fprintf(FILE *stream, const char *format, ...) __attribute__((__format__(__printf__, 2, 3)));
int sprintf(char *buffer, const char *format, ...) __attribute__((__format__(__printf__, 2, 3)));
int snprintf(char *buffer, size_t size, const char *format, ...) __attribute__((__format__(__printf__, 3, 4)));
int vprintf(const char *format, __builtin_va_list ap);
int vfprintf(FILE *stream, const char *format, __builtin_va_list ap);
int vsprintf(char *buffer, const char *format, __builtin_va_list ap);
int vsnprintf(char *buffer, size_t size, const char *format, __builtin_va_list ap);

int puts(const char *text);
int fputs(const char *text, FILE *stream);
int putchar(int c);
int fputc(int c, FILE *stream);
int putc(int c, FILE *stream);
size_t fwrite(const void *data, size_t size, size_t count, FILE *stream);
int fflush(FILE *stream);

#endif
