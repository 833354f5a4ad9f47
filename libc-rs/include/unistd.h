/* unistd.h - libc-rs: the system calls with Linux x86-64 semantics (-1 and errno on failure). */
#ifndef _UNISTD_H
#define _UNISTD_H

#include <bits/types.h>

#define STDIN_FILENO 0
#define STDOUT_FILENO 1
#define STDERR_FILENO 2

ssize_t write(int fd, const void *buffer, size_t count);
ssize_t read(int fd, void *buffer, size_t count);
int close(int fd);
/* Ends the process at once (no stdio flush). */
void _exit(int status) __attribute__((__noreturn__));
pid_t getpid(void);
pid_t getppid(void);
pid_t gettid(void);
/* brk: 0 or -1/ENOMEM. sbrk: the previous break, or (void *)-1/ENOMEM. */
int brk(void *address);
void *sbrk(intptr_t increment);
int usleep(useconds_t microseconds);

#endif
