/* malloc_c.c - the first C program of Pagoda: exercises libc-rs's malloc family (ptmalloc-rs) and printf.
 *
 * Usage: malloc_c [--threads]
 * Checks, in order: malloc_usable_size against glibc 2.36's values (ptmalloc-rs is a port, so they must be
 * equal), a growing array of strings (realloc of the pointer array, malloc + strcpy of each string), a
 * linked list of calloc'ed nodes, a realloc loop from 1 byte to 1 MiB and back that keeps its contents,
 * aligned allocations, ENOMEM for an impossible size, snprintf formats, mallopt(M_MMAP_THRESHOLD) sending a
 * block to mmap, and (with --threads) four threads allocating at once in their own arenas. Prints totals,
 * mallinfo2 and malloc_stats (to stderr), then "malloc_c: PASS" and exits 0; the first failed check prints
 * "FAIL: ..." and exits 1.
 *
 * Built by userland/c/build.sh against libc-rs (freestanding, -mgeneral-regs-only: no floating point).
 * The same source builds against glibc on a Linux host (`gcc -O2 malloc_c.c`), which is how the glibc
 * figures below were checked.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long checks;

static void fail(const char *what, long got, long expected)
{
	printf("FAIL: %s: got %ld, expected %ld\n", what, got, expected);
	exit(1);
}

static void check(int ok, const char *what, long got, long expected)
{
	checks++;
	if (!ok)
		fail(what, got, expected);
}

#define CHECK_EQ(got, expected, what)                                    \
	do {                                                             \
		long got_ = (long)(got), expected_ = (long)(expected);   \
		check(got_ == expected_, what, got_, expected_);         \
	} while (0)

/* malloc_usable_size of glibc 2.36 on x86-64: chunk = max(32, (n + 8 + 15) & ~15), usable = chunk - 8; a
 * request above the initial M_MMAP_THRESHOLD (128 KiB) gets an mmapped chunk of (chunk + 8) rounded up to
 * pages, usable = that - 16 (200000 → 49 pages = 200704 → 200688). */
static const struct {
	size_t request;
	size_t glibc_usable;
} usable_table[] = {
	{ 0, 24 }, { 1, 24 }, { 24, 24 }, { 25, 40 }, { 100, 104 }, { 1000, 1000 }, { 4096, 4104 },
	{ 200000, 200688 },
};

static void usable_sizes(void)
{
	printf("usable sizes (ptmalloc-rs vs glibc 2.36):\n");
	for (size_t i = 0; i < sizeof usable_table / sizeof usable_table[0]; i++) {
		size_t request = usable_table[i].request;
		char *block = malloc(request);
		if (!block)
			fail("malloc for usable size", (long)request, 0);
		size_t usable = malloc_usable_size(block);
		printf("  malloc(%6zu): usable %6zu, glibc %6zu %s\n", request, usable, usable_table[i].glibc_usable,
		       usable == usable_table[i].glibc_usable ? "same" : "DIFFERENT");
		CHECK_EQ(usable, usable_table[i].glibc_usable, "malloc_usable_size");
		memset(block, 0xab, usable); /* all of it is ours */
		free(block);
	}
}

/* An array of strings that grows by doubling (realloc), each string malloc'ed to its exact length. */
static size_t string_array(unsigned count)
{
	char **strings = NULL;
	unsigned capacity = 0;
	size_t total_bytes = 0;
	unsigned reallocs = 0;
	for (unsigned i = 0; i < count; i++) {
		if (i == capacity) {
			capacity = capacity ? 2 * capacity : 4;
			strings = realloc(strings, capacity * sizeof *strings);
			if (!strings)
				fail("realloc of the string array", capacity, 0);
			reallocs++;
		}
		char text[48];
		int len = snprintf(text, sizeof text, "string %u of %u (%#x)", i, count, i * 2654435761u);
		strings[i] = malloc((size_t)len + 1);
		if (!strings[i])
			fail("malloc of a string", i, 0);
		strcpy(strings[i], text);
		total_bytes += (size_t)len + 1;
	}
	for (unsigned i = 0; i < count; i++) {
		char text[48];
		snprintf(text, sizeof text, "string %u of %u (%#x)", i, count, i * 2654435761u);
		check(strcmp(strings[i], text) == 0, "string contents", i, 0);
		free(strings[i]);
	}
	free(strings);
	printf("string array: %u strings, %zu bytes, %u reallocs of the array (capacity %u)\n", count, total_bytes,
	       reallocs, capacity);
	return total_bytes;
}

struct node {
	struct node *next;
	long value;
	char payload[40];
};

