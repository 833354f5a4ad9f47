/* bigalloc: large blocks (256 KiB .. 16 MiB) allocated, grown with realloc, touched and freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 3000;
  void *keep[8] = {0};
  uint64_t x = 1234567;
  for (int r = 0; r < rounds; r++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    size_t n = (size_t)256 << 10 << (x % 7);
    char *p = malloc(n);
    for (size_t i = 0; i < n; i += 4096) p[i] = (char)i;
    p = realloc(p, n + n / 2);
    p[n + n / 4] = 1;
    int s = (x >> 8) & 7;
    free(keep[s]);
    keep[s] = p;
  }
  for (int s = 0; s < 8; s++) free(keep[s]);
  return 0;
}
