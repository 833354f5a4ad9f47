/* pthread.h - libc-rs: threads (kernel tasks sharing the address space) and normal mutexes.
 * Only the thread that created a thread can join it (the kernel makes the creator its parent); threads that
 * are never joined keep their stack (no detached threads). Mutexes are non-recursive and unchecked; mutex
 * attributes are ignored; the only thread attribute is the stack size. */
#ifndef _PTHREAD_H
#define _PTHREAD_H

#include <bits/types.h>

typedef unsigned long pthread_t;
typedef union {
	char __size[56];
	long __align;
} pthread_attr_t;
typedef union {
	int __lock; /* the futex word */
	char __size[40];
	long __align;
} pthread_mutex_t;
typedef union {
	char __size[4];
	int __align;
} pthread_mutexattr_t;

#define PTHREAD_MUTEX_INITIALIZER { 0 }
#define PTHREAD_STACK_MIN 16384

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg);
int pthread_join(pthread_t thread, void **result);
void pthread_exit(void *result) __attribute__((__noreturn__));
pthread_t pthread_self(void);
int pthread_equal(pthread_t a, pthread_t b);

int pthread_attr_init(pthread_attr_t *attr);
int pthread_attr_destroy(pthread_attr_t *attr);
int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size);
int pthread_attr_getstacksize(const pthread_attr_t *attr, size_t *size);

int pthread_mutex_init(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr);
int pthread_mutex_destroy(pthread_mutex_t *mutex);
int pthread_mutex_lock(pthread_mutex_t *mutex);
int pthread_mutex_trylock(pthread_mutex_t *mutex);
int pthread_mutex_unlock(pthread_mutex_t *mutex);

#endif