/* A linked list of calloc'ed nodes: built, checked (zeroed payloads, the sum), reversed, freed. */
static long linked_list(long count)
{
	struct node *head = NULL;
	for (long i = 0; i < count; i++) {
		struct node *node = calloc(1, sizeof *node);
		if (!node)
			fail("calloc of a node", i, 0);
		for (size_t b = 0; b < sizeof node->payload; b++)
			check(node->payload[b] == 0, "calloc zeroes", node->payload[b], 0);
		node->value = i;
		node->next = head;
		head = node;
	}
	long sum = 0, length = 0;
	struct node *reversed = NULL;
	while (head) {
		struct node *next = head->next;
		sum += head->value;
		length++;
		head->next = reversed;
		reversed = head;
		head = next;
	}
	CHECK_EQ(length, count, "list length");
	CHECK_EQ(sum, count * (count - 1) / 2, "list sum");
	CHECK_EQ(reversed->value, 0, "first node after reversal");
	while (reversed) {
		struct node *next = reversed->next;
		free(reversed);
		reversed = next;
	}
	printf("linked list: %ld nodes of %zu bytes, sum %ld\n", count, sizeof(struct node), sum);
	return sum;
}

/* Grows one block from 1 byte to 1 MiB (x1.5 per step, past the mmap threshold) and back, checking after each
 * realloc that the old contents survived. */
static unsigned realloc_loop(void)
{
	unsigned char *block = NULL;
	size_t size = 0, steps = 0, moves = 0;
	for (size_t next = 1; next <= (1u << 20); next = next * 3 / 2 + 1) {
		unsigned char *grown = realloc(block, next);
		if (!grown)
			fail("realloc up", (long)next, 0);
		moves += grown != block;
		for (size_t i = 0; i < size; i++)
			check(grown[i] == (unsigned char)(i * 7), "contents kept while growing", (long)i, 0);
		for (size_t i = size; i < next; i++)
			grown[i] = (unsigned char)(i * 7);
		block = grown;
		size = next;
		steps++;
	}
	size_t largest = size;
	while (size > 16) {
		size /= 3;
		block = realloc(block, size);
		if (!block)
			fail("realloc down", (long)size, 0);
		for (size_t i = 0; i < size; i++)
			check(block[i] == (unsigned char)(i * 7), "contents kept while shrinking", (long)i, 0);
		steps++;
	}
	free(block);
	printf("realloc loop: %zu steps up to %zu bytes and back, %zu moves\n", steps, largest, moves);
	return (unsigned)steps;
}

static void aligned(void)
{
	void *a = memalign(64, 100);
	void *b = NULL;
	int code = posix_memalign(&b, 4096, 5000);
	void *c = aligned_alloc(256, 256);
	void *d = valloc(10);
	CHECK_EQ(code, 0, "posix_memalign result");
	check(a && ((uintptr_t)a & 63) == 0, "memalign(64) alignment", (long)(uintptr_t)a, 0);
	check(b && ((uintptr_t)b & 4095) == 0, "posix_memalign(4096) alignment", (long)(uintptr_t)b, 0);
	check(c && ((uintptr_t)c & 255) == 0, "aligned_alloc(256) alignment", (long)(uintptr_t)c, 0);
	check(d && ((uintptr_t)d & 4095) == 0, "valloc alignment", (long)(uintptr_t)d, 0);
	CHECK_EQ(posix_memalign(&b, 3, 8), EINVAL, "posix_memalign with a bad alignment");
	printf("aligned: memalign(64) %p, posix_memalign(4096) %p, aligned_alloc(256) %p, valloc %p\n", a, b, c, d);
	free(a);
	free(b);
	free(c);
	free(d);
}

static void out_of_memory(void)
{
	/* volatile: keeps gcc from warning about the impossible sizes on a glibc host build */
	volatile size_t impossible = SIZE_MAX - 4096, half = SIZE_MAX / 2;
	errno = 0;
	void *huge = malloc(impossible);
	check(huge == NULL, "malloc(SIZE_MAX - 4096) fails", (long)(uintptr_t)huge, 0);
	CHECK_EQ(errno, ENOMEM, "errno after a failed malloc");
	errno = 0;
	huge = calloc(half, 4);
	check(huge == NULL, "calloc overflow fails", (long)(uintptr_t)huge, 0);
	CHECK_EQ(errno, ENOMEM, "errno after an overflowing calloc");
	printf("out of memory: malloc and calloc return NULL with errno ENOMEM (%d)\n", ENOMEM);
}

static void expect_text(const char *got, const char *expected)
{
	checks++;
	if (strcmp(got, expected) != 0) {
		printf("FAIL: snprintf gave \"%s\", expected \"%s\"\n", got, expected);
		exit(1);
	}
}

