/* variadic.c - libc-rs's only C: the variadic entry points, which stable Rust cannot define.
 *
 * Each collects its arguments with va_start and hands the va_list to a function written in Rust
 * (src/stdio/c_functions.rs: vfprintf, vprintf, vsprintf, vsnprintf; src/capi/mman.rs: libc_rs_mremap),
 * which reads them as the x86-64 psABI lays a va_list out (src/va_list.rs). Nothing else belongs here.
 * Built by build.rs with gcc for x86_64-unknown-none targets only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
#include <fcntl.h>

void *libc_rs_mremap(void *old, size_t old_length, size_t new_length, int flags, void *new_address);
int libc_rs_open(const char *path, int flags);

/* open(path, flags, ...): the optional mode only matters with O_CREAT, which /proc texts never take. */
int open(const char *path, int flags, ...)
{
	return libc_rs_open(path, flags);
}

int printf(const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	int n = vprintf(format, ap);
	va_end(ap);
	return n;
}

int fprintf(FILE *stream, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	int n = vfprintf(stream, format, ap);
	va_end(ap);
	return n;
}

int sprintf(char *buffer, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	int n = vsprintf(buffer, format, ap);
	va_end(ap);
	return n;
}

int snprintf(char *buffer, size_t size, const char *format, ...)
{
	va_list ap;
	va_start(ap, format);
	int n = vsnprintf(buffer, size, format, ap);
	va_end(ap);
	return n;
}

/* mremap(old, old_length, new_length, flags, ... new_address): the fifth argument exists only with
 * MREMAP_FIXED. */
void *mremap(void *old, size_t old_length, size_t new_length, int flags, ...)
{
	void *new_address = 0;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		new_address = va_arg(ap, void *);
		va_end(ap);
	}
	return libc_rs_mremap(old, old_length, new_length, flags, new_address);
}
