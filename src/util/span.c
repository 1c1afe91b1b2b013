/*
 * util/span.c — owns the span hooks of akidb/hooks.h: two function
 * pointers the program installs, called around the storage engine's slow
 * steps (util/span.h). Locking: atomic pointers, set once at start.
 * Durability: none.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "akidb/hooks.h"
#include "util/span.h"

static _Atomic(akidb_span_begin_fn) begin_hook;
static _Atomic(akidb_span_end_fn) end_hook;

void akidb_set_span_hooks(akidb_span_begin_fn begin, akidb_span_end_fn end) {
  atomic_store(&end_hook, begin && end ? end : NULL);
  atomic_store(&begin_hook, begin && end ? begin : NULL);
}

void *util_span_begin(const char *name) {
  akidb_span_begin_fn f = atomic_load_explicit(&begin_hook, memory_order_acquire);
  return f ? f(name) : NULL;
}

void util_span_end(void *span) {
  if (!span) return;
  akidb_span_end_fn f = atomic_load_explicit(&end_hook, memory_order_acquire);
  if (f) f(span);
}
