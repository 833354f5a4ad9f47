/* time.h - libc-rs. The kernel has no wall clock: every clock counts from boot. */
#ifndef _TIME_H
#define _TIME_H

#include <bits/types.h>

struct timespec {
	time_t tv_sec;
	long tv_nsec;
};

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_BOOTTIME 7

int clock_gettime(clockid_t clock, struct timespec *out);
/* `remaining` is never written: nothing interrupts a sleep. */
int nanosleep(const struct timespec *request, struct timespec *remaining);

#endif
