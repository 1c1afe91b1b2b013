/*
 * service/embedding.c — owns the embedding side of the service: the
 * built-in provider (the text engine's embedder behind the provider
 * vtable of include/akidb/embed.h, registered at service open), the checks
 * of a collection's embedding configuration at create (the provider's own
 * bounds, the collection's dimension, and the operator's rules: an
 * OpenAI-compatible base_url must be listed in `embedding.allowed_urls`,
 * and an API key may only come from an AKIDB_EMBEDDING_KEY_* variable, so
 * a tenant can neither make the server call an arbitrary address nor send
 * one of the server's own secrets to a model server), each collection's
 * embedder (created on first use, kept with its registry entry), and the
 * embedding of texts with the errors a client sees.
 *
 * Locking: an entry's embedder is created under the entry's `mu` and then
 * only read (embedders are thread-safe); it is destroyed with the entry.
 * Durability: none (the configuration is the catalog's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/embed.h"
#include "akidb/text.h"
#include "service/svc_internal.h"

#define KEY_ENV_PREFIX "AKIDB_EMBEDDING_KEY_"

/* ------------------------------------------------- the built-in provider -- */

typedef struct {
  uint32_t dim;
} builtin_t;

static int builtin_batch(void *self, const char *const *texts, const size_t *lens, size_t n,
                         float *out, const char *traceparent, char *err, size_t errlen) {
  const builtin_t *b = self;
  (void)traceparent;
  for (size_t i = 0; i < n; i++) {
    int rc = akidb_text_embed(texts[i] ? texts[i] : "", lens[i], b->dim, out + i * b->dim, NULL,
                              err, errlen);
    if (rc) return rc;
  }
  return 0;
}

static void builtin_describe(void *self, char *buf, size_t len) {
  const builtin_t *b = self;
  snprintf(buf, len, "builtin model %s dimension %u", AKIDB_TEXT_EMBED_MODEL, b->dim);
}

static void builtin_destroy(void *self) { free(self); }

static const akidb_embed_ops_t BUILTIN_OPS = {builtin_batch, NULL, builtin_describe,
                                              builtin_destroy};

static int builtin_factory(const akidb_embed_config_t *c, const akidb_embed_ops_t **ops,
                           void **self, char *err, size_t errlen) {
  if (c->dimension < AKIDB_TEXT_EMBED_DIM_MIN || c->dimension > AKIDB_TEXT_EMBED_DIM_MAX) {
    snprintf(err, errlen, "the built-in embedder makes %u..%u-dimensional vectors, not %u",
             AKIDB_TEXT_EMBED_DIM_MIN, AKIDB_TEXT_EMBED_DIM_MAX, c->dimension);
    return AKIDB_EINVAL;
  }
  builtin_t *b = malloc(sizeof *b);
  if (!b) return AKIDB_ENOMEM;
  b->dim = c->dimension;
  *ops = &BUILTIN_OPS;
  *self = b;
  return 0;
}

void svc_embedding_init(void) { akidb_embed_register_builtin(builtin_factory); }

/* ------------------------------------------------------ configuration -- */

/* Whether url starts with one of the comma-separated prefixes of `allowed`. */
static bool url_allowed(const char *allowed, const char *url) {
  const char *p = allowed ? allowed : "";
  while (*p) {
    while (*p == ',' || *p == ' ') p++;
    size_t n = strcspn(p, ", ");
    if (n && strncmp(url, p, n) == 0) return true;
    p += n;
  }
  return false;
}

