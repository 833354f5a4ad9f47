/* malloc_brk_mmap (seed 000 §55): small allocations grow the heap with brk; one above M_MMAP_THRESHOLD
 * (128 KiB by default) becomes its own mapping, which free() gives straight back with munmap.
 * Prints the program break and /proc/self/maps (from memd) at each step and checks what it claims. */
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copies /proc/self/maps into buf (NUL-terminated); returns its length. */
static size_t read_maps(char *buf, size_t size)
{
	int fd = open("/proc/self/maps", O_RDONLY);
	if (fd < 0)
		return 0;
	size_t len = 0;
	ssize_t n;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return len;
}

/* Whether a maps line starts at `start` and ends at or after `end`. */
static int maps_covers(const char *maps, uintptr_t start, uintptr_t end)
{
	for (const char *line = maps; *line; ) {
		uintptr_t a = 0, b = 0;
		const char *p = line;
		while (*p && *p != '-') {
			a = a * 16 + (uintptr_t)(*p >= 'a' ? *p - 'a' + 10 : *p - '0');
			p++;
		}
		if (*p == '-')
			p++;
		while (*p && *p != ' ') {
			b = b * 16 + (uintptr_t)(*p >= 'a' ? *p - 'a' + 10 : *p - '0');
			p++;
		}
		if (a <= start && end <= b)
			return 1;
		while (*line && *line != '\n')
			line++;
		if (*line)
			line++;
	}
	return 0;
}

/* Whether `text` contains `word`. */
static int contains(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (; *text; text++)
		if (strncmp(text, word, n) == 0)
			return 1;
	return 0;
}

static char maps[8192];

int main(void)
{
	uintptr_t start = (uintptr_t)sbrk(0);
	printf("malloc_brk_mmap: program break at start %#lx\n", (unsigned long)start);

	void *small[100];
	for (int i = 0; i < 100; i++) {
		small[i] = malloc(1000);
		memset(small[i], i, 1000);
	}
	uintptr_t grown = (uintptr_t)sbrk(0);
	printf("malloc_brk_mmap: 100 x malloc(1000): break now %#lx (+%lu bytes, heap grown with brk)\n",
	       (unsigned long)grown, (unsigned long)(grown - start));
	int in_heap = (uintptr_t)small[0] >= start && (uintptr_t)small[99] < grown;
	printf("malloc_brk_mmap: small blocks %p .. %p lie in the heap: %s\n", small[0], small[99],
	       in_heap ? "yes" : "no");

	size_t big_size = 1 << 20;
	char *big = malloc(big_size);
	memset(big, 0x5a, big_size);
	uintptr_t big_at = (uintptr_t)big;
	int outside = big_at < start || big_at >= grown;
	printf("malloc_brk_mmap: malloc(1 MiB) = %p: %s the heap (above M_MMAP_THRESHOLD: own mapping)\n", big,
	       outside ? "outside" : "inside");
	read_maps(maps, sizeof maps);
	printf("malloc_brk_mmap: /proc/self/maps with the big block:\n%s", maps);
	int mapped = maps_covers(maps, big_at & ~(uintptr_t)4095, big_at + big_size);
	int heap_listed = contains(maps, "[heap]");
	free(big);
	read_maps(maps, sizeof maps);
	int unmapped = !maps_covers(maps, big_at & ~(uintptr_t)4095, big_at + big_size);
	printf("malloc_brk_mmap: after free(big) its mapping is %s\n", unmapped ? "gone (munmap)" : "still there");
	for (int i = 0; i < 100; i++)
		free(small[i]);
	malloc_trim(0);
	printf("malloc_brk_mmap: after freeing the small blocks and malloc_trim: break %#lx\n",
	       (unsigned long)(uintptr_t)sbrk(0));

	if (grown <= start || !in_heap || !outside || !mapped || !heap_listed || !unmapped) {
		printf("FAIL: malloc_brk_mmap: grown %d in_heap %d outside %d mapped %d [heap] %d unmapped %d\n",
		       grown > start, in_heap, outside, mapped, heap_listed, unmapped);
		return 1;
	}
	printf("malloc_brk_mmap: ok\n");
	return 0;
}
