/* Our stand-in for glibc's support/xsignal.h. */
#ifndef PTMALLOC_RS_SHIM_XSIGNAL_H
#define PTMALLOC_RS_SHIM_XSIGNAL_H
#include <signal.h>
#include <support/check.h>
sighandler_t xsignal (int sig, sighandler_t handler);
void xsigaction (int sig, const struct sigaction *new, struct sigaction *old);
void xraise (int sig);
#endif
