/* Our stand-in for glibc's support/test-driver.h. */
#ifndef PTMALLOC_RS_SHIM_TEST_DRIVER_H
#define PTMALLOC_RS_SHIM_TEST_DRIVER_H
#include <support/check.h>
#endif