static void formats(void)
{
	char text[128];
	snprintf(text, sizeof text, "[%5d|%-5d|%05d|%+d|% d]", 42, 42, -42, 7, 7);
	expect_text(text, "[   42|42   |-0042|+7| 7]");
	snprintf(text, sizeof text, "[%x|%#X|%#o|%8.3x|%c%c]", 255u, 255u, 8u, 10u, 'o', 'k');
	expect_text(text, "[ff|0XFF|010|     00a|ok]");
	snprintf(text, sizeof text, "[%s|%6s|%-6s|%.2s]", "abc", "abc", "abc", "abc");
	expect_text(text, "[abc|   abc|abc   |ab]");
	snprintf(text, sizeof text, "[%zu|%ld|%lu|%lld|%llu|%%]", (size_t)12, -3L, 4UL, -5LL, 18446744073709551615ULL);
	expect_text(text, "[12|-3|4|-5|18446744073709551615|%]");
	snprintf(text, sizeof text, "[%p|%p]", (void *)0, (void *)0x201000);
	expect_text(text, "[(nil)|0x201000]");
	volatile size_t four = 4; /* volatile: no truncation warning on a glibc host build */
	int needed = snprintf(text, four, "%s", "truncated");
	CHECK_EQ(needed, 9, "snprintf's return when truncating");
	expect_text(text, "tru");
	printf("formats: printf conversions match C's\n");
}

/* mallopt: with a lower mmap threshold, a 100000-byte request that the (trimmed) top chunk cannot serve goes
 * to mmap (glibc gives the same usable size). */
static void tuning(void)
{
	CHECK_EQ(mallopt(M_MMAP_THRESHOLD, 64 * 1024), 1, "mallopt(M_MMAP_THRESHOLD)");
	printf("tuning: malloc_trim(0) returned %d\n", malloc_trim(0));
	char *block = malloc(100000);
	if (!block)
		fail("malloc(100000)", 0, 0);
	struct mallinfo2 info = mallinfo2();
	CHECK_EQ(info.hblks, 1, "mmapped regions while the block lives");
	CHECK_EQ(malloc_usable_size(block), 102384, "usable size of an mmapped block (glibc: 102384)");
	memset(block, 1, 100000);
	free(block);
	CHECK_EQ(mallinfo2().hblks, 0, "mmapped regions after free");
	printf("tuning: M_MMAP_THRESHOLD 64 KiB: malloc(100000) mmapped, usable %d, unmapped by free\n", 102384);
}

/* Four threads allocate and free at once, each in its own arena. */
#define THREADS 4

static void *thread_work(void *arg)
{
	long id = (long)arg;
	long sum = 0;
	for (long round = 0; round < 200; round++) {
		long *values = malloc(64 * sizeof *values);
		if (!values)
			return (void *)-1L;
		for (long i = 0; i < 64; i++)
			values[i] = id * 1000 + i;
		for (long i = 0; i < 64; i++)
			sum += values[i];
		free(values);
	}
	return (void *)sum;
}

static void threads(void)
{
	pthread_t thread[THREADS];
	for (long id = 0; id < THREADS; id++)
		CHECK_EQ(pthread_create(&thread[id], NULL, thread_work, (void *)id), 0, "pthread_create");
	for (long id = 0; id < THREADS; id++) {
		void *result = NULL;
		CHECK_EQ(pthread_join(thread[id], &result), 0, "pthread_join");
		CHECK_EQ((long)result, 200 * (64 * id * 1000 + 64 * 63 / 2), "a thread's sum");
	}
	printf("threads: %d threads allocated in parallel and were joined\n", THREADS);
}

int main(int argc, char **argv, char **envp)
{
	(void)envp;
	int with_threads = argc > 1 && strcmp(argv[1], "--threads") == 0;
	printf("malloc_c: pid %d, break %p\n", getpid(), sbrk(0));
	fprintf(stderr, "malloc_c: stderr is %s\n", "unbuffered");
	fputs("malloc_c: ", stdout);
	puts("stdout is line-buffered");

	usable_sizes();
	size_t string_bytes = string_array(1000);
	long list_sum = linked_list(10000);
	unsigned steps = realloc_loop();
	aligned();
	out_of_memory();
	formats();
	tuning();
	if (with_threads)
		threads();

	struct mallinfo2 info = mallinfo2();
	printf("totals: %zu string bytes, list sum %ld, %u realloc steps, %lu checks\n", string_bytes, list_sum, steps,
	       checks);
	printf("mallinfo2: arena %zu, in use %zu, free %zu, mmapped %zu in %zu regions; break %p\n", info.arena,
	       info.uordblks, info.fordblks, info.hblkhd, info.hblks, sbrk(0));
	CHECK_EQ(info.hblks, 0, "mmapped regions left");
	fflush(stdout);
	malloc_stats();
	printf("malloc_c: PASS\n");
	return 0;
}
