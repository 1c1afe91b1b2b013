/*
 * trace/trace.h — OpenTelemetry tracing for the server (issue 15): W3C
 * Trace Context in and out, spans with a per-thread "current span", a
 * parent-based ratio sampler, and a batching OTLP/HTTP (JSON) exporter on
 * one background thread behind a bounded queue. docs/tracing.md says what
 * is exported and the span names of the request paths.
 *
 * Cost model. Every call below is safe with tracing off and with a NULL
 * span: it then does nothing. A request that is not sampled allocates
 * nothing and reads no clock; trace_child_begin on a thread that serves no
 * sampled request is one thread-local load and one branch. Only sampled
 * spans are allocated (one malloc each), timed (CLOCK_REALTIME for the
 * start, CLOCK_MONOTONIC for the duration) and queued; the request thread
 * never waits for the exporter: a full queue drops the span (counted).
 *
 * Threads. The process has one tracer (trace_start … trace_shutdown). A
 * thread's current context is thread-local: trace_attach makes a request's
 * context current on the thread that serves it (the REST handler thread, a
 * gRPC worker, a pool thread running part of a request), trace_detach
 * restores what was there. trace_child_begin opens a child of the current
 * context and makes it current until trace_span_end; such spans end on the
 * thread that began them, innermost first. Spans begun with
 * trace_span_begin (explicit parent) are never made current and may end on
 * any thread. A span is used by one thread at a time.
 *
 * Lifetimes. A trace_ctx_t is a plain value (copy it to hand a request's
 * context to another thread) except `tracestate`, which is borrowed from
 * the trace_request_t that produced it: valid until trace_request_end.
 * Attribute keys are not copied: they must be string literals (or live as
 * long as the process). Names, string values and messages are copied.
 */
#ifndef AKIDB_TRACE_H
#define AKIDB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------ configuration -- */

/* Defaults, minima and maxima of the settings (one triple per setting). */
#define TRACE_SAMPLE_RATIO_DEFAULT 1.0
#define TRACE_QUEUE_CAPACITY_DEFAULT 2048u
#define TRACE_QUEUE_CAPACITY_MIN 1u
#define TRACE_QUEUE_CAPACITY_MAX 1048576u
#define TRACE_BATCH_MAX_DEFAULT 512u
#define TRACE_BATCH_MAX_MIN 1u
#define TRACE_BATCH_MAX_MAX 65536u
#define TRACE_BATCH_DELAY_MS_DEFAULT 1000u
#define TRACE_BATCH_DELAY_MS_MIN 1u
#define TRACE_BATCH_DELAY_MS_MAX 600000u
#define TRACE_EXPORT_TIMEOUT_MS_DEFAULT 5000u
#define TRACE_EXPORT_TIMEOUT_MS_MIN 10u
#define TRACE_EXPORT_TIMEOUT_MS_MAX 600000u
#define TRACE_SHUTDOWN_TIMEOUT_MS_DEFAULT 2000u
#define TRACE_SHUTDOWN_TIMEOUT_MS_MIN 0u
#define TRACE_SHUTDOWN_TIMEOUT_MS_MAX 600000u
#define TRACE_ENDPOINT_DEFAULT "http://127.0.0.1:4318"
#define TRACE_ENDPOINT_MAX 1023 /* bytes, before "/v1/traces" */
#define TRACE_SERVICE_NAME_DEFAULT "akidb"
#define TRACE_SERVICE_NAME_MAX 255

typedef struct {
  bool enabled;                 /* false: trace_start does nothing */
  const char *endpoint;         /* collector base URL; spans go to {endpoint}/v1/traces */
  double sample_ratio;          /* 0..1: share of new traces (no sampled parent) recorded */
  uint32_t queue_capacity;      /* finished spans waiting for export; more are dropped */
  uint32_t batch_max;           /* spans per POST (at most queue_capacity) */
  uint32_t batch_delay_ms;      /* a partial batch leaves after this long */
  uint32_t export_timeout_ms;   /* one POST, connection included */
  uint32_t shutdown_timeout_ms; /* trace_shutdown's flush gives up after this long */
  const char *service_name;     /* resource attribute service.name */
} trace_config_t;

/* Every setting at its default (tracing disabled). */
void trace_config_default(trace_config_t *c);

/* Checks every setting and their agreement (batch_max <= queue_capacity).
 * AKIDB_OK, or AKIDB_EINVAL with one sentence in `err` naming the setting,
 * its value and what to write instead. */
int trace_config_validate(const trace_config_t *c, char *err, size_t errlen);

/* The ENABLE_TRACING variable: "true"/"1"/"yes"/"on" or "false"/"0"/"no"/
 * "off" (any case) into *on. AKIDB_OK or AKIDB_EINVAL (err says what to
 * write). NULL or "" leaves *on unchanged. */
int trace_parse_enabled(const char *value, bool *on, char *err, size_t errlen);

/* ------------------------------------------------------------- tracer -- */

