/* Our stand-in for glibc's support/temp_file.h. */
#ifndef PTMALLOC_RS_SHIM_TEMP_FILE_H
#define PTMALLOC_RS_SHIM_TEMP_FILE_H
#include <support/check.h>
int create_temp_file (const char *base, char **filename);
void add_temp_file (const char *name);
#endif
