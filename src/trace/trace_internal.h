/*
 * trace/trace_internal.h — what the files of src/trace/ share, and what the
 * unit tests reach: the span's layout, the per-thread random ids, the
 * bounded span queue, the OTLP/JSON encoder and the exporter's entry
 * points. Not for other modules: they use trace/trace.h.
 */
#ifndef AKIDB_TRACE_INTERNAL_H
#define AKIDB_TRACE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/trace.h"

/* ------------------------------------------------------------- spans -- */

typedef enum { ATTR_STR, ATTR_INT, ATTR_DOUBLE, ATTR_BOOL } trace_attr_type_t;

typedef struct {
  const char *key; /* a string literal */
  trace_attr_type_t type;
  union {
    struct {
      uint16_t off, len; /* into the span's text */
    } s;
    int64_t i;
    double d;
    bool b;
  } v;
} trace_attr_t;

struct trace_span {
  trace_ctx_t ctx;                        /* trace id, own span id, flags */
  uint8_t parent_id[TRACE_SPAN_ID_SIZE];  /* all zero: a root */
  trace_kind_t kind;
  trace_status_t status;
  uint64_t start_unix_ns, end_unix_ns;    /* CLOCK_REALTIME at start, + monotonic duration */
  uint64_t start_mono_ns;
  uint16_t name_off, name_len;            /* into text */
  uint16_t msg_off, msg_len;              /* status message, into text */
  uint16_t text_used;
  uint8_t nattrs;
  uint32_t dropped_attrs;
  bool current;                           /* made current by trace_child_begin */
  trace_saved_t saved;                    /* the thread's context before it */
  trace_attr_t attrs[TRACE_ATTRS_MAX];
  char text[TRACE_SPAN_TEXT_MAX];
};

/* A new span (trace id and parent from `parent`, a fresh span id), started
 * now; NULL when out of memory. Counted in spans_started. */
trace_span_t *trace_span_new(const char *name, trace_kind_t kind, const trace_ctx_t *parent);

/* The name of span s (not NUL-terminated: s->name_len bytes). */
static inline const char *trace_span_name(const trace_span_t *s) { return s->text + s->name_off; }

/* -------------------------------------------------------- random ids -- */

/* 8 random bytes from this thread's generator (xoshiro256**, seeded from
 * getrandom(2) on the thread's first use). Not for secrets. */
uint64_t trace_rand64(void);

/* A random, non-zero trace id / span id. */
void trace_new_trace_id(uint8_t id[TRACE_ID_SIZE]);
void trace_new_span_id(uint8_t id[TRACE_SPAN_ID_SIZE]);

/* Lower-case hex of n bytes into out (2n chars, no NUL). */
void trace_hex(const uint8_t *bytes, size_t n, char *out);

/* -------------------------------------------------------------- queue -- */

/*
 * A bounded multi-producer queue of finished spans (Vyukov's bounded MPMC
 * ring: one sequence number per cell; producers claim a position with a
 * compare-and-swap and never wait). Push fails at once when full.
 */
typedef struct {
  _Atomic size_t seq;
  trace_span_t *span;
} trace_cell_t;

typedef struct {
  trace_cell_t *cells;
  size_t cap;
  _Alignas(64) _Atomic size_t head; /* next position to push */
  _Alignas(64) _Atomic size_t tail; /* next position to pop */
} trace_queue_t;

/* AKIDB_OK or AKIDB_ENOMEM. */
int trace_queue_init(trace_queue_t *q, size_t cap);
/* Frees the cells (not the spans still in it). */
void trace_queue_free(trace_queue_t *q);
/* false when full. */
bool trace_queue_push(trace_queue_t *q, trace_span_t *s);
/* NULL when empty. */
trace_span_t *trace_queue_pop(trace_queue_t *q);
/* Spans in the queue (a snapshot). */
size_t trace_queue_depth(trace_queue_t *q);

/* ------------------------------------------------------ OTLP encoding -- */

/* A growable byte buffer. */
typedef struct {
  char *data;
  size_t len, cap;
  bool failed; /* an allocation failed: the content is incomplete */
} trace_buf_t;

void trace_buf_reset(trace_buf_t *b);
void trace_buf_free(trace_buf_t *b);

/* What the resource and scope of an export say. */
typedef struct {
  const char *service_name;
  const char *service_version;
  const char *host_name; /* NULL: left out */
} trace_resource_t;

/*
 * Appends one ExportTraceServiceRequest in the OTLP/JSON mapping
 * (resourceSpans → resource + scopeSpans → scope + spans; ids as hex,
 * 64-bit integers and times as decimal strings, enums as numbers) for
 * spans[0..n). AKIDB_OK or AKIDB_ENOMEM.
 */
int trace_otlp_json(trace_buf_t *b, const trace_resource_t *res, trace_span_t *const *spans,
                    size_t n);

/* ------------------------------------------------------------ exporter -- */

/* Whether new requests are sampled, and at which ratio (the exporter's
 * configuration), read on every request begin. */
bool trace_sampling(double *ratio);

/* Hands a finished span to the exporter (or drops and frees it). */
void trace_export_span(trace_span_t *s);

/* Counts a sampled span begun. */
void trace_count_started(void);

#endif /* AKIDB_TRACE_INTERNAL_H */