int svc_embedding_check(svc_call_t *c, akidb_embed_spec_t *s, uint32_t dim) {
  if (s->cfg.dimension && s->cfg.dimension != dim)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "embedding.dimension %u does not match the collection's dimension %u: the "
                    "model's vectors must fit the collection",
                    s->cfg.dimension, dim);
  s->cfg.dimension = dim;
  if (s->cfg.provider == AKIDB_EMBED_BUILTIN) {
    if (s->model[0] && strcmp(s->model, AKIDB_TEXT_EMBED_MODEL) != 0)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "embedding.model of provider builtin is \"%s\" (or absent), not \"%.100s\"",
                      AKIDB_TEXT_EMBED_MODEL, s->model);
    snprintf(s->model, sizeof s->model, "%s", AKIDB_TEXT_EMBED_MODEL);
    if (dim < AKIDB_TEXT_EMBED_DIM_MIN || dim > AKIDB_TEXT_EMBED_DIM_MAX)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "the built-in embedder makes %u..%u-dimensional vectors; the collection "
                      "has dimension %u",
                      AKIDB_TEXT_EMBED_DIM_MIN, AKIDB_TEXT_EMBED_DIM_MAX, dim);
  }
  akidb_embed_config_t cfg;
  akidb_embed_spec_config(s, &cfg);
  char err[512] = "";
  if (akidb_embed_config_validate(&cfg, err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  if (s->cfg.provider != AKIDB_EMBED_OPENAI) return 0;
  if (!url_allowed(c->svc->opt.embed_allowed_urls, s->base_url))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "embedding.base_url %.200s is not allowed on this server: the operator "
                    "lists the model servers collections may use in embedding.allowed_urls "
                    "(config.toml) or AKIDB_EMBEDDING_ALLOWED_URLS",
                    s->base_url);
  if (s->api_key_env[0] && strncmp(s->api_key_env, KEY_ENV_PREFIX, strlen(KEY_ENV_PREFIX)) != 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "embedding.api_key_env must name a variable starting with " KEY_ENV_PREFIX
                    " (e.g. " KEY_ENV_PREFIX "OPENAI), set by the operator, so no other secret "
                    "of the server can be sent to a model server");
  return 0;
}

/* ------------------------------------------------------------ embedders -- */

/* The entry's embedder, created from its configuration on first use. */
static int entry_embedder(svc_call_t *c, svc_coll_t *e, akidb_embedder_t **out) {
  pthread_mutex_lock(&e->mu);
  int rc = 0;
  char err[512] = "";
  if (!e->embedder) {
    akidb_embed_spec_t s;
    akidb_embed_config_t cfg;
    rc = akidb_embed_spec_from_json(e->embedding_json, strlen(e->embedding_json), &s, err,
                                    sizeof err);
    if (!rc) {
      akidb_embed_spec_config(&s, &cfg);
      rc = akidb_embed_create(&cfg, &e->embedder, err, sizeof err);
    }
  }
  *out = e->embedder;
  pthread_mutex_unlock(&e->mu);
  if (!rc) return 0;
  return svc_fail(c, AKIDB_ST_UNAVAILABLE,
                  "the collection's embedding model cannot be used: %s", err);
}

bool svc_has_embedding(const svc_call_t *c) {
  return c->coll && c->coll->embedding_json && c->coll->embedding_json[0];
}

/* Which of the texts has no terms (the built-in embedder's one refusal). */
static size_t first_without_terms(const char *const *texts, const size_t *lens, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float probe[AKIDB_TEXT_EMBED_DIM_MIN];
    if (akidb_text_embed(texts[i] ? texts[i] : "", lens[i], AKIDB_TEXT_EMBED_DIM_MIN, probe, NULL,
                         NULL, 0) == AKIDB_EVALUE)
      return i;
  }
  return 0;
}

int svc_embed(svc_call_t *c, const char *const *texts, const size_t *lens, size_t n,
              const size_t *points, float *out) {
  akidb_embedder_t *em;
  if (entry_embedder(c, c->coll, &em)) return -1;
  char err[512] = "";
  int rc = akidb_embed(em, texts, lens, n, out, NULL, err, sizeof err);
  if (!rc) return 0;
  if (rc == AKIDB_EVALUE) {
    char where[48] = "the query";
    if (points) snprintf(where, sizeof where, "points[%zu]", points[first_without_terms(texts, lens, n)]);
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "%s: 'text' has no words to embed (empty, only punctuation or only stop "
                    "words)",
                    where);
  }
  if (rc == AKIDB_ELIMIT) return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE, "%s", err);
  if (rc == AKIDB_EINVAL) return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  if (rc == AKIDB_ENOMEM) return svc_fail(c, AKIDB_ST_INTERNAL, "%s", err);
  return svc_fail(c, AKIDB_ST_UNAVAILABLE, "%s", err); /* the provider failed: nothing written */
}
