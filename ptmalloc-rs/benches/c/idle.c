/* idle: allocate ~200 MB of small blocks, free 90% of them at random, then idle; prints the RSS after the
   idle period (what a long-running server keeps after a burst). Usage: idle COUNT IDLE_MS [AFTER]: AFTER
   allocations (16..4000 bytes, each freed at once) follow the idle period, as a server's next requests
   (default 1, a single 64-byte one). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
  if (f) fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  long count = argc > 1 ? atol(argv[1]) : 1000000;
  int idle_ms = argc > 2 ? atoi(argv[2]) : 1500;
  long after = argc > 3 ? atol(argv[3]) : 1;
  char **blocks = malloc(count * sizeof *blocks);
  uint64_t x = 2463534242ull;
  for (long i = 0; i < count; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    size_t n = 16 + (x % 384);
    blocks[i] = malloc(n);
    memset(blocks[i], 7, n);
  }
  for (long i = 0; i < count; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    if (x % 10 != 0) { free(blocks[i]); blocks[i] = NULL; }
  }
  usleep(idle_ms * 1000);
  if (after <= 1) {
    free(malloc(64));
  } else {
    for (long i = 0; i < after; i++) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
      char *p = malloc(16 + x % 3984);
      p[0] = 1;
      free(p);
    }
  }
  printf("rss_after_idle_kb %ld\n", rss_kb());
  return 0;
}
