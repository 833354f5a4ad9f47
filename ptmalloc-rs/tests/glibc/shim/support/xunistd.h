/* Our stand-in for glibc's support/xunistd.h. */
#ifndef PTMALLOC_RS_SHIM_XUNISTD_H
#define PTMALLOC_RS_SHIM_XUNISTD_H
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>
#include <support/check.h>
pid_t xfork (void);
pid_t xwaitpid (pid_t pid, int *status, int flags);
void xpipe (int fds[2]);
void xclose (int fd);
int xopen (const char *path, int flags, mode_t mode);
void xwrite (int fd, const void *buffer, size_t length);
void *xmmap (void *addr, size_t length, int prot, int flags, int fd);
void xmunmap (void *addr, size_t length);
void xdup2 (int from, int to);
#endif
