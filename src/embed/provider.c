/*
 * provider.c — the embedding provider layer: configuration (defaults and
 * bounds from the one table AKIDB_EMBED_SETTINGS, checked once), the
 * embedder handle over a provider vtable (builtin: registered by the
 * program; openai: openai.c), input checks, batch planning (≤ batch_size
 * inputs and ≤ max_request_bytes of request body per batch), the
 * all-or-nothing contract (providers write into scratch memory, copied to
 * the caller's output only on success) and the metrics snapshot.
 *
 * Locking: an embedder is immutable after create; its counters are
 * atomics (metrics.c); concurrency inside a call is the provider's
 * (openai.c). The builtin factory is an atomic pointer set at start-up.
 * Durability: none; nothing here is persisted. The configuration struct
 * never holds the API key (only the name of its environment variable).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_internal.h"
#include "util/clock.h"

struct akidb_embedder {
  akidb_embed_config_t cfg; /* numbers; string members NULL */
  akidb_embed_provider_t provider;
  char *model;              /* "" for a builtin without one */
  size_t request_overhead;  /* openai: body bytes besides the inputs */
  const akidb_embed_ops_t *ops;
  void *self;
  embed_breaker_t *breaker; /* the provider's, or NULL */
  embed_metrics_t metrics;
};

static _Atomic(akidb_embed_builtin_factory_t) builtin_factory;

void akidb_embed_register_builtin(akidb_embed_builtin_factory_t factory) {
  atomic_store(&builtin_factory, factory);
}

/* ======================================================== configuration == */

const char *akidb_embed_provider_name(akidb_embed_provider_t p) {
  switch (p) {
  case AKIDB_EMBED_BUILTIN: return "builtin";
  case AKIDB_EMBED_OPENAI: return "openai";
  }
  return NULL;
}

int akidb_embed_provider_parse(const char *name) {
  if (name && strcmp(name, "builtin") == 0) return AKIDB_EMBED_BUILTIN;
  if (name && strcmp(name, "openai") == 0) return AKIDB_EMBED_OPENAI;
  return -1;
}

void akidb_embed_config_default(akidb_embed_config_t *c) {
  memset(c, 0, sizeof *c);
  c->provider = AKIDB_EMBED_OPENAI;
#define SET_DEFAULT(field, NAME, def, min, max, unit) c->field = AKIDB_EMBED_##NAME##_DEFAULT;
  AKIDB_EMBED_SETTINGS(SET_DEFAULT)
#undef SET_DEFAULT
}

static bool empty(const char *s) { return !s || !*s; }

/* Every numeric setting within its bounds. */
static int check_bounds(const akidb_embed_config_t *c, char *err, size_t errlen) {
#define CHECK_BOUNDS(field, NAME, def, min, max, unit)                              \
  if ((uint64_t)c->field < (uint64_t)(min) || (uint64_t)c->field > (uint64_t)(max)) { \
    snprintf(err, errlen, "embedding." #field " must be between %llu and %llu%s%s; it is %llu", \
             (unsigned long long)(min), (unsigned long long)(max), unit[0] ? " " : "", unit, \
             (unsigned long long)c->field);                                          \
    return AKIDB_EINVAL;                                                             \
  }
  AKIDB_EMBED_SETTINGS(CHECK_BOUNDS)
#undef CHECK_BOUNDS
  if (c->backoff_base_ms > c->backoff_max_ms) {
    snprintf(err, errlen,
             "embedding.backoff_base_ms (%u) must not exceed embedding.backoff_max_ms (%u)",
             c->backoff_base_ms, c->backoff_max_ms);
    return AKIDB_EINVAL;
  }
  return 0;
}

/* Printable, valid UTF-8, at most max bytes. */
static bool plain_text(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n > max || !embed_utf8_valid(s, n, NULL)) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) return false;
  return true;
}

static int check_model(const akidb_embed_config_t *c, char *err, size_t errlen) {
  if (empty(c->model) && c->provider == AKIDB_EMBED_OPENAI) {
    snprintf(err, errlen,
             "embedding.model is required for provider openai: give the model server's "
             "model name, e.g. \"nomic-embed-text\"");
    return AKIDB_EINVAL;
  }
  if (!empty(c->model) && !plain_text(c->model, AKIDB_EMBED_MODEL_MAX)) {
    snprintf(err, errlen,
             "embedding.model must be 1 to %u bytes of printable UTF-8 text", AKIDB_EMBED_MODEL_MAX);
    return AKIDB_EINVAL;
  }
  return 0;
}

