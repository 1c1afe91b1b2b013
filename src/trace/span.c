/*
 * span.c — owns spans (creation, attributes, status, end) and each
 * thread's current trace context: the request's server span decided by the
 * parent-based sampler, children opened from whatever the thread serves,
 * and the attach/detach hand-off between threads.
 *
 * A span is malloc'ed only when sampled and freed by the exporter once
 * sent or dropped. Its strings live in one fixed text area inside it
 * (name, string values, status message), so setting attributes never
 * allocates. Attribute keys are borrowed (string literals).
 *
 * Locking: none. The current context is thread-local; a span belongs to
 * one thread at a time until trace_span_end hands it to the exporter's
 * queue (trace_export_span), which publishes it with a release store.
 * Durability: none.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "akidb/errors.h"
#include "trace/trace_internal.h"

/* The thread's current context, and the span that made it (NULL when it
 * came from trace_attach). */
static _Thread_local trace_saved_t tls;

static inline uint64_t now_ns(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------------------------------------------------------------- text -- */

/* Bytes of v to keep: at most max and the span's room, cut at a UTF-8
 * character boundary. */
static size_t keep_len(const trace_span_t *s, const char *v, size_t max) {
  size_t room = TRACE_SPAN_TEXT_MAX - s->text_used;
  if (max > room) max = room;
  size_t n = strnlen(v, max + 1);
  if (n <= max) return n;
  n = max;
  while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80) n--; /* v[n] starts the cut char */
  return n;
}

/* Copies (part of) v into the span's text; its place into *off, *len. */
static void text_put(trace_span_t *s, const char *v, size_t max, uint16_t *off, uint16_t *len) {
  size_t n = v ? keep_len(s, v, max) : 0;
  memcpy(s->text + s->text_used, v ? v : "", n);
  *off = s->text_used;
  *len = (uint16_t)n;
  s->text_used = (uint16_t)(s->text_used + n);
}

/* ---------------------------------------------------------------- spans -- */

trace_span_t *trace_span_new(const char *name, trace_kind_t kind, const trace_ctx_t *parent) {
  trace_span_t *s = malloc(sizeof *s);
  if (!s) return NULL;
  memcpy(s->ctx.trace_id, parent->trace_id, TRACE_ID_SIZE);
  memcpy(s->parent_id, parent->span_id, TRACE_SPAN_ID_SIZE);
  trace_new_span_id(s->ctx.span_id);
  s->ctx.flags = TRACE_FLAG_SAMPLED;
  s->ctx.valid = true;
  s->ctx.tracestate = parent->tracestate;
  s->kind = kind;
  s->status = TRACE_STATUS_UNSET;
  s->start_unix_ns = now_ns(CLOCK_REALTIME);
  s->start_mono_ns = now_ns(CLOCK_MONOTONIC);
  s->end_unix_ns = s->start_unix_ns;
  s->text_used = 0;
  s->msg_off = s->msg_len = 0;
  s->nattrs = 0;
  s->dropped_attrs = 0;
  s->current = false;
  text_put(s, name, TRACE_NAME_MAX, &s->name_off, &s->name_len);
  trace_count_started();
  return s;
}

trace_span_t *trace_span_begin(const char *name, trace_kind_t kind, const trace_ctx_t *parent) {
  if (!parent || !parent->valid || !(parent->flags & TRACE_FLAG_SAMPLED)) return NULL;
  return trace_span_new(name, kind, parent);
}

trace_ctx_t trace_span_ctx(const trace_span_t *s) {
  if (!s) return (trace_ctx_t){0};
  return s->ctx;
}

/* Opens a child of the thread's current context and makes it current. */
static trace_span_t *child_begin(const char *name, trace_kind_t kind) {
  if (!(tls.ctx.flags & TRACE_FLAG_SAMPLED)) return NULL; /* the unsampled fast path */
  trace_span_t *s = trace_span_new(name, kind, &tls.ctx);
  if (!s) return NULL;
  s->saved = tls;
  s->current = true;
  tls.ctx = s->ctx;
  tls.span = s;
  return s;
}

trace_span_t *trace_child_begin(const char *name) { return child_begin(name, TRACE_KIND_INTERNAL); }

trace_span_t *trace_client_begin(const char *name) { return child_begin(name, TRACE_KIND_CLIENT); }

void trace_span_end(trace_span_t *s) {
  if (!s) return;
  s->end_unix_ns = s->start_unix_ns + (now_ns(CLOCK_MONOTONIC) - s->start_mono_ns);
  if (s->current && tls.span == s) tls = s->saved;
  trace_export_span(s);
}

/* ----------------------------------------------------------- attributes -- */

/* The attribute slot for key (existing or new), or NULL when full. */
static trace_attr_t *attr_slot(trace_span_t *s, const char *key) {
  for (uint8_t i = 0; i < s->nattrs; i++)
    if (s->attrs[i].key == key || strcmp(s->attrs[i].key, key) == 0) return &s->attrs[i];
  if (s->nattrs == TRACE_ATTRS_MAX) {
    s->dropped_attrs++;
    return NULL;
  }
  trace_attr_t *a = &s->attrs[s->nattrs++];
  a->key = key;
  return a;
}

