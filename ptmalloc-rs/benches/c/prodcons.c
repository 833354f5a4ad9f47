/* prodcons: producer threads allocate messages, consumer threads free them (cross-thread frees). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE 4096
static void *queue[QUEUE];
static long head, tail;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static long per_producer;

static void *produce(void *arg) {
  unsigned seed = (unsigned)(long)arg;
  for (long i = 0; i < per_producer; i++) {
    size_t n = 32 + rand_r(&seed) % 480;
    char *m = malloc(n);
    memset(m, 1, 16);
    pthread_mutex_lock(&lock);
    while (tail - head == QUEUE) pthread_cond_wait(&not_full, &lock);
    queue[tail++ % QUEUE] = m;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

static void *consume(void *arg) {
  long count = (long)arg;
  for (long i = 0; i < count; i++) {
    pthread_mutex_lock(&lock);
    while (tail == head) pthread_cond_wait(&not_empty, &lock);
    void *m = queue[head++ % QUEUE];
    pthread_cond_signal(&not_full);
    pthread_mutex_unlock(&lock);
    free(m);
  }
  return NULL;
}

int main(int argc, char **argv) {
  per_producer = argc > 1 ? atol(argv[1]) : 1000000;
  pthread_t p[2], c[2];
  for (long i = 0; i < 2; i++) pthread_create(&p[i], NULL, produce, (void *)(i + 1));
  for (long i = 0; i < 2; i++) pthread_create(&c[i], NULL, consume, (void *)per_producer);
  for (int i = 0; i < 2; i++) pthread_join(p[i], NULL);
  for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
  return 0;
}