/* base_url: http(s)://host[:port][/path], no credentials, query or fragment. */
static int check_base_url(const char *u, char *err, size_t errlen) {
  if (empty(u)) {
    snprintf(err, errlen,
             "embedding.base_url is required for provider openai: give the model server's "
             "OpenAI-compatible base URL, e.g. \"http://127.0.0.1:11434/v1\"");
    return AKIDB_EINVAL;
  }
  const char *host = strncmp(u, "http://", 7) == 0    ? u + 7
                     : strncmp(u, "https://", 8) == 0 ? u + 8
                                                      : NULL;
  size_t n = strlen(u);
  const char *why = NULL;
  if (!host) why = "it must start with http:// or https://";
  else if (!*host || *host == '/' || *host == ':') why = "it has no host";
  else if (n > AKIDB_EMBED_URL_MAX) why = "it is longer than 1024 bytes";
  else if (!plain_text(u, AKIDB_EMBED_URL_MAX) || strpbrk(u, " \"<>\\^`{|}"))
    why = "it holds spaces, control or unsafe characters";
  else if (strpbrk(u, "?#")) why = "it may not hold a query or fragment";
  else if (memchr(host, '@', strcspn(host, "/")))
    why = "it may not hold credentials: name the key's environment variable in "
          "embedding.api_key_env";
  else if (n >= 11 && strcmp(u + n - 11, "/embeddings") == 0)
    why = "give the base URL without /embeddings (AkiDB appends it)";
  if (!why) return 0;
  snprintf(err, errlen, "embedding.base_url \"%.200s\" is not usable: %s", u, why);
  return AKIDB_EINVAL;
}

static int check_key_env(const char *e, char *err, size_t errlen) {
  if (empty(e)) return 0;
  bool ok = strlen(e) <= AKIDB_EMBED_ENV_NAME_MAX && !(e[0] >= '0' && e[0] <= '9');
  for (const char *p = e; ok && *p; p++)
    ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
         *p == '_';
  if (ok) return 0;
  snprintf(err, errlen,
           "embedding.api_key_env must be the NAME of an environment variable (letters, "
           "digits and '_', not starting with a digit, at most %u bytes), e.g. "
           "\"OPENAI_API_KEY\"; never the key itself",
           AKIDB_EMBED_ENV_NAME_MAX);
  return AKIDB_EINVAL;
}

int akidb_embed_config_validate(const akidb_embed_config_t *c, char *err, size_t errlen) {
  char scratch[8];
  if (!err) err = scratch, errlen = sizeof scratch;
  if (!c) {
    snprintf(err, errlen, "embedding configuration is missing");
    return AKIDB_EINVAL;
  }
  if (!akidb_embed_provider_name(c->provider)) {
    snprintf(err, errlen, "embedding.provider must be \"builtin\" or \"openai\"");
    return AKIDB_EINVAL;
  }
  int rc = check_bounds(c, err, errlen);
  if (rc == 0) rc = check_model(c, err, errlen);
  if (rc == 0 && c->provider == AKIDB_EMBED_OPENAI) rc = check_base_url(c->base_url, err, errlen);
  if (rc == 0 && c->provider == AKIDB_EMBED_OPENAI) rc = check_key_env(c->api_key_env, err, errlen);
  if (rc == 0 && c->provider == AKIDB_EMBED_OPENAI) {
    size_t over = embed_request_overhead(c->model, c->send_dimensions ? c->dimension : 0);
    if (over + 2 > c->max_request_bytes) {
      snprintf(err, errlen,
               "embedding.max_request_bytes (%u) is too small for even one empty input with "
               "this model name (%zu bytes)",
               c->max_request_bytes, over + 2);
      rc = AKIDB_EINVAL;
    }
  }
  return rc;
}

/* ============================================================== embedder == */

