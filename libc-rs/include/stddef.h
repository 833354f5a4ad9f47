/* stddef.h - libc-rs (C11 7.19). */
#ifndef _STDDEF_H
#define _STDDEF_H

#include <bits/types.h>

typedef __WCHAR_TYPE__ wchar_t;
/* 16 bytes, as malloc aligns (no long double member: user code is built without x87/SSE). */
typedef struct {
	long long __max_align __attribute__((__aligned__(16)));
} max_align_t;

#define offsetof(type, member) __builtin_offsetof(type, member)

#endif
