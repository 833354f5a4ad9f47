/* Our stand-in for glibc's malloc-size.h: x86-64 values. */
#include <stddef.h>
#define SIZE_SZ (sizeof (size_t))
#define MALLOC_ALIGNMENT 16
#define MALLOC_ALIGN_MASK (MALLOC_ALIGNMENT - 1)
