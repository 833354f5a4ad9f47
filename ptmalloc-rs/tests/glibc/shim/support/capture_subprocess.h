/* Our stand-in for glibc's support/capture_subprocess.h: run a callback in a child, capture its output. */
#ifndef PTMALLOC_RS_SHIM_CAPTURE_SUBPROCESS_H
#define PTMALLOC_RS_SHIM_CAPTURE_SUBPROCESS_H
#include <support/xmemstream.h>
struct support_capture_subprocess
{
  struct xmemstream out;
  struct xmemstream err;
  int status;
};
struct support_capture_subprocess support_capture_subprocess (void (*callback) (void *), void *closure);
void support_capture_subprocess_free (struct support_capture_subprocess *p);
#endif
