/* Our stand-in for glibc's support/xmemstream.h. */
#ifndef PTMALLOC_RS_SHIM_XMEMSTREAM_H
#define PTMALLOC_RS_SHIM_XMEMSTREAM_H
#include <stdio.h>
struct xmemstream
{
  FILE *out;
  char *buffer;
  size_t length;
};
#endif
