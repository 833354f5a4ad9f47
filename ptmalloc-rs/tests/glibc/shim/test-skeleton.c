/* Our stand-in for glibc's test-skeleton.c: older tests define TEST_FUNCTION as an expression. */
static int
legacy_test_function (int argc, char **argv)
{
  (void) argc;
  (void) argv;
#ifdef TEST_FUNCTION
  return TEST_FUNCTION;
# undef TEST_FUNCTION
#else
  return do_test (argc, argv);
#endif
}
#define TEST_FUNCTION_ARGV legacy_test_function
#include <support/test-driver.c>
