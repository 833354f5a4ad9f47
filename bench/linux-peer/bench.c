/*
 * Linux peer benchmark: runs as /init (PID 1) of a throwaway initramfs under
 * QEMU TCG with -icount shift=0, so the guest TSC advances with the number of
 * executed instructions and the results are deterministic enough to compare
 * against Pagoda on the same -cpu model.
 *
 * Every measurement is the median of SAMPLES samples; one sample times a batch
 * of operations and is divided by the batch size, giving TSC ticks per
 * operation.  Results go to the console as
 *
 *     BENCH <name> <ticks_per_op>
 *
 * followed by BENCH_DONE.  PID 1 must never exit (the kernel would panic), so
 * the program ends with reboot(RB_POWER_OFF), which makes QEMU quit.
 *
 * Build: musl-gcc -O2 -static -o init bench.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* From <linux/futex.h>; musl-gcc does not see the kernel UAPI headers. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

#define SAMPLES 31 /* odd, so the median is one sample */

/*
 * Untimed batches run before the samples of the two-process benchmarks.
 * Without them the IPC figures are bimodal: just after fork() the two tasks'
 * CFS vruntimes are far enough apart that a wakeup does not preempt the
 * waker; as the ping-pong runs, the gap drifts until wakeup preemption kicks
 * in (after roughly 1000 round trips, ~10 ms of guest time), and from then on
 * the cost per round trip is steady and about 20-40 % higher.  A median over
 * samples straddling that change would jump between the two regimes from run
 * to run, so we measure only the steady state.
 */
#define IPC_WARMUP_BATCHES 64
#define PAGE 4096

/* ------------------------------------------------------------------------ */
/* Output and small helpers                                                  */
/* ------------------------------------------------------------------------ */

/* Write straight to fd 1 (the kernel opened /dev/console for us) so nothing
 * sits in a stdio buffer across fork() or at power-off. */
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof buf - 1)
		n = sizeof buf - 1;
	for (int off = 0; off < n;) {
		ssize_t w = write(1, buf + off, n - off);
		if (w <= 0)
			break;
		off += w;
	}
}

static void power_off(void)
{
	sync();
	reboot(RB_POWER_OFF);
	/* Not reached; if it is, never return from PID 1. */
	for (;;)
		pause();
}

static void die(const char *what)
{
	say("BENCH_ERROR %s: %s\n", what, strerror(errno));
	power_off();
}

/*
 * Read the TSC.  qemu64 has no rdtscp, so we serialise by hand: the first
 * lfence keeps rdtsc from executing before earlier instructions have
 * completed, the second keeps later instructions from starting before rdtsc
 * has read the counter.  Under TCG this mostly documents intent (TCG executes
 * in order), but it keeps the code correct on real hardware and costs the same
 * two instructions on both ends of every timed region.
 */
static inline uint64_t ticks(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence\n\trdtsc\n\tlfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof *v, cmp_u64);
	return v[n / 2];
}

static void report(const char *name, uint64_t *per_op)
{
	say("BENCH %s %llu\n", name, (unsigned long long)median(per_op, SAMPLES));
}

static long futex(volatile uint32_t *uaddr, int op, uint32_t val)
{
	/* Not FUTEX_PRIVATE_FLAG: the word lives in a MAP_SHARED page used by
	 * two processes with different address spaces. */
	return syscall(SYS_futex, uaddr, op, val, NULL, NULL, 0);
}

static void pin_to_cpu0(void)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	if (sched_setaffinity(0, sizeof set, &set) != 0)
		die("sched_setaffinity");
}

static void *shared_page(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap shared");
	memset(p, 0, PAGE); /* fault it in now, in the parent, before fork */
	return p;
}

