/* difftrace: replays a pseudo-random single-threaded malloc trace and prints what the allocator decided
   (usable sizes, heap offsets of brk chunks, mmap or not, mallinfo2 figures). Run once on the host glibc and
   once with LD_PRELOAD=libptmalloc_rs.so; the outputs must be identical. Usage: difftrace SEED STEPS [MODE]
   MODE 1 also calls mallopt (M_MXFAST, M_TOP_PAD) first; MODE 2 sets M_MMAP_THRESHOLD and M_TRIM_THRESHOLD. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 512

static uint64_t state;
static uint64_t next_random(void) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

static size_t pick_size(void) {
  uint64_t r = next_random() % 1000;
  if (r < 700) return next_random() % 1100;
  if (r < 900) return 1024 + next_random() % 70000;
  if (r < 985) return 100000 + next_random() % 500000;
  return (2u << 20) + next_random() % (6u << 20);
}

static char *heap_base;

static void describe(const char *op, char *p, size_t request) {
  if (p == NULL) {
    printf("%s %zu -> NULL\n", op, request);
    return;
  }
  size_t head = ((size_t *)p)[-1];
  if (head & 2)
    printf("%s %zu -> mmap usable=%zu\n", op, request, malloc_usable_size(p));
  else
    printf("%s %zu -> heap+%td usable=%zu\n", op, request, p - heap_base, malloc_usable_size(p));
}

static void info(int step) {
  struct mallinfo2 m = mallinfo2();
  printf("step %d arena=%zu ordblks=%zu smblks=%zu hblks=%zu hblkhd=%zu fsmblks=%zu uordblks=%zu fordblks=%zu keepcost=%zu\n",
         step, m.arena, m.ordblks, m.smblks, m.hblks, m.hblkhd, m.fsmblks, m.uordblks, m.fordblks, m.keepcost);
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  state = strtoull(argv[1], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
  int steps = atoi(argv[2]);
  int mode = argc > 3 ? atoi(argv[3]) : 0;
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  if (mode == 1) {
    printf("mallopt %d %d\n", mallopt(M_MXFAST, 160), mallopt(M_TOP_PAD, 64 << 10));
    printf("mallopt bad %d\n", mallopt(M_MXFAST, 161));
  } else if (mode == 2) {
    printf("mallopt %d %d\n", mallopt(M_MMAP_THRESHOLD, 256 << 10), mallopt(M_TRIM_THRESHOLD, 512 << 10));
  }
  heap_base = malloc(1);
  describe("first", heap_base, 1);
  char *slot[SLOTS] = {0};
  size_t len[SLOTS] = {0};
  for (int step = 0; step < steps; step++) {
    int i = next_random() % SLOTS;
    uint64_t what = next_random() % 100;
    if (slot[i] != NULL && what < 45) {
      for (size_t k = 0; k < len[i]; k += 97)
        if (slot[i][k] != (char)(i + k)) { printf("corrupted slot %d\n", i); return 1; }
      free(slot[i]);
      slot[i] = NULL;
    } else if (slot[i] != NULL && what < 60) {
      size_t n = pick_size();
      char *q = realloc(slot[i], n);
      describe("realloc", q, n);
      if (q != NULL || n == 0) {
        slot[i] = q;
        len[i] = n < len[i] ? n : len[i];
      }
    } else if (slot[i] == NULL) {
      size_t n = pick_size();
      char *p;
      if (what < 10) {
        p = calloc(1, n);
        for (size_t k = 0; p && k < n; k++)
          if (p[k] != 0) { printf("calloc not zero\n"); return 1; }
        describe("calloc", p, n);
      } else if (what < 16) {
        size_t align = (size_t)32 << (next_random() % 8);
        p = memalign(align, n);
        if (p && ((uintptr_t)p % align) != 0) { printf("misaligned\n"); return 1; }
        describe("memalign", p, n);
      } else {
        p = malloc(n);
        describe("malloc", p, n);
      }
      slot[i] = p;
      len[i] = p ? n : 0;
      for (size_t k = 0; k < len[i]; k += 97) p[k] = (char)(i + k);
    }
    if (step % 64 == 0) info(step);
    if (step % 997 == 500) printf("trim %d\n", malloc_trim(0));
  }
  for (int i = 0; i < SLOTS; i++) free(slot[i]);
  info(steps);
  printf("final trim %d\n", malloc_trim(0));
  info(steps + 1);
  fflush(stdout);
  /* Last, since a failed dlsym allocates its error message. */
  fprintf(stderr, "allocator=%s\n", dlsym(RTLD_DEFAULT, "ptmalloc_rs_active") ? "ptmalloc-rs" : "glibc");
  return 0;
}