/*
 * Starts the process's tracer: validates `c` and, when enabled, starts the
 * exporter thread (configuration copied). A disabled configuration returns
 * AKIDB_OK and leaves tracing off. Errors: AKIDB_EINVAL (bad setting; err),
 * AKIDB_EEXIST (already started), AKIDB_ENOMEM (queue or thread; err).
 * Nothing is sent until a sampled span ends; the collector need not be up.
 */
int trace_start(const trace_config_t *c, char *err, size_t errlen);

/*
 * Stops sampling, waits for spans being queued by other threads, flushes
 * the queue for at most shutdown_timeout_ms (each POST's timeout shortened
 * to what is left), drops and counts the rest, and joins the exporter.
 * Spans that end later are dropped (counted). No-op when not started.
 */
void trace_shutdown(void);

/* Whether a tracer is running (sampling new requests). */
bool trace_enabled(void);

typedef struct {
  uint64_t spans_started;      /* sampled spans begun */
  uint64_t spans_exported;     /* accepted by the collector (2xx) */
  uint64_t spans_dropped;      /* all losses: the three below */
  uint64_t dropped_queue_full; /* queue full when the span ended */
  uint64_t dropped_export;     /* in a batch the collector did not take */
  uint64_t dropped_shutdown;   /* left at shutdown, or ended after it */
  uint64_t batches_exported;   /* successful POSTs */
  uint64_t export_failures;    /* batches given up (after the retry, if any) */
  uint64_t export_retries;     /* second attempts */
  uint64_t queue_depth;        /* spans waiting now */
} trace_stats_t;

/* Counters since the last trace_start (relaxed reads: each is exact, the
 * set is not one instant). After trace_shutdown, every span begun and
 * ended is either exported or dropped: started == exported + dropped. */
void trace_stats(trace_stats_t *out);

/* ------------------------------------------------------- W3C context -- */

#define TRACE_ID_SIZE 16        /* bytes of a trace id */
#define TRACE_SPAN_ID_SIZE 8    /* bytes of a span id */
#define TRACE_TRACEPARENT_LEN 55 /* "00-<32 hex>-<16 hex>-<2 hex>" */
#define TRACE_TRACEPARENT_SIZE (TRACE_TRACEPARENT_LEN + 1)
#define TRACE_TRACESTATE_MAX 512 /* bytes passed on; a longer tracestate is dropped */
#define TRACE_FLAG_SAMPLED 0x01u

/* A position in a trace: the ids a child or a downstream call continues. */
typedef struct {
  uint8_t trace_id[TRACE_ID_SIZE];
  uint8_t span_id[TRACE_SPAN_ID_SIZE]; /* the parent of what comes next */
  uint8_t flags;                       /* TRACE_FLAG_SAMPLED or 0 */
  bool valid;                          /* false: no trace (nothing to pass on) */
  const char *tracestate;              /* borrowed (see Lifetimes), or NULL */
} trace_ctx_t;

/*
 * Parses a `traceparent` value (W3C Trace Context level 1, no surrounding
 * white space): version 00 must be exactly 55 bytes; a higher version
 * (not ff) is read by version 00's layout from its first 55 bytes, which
 * must be followed by the end or '-'. Lower-case hex only; all-zero trace
 * or parent ids are invalid. AKIDB_OK (out->valid, tracestate NULL) or
 * AKIDB_EINVAL (out->valid false).
 */
int trace_traceparent_parse(const char *s, trace_ctx_t *out);

/* "00-<trace id>-<span id>-<flags>" for an outgoing call; only the sampled
 * flag is passed on. `c` must be valid. */
void trace_traceparent_format(const trace_ctx_t *c, char out[TRACE_TRACEPARENT_SIZE]);

/* Whether `s` may be passed on as `tracestate`: 1..512 bytes of printable
 * ASCII (0x20..0x7e) or tabs, not only white space and commas. */
bool trace_tracestate_ok(const char *s);

/* TraceIdRatioBased: whether a new trace with this id is recorded at
 * `ratio` (deterministic: the id's last 8 bytes, big-endian, shifted right
 * by one, below ratio * 2^63). ratio <= 0 never, >= 1 always. */
bool trace_ratio_sampled(const uint8_t trace_id[TRACE_ID_SIZE], double ratio);

/* ------------------------------------------------------------- spans -- */

typedef struct trace_span trace_span_t;

typedef enum {
  TRACE_KIND_INTERNAL = 1, /* OTLP SpanKind values */
  TRACE_KIND_SERVER = 2,
  TRACE_KIND_CLIENT = 3,
} trace_kind_t;

typedef enum { TRACE_STATUS_UNSET = 0, TRACE_STATUS_OK = 1, TRACE_STATUS_ERROR = 2 } trace_status_t;