static void reap(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------------ */
/* (a) null_syscall: getppid through syscall()                               */
/* ------------------------------------------------------------------------ */

/* Times the kernel entry/exit path with the least possible work inside:
 * getppid takes no locks and touches no user memory.  syscall() rather than
 * getppid() so no libc caching could ever hide the trap. */
#define SYSCALL_BATCH 256

static void bench_null_syscall(void)
{
	uint64_t per_op[SAMPLES];
	for (int s = -1; s < SAMPLES; s++) { /* s < 0: warm-up, discarded */
		uint64_t t0 = ticks();
		for (int i = 0; i < SYSCALL_BATCH; i++)
			syscall(SYS_getppid);
		uint64_t t1 = ticks();
		if (s >= 0)
			per_op[s] = (t1 - t0) / SYSCALL_BATCH;
	}
	report("null_syscall", per_op);
}

/* ------------------------------------------------------------------------ */
/* (b) demand_zero_fault: first touch of fresh anonymous memory              */
/* ------------------------------------------------------------------------ */

/* Times only the page faults: mmap (VMA creation) and munmap (teardown, TLB
 * flush, freeing) happen outside the timed region.  Each touched page costs a
 * #PF, allocation of a zeroed 4 KiB frame and a PTE write.  MADV_NOHUGEPAGE
 * (outside the timed part too) keeps a transparent huge page from ever serving
 * the region, so every page is one 4 KiB fault.  The occasional page-table
 * page allocation is amortised over the batch, as it would be in real use. */
#define FAULT_PAGES 64

static void bench_demand_zero_fault(void)
{
	uint64_t per_op[SAMPLES];
	const size_t len = (size_t)FAULT_PAGES * PAGE;
	for (int s = -1; s < SAMPLES; s++) {
		volatile char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap anon");
		madvise((void *)p, len, MADV_NOHUGEPAGE);
		uint64_t t0 = ticks();
		for (int i = 0; i < FAULT_PAGES; i++)
			p[(size_t)i * PAGE] = 1; /* write: read would map the zero page */
		uint64_t t1 = ticks();
		if (munmap((void *)p, len) != 0)
			die("munmap");
		if (s >= 0)
			per_op[s] = (t1 - t0) / FAULT_PAGES;
	}
	report("demand_zero_fault", per_op);
}

/* ------------------------------------------------------------------------ */
/* (c) ipc_pipe_roundtrip: one byte there and back over two pipes            */
/* ------------------------------------------------------------------------ */

/* The parent writes a byte into pipe "ping", the child reads it and writes it
 * into pipe "pong", the parent reads it back.  On one CPU a round trip is two
 * writes, two reads, two blocking sleeps and two context switches.  A 'q'
 * byte tells the child to exit. */
#define PIPE_BATCH 64

static void bench_pipe(void)
{
	int ping[2], pong[2];
	if (pipe(ping) != 0 || pipe(pong) != 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char c;
		for (;;) {
			if (read(ping[0], &c, 1) != 1)
				_exit(1);
			if (write(pong[1], &c, 1) != 1)
				_exit(1);
			if (c == 'q')
				_exit(0);
		}
	}
	uint64_t per_op[SAMPLES];
	char c = 'x';
	for (int s = -IPC_WARMUP_BATCHES; s < SAMPLES; s++) {
		uint64_t t0 = ticks();
		for (int i = 0; i < PIPE_BATCH; i++) {
			if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
				die("pipe io");
		}
		uint64_t t1 = ticks();
		if (s >= 0)
			per_op[s] = (t1 - t0) / PIPE_BATCH;
	}
	c = 'q';
	if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
		die("pipe quit");
	reap(pid);
	close(ping[0]);
	close(ping[1]);
	close(pong[0]);
	close(pong[1]);
	report("ipc_pipe_roundtrip", per_op);
}

/* ------------------------------------------------------------------------ */
/* (d) ipc_futex_roundtrip: futex wait/wake ping-pong across processes       */
/* ------------------------------------------------------------------------ */

/* One 32-bit word in a MAP_SHARED page says whose turn it is: 0 = parent's,
 * 1 = child's, 2 = child must exit.  Each side flips the word, wakes the
 * other, then FUTEX_WAITs until the word changes back.  A round trip is two
 * wakes, two waits and two context switches; compared with the pipe it shows
 * the cost of the bare sleep/wake path without the file layer. */
#define FUTEX_BATCH 64

enum { TURN_PARENT = 0, TURN_CHILD = 1, TURN_QUIT = 2 };

static void wait_while(volatile uint32_t *w, uint32_t val)
{
	while (__atomic_load_n(w, __ATOMIC_ACQUIRE) == val) {
		/* Returns at once (EAGAIN) if the word already changed. */
		if (futex(w, FUTEX_WAIT, val) != 0 && errno != EAGAIN && errno != EINTR)
			die("futex wait");
	}
}

static void hand_over(volatile uint32_t *w, uint32_t val)
{
	__atomic_store_n(w, val, __ATOMIC_RELEASE);
	if (futex(w, FUTEX_WAKE, 1) < 0)
		die("futex wake");
}

static void bench_futex(void)
{
	volatile uint32_t *turn = shared_page();
	*turn = TURN_PARENT;
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		for (;;) {
			wait_while(turn, TURN_PARENT);
			if (__atomic_load_n(turn, __ATOMIC_ACQUIRE) == TURN_QUIT)
				_exit(0);
			hand_over(turn, TURN_PARENT);
		}
	}
	uint64_t per_op[SAMPLES];
	for (int s = -IPC_WARMUP_BATCHES; s < SAMPLES; s++) {
		uint64_t t0 = ticks();
		for (int i = 0; i < FUTEX_BATCH; i++) {
			hand_over(turn, TURN_CHILD);
			wait_while(turn, TURN_CHILD);
		}
		uint64_t t1 = ticks();
		if (s >= 0)
			per_op[s] = (t1 - t0) / FUTEX_BATCH;
	}
	hand_over(turn, TURN_QUIT);
	reap(pid);
	munmap((void *)turn, PAGE);
	report("ipc_futex_roundtrip", per_op);
}

