/*
 * akidb/embed.h — embedding providers: turn texts into vectors for a
 * collection whose points or queries arrive as text.
 *
 * An embedder (akidb_embedder_t) is created once from a configuration
 * (akidb_embed_config_t) and used by any number of threads at once. Two
 * providers exist:
 *
 *   builtin  the offline embedder of the text engine, plugged in by the
 *            program with akidb_embed_register_builtin (this layer does not
 *            implement it);
 *   openai   an OpenAI-compatible HTTP model server: POST {base_url}/embeddings
 *            (Ollama, llama.cpp server, vLLM, text-embeddings-inference,
 *            MLX servers; docs/embedding-providers.md).
 *
 * akidb_embed() splits its inputs into batches (at most batch_size inputs
 * and max_request_bytes of request body each), runs up to max_concurrency
 * HTTP requests of one embedder at once, retries transient failures with
 * backoff, and returns every vector or fails as a whole: on failure `out`
 * is left untouched.
 *
 * Errors (return values; `err` receives one sentence naming the provider
 * and the cause, never the API key):
 *   AKIDB_EINVAL       a bad configuration or bad inputs (invalid UTF-8, ...)
 *   AKIDB_ELIMIT       one input alone exceeds max_request_bytes
 *   AKIDB_ENOMEM       out of memory
 *   AKIDB_EUNAVAILABLE the provider failed: unreachable, circuit open, 5xx
 *                      or 429 after the retries, another 4xx, a malformed
 *                      or inconsistent answer
 *   AKIDB_ETIMEDOUT    the last attempt timed out ("timed out after N ms")
 *   AKIDB_ENOTSUP      provider "builtin" with no built-in embedder registered
 * A service maps EUNAVAILABLE and ETIMEDOUT to its `unavailable` kind (503):
 * the status table has no bad_gateway.
 */
#ifndef AKIDB_EMBED_H
#define AKIDB_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------- configuration -- */

typedef enum {
  AKIDB_EMBED_BUILTIN = 0, /* the text engine's offline embedder */
  AKIDB_EMBED_OPENAI = 1,  /* an OpenAI-compatible HTTP model server */
} akidb_embed_provider_t;

/*
 * X(field, NAME, default, min, max, unit): the numeric settings, one row
 * each. Every other view (defaults, validation, docs) derives from it.
 * Messages name the setting as "embedding.<field>".
 */
#define AKIDB_EMBED_SETTINGS(X)                                                \
  X(dimension, DIMENSION, 0u, 1u, 65536u, "")                                  \
  X(batch_size, BATCH_SIZE, 64u, 1u, 2048u, "inputs")                          \
  X(max_request_bytes, MAX_REQUEST_BYTES, 1048576u, 1024u, 67108864u, "bytes") \
  X(max_concurrency, MAX_CONCURRENCY, 4u, 1u, 64u, "requests")                 \
  X(timeout_ms, TIMEOUT_MS, 30000u, 10u, 600000u, "ms")                        \
  X(max_retries, MAX_RETRIES, 3u, 0u, 10u, "")                                 \
  X(backoff_base_ms, BACKOFF_BASE_MS, 100u, 1u, 60000u, "ms")                  \
  X(backoff_max_ms, BACKOFF_MAX_MS, 5000u, 1u, 600000u, "ms")                  \
  X(breaker_threshold, BREAKER_THRESHOLD, 5u, 1u, 1000u, "failures")           \
  X(breaker_cooldown_ms, BREAKER_COOLDOWN_MS, 30000u, 1u, 3600000u, "ms")

#define AKIDB_EMBED_SETTING_CONSTS(field, NAME, def, min, max, unit)           \
  AKIDB_EMBED_##NAME##_DEFAULT = (def), AKIDB_EMBED_##NAME##_MIN = (min),      \
  AKIDB_EMBED_##NAME##_MAX = (max),