static int create_provider(akidb_embedder_t *e, const akidb_embed_config_t *c, char *err,
                           size_t errlen) {
  if (c->provider == AKIDB_EMBED_OPENAI) {
    int rc = embed_openai_create(c, &e->metrics, &e->ops, &e->self, err, errlen);
    if (rc == 0) e->breaker = embed_openai_breaker(e->self);
    return rc;
  }
  akidb_embed_builtin_factory_t f = atomic_load(&builtin_factory);
  if (!f) {
    snprintf(err, errlen,
             "embedding provider builtin is not available in this build (no built-in "
             "embedder registered)");
    return AKIDB_ENOTSUP;
  }
  int rc = f(c, &e->ops, &e->self, err, errlen);
  if (rc == 0 && (!e->ops || !e->ops->embed_batch)) {
    if (e->ops && e->ops->destroy) e->ops->destroy(e->self);
    snprintf(err, errlen, "the built-in embedder registered no embed_batch function");
    rc = AKIDB_EINVAL;
  }
  return rc;
}

int akidb_embed_create(const akidb_embed_config_t *c, akidb_embedder_t **out, char *err,
                       size_t errlen) {
  char scratch[8];
  if (!err) err = scratch, errlen = sizeof scratch;
  int rc = akidb_embed_config_validate(c, err, errlen);
  if (rc) return rc;
  akidb_embedder_t *e = calloc(1, sizeof *e);
  if (!e) return AKIDB_ENOMEM;
  e->cfg = *c;
  e->cfg.model = e->cfg.base_url = e->cfg.api_key_env = NULL;
  e->provider = c->provider;
  e->metrics.parent = embed_metrics_totals(c->provider);
  e->model = strdup(c->model ? c->model : "");
  if (!e->model) {
    free(e);
    return AKIDB_ENOMEM;
  }
  if (c->provider == AKIDB_EMBED_OPENAI)
    e->request_overhead = embed_request_overhead(c->model, c->send_dimensions ? c->dimension : 0);
  rc = create_provider(e, c, err, errlen);
  if (rc) {
    free(e->model);
    free(e);
    return rc;
  }
  *out = e;
  return 0;
}

void akidb_embed_destroy(akidb_embedder_t *e) {
  if (!e) return;
  if (e->ops && e->ops->destroy) e->ops->destroy(e->self);
  free(e->model);
  free(e);
}

uint32_t akidb_embed_dimension(const akidb_embedder_t *e) { return e->cfg.dimension; }

akidb_embed_provider_t akidb_embed_provider_of(const akidb_embedder_t *e) {
  return e->cfg.provider;
}

void akidb_embed_describe(const akidb_embedder_t *e, char *buf, size_t len) {
  if (!buf || !len) return;
  if (e->ops->describe) e->ops->describe(e->self, buf, len);
  else snprintf(buf, len, "%s model %s dimension %u", akidb_embed_provider_name(e->provider),
                e->model[0] ? e->model : "(default)", e->cfg.dimension);
}

void akidb_embed_stats(const akidb_embedder_t *e, akidb_embed_stats_t *out) {
  memset(out, 0, sizeof *out);
  embed_metrics_read((embed_metrics_t *)&e->metrics, out);
  out->breaker_state = AKIDB_EMBED_BREAKER_CLOSED;
  if (e->breaker)
    embed_breaker_read(e->breaker, &out->breaker_state, &out->breaker_consecutive_failures,
                       &out->breaker_opens);
}

/* ================================================================ inputs == */

/* Arguments and every input's UTF-8; sets *bytes to the inputs' total. */
static int check_inputs(const char *const *texts, const size_t *lens, size_t n, uint64_t *bytes,
                        char *err, size_t errlen) {
  if (n > AKIDB_EMBED_INPUTS_MAX) {
    snprintf(err, errlen, "%zu texts to embed in one call; at most %u", n, AKIDB_EMBED_INPUTS_MAX);
    return AKIDB_ELIMIT;
  }
  if (!texts || !lens) {
    snprintf(err, errlen, "texts to embed are missing (NULL)");
    return AKIDB_EINVAL;
  }
  *bytes = 0;
  for (size_t i = 0; i < n; i++) {
    size_t bad = 0;
    if (!texts[i] && lens[i]) {
      snprintf(err, errlen, "text %zu to embed is missing (NULL)", i);
      return AKIDB_EINVAL;
    }
    if (texts[i] && !embed_utf8_valid(texts[i], lens[i], &bad)) {
      snprintf(err, errlen, "text %zu to embed is not valid UTF-8 (byte %zu)", i, bad);
      return AKIDB_EINVAL;
    }
    *bytes += lens[i];
  }
  return 0;
}