#define TRACE_NAME_MAX 127        /* bytes of a span name kept */
#define TRACE_ATTRS_MAX 16        /* attributes per span; more are dropped (counted) */
#define TRACE_ATTR_VALUE_MAX 256  /* bytes of a string value or status message kept */
#define TRACE_SPAN_TEXT_MAX 1024  /* bytes of name + string values + message per span */

/*
 * One request, as its transport sees it: the server span (NULL when not
 * recorded) and the context children and downstream calls continue. Lives
 * in the transport's per-request (per-call) state; no allocation unless
 * sampled.
 */
typedef struct {
  trace_span_t *span; /* the SERVER span, or NULL */
  trace_ctx_t ctx;    /* what trace_attach makes current */
  char tracestate[TRACE_TRACESTATE_MAX + 1]; /* passed on as received; "" none */
} trace_request_t;

/*
 * Begins a request: reads the client's traceparent/tracestate (NULL or
 * invalid: none) and decides sampling, parent-based: a valid traceparent's
 * sampled flag decides; without one, a new trace id and the ratio sampler.
 * A recorded request gets a SERVER span named `name` (a child of the
 * client's span). An unrecorded request with a valid traceparent still
 * passes that context on (flags 00). Does not change the thread's context
 * (call trace_attach(&r->ctx, ...)). With tracing off: r is cleared.
 */
void trace_request_begin(trace_request_t *r, const char *name, const char *traceparent,
                         const char *tracestate);

/* Ends the request's span (if any) and clears r. Must not be attached on
 * any thread any more. */
void trace_request_end(trace_request_t *r);

/* The thread's context before a trace_attach, restored by trace_detach. */
typedef struct {
  trace_ctx_t ctx;
  trace_span_t *span;
} trace_saved_t;

/* Makes a copy of `ctx` (NULL: none) the thread's current context; the
 * previous one goes into *saved. Used to serve a request on this thread,
 * or to continue another thread's request (hand-off: copy the ctx of
 * trace_current before submitting the work, attach it in the worker). */
void trace_attach(const trace_ctx_t *ctx, trace_saved_t *saved);

/* Restores the context saved by the matching trace_attach. */
void trace_detach(const trace_saved_t *saved);

/* Makes request r's context current while a thread serves it, when r has
 * one (traced, or passing a client's context on): true, and trace_detach
 * must follow. False for an untraced request: nothing changed, no detach
 * (the transports' hot path copies no thread-local state then). */
bool trace_request_attach(const trace_request_t *r, trace_saved_t *saved);

/* The thread's current context (valid false when none). */
trace_ctx_t trace_current(void);

/* Whether the thread's current context is sampled, so children would be
 * recorded: callers may skip preparing attributes otherwise. */
bool trace_is_recording(void);

/* The traceparent to send on an outgoing call from this thread (the
 * current span, usually the call's CLIENT span, as parent). false when the
 * thread has no context. */
bool trace_current_traceparent(char out[TRACE_TRACEPARENT_SIZE]);

/* The tracestate to send with it, or NULL. */
const char *trace_current_tracestate(void);

/* Opens an INTERNAL (or, _client_, CLIENT: an outgoing call) child of the
 * thread's current context and makes it current until trace_span_end.
 * NULL (a no-op everywhere) when the thread has no sampled context. */
trace_span_t *trace_child_begin(const char *name);
trace_span_t *trace_client_begin(const char *name);

/* A span with an explicit parent (NULL or not sampled: NULL returned),
 * not made current: for code that interleaves several requests on one
 * thread. Its context (for trace_attach or children) is trace_span_ctx. */
trace_span_t *trace_span_begin(const char *name, trace_kind_t kind, const trace_ctx_t *parent);

/* The context continuing span `s` (valid false for NULL). */
trace_ctx_t trace_span_ctx(const trace_span_t *s);

/* Ends `s` (NULL: nothing): sets its end time, restores the thread's
 * context if `s` is current there, and queues it for export (or drops it,
 * counted, when the queue is full). `s` must not be used afterwards. */
void trace_span_end(trace_span_t *s);

/* Attributes (key: a string literal; see Lifetimes). Setting a key again
 * replaces its value; beyond TRACE_ATTRS_MAX keys the attribute is dropped
 * and counted (OTLP droppedAttributesCount). String values longer than
 * TRACE_ATTR_VALUE_MAX bytes, or than the span's text room left, are cut at
 * a UTF-8 character boundary. */
void trace_span_set_str(trace_span_t *s, const char *key, const char *value);
void trace_span_set_int(trace_span_t *s, const char *key, int64_t value);
void trace_span_set_double(trace_span_t *s, const char *key, double value);
void trace_span_set_bool(trace_span_t *s, const char *key, bool value);

/* Replaces the span's name (e.g. once the REST route is known). */
void trace_span_set_name(trace_span_t *s, const char *name);

/* Sets the status; `message` (NULL ok) is kept for TRACE_STATUS_ERROR only. */
void trace_span_set_status(trace_span_t *s, trace_status_t code, const char *message);

#endif /* AKIDB_TRACE_H */