enum { AKIDB_EMBED_SETTINGS(AKIDB_EMBED_SETTING_CONSTS) };
#undef AKIDB_EMBED_SETTING_CONSTS

#define AKIDB_EMBED_MODEL_MAX 256u      /* bytes of a model name */
#define AKIDB_EMBED_URL_MAX 1024u       /* bytes of base_url */
#define AKIDB_EMBED_ENV_NAME_MAX 128u   /* bytes of api_key_env */
#define AKIDB_EMBED_KEY_MAX 4096u       /* bytes of the key read from it */
#define AKIDB_EMBED_RETRY_AFTER_MAX_MS 30000u /* longest Retry-After honoured */
#define AKIDB_EMBED_INPUTS_MAX 100000u  /* inputs of one akidb_embed call */

/*
 * The configuration of one embedder. Strings are borrowed for the call to
 * akidb_embed_create only (it copies them). The API key itself is never
 * part of it: api_key_env names the environment variable holding the key,
 * read once by akidb_embed_create.
 */
typedef struct {
  akidb_embed_provider_t provider;
  const char *model;       /* openai: required ("nomic-embed-text") */
  const char *base_url;    /* openai: "http://127.0.0.1:11434/v1" (no /embeddings) */
  const char *api_key_env; /* NULL/"": no Authorization header */
  uint32_t dimension;      /* the collection's dimension; answers must match */
  uint32_t batch_size;     /* inputs per HTTP request */
  uint32_t max_request_bytes; /* request body bytes per HTTP request */
  uint32_t max_concurrency;   /* HTTP requests in flight per embedder */
  uint32_t timeout_ms;        /* per HTTP attempt, connecting included */
  uint32_t max_retries;       /* attempts after the first, per batch */
  uint32_t backoff_base_ms;   /* first backoff ceiling; doubles per retry */
  uint32_t backoff_max_ms;    /* backoff ceiling */
  uint32_t breaker_threshold; /* consecutive failed attempts that open it */
  uint32_t breaker_cooldown_ms; /* open → half-open after this */
  bool send_dimensions;       /* send "dimensions": dimension in requests */
} akidb_embed_config_t;

/* Fills *c with every default (provider openai, no strings, dimension 0). */
void akidb_embed_config_default(akidb_embed_config_t *c);

/* Checks *c once: bounds of every setting, strings, URL form. Returns 0 or
 * AKIDB_EINVAL with a sentence saying what to fix ("embedding.batch_size
 * must be between 1 and 2048; it is 0"). Does not read the environment. */
int akidb_embed_config_validate(const akidb_embed_config_t *c, char *err, size_t errlen);

/* Name of a provider ("builtin", "openai"), or NULL; and back (-1: none). */
const char *akidb_embed_provider_name(akidb_embed_provider_t p);
int akidb_embed_provider_parse(const char *name);

/* ------------------------------------------------------- specification -- */

/* A configuration that owns its strings (a plain value: copy it freely):
 * a collection's embedding settings as the catalog keeps them. */
typedef struct {
  akidb_embed_config_t cfg; /* numbers and flags; its string members are unused */
  char model[AKIDB_EMBED_MODEL_MAX + 1];
  char base_url[AKIDB_EMBED_URL_MAX + 1];
  char api_key_env[AKIDB_EMBED_ENV_NAME_MAX + 1];
} akidb_embed_spec_t;

/* Every default (provider openai), no strings. */
void akidb_embed_spec_default(akidb_embed_spec_t *s);

/* The configuration of *s, its strings pointing into *s (valid while *s is). */
void akidb_embed_spec_config(const akidb_embed_spec_t *s, akidb_embed_config_t *out);

/* Reads the JSON object json[0..len) ({"provider": "builtin" | "openai",
 * "model", "base_url", "api_key_env", "send_dimensions" and the numeric
 * settings by name; absent: the defaults}) into *s. Refuses unknown keys and
 * wrong types with AKIDB_EINVAL and a sentence naming the field; bounds are
 * akidb_embed_config_validate's. */