/*
 * Splits [0, n) into batches of at most batch_size inputs whose request
 * body stays within max_request_bytes (openai), in input order. *out is a
 * fresh array of *nb batches. AKIDB_ELIMIT when one input alone is too big.
 */
static int plan_batches(const akidb_embedder_t *e, const char *const *texts, const size_t *lens,
                        size_t n, akidb_embed_batch_t **out, size_t *nb, char *err,
                        size_t errlen) {
  bool sized = e->provider == AKIDB_EMBED_OPENAI;
  akidb_embed_batch_t *b = malloc((n ? n : 1) * sizeof *b);
  if (!b) return AKIDB_ENOMEM;
  size_t k = 0, size = 0;
  for (size_t i = 0; i < n; i++) {
    size_t s = sized ? embed_json_string_len(texts[i] ? texts[i] : "", lens[i]) : 0;
    if (sized && e->request_overhead + s > e->cfg.max_request_bytes) {
      snprintf(err, errlen,
               "text %zu to embed takes %zu bytes in the request to the model server; "
               "embedding.max_request_bytes is %u: shorten the text or raise the limit",
               i, e->request_overhead + s, e->cfg.max_request_bytes);
      free(b);
      return AKIDB_ELIMIT;
    }
    bool fits = k && b[k - 1].count < e->cfg.batch_size &&
                (!sized || size + 1 + s <= e->cfg.max_request_bytes);
    if (fits) {
      b[k - 1].count++;
      size += 1 + s;
    } else {
      b[k++] = (akidb_embed_batch_t){i, 1};
      size = e->request_overhead + s;
    }
  }
  *out = b;
  *nb = k;
  return 0;
}

/* Runs the batches through the provider into scratch. */
static int run_batches(akidb_embedder_t *e, const char *const *texts, const size_t *lens,
                       const akidb_embed_batch_t *b, size_t nb, float *scratch,
                       const char *traceparent, char *err, size_t errlen) {
  if (e->ops->embed_batches)
    return e->ops->embed_batches(e->self, texts, lens, b, nb, scratch, traceparent, err, errlen);
  for (size_t i = 0; i < nb; i++) {
    int rc = e->ops->embed_batch(e->self, texts + b[i].first, lens + b[i].first, b[i].count,
                                 scratch + b[i].first * (size_t)e->cfg.dimension, traceparent,
                                 err, errlen);
    if (rc) return rc;
  }
  return 0;
}

int akidb_embed(akidb_embedder_t *e, const char *const *texts, const size_t *lens, size_t n,
                float *out, const char *traceparent, char *err, size_t errlen) {
  char scratch_err[8];
  if (!err) err = scratch_err, errlen = sizeof scratch_err;
  if (n == 0) return 0;
  uint64_t t0 = clock_now_ns(), bytes = 0;
  int rc = check_inputs(texts, lens, n, &bytes, err, errlen);
  if (rc) return rc;
  if (!out) {
    snprintf(err, errlen, "no output buffer for the embeddings (NULL)");
    return AKIDB_EINVAL;
  }
  akidb_embed_batch_t *b = NULL;
  size_t nb = 0;
  rc = plan_batches(e, texts, lens, n, &b, &nb, err, errlen);
  if (rc) return rc;
  float *scratch = malloc(n * (size_t)e->cfg.dimension * sizeof *scratch);
  if (!scratch) {
    free(b);
    snprintf(err, errlen, "out of memory for %zu embeddings of dimension %u", n, e->cfg.dimension);
    return AKIDB_ENOMEM;
  }
  rc = run_batches(e, texts, lens, b, nb, scratch, traceparent, err, errlen);
  if (rc == 0) memcpy(out, scratch, n * (size_t)e->cfg.dimension * sizeof *out);
  embed_metrics_call(&e->metrics, clock_now_ns() - t0, rc == 0, n, bytes);
  free(scratch);
  free(b);
  return rc;
}
