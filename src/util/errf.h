/*
 * util/errf.h — the one helper behind "fill err, return the code" in the
 * modules that report a sentence with an AKIDB_* code (snapshots, imports,
 * the cold tier). Implemented in util/errors.c.
 */
#ifndef AKIDB_UTIL_ERRF_H
#define AKIDB_UTIL_ERRF_H

#include <stddef.h>

/* Formats the message into err (errlen bytes, always terminated; err may be
 * NULL when errlen is 0) and returns `code`. */
int errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* AKIDB_UTIL_ERRF_H */
