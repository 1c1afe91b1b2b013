/*
 * util/span.h — spans of the library's slow steps through the program's
 * hooks (akidb/hooks.h): NULL and no-ops when none are installed.
 */
#ifndef AKIDB_UTIL_SPAN_H
#define AKIDB_UTIL_SPAN_H

/* A span named `name` (a string literal) under the thread's current one. */
void *util_span_begin(const char *name);
/* Ends it (NULL: nothing). */
void util_span_end(void *span);

#endif /* AKIDB_UTIL_SPAN_H */
