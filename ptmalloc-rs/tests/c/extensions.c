/* ptmalloc-rs's additions seen from a C program (run with LD_PRELOAD by tests/extensions.rs).
   "arenas N": N threads allocate at the same time, then malloc_stats() reports the arenas (one "Arena i:"
   line each) on stderr.
   "decay": a 40 KB block between two live ones is freed; after 150 ms and some allocator calls, its middle
   page must be gone from memory (/proc/self/pagemap) and malloc_stats64 reports the purged bytes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_barrier_t allocated, done;

static void *worker(void *arg) {
  (void)arg;
  void *p = malloc(100);
  pthread_barrier_wait(&allocated);
  pthread_barrier_wait(&done);
  free(p);
  return NULL;
}

static int arenas(int n) {
  pthread_t t[256];
  pthread_barrier_init(&allocated, NULL, n + 1);
  pthread_barrier_init(&done, NULL, n + 1);
  for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, worker, NULL);
  pthread_barrier_wait(&allocated);
  malloc_stats();
  pthread_barrier_wait(&done);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  return 0;
}

static int page_present(void *addr) {
  int fd = open("/proc/self/pagemap", O_RDONLY);
  uint64_t entry = 0;
  pread(fd, &entry, sizeof entry, ((uintptr_t)addr / 4096) * sizeof entry);
  close(fd);
  return (int)(entry >> 63);
}

static int decay(void) {
  char *small = malloc(2000), *big = malloc(40000), *guard = malloc(2000);
  memset(big, 1, 40000);
  char *middle = big + 20000;
  free(big);
  if (!page_present(middle)) return 2;
  usleep(150 * 1000);
  for (int i = 0; i < 200; i++) free(malloc(50000));
  printf("middle page present: %d\n", page_present(middle));
  void (*stats64)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "malloc_stats64");
  if (stats64) stats64();
  free(small);
  free(guard);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[1], "arenas")) return arenas(atoi(argv[2]));
  if (argc > 1 && !strcmp(argv[1], "decay")) return decay();
  return 1;
}
