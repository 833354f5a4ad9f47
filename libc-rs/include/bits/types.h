/* bits/types.h - the basic types shared by libc-rs's headers (x86-64, LP64), each defined once. */
#ifndef _LIBC_RS_BITS_TYPES_H
#define _LIBC_RS_BITS_TYPES_H

typedef __SIZE_TYPE__ size_t;
typedef long ssize_t;
typedef __PTRDIFF_TYPE__ ptrdiff_t;
typedef __INTPTR_TYPE__ intptr_t;
typedef __UINTPTR_TYPE__ uintptr_t;
typedef int pid_t;
typedef long off_t;
typedef long time_t;
typedef int clockid_t;
typedef unsigned int useconds_t;

#ifndef NULL
#define NULL ((void *)0)
#endif

#endif
