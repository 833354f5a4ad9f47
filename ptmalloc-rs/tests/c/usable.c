/* usable: prints "request usable_size" for requests 0..4200 and a few big ones (malloc_usable_size). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
  static const size_t big[] = {131071, 131072, 200000, 1 << 20, 5 << 20};
  for (size_t n = 0; n <= 4200; n++) {
    void *p = malloc(n);
    printf("%zu %zu\n", n, malloc_usable_size(p));
    free(p);
  }
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    void *p = malloc(big[i]);
    printf("%zu %zu\n", big[i], malloc_usable_size(p));
    free(p);
  }
  printf("null %zu\n", malloc_usable_size(NULL));
  fflush(stdout);
  fprintf(stderr, "allocator=%s\n", dlsym(RTLD_DEFAULT, "ptmalloc_rs_active") ? "ptmalloc-rs" : "glibc");
  return 0;
}
