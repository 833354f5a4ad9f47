/* The functions behind our support/ headers (a small subset of glibc's libsupport, written for ptmalloc-rs). */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <support/capture_subprocess.h>
#include <support/check.h>
#include <support/temp_file.h>
#include <support/xsignal.h>
#include <support/xthread.h>
#include <support/xunistd.h>

static int *failed;

/* Mapped before the test runs: some tests exhaust the mapping limit on purpose. */
__attribute__ ((constructor)) static void
ensure_failed (void)
{
  if (failed == NULL)
    {
      failed = mmap (NULL, sizeof *failed, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
      if (failed == MAP_FAILED)
        abort ();
      *failed = 0;
    }
}

void support_record_failure (void) { ensure_failed (); *failed = 1; }
int support_record_failure_is_failed (void) { ensure_failed (); return *failed; }

void
support_print_failure (const char *file, int line, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  printf ("error: %s:%d: ", file, line);
  vprintf (format, ap);
  puts ("");
  va_end (ap);
  fflush (stdout);
  support_record_failure ();
}

void
support_exit_failure (int status, const char *file, int line, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  printf ("%s: %s:%d: ", status == EXIT_UNSUPPORTED ? "unsupported" : "error", file, line);
  vprintf (format, ap);
  puts ("");
  va_end (ap);
  fflush (stdout);
  exit (status);
}

void write_message (const char *message) { (void) write (STDOUT_FILENO, message, strlen (message)); }

#define CHECKED(expr, what) do { if (!(expr)) FAIL_EXIT1 ("%s: %m", what); } while (0)

void *xmalloc (size_t n) { void *p = malloc (n); CHECKED (p != NULL || n == 0, "malloc"); return p; }
void *xcalloc (size_t n, size_t s) { void *p = calloc (n, s); CHECKED (p != NULL, "calloc"); return p; }
void *xrealloc (void *o, size_t n) { void *p = realloc (o, n); CHECKED (p != NULL || n == 0, "realloc"); return p; }
char *xstrdup (const char *s) { char *p = strdup (s); CHECKED (p != NULL, "strdup"); return p; }
void *
xposix_memalign (size_t alignment, size_t n)
{
  void *p = NULL;
  int r = posix_memalign (&p, alignment, n);
  if (r != 0) { errno = r; FAIL_EXIT1 ("posix_memalign: %m"); }
  return p;
}
char *
xasprintf (const char *format, ...)
{
  va_list ap;
  char *result;
  va_start (ap, format);
  CHECKED (vasprintf (&result, format, ap) >= 0, "asprintf");
  va_end (ap);
  return result;
}
long xsysconf (int name) { long r = sysconf (name); CHECKED (r != -1, "sysconf"); return r; }
void *
support_shared_allocate (size_t size)
{
  void *p = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECKED (p != MAP_FAILED, "mmap");
  return p;
}
void support_shared_free (void *p) { (void) p; }
void
ignore_stderr (void)
{
  int fd = open ("/dev/null", O_WRONLY);
  if (fd >= 0)
    {
      dup2 (fd, STDERR_FILENO);
      close (fd);
    }
}
void support_need_proc (const char *reason) { if (access ("/proc/self", R_OK) != 0) FAIL_UNSUPPORTED ("%s", reason); }

static int check_errno (int r, const char *what) { if (r != 0) { errno = r; FAIL_EXIT1 ("%s: %m", what); } return r; }
pthread_t
xpthread_create (pthread_attr_t *attr, void *(*fn) (void *), void *arg)
{
  pthread_t t;
  check_errno (pthread_create (&t, attr, fn, arg), "pthread_create");
  return t;
}
void *xpthread_join (pthread_t t) { void *r; check_errno (pthread_join (t, &r), "pthread_join"); return r; }
void xpthread_barrier_init (pthread_barrier_t *b, pthread_barrierattr_t *a, unsigned int c) { check_errno (pthread_barrier_init (b, a, c), "pthread_barrier_init"); }
int
xpthread_barrier_wait (pthread_barrier_t *b)
{
  int r = pthread_barrier_wait (b);
  if (r != 0 && r != PTHREAD_BARRIER_SERIAL_THREAD)
    check_errno (r, "pthread_barrier_wait");
  return r == PTHREAD_BARRIER_SERIAL_THREAD;
}
void xpthread_barrier_destroy (pthread_barrier_t *b) { check_errno (pthread_barrier_destroy (b), "pthread_barrier_destroy"); }
void xpthread_barrierattr_init (pthread_barrierattr_t *a) { check_errno (pthread_barrierattr_init (a), "pthread_barrierattr_init"); }
void xpthread_barrierattr_setpshared (pthread_barrierattr_t *a, int p) { check_errno (pthread_barrierattr_setpshared (a, p), "pthread_barrierattr_setpshared"); }
void xpthread_barrierattr_destroy (pthread_barrierattr_t *a) { check_errno (pthread_barrierattr_destroy (a), "pthread_barrierattr_destroy"); }
void xpthread_mutex_lock (pthread_mutex_t *m) { check_errno (pthread_mutex_lock (m), "pthread_mutex_lock"); }
void xpthread_mutex_unlock (pthread_mutex_t *m) { check_errno (pthread_mutex_unlock (m), "pthread_mutex_unlock"); }
void xpthread_kill (pthread_t t, int s) { check_errno (pthread_kill (t, s), "pthread_kill"); }
void xpthread_attr_init (pthread_attr_t *a) { check_errno (pthread_attr_init (a), "pthread_attr_init"); }
void xpthread_attr_destroy (pthread_attr_t *a) { check_errno (pthread_attr_destroy (a), "pthread_attr_destroy"); }
void xpthread_attr_setstacksize (pthread_attr_t *a, size_t s) { check_errno (pthread_attr_setstacksize (a, s), "pthread_attr_setstacksize"); }
void xpthread_attr_setdetachstate (pthread_attr_t *a, int s) { check_errno (pthread_attr_setdetachstate (a, s), "pthread_attr_setdetachstate"); }
void xpthread_detach (pthread_t t) { check_errno (pthread_detach (t), "pthread_detach"); }
void xpthread_cancel (pthread_t t) { check_errno (pthread_cancel (t), "pthread_cancel"); }

pid_t xfork (void) { pid_t p = fork (); CHECKED (p >= 0, "fork"); return p; }
pid_t xwaitpid (pid_t pid, int *status, int flags) { pid_t r = waitpid (pid, status, flags); CHECKED (r >= 0, "waitpid"); return r; }
void xpipe (int fds[2]) { CHECKED (pipe (fds) == 0, "pipe"); }
void xclose (int fd) { CHECKED (close (fd) == 0 || errno == EBADF, "close"); }
int xopen (const char *path, int flags, mode_t mode) { int fd = open (path, flags, mode); CHECKED (fd >= 0, path); return fd; }
void
xwrite (int fd, const void *buffer, size_t length)
{
  const char *p = buffer;
  while (length > 0)
    {
      ssize_t n = write (fd, p, length);
      CHECKED (n > 0, "write");
      p += n;
      length -= n;
    }
}
void *xmmap (void *a, size_t l, int p, int f, int fd) { void *r = mmap (a, l, p, f, fd, 0); CHECKED (r != MAP_FAILED, "mmap"); return r; }
void xmunmap (void *a, size_t l) { CHECKED (munmap (a, l) == 0, "munmap"); }
void xdup2 (int a, int b) { CHECKED (dup2 (a, b) >= 0, "dup2"); }
sighandler_t xsignal (int s, sighandler_t h) { sighandler_t r = signal (s, h); CHECKED (r != SIG_ERR, "signal"); return r; }
void xsigaction (int s, const struct sigaction *n, struct sigaction *o) { CHECKED (sigaction (s, n, o) == 0, "sigaction"); }
void xraise (int s) { CHECKED (raise (s) == 0, "raise"); }

static char *temp_files[32];
static int temp_file_count;
static pid_t temp_file_owner;

static void
remove_temp_files (void)
{
  if (getpid () != temp_file_owner)
    return;
  for (int i = 0; i < temp_file_count; i++)
    unlink (temp_files[i]);
}

void
add_temp_file (const char *name)
{
  if (temp_file_count == 0)
    {
      temp_file_owner = getpid ();
      atexit (remove_temp_files);
    }
  if (temp_file_count < 32)
    temp_files[temp_file_count++] = xstrdup (name);
}

int
create_temp_file (const char *base, char **filename)
{
  char *name = xasprintf ("/tmp/%sXXXXXX", base);
  int fd = mkstemp (name);
  CHECKED (fd >= 0, "mkstemp");
  add_temp_file (name);
  if (filename != NULL)
    *filename = name;
  else
    free (name);
  return fd;
}

static void
read_all (int fd, struct xmemstream *stream)
{
  size_t capacity = 4096;
  stream->buffer = xmalloc (capacity);
  stream->length = 0;
  for (;;)
    {
      if (stream->length + 1 >= capacity)
        stream->buffer = xrealloc (stream->buffer, capacity *= 2);
      ssize_t n = read (fd, stream->buffer + stream->length, capacity - stream->length - 1);
      if (n <= 0)
        break;
      stream->length += n;
    }
  stream->buffer[stream->length] = '\0';
  stream->out = NULL;
}

struct support_capture_subprocess
support_capture_subprocess (void (*callback) (void *), void *closure)
{
  struct support_capture_subprocess result;
  int out[2], err[2];
  xpipe (out);
  xpipe (err);
  fflush (NULL);
  pid_t pid = xfork ();
  if (pid == 0)
    {
      xdup2 (out[1], STDOUT_FILENO);
      xdup2 (err[1], STDERR_FILENO);
      close (out[0]);
      close (err[0]);
      callback (closure);
      fflush (NULL);
      _exit (0);
    }
  close (out[1]);
  close (err[1]);
  read_all (out[0], &result.out);
  read_all (err[0], &result.err);
  close (out[0]);
  close (err[0]);
  xwaitpid (pid, &result.status, 0);
  return result;
}

void
support_capture_subprocess_free (struct support_capture_subprocess *p)
{
  free (p->out.buffer);
  free (p->err.buffer);
}
