/* Our stand-in for glibc's support/xthread.h: pthread calls that exit on failure. */
#ifndef PTMALLOC_RS_SHIM_XTHREAD_H
#define PTMALLOC_RS_SHIM_XTHREAD_H
#include <pthread.h>
#include <signal.h>
#include <support/check.h>
pthread_t xpthread_create (pthread_attr_t *attr, void *(*fn) (void *), void *arg);
void *xpthread_join (pthread_t thread);
void xpthread_barrier_init (pthread_barrier_t *b, pthread_barrierattr_t *attr, unsigned int count);
int xpthread_barrier_wait (pthread_barrier_t *b);
void xpthread_barrier_destroy (pthread_barrier_t *b);
void xpthread_barrierattr_init (pthread_barrierattr_t *attr);
void xpthread_barrierattr_setpshared (pthread_barrierattr_t *attr, int pshared);
void xpthread_barrierattr_destroy (pthread_barrierattr_t *attr);
void xpthread_mutex_lock (pthread_mutex_t *m);
void xpthread_mutex_unlock (pthread_mutex_t *m);
void xpthread_kill (pthread_t thread, int signal);
void xpthread_attr_init (pthread_attr_t *attr);
void xpthread_attr_destroy (pthread_attr_t *attr);
void xpthread_attr_setstacksize (pthread_attr_t *attr, size_t size);
void xpthread_attr_setdetachstate (pthread_attr_t *attr, int state);
void xpthread_detach (pthread_t thread);
void xpthread_cancel (pthread_t thread);
#endif
