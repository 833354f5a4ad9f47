/* Our stand-in for glibc's hp-timing.h so that glibc's malloc benchtests build outside the glibc tree:
   high-precision time as nanoseconds from CLOCK_MONOTONIC. */
#include <stdint.h>
#include <time.h>
typedef uint64_t hp_timing_t;
#define HP_TIMING_NOW(var)                                                  \
  do {                                                                      \
    struct timespec __ts;                                                   \
    clock_gettime (CLOCK_MONOTONIC, &__ts);                                 \
    (var) = (uint64_t) __ts.tv_sec * 1000000000u + (uint64_t) __ts.tv_nsec; \
  } while (0)
#define HP_TIMING_DIFF(diff, start, end) ((diff) = (end) - (start))
#define HP_TIMING_ACCUM_NT(sum, diff) ((sum) += (diff))
#define HP_TIMING_PRINT(buf, len, val) snprintf ((buf), (len), "%" PRIu64, (uint64_t) (val))
