/*
 * embed/embed_internal.h — what the files of src/embed/ share: the counters
 * (metrics.c), the shared circuit breakers (breaker.c), the request body
 * writer and UTF-8 check (request.c), the answer decoder (decode.c) and the
 * OpenAI-compatible provider's constructor (openai.c).
 */
#ifndef AKIDB_EMBED_INTERNAL_H
#define AKIDB_EMBED_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/embed.h"

/* ------------------------------------------------------------- metrics -- */

/* The counters of one embedder: relaxed atomics, written by any thread.
 * Every update also goes to `parent`: the process-wide totals of the
 * embedder's provider (what /metrics shows). */
typedef struct embed_metrics {
  atomic_uint_fast64_t calls_ok, calls_failed;
  atomic_uint_fast64_t requests_ok, requests_failed;
  atomic_uint_fast64_t errors[AKIDB_EMBED_CAUSE_COUNT];
  atomic_uint_fast64_t retries;
  atomic_uint_fast64_t inputs_embedded, bytes_embedded;
  atomic_uint_fast64_t request_latency[AKIDB_EMBED_LATENCY_BUCKETS];
  atomic_uint_fast64_t request_latency_sum_us;
  atomic_uint_fast64_t call_latency[AKIDB_EMBED_LATENCY_BUCKETS];
  atomic_uint_fast64_t call_latency_sum_us;
  struct embed_metrics *parent; /* NULL for the totals themselves */
} embed_metrics_t;

void embed_metrics_add(atomic_uint_fast64_t *c, uint64_t v);
void embed_metrics_request(embed_metrics_t *m, uint64_t elapsed_ns, bool ok);
void embed_metrics_error(embed_metrics_t *m, akidb_embed_cause_t cause);
void embed_metrics_call(embed_metrics_t *m, uint64_t elapsed_ns, bool ok, size_t inputs,
                        uint64_t bytes);
void embed_metrics_read(embed_metrics_t *m, akidb_embed_stats_t *out);
void embed_metrics_retry(embed_metrics_t *m);
/* The process-wide totals of a provider's embedders. */
embed_metrics_t *embed_metrics_totals(akidb_embed_provider_t p);
/* How many of the shared circuit breakers are open now (breaker.c). */
uint32_t embed_breakers_open(void);

/* ------------------------------------------------------------- breaker -- */

/*
 * One circuit breaker per (base_url, threshold, cool-down), shared by every
 * embedder created with those: refcounted in a process-wide registry.
 */
typedef struct embed_breaker embed_breaker_t;

embed_breaker_t *embed_breaker_acquire(const char *endpoint, uint32_t threshold,
                                       uint32_t cooldown_ms);
void embed_breaker_release(embed_breaker_t *b);

/* Admission of one HTTP attempt. 0: go (*probe tells whether it is the
 * half-open trial, which the caller must report with probe = true);
 * AKIDB_EUNAVAILABLE: refused, err says why. *own_probe_busy is set when
 * the refusal is only because the trial in flight is the caller's own
 * (owner_token matches): the caller may wait for it instead of failing. */
int embed_breaker_admit(embed_breaker_t *b, const void *owner_token, bool *probe,
                        bool *own_probe_busy, char *err, size_t errlen);
/* Reports an admitted attempt's end: failed = a transient failure
 * (connection, timeout, 5xx). cause: a short phrase kept for messages. */
void embed_breaker_record(embed_breaker_t *b, bool probe, bool failed, const char *cause);
/* The trial was cancelled before it ended (its call failed elsewhere): the
 * next admission becomes the trial. */
void embed_breaker_abandon(embed_breaker_t *b);
void embed_breaker_read(embed_breaker_t *b, int *state, uint32_t *consecutive,
                        uint64_t *opens);
/* Test hook: the clock in milliseconds (monotonic). */
uint64_t embed_now_ms(void);

/* ---------------------------------------------------- request, decoding -- */

/* Whether s[0..n) is valid UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF);
 * on failure *bad is the offset of the first bad byte. */
bool embed_utf8_valid(const char *s, size_t n, size_t *bad);

/* Bytes the JSON string literal of s[0..n) takes, quotes included. */
size_t embed_json_string_len(const char *s, size_t n);

/* Appends the JSON string literal of s[0..n) at p (room for
 * embed_json_string_len bytes) and returns the end. */
char *embed_json_string_put(char *p, const char *s, size_t n);

/* The fixed part of a request body: {"model":M,"input":[ ... ],"dimensions":D,
 * "encoding_format":"float"} without the inputs, and each input's extra
 * (its comma). */
size_t embed_request_overhead(const char *model, uint32_t dimensions);

/* Writes the body for texts [0, n) into a fresh buffer (*len bytes, not
 * terminated); NULL when out of memory. dimensions 0: not sent. */
char *embed_request_body(const char *model, uint32_t dimensions, const char *const *texts,
                         const size_t *lens, size_t n, size_t *len);

/*
 * Decodes an OpenAI embeddings answer (body[0..len)) for n inputs of
 * dimension dim into out (n × dim floats, row = data[].index). Each index in
 * [0, n) exactly once, each embedding dim finite numbers. Returns 0, or
 * AKIDB_EUNAVAILABLE with err completing "embedding provider X " (it starts
 * with "returned ..."), or AKIDB_ENOMEM. Never reads beyond len.
 */
int embed_decode_response(const char *body, size_t len, size_t n, uint32_t dim, float *out,
                          char *err, size_t errlen);

/* The fast path of embed_decode_response: true when body is a plain answer
 * (ASCII keys and strings without escapes, nothing unusual) that decodes
 * without fault; false means "let jansson read it" (which also words the
 * error), never "wrong". Rows may be written either way. */
bool embed_decode_fast(const char *body, size_t len, size_t n, uint32_t dim, float *out);

/* The jansson path alone (same contract as embed_decode_response). */
int embed_decode_jansson(const char *body, size_t len, size_t n, uint32_t dim, float *out,
                         char *err, size_t errlen);

/* Trims a provider's error body to one printable line of at most max bytes
 * (the "message" of an OpenAI error object when there is one), with every
 * occurrence of secret (when not NULL/empty) replaced by "[redacted]". */
void embed_error_text(const char *body, size_t len, const char *secret, char *out,
                      size_t max);

/* Whether tp is a well-formed W3C traceparent (55 bytes, lower-case hex). */
bool embed_traceparent_valid(const char *tp);

/* --------------------------------------------------------- the provider -- */

/* Creates the OpenAI-compatible provider for validated c; attempts are
 * counted in m (owned by the embedder, outlives the provider). */
int embed_openai_create(const akidb_embed_config_t *c, embed_metrics_t *m,
                        const akidb_embed_ops_t **ops, void **self, char *err, size_t errlen);

/* The breaker of an OpenAI provider (for the stats), or NULL. */
embed_breaker_t *embed_openai_breaker(void *self);

#endif /* AKIDB_EMBED_INTERNAL_H */
