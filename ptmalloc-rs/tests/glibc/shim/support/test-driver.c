/* Our stand-in for glibc's support/test-driver.c: main() runs the test function (in a child when a signal is
   expected) and turns recorded failures into a non-zero exit status. The time limit is the runner's. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <support/check.h>

int
main (int argc, char **argv)
{
  (void) argc;
  (void) argv;
#ifdef PREPARE
  PREPARE (argc, argv);
#endif
#ifdef EXPECTED_SIGNAL
  pid_t pid = fork ();
  if (pid == 0)
    {
#endif
      int status;
#if defined TEST_FUNCTION_ARGV
      status = TEST_FUNCTION_ARGV (argc, argv);
#elif defined TEST_FUNCTION
      status = TEST_FUNCTION ();
#else
      status = do_test ();
#endif
      if (status == 0 && support_record_failure_is_failed ())
        status = 1;
#if defined EXPECTED_STATUS && !defined EXPECTED_SIGNAL
      return status == EXPECTED_STATUS ? 0 : 1;
#endif
#ifdef EXPECTED_SIGNAL
      _exit (status);
    }
  int child;
  if (waitpid (pid, &child, 0) != pid)
    return 1;
  if (!WIFSIGNALED (child) || WTERMSIG (child) != EXPECTED_SIGNAL)
    {
      printf ("expected signal %d, got status %#x\n", EXPECTED_SIGNAL, child);
      return 1;
    }
  return 0;
#else
  return status;
#endif
}