int akidb_embed_spec_from_json(const char *json, size_t len, akidb_embed_spec_t *s, char *err,
                               size_t errlen);

/* The canonical JSON of *s (keys sorted, compact; openai: every setting)
 * into out. 0, AKIDB_ELIMIT (cap too small) or AKIDB_ENOMEM. */
int akidb_embed_spec_to_json(const akidb_embed_spec_t *s, char *out, size_t cap);

/* ------------------------------------------------------ provider vtable -- */

/*
 * A provider is a vtable over an opaque `self`. embed_batch embeds n inputs
 * (n ≤ batch_size, the request within max_request_bytes) into out (n ×
 * dimension floats, row i for input i) and returns 0 or an AKIDB_* code with
 * a sentence in err; it may write out even when it fails (the layer above
 * embeds into scratch memory). embed_batches, when not NULL, embeds several
 * such batches at once (bounded by max_concurrency) and fails as a whole;
 * when NULL the layer calls embed_batch once per batch in turn. describe
 * writes one line for logs and GET (never a secret). destroy frees self.
 * Every function may be called from several threads at once, except
 * destroy.
 */
typedef struct {
  size_t first; /* index of the batch's first input in the call's inputs */
  size_t count; /* inputs in the batch */
} akidb_embed_batch_t;

typedef struct {
  int (*embed_batch)(void *self, const char *const *texts, const size_t *lens, size_t n,
                     float *out, const char *traceparent, char *err, size_t errlen);
  int (*embed_batches)(void *self, const char *const *texts, const size_t *lens,
                       const akidb_embed_batch_t *batches, size_t nbatches, float *out,
                       const char *traceparent, char *err, size_t errlen);
  void (*describe)(void *self, char *buf, size_t len);
  void (*destroy)(void *self);
} akidb_embed_ops_t;

/*
 * The factory of the built-in provider, registered by the program before
 * any embedder with provider "builtin" is created: it gets the validated
 * configuration and returns its ops and self (0), or an AKIDB_* code with a
 * sentence. Registering NULL removes it. Not thread-safe against
 * concurrent akidb_embed_create: register at start-up.
 */
typedef int (*akidb_embed_builtin_factory_t)(const akidb_embed_config_t *c,
                                             const akidb_embed_ops_t **ops, void **self,
                                             char *err, size_t errlen);
void akidb_embed_register_builtin(akidb_embed_builtin_factory_t factory);

/* ------------------------------------------------------------ embedder -- */

typedef struct akidb_embedder akidb_embedder_t;

/*
 * Creates an embedder from *c (validated here again). For openai with
 * api_key_env set, the variable must be set and non-empty: the key is read
 * now into memory excluded from core dumps and wiped at destroy. Returns 0
 * and *out, or AKIDB_EINVAL / AKIDB_ENOTSUP / AKIDB_ENOMEM / AKIDB_EIO with
 * a sentence. Embedders with the same base_url and breaker settings share
 * one circuit breaker.
 */
int akidb_embed_create(const akidb_embed_config_t *c, akidb_embedder_t **out, char *err,
                       size_t errlen);

/* Frees e (NULL is fine). No akidb_embed call may be running on it. */
void akidb_embed_destroy(akidb_embedder_t *e);

/*
 * Embeds texts[i] (lens[i] bytes of UTF-8, need not be terminated) for i in
 * [0, n) into out[i * dimension ...]: all n rows, or nothing (out untouched)
 * on failure. traceparent (W3C, "00-<32 hex>-<16 hex>-<2 hex>") is forwarded
 * to the model server when well formed; NULL for none. n = 0 succeeds at
 * once. Thread-safe. Returns 0 or a code listed at the top of this file.
 */
int akidb_embed(akidb_embedder_t *e, const char *const *texts, const size_t *lens, size_t n,
                float *out, const char *traceparent, char *err, size_t errlen);

