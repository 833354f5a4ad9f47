/* proc_cat PATH...: prints /proc texts the way `cat` would, through libc-rs's open/read/close, which
 * resolve each path to the kernel (`/proc/meminfo`, `buddyinfo`, …) or to memd (`/proc/self/maps`,
 * `/proc/PID/smaps`, `status`). Exits 1 if a path cannot be opened. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static char buf[4096];
	int status = 0;
	for (int i = 1; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);
		if (fd < 0) {
			printf("proc_cat: %s: cannot open\n", argv[i]);
			status = 1;
			continue;
		}
		printf("==> %s <==\n", argv[i]);
		ssize_t n;
		while ((n = read(fd, buf, sizeof buf)) > 0)
			write(1, buf, (size_t)n);
		close(fd);
	}
	return status;
}
