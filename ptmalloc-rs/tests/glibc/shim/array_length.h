/* Our stand-in for glibc's include/array_length.h. */
#define array_length(var) (sizeof (var) / sizeof ((var)[0]))