/* The embedder's dimension and configuration line ("openai
 * http://127.0.0.1:11434/v1 model nomic-embed-text dimension 768 key from
 * $OLLAMA_KEY"): never the key. */
uint32_t akidb_embed_dimension(const akidb_embedder_t *e);
/* The embedder's provider. */
akidb_embed_provider_t akidb_embed_provider_of(const akidb_embedder_t *e);
void akidb_embed_describe(const akidb_embedder_t *e, char *buf, size_t len);

/* -------------------------------------------------------------- metrics -- */

/* Causes of failed HTTP attempts (and refusals by the breaker). */
#define AKIDB_EMBED_CAUSES(X)                                                  \
  X(TIMEOUT, "timeout")                                                        \
  X(CONNECT, "connect")                                                        \
  X(HTTP_5XX, "http_5xx")                                                      \
  X(HTTP_429, "http_429")                                                      \
  X(HTTP_4XX, "http_4xx")                                                      \
  X(BAD_RESPONSE, "bad_response")                                              \
  X(CIRCUIT_OPEN, "circuit_open")

typedef enum {
#define AKIDB_EMBED_CAUSE_ENUM(name, text) AKIDB_EMBED_CAUSE_##name,
  AKIDB_EMBED_CAUSES(AKIDB_EMBED_CAUSE_ENUM)
#undef AKIDB_EMBED_CAUSE_ENUM
      AKIDB_EMBED_CAUSE_COUNT
} akidb_embed_cause_t;

const char *akidb_embed_cause_name(akidb_embed_cause_t c); /* "http_5xx" */

/* Latency histogram bounds in milliseconds (upper bounds, "le"); one more
 * bucket counts what exceeds the last. */
#define AKIDB_EMBED_LATENCY_BOUNDS_MS                                          \
  {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000}
#define AKIDB_EMBED_LATENCY_BUCKETS 13u

typedef enum {
  AKIDB_EMBED_BREAKER_CLOSED = 0,
  AKIDB_EMBED_BREAKER_HALF_OPEN = 1,
  AKIDB_EMBED_BREAKER_OPEN = 2,
} akidb_embed_breaker_state_t;

/*
 * A snapshot of one embedder's counters (each read atomically, the set not
 * as one): akidb_embed calls by outcome, HTTP attempts by outcome, failed
 * attempts by cause, retries, inputs and text bytes embedded by successful
 * calls, latency histograms of HTTP attempts and of whole calls (bucket
 * counts, not cumulative), and the state of its breaker.
 */
typedef struct {
  uint64_t calls_ok, calls_failed;
  uint64_t requests_ok, requests_failed;
  uint64_t errors[AKIDB_EMBED_CAUSE_COUNT];
  uint64_t retries;
  uint64_t inputs_embedded, bytes_embedded;
  uint64_t request_latency[AKIDB_EMBED_LATENCY_BUCKETS];
  uint64_t request_latency_sum_us;
  uint64_t call_latency[AKIDB_EMBED_LATENCY_BUCKETS];
  uint64_t call_latency_sum_us;
  int breaker_state;      /* akidb_embed_breaker_state_t; CLOSED for builtin */
  uint32_t breaker_consecutive_failures;
  uint64_t breaker_opens;
} akidb_embed_stats_t;

void akidb_embed_stats(const akidb_embedder_t *e, akidb_embed_stats_t *out);

/* The same counters summed over every embedder of provider p since the
 * process started (breaker fields 0), and how many of the shared circuit
 * breakers are open now: what /metrics shows. */
void akidb_embed_totals(akidb_embed_provider_t p, akidb_embed_stats_t *out);
uint32_t akidb_embed_breakers_open(void);

/* The bounds of the latency buckets, AKIDB_EMBED_LATENCY_BUCKETS - 1 of
 * them, in milliseconds (static storage). */
const uint32_t *akidb_embed_latency_bounds_ms(void);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_EMBED_H */
