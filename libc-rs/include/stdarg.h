/* stdarg.h - libc-rs (C11 7.16): gcc's builtins. */
#ifndef _STDARG_H
#define _STDARG_H

typedef __builtin_va_list va_list;

#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, type) __builtin_va_arg(ap, type)
#define va_copy(destination, source) __builtin_va_copy(destination, source)
#define va_end(ap) __builtin_va_end(ap)

#endif