/* ------------------------------------------------------------------------ */
/* (e) context_switch: two processes taking turns via sched_yield            */
/* ------------------------------------------------------------------------ */

/* Both processes are pinned to CPU 0 (the guest has one CPU anyway) and
 * spin on sched_yield.  With exactly two runnable tasks each yield hands the
 * CPU to the other, so one yield = one switch.  The child counts its yields in
 * a shared page; a sample's ticks are divided by the yields of *both*
 * processes during it, so the figure stays honest even if the scheduler
 * occasionally lets a task yield back to itself. */
#define YIELD_BATCH 128

struct yield_shared {
	volatile uint64_t child_yields;
	volatile uint32_t stop;
};

static void bench_context_switch(void)
{
	struct yield_shared *sh = shared_page();
	pin_to_cpu0();
	pid_t pid = fork(); /* the child inherits the affinity mask */
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
			sched_yield();
			__atomic_store_n(&sh->child_yields, sh->child_yields + 1, __ATOMIC_RELEASE);
		}
		_exit(0);
	}
	/* Make sure the child is running before timing anything. */
	while (__atomic_load_n(&sh->child_yields, __ATOMIC_ACQUIRE) == 0)
		sched_yield();

	uint64_t per_op[SAMPLES], child_total = 0;
	for (int s = -IPC_WARMUP_BATCHES; s < SAMPLES; s++) {
		uint64_t c0 = __atomic_load_n(&sh->child_yields, __ATOMIC_ACQUIRE);
		uint64_t t0 = ticks();
		for (int i = 0; i < YIELD_BATCH; i++)
			sched_yield();
		uint64_t t1 = ticks();
		uint64_t c1 = __atomic_load_n(&sh->child_yields, __ATOMIC_ACQUIRE);
		if (s >= 0) {
			per_op[s] = (t1 - t0) / (YIELD_BATCH + (c1 - c0));
			child_total += c1 - c0;
		}
	}
	/* Close to 1: every parent yield let the child run once. */
	say("INFO context_switch child/parent yields in timed batches = %llu/%llu\n",
	    (unsigned long long)child_total, (unsigned long long)SAMPLES * YIELD_BATCH);
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	reap(pid);
	munmap(sh, PAGE);
	report("context_switch", per_op);
}

/* ------------------------------------------------------------------------ */
/* Context for the reader of the log: which mitigations the kernel chose.   */
/* ------------------------------------------------------------------------ */

static void print_vulnerabilities(void)
{
	static const char *const names[] = {
		"meltdown", "spectre_v1", "spectre_v2", "spec_store_bypass",
		"retbleed", "mds", "l1tf", "srbds", "mmio_stale_data",
		"tsx_async_abort", "itlb_multihit", "spec_rstack_overflow", "gather_data_sampling",
	};
	mkdir("/sys", 0555);
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0)
		return; /* informational only */
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char path[128], buf[256];
		snprintf(path, sizeof path, "/sys/devices/system/cpu/vulnerabilities/%s", names[i]);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		buf[strcspn(buf, "\n")] = 0;
		say("INFO vuln %s: %s\n", names[i], buf);
	}
	umount("/sys");
}

