/* layout: a program that only allocates (malloc, free, calloc, realloc, memalign family, big blocks, in the
 * main thread and in 4 threads with arenas of their own), then prints "perms rss_kib" for each mapping of the
 * library named in argv[1], from /proc/self/smaps. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *work(void *arg) {
  void *blocks[512];
  for (int round = 0; round < 20; round++) {
    for (int i = 0; i < 512; i++) blocks[i] = malloc(16 + (i * 37 + round) % 3000);
    for (int i = 0; i < 512; i += 2) free(blocks[i]);
    for (int i = 0; i < 512; i += 2) blocks[i] = calloc(1, 24 + i);
    for (int i = 1; i < 512; i += 2) blocks[i] = realloc(blocks[i], 100 + i * 3);
    for (int i = 0; i < 512; i++) free(blocks[i]);
  }
  void *big = malloc(1 << 20);
  memset(big, 1, 4096);
  free(big);
  void *aligned = NULL;
  if (posix_memalign(&aligned, 64, 1000) == 0) free(aligned);
  free(memalign(4096, 100));
  free(aligned_alloc(32, 64));
  return arg;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  work(NULL);
  pthread_t threads[4];
  for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, work, NULL);
  for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
  FILE *smaps = fopen("/proc/self/smaps", "r");
  if (!smaps) return 1;
  char line[4096], perms[8] = "";
  int ours = 0;
  while (fgets(line, sizeof line, smaps)) {
    long rss;
    char range[64], field[8];
    if (sscanf(line, "%63s %7s", range, field) == 2 && strchr(range, '-') && strlen(field) == 4) {
      ours = strstr(line, argv[1]) != NULL;
      strcpy(perms, field);
    } else if (ours && sscanf(line, "Rss: %ld kB", &rss) == 1) {
      printf("%s %ld\n", perms, rss);
    }
  }
  fclose(smaps);
  return 0;
}