void trace_span_set_str(trace_span_t *s, const char *key, const char *value) {
  trace_attr_t *a = s && key ? attr_slot(s, key) : NULL;
  if (!a) return;
  a->type = ATTR_STR;
  text_put(s, value, TRACE_ATTR_VALUE_MAX, &a->v.s.off, &a->v.s.len);
}

void trace_span_set_int(trace_span_t *s, const char *key, int64_t value) {
  trace_attr_t *a = s && key ? attr_slot(s, key) : NULL;
  if (!a) return;
  a->type = ATTR_INT;
  a->v.i = value;
}

void trace_span_set_double(trace_span_t *s, const char *key, double value) {
  trace_attr_t *a = s && key ? attr_slot(s, key) : NULL;
  if (!a) return;
  a->type = ATTR_DOUBLE;
  a->v.d = value;
}

void trace_span_set_bool(trace_span_t *s, const char *key, bool value) {
  trace_attr_t *a = s && key ? attr_slot(s, key) : NULL;
  if (!a) return;
  a->type = ATTR_BOOL;
  a->v.b = value;
}

void trace_span_set_name(trace_span_t *s, const char *name) {
  if (s && name) text_put(s, name, TRACE_NAME_MAX, &s->name_off, &s->name_len);
}

void trace_span_set_status(trace_span_t *s, trace_status_t code, const char *message) {
  if (!s) return;
  s->status = code;
  s->msg_len = 0;
  if (code == TRACE_STATUS_ERROR && message)
    text_put(s, message, TRACE_ATTR_VALUE_MAX, &s->msg_off, &s->msg_len);
}

/* ------------------------------------------------------------- requests -- */

/* Reads the client's context into *remote (tracestate into r); false if none. */
static bool remote_context(trace_request_t *r, const char *traceparent, const char *tracestate,
                           trace_ctx_t *remote) {
  if (!traceparent || trace_traceparent_parse(traceparent, remote) != AKIDB_OK) return false;
  if (tracestate && trace_tracestate_ok(tracestate)) {
    memcpy(r->tracestate, tracestate, strlen(tracestate) + 1);
    remote->tracestate = r->tracestate;
  }
  return true;
}

void trace_request_begin(trace_request_t *r, const char *name, const char *traceparent,
                         const char *tracestate) {
  r->span = NULL;
  r->ctx.valid = false;
  r->ctx.flags = 0;
  r->ctx.tracestate = NULL;
  r->tracestate[0] = '\0';
  double ratio;
  if (!trace_sampling(&ratio)) return;
  trace_ctx_t parent;
  if (remote_context(r, traceparent, tracestate, &parent)) {
    if (!(parent.flags & TRACE_FLAG_SAMPLED)) {
      r->ctx = parent; /* not recorded here either; passed on as received */
      return;
    }
  } else {
    if (!(ratio > 0.0)) return;
    memset(&parent, 0, sizeof parent); /* a root: no parent span id */
    trace_new_trace_id(parent.trace_id);
    if (!trace_ratio_sampled(parent.trace_id, ratio)) return;
    parent.valid = true;
    parent.flags = TRACE_FLAG_SAMPLED;
  }
  r->span = trace_span_new(name, TRACE_KIND_SERVER, &parent);
  r->ctx = r->span ? r->span->ctx : parent;
}

void trace_request_end(trace_request_t *r) {
  trace_span_end(r->span);
  r->span = NULL;
  r->ctx.valid = false;
  r->ctx.flags = 0;
  r->ctx.tracestate = NULL;
  r->tracestate[0] = '\0';
}

/* ------------------------------------------------------ thread context -- */

void trace_attach(const trace_ctx_t *ctx, trace_saved_t *saved) {
  *saved = tls;
  if (ctx && ctx->valid) {
    tls.ctx = *ctx;
  } else {
    memset(&tls.ctx, 0, sizeof tls.ctx);
  }
  tls.span = NULL;
}

void trace_detach(const trace_saved_t *saved) { tls = *saved; }

bool trace_request_attach(const trace_request_t *r, trace_saved_t *saved) {
  if (!r->ctx.valid) return false;
  trace_attach(&r->ctx, saved);
  return true;
}

trace_ctx_t trace_current(void) { return tls.ctx; }

bool trace_is_recording(void) { return (tls.ctx.flags & TRACE_FLAG_SAMPLED) != 0; }

bool trace_current_traceparent(char out[TRACE_TRACEPARENT_SIZE]) {
  if (!tls.ctx.valid) return false;
  trace_traceparent_format(&tls.ctx, out);
  return true;
}

const char *trace_current_tracestate(void) { return tls.ctx.valid ? tls.ctx.tracestate : NULL; }
