/* Our stand-in for glibc's support/check.h: failure reporting and TEST_* assertions. */
#ifndef PTMALLOC_RS_SHIM_CHECK_H
#define PTMALLOC_RS_SHIM_CHECK_H
#include <support/support.h>

#define EXIT_UNSUPPORTED 77

void support_print_failure (const char *file, int line, const char *format, ...);
_Noreturn void support_exit_failure (int status, const char *file, int line, const char *format, ...);

#define FAIL(...) support_print_failure (__FILE__, __LINE__, __VA_ARGS__)
#define FAIL_RET(...) return (support_print_failure (__FILE__, __LINE__, __VA_ARGS__), 1)
#define FAIL_EXIT(status, ...) support_exit_failure (status, __FILE__, __LINE__, __VA_ARGS__)
#define FAIL_EXIT1(...) support_exit_failure (1, __FILE__, __LINE__, __VA_ARGS__)
#define FAIL_UNSUPPORTED(...) support_exit_failure (EXIT_UNSUPPORTED, __FILE__, __LINE__, __VA_ARGS__)
#define TEST_VERIFY(expr) \
  ((expr) ? (void) 0 : support_print_failure (__FILE__, __LINE__, "%s", "test verify failed: " #expr))
#define TEST_VERIFY_EXIT(expr) \
  ((expr) ? (void) 0 : support_exit_failure (1, __FILE__, __LINE__, "%s", "test verify failed: " #expr))
#define TEST_COMPARE(left, right)                                                     \
  do {                                                                               \
    long long __l = (long long) (left), __r = (long long) (right);                   \
    if (__l != __r)                                                                   \
      support_print_failure (__FILE__, __LINE__, "%s == %s: %lld != %lld", #left, #right, __l, __r); \
  } while (0)
#define TEST_COMPARE_STRING(left, right) TEST_VERIFY (strcmp ((left), (right)) == 0)
#endif
