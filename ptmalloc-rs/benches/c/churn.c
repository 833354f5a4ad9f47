/* churn: small-object churn in one thread (16..256-byte blocks, a working set of 8192 slots). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long ops = argc > 1 ? atol(argv[1]) : 30000000;
  void *slot[8192] = {0};
  uint64_t x = 88172645463325252ull;
  for (long i = 0; i < ops; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    unsigned s = x & 8191;
    free(slot[s]);
    slot[s] = malloc(16 + ((x >> 13) & 240));
    *(volatile char *)slot[s] = 1;
  }
  for (int s = 0; s < 8192; s++) free(slot[s]);
  return 0;
}
