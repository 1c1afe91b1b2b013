/*
 * queue.c — the bounded queue of finished spans between request threads
 * and the exporter: Dmitry Vyukov's bounded MPMC ring (as described in his
 * 2010 write-up), here with any capacity (position modulo capacity).
 *
 * Cell i holds a sequence number: == position when free for the producer
 * of that position, == position + 1 when it holds that position's span,
 * set to position + capacity when the consumer empties it (free for the
 * next lap). A producer claims `head` with a compare-and-swap after
 * checking its cell, so it never waits: a full ring fails the push at once.
 *
 * Locking: lock-free. The span pointer is published by the release store
 * of the cell's sequence and read after its acquire load. Durability: none.
 */
#include <stdlib.h>

#include "akidb/errors.h"
#include "trace/trace_internal.h"

int trace_queue_init(trace_queue_t *q, size_t cap) {
  q->cells = calloc(cap ? cap : 1, sizeof *q->cells);
  if (!q->cells) return AKIDB_ENOMEM;
  q->cap = cap ? cap : 1;
  for (size_t i = 0; i < q->cap; i++) atomic_init(&q->cells[i].seq, i);
  atomic_store(&q->head, 0); /* stores: trace_stats may read them concurrently */
  atomic_store(&q->tail, 0);
  return AKIDB_OK;
}

void trace_queue_free(trace_queue_t *q) {
  free(q->cells);
  q->cells = NULL;
  q->cap = 0;
}

bool trace_queue_push(trace_queue_t *q, trace_span_t *s) {
  size_t pos = atomic_load_explicit(&q->head, memory_order_relaxed);
  for (;;) {
    trace_cell_t *c = &q->cells[pos % q->cap];
    size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    intptr_t dif = (intptr_t)seq - (intptr_t)pos;
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&q->head, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
        c->span = s;
        atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
        return true;
      }
    } else if (dif < 0) {
      return false; /* the cell still holds the previous lap's span: full */
    } else {
      pos = atomic_load_explicit(&q->head, memory_order_relaxed);
    }
  }
}

trace_span_t *trace_queue_pop(trace_queue_t *q) {
  size_t pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
  for (;;) {
    trace_cell_t *c = &q->cells[pos % q->cap];
    size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
    intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);
    if (dif == 0) {
      if (atomic_compare_exchange_weak_explicit(&q->tail, &pos, pos + 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
        trace_span_t *s = c->span;
        atomic_store_explicit(&c->seq, pos + q->cap, memory_order_release);
        return s;
      }
    } else if (dif < 0) {
      return NULL; /* empty (or the producer of this cell has not finished) */
    } else {
      pos = atomic_load_explicit(&q->tail, memory_order_relaxed);
    }
  }
}

size_t trace_queue_depth(trace_queue_t *q) {
  size_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
  size_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  return head > tail ? head - tail : 0;
}