/* ------------------------------------------------------------------------ */
/* (f) memory calls: brk, mmap/munmap, mprotect (the in-kernel paths that     */
/*     Pagoda serves in its memory server, memd)                              */
/* ------------------------------------------------------------------------ */

/* Each sample times MEM_BATCH pairs and reports ticks per pair.  No page is
 * touched: these are the address-space bookkeeping costs alone. */
#define MEM_BATCH 64

/* brk_grow_shrink: the break up by 64 KiB and back down (two brk calls). */
static void bench_brk(void)
{
	uint64_t per_op[SAMPLES];
	uintptr_t base = (uintptr_t)syscall(SYS_brk, 0);
	for (int s = -1; s < SAMPLES; s++) {
		uint64_t t0 = ticks();
		for (int i = 0; i < MEM_BATCH; i++) {
			if ((uintptr_t)syscall(SYS_brk, base + 65536) != base + 65536)
				die("brk grow");
			syscall(SYS_brk, base);
		}
		uint64_t t1 = ticks();
		if (s >= 0)
			per_op[s] = (t1 - t0) / MEM_BATCH;
	}
	report("brk_grow_shrink", per_op);
}

/* mmap_munmap_<size>: an anonymous private mapping made and removed. */
static void bench_mmap(const char *name, size_t len)
{
	uint64_t per_op[SAMPLES];
	for (int s = -1; s < SAMPLES; s++) {
		uint64_t t0 = ticks();
		for (int i = 0; i < MEM_BATCH; i++) {
			void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				die("mmap");
			if (munmap(p, len) != 0)
				die("munmap");
		}
		uint64_t t1 = ticks();
		if (s >= 0)
			per_op[s] = (t1 - t0) / MEM_BATCH;
	}
	report(name, per_op);
}

/* mprotect_pair: 16 KiB in the middle of a 64 KiB mapping to read-only and
 * back (splits the VMA in three, then merges it again). */
static void bench_mprotect(void)
{
	uint64_t per_op[SAMPLES];
	char *p = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	for (int s = -1; s < SAMPLES; s++) {
		uint64_t t0 = ticks();
		for (int i = 0; i < MEM_BATCH; i++) {
			if (mprotect(p + 16384, 16384, PROT_READ) != 0)
				die("mprotect");
			mprotect(p + 16384, 16384, PROT_READ | PROT_WRITE);
		}
		uint64_t t1 = ticks();
		if (s >= 0)
			per_op[s] = (t1 - t0) / MEM_BATCH;
	}
	munmap(p, 65536);
	report("mprotect_pair", per_op);
}

/* ------------------------------------------------------------------------ */
/* (g) malloc_heavy: the shared workload of Pagoda's malloc_bench, on musl     */
/* ------------------------------------------------------------------------ */

#include "../../userland/c/malloc_work.h"

#define MALLOC_RUNS 9
#define MALLOC_STEPS 20000

static void bench_malloc(void)
{
	uint64_t per_step[MALLOC_RUNS], check = 0;
	for (int run = -1; run < MALLOC_RUNS; run++) {
		uint64_t t0 = ticks();
		check += malloc_work(0x9e3779b97f4a7c15ull + (uint64_t)run, MALLOC_STEPS);
		uint64_t t1 = ticks();
		if (run >= 0)
			per_step[run] = (t1 - t0) / MALLOC_STEPS;
	}
	if (check == 0)
		die("malloc_work");
	qsort(per_step, MALLOC_RUNS, sizeof per_step[0], cmp_u64);
	say("BENCH malloc_heavy %llu\n", (unsigned long long)per_step[MALLOC_RUNS / 2]);
}

int main(void)
{
	/* A pipe error should show up as BENCH_ERROR, not as a signal. */
	signal(SIGPIPE, SIG_IGN);
	/* Start on a fresh line: the firmware leaves terminal escape codes and no
	 * newline on the console just before our first output. */
	say("\n");

	print_vulnerabilities();
	bench_null_syscall();
	bench_demand_zero_fault();
	bench_pipe();
	bench_futex();
	bench_context_switch();
	bench_brk();
	bench_mmap("mmap_munmap_64k", 65536);
	bench_mmap("mmap_munmap_100m", 100u << 20);
	bench_mprotect();
	bench_malloc();
	say("BENCH_DONE\n");
	power_off();
}
