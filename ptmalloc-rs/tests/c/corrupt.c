/* corrupt: commits one kind of heap corruption (argv[1]) and expects the allocator to abort with glibc's
   message. Prints "survived" if it did not abort. Kinds are numbered to keep the driver simple. */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_tcache(size_t size) {
  void *p[7];
  for (int i = 0; i < 7; i++) p[i] = malloc(size);
  for (int i = 0; i < 7; i++) free(p[i]);
}

#define HEAD(p) (((volatile size_t *)(p))[-1])
#define PREV(p) (((volatile size_t *)(p))[-2])

int main(int argc, char **argv) {
  int kind = argc > 1 ? atoi(argv[1]) : 0;
  switch (kind) {
  case 1: { /* double free caught by the tcache key */
    char *p = malloc(24);
    free(p);
    free(p);
    break;
  }
  case 2: { /* double free of the fastbin head */
    char *a = malloc(24);
    fill_tcache(24);
    free(a);
    free(a);
    break;
  }
  case 3: { /* misaligned pointer */
    char *p = malloc(64);
    free(p + 8);
    break;
  }
  case 4: { /* size below MINSIZE */
    char *p = malloc(64);
    HEAD(p) = 0x11;
    free(p);
    break;
  }
  case 5: { /* top chunk size overwritten */
    char *p = malloc(0x4000);
    ((volatile size_t *)(p + 0x4000))[1] = (size_t)-1;
    malloc(0x5000);
    break;
  }
  case 6: { /* footer of a binned chunk overwritten, found when unlinking it */
    char *a = malloc(0x500);
    malloc(24);
    free(a);
    malloc(0x600);
    PREV(a + 0x510) = 0x123450;
    malloc(0x400);
    break;
  }
  case 7: { /* free of a large chunk already freed (next chunk's PREV_INUSE clear) */
    char *a = malloc(0x500);
    malloc(24);
    free(a);
    free(a);
    break;
  }
  case 8: { /* free of a chunk merged into top */
    malloc(24);
    char *a = malloc(0x500);
    free(a);
    free(a);
    break;
  }
  case 9: { /* mmapped chunk with a bad offset */
    char *p = malloc(1 << 20);
    PREV(p) = 8;
    free(p);
    break;
  }
  case 10: { /* realloc of a misaligned pointer */
    char *p = malloc(64);
    realloc(p + 8, 100);
    break;
  }
  case 11: { /* fast chunk whose successor has a tiny size */
    char *a = malloc(24);
    char *b = malloc(24);
    fill_tcache(24);
    HEAD(b) = 0x1;
    free(a);
    break;
  }
  case 12: { /* unsorted chunk whose bk no longer points back */
    char *a = malloc(0x500);
    malloc(24);
    free(a);
    ((volatile size_t *)a)[1] = (size_t)(a + 0x100);
    malloc(0x100);
    break;
  }
  case 13: { /* corrupted tcache entry pointer */
    char *a = malloc(40);
    char *b = malloc(40);
    free(a);
    free(b);
    ((volatile size_t *)b)[0] ^= 8;
    malloc(40);
    malloc(40);
    break;
  }
  case 14: { /* prev_size of a freed-adjacent chunk made inconsistent */
    char *a = malloc(0x500);
    char *b = malloc(0x500);
    malloc(24);
    free(a);
    PREV(b) = 0x400;
    free(b);
    break;
  }
  default:
    return 2;
  }
  puts("survived");
  return 0;
}
