/*
 * akidb/hooks.h — what the library reports to the program embedding it,
 * without depending on how the program reports it: spans of the storage
 * engine's slow steps (a write-ahead log append and its fsync), for the
 * server's tracing (src/trace/). Unset (the default), a hook costs one
 * atomic load.
 */
#ifndef AKIDB_HOOKS_H
#define AKIDB_HOOKS_H

/* Opens a span named `name` (a string literal) as a child of whatever the
 * calling thread is doing, or returns NULL (nothing to record); the
 * matching end closes it on the same thread, innermost first. */
typedef void *(*akidb_span_begin_fn)(const char *name);
typedef void (*akidb_span_end_fn)(void *span);

/* Installs the hooks (both, or NULL and NULL to remove them). Call before
 * any collection is opened; the pointers are read without a lock. */
void akidb_set_span_hooks(akidb_span_begin_fn begin, akidb_span_end_fn end);

#endif /* AKIDB_HOOKS_H */
