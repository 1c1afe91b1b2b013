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
#include "trace/trace.h"
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

static int stop_at_first(void *ctx, const char *tok, size_t len) {
  (void)ctx, (void)tok, (void)len;
  return 1;
}

/* Which of the texts has no terms (the built-in embedder's one refusal). */
static size_t first_without_terms(const char *const *texts, const size_t *lens, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (akidb_text_tokenize(texts[i] ? texts[i] : "", lens[i], AKIDB_TEXT_TERMS, stop_at_first,
                            NULL, NULL) == 0)
      return i;
  return 0;
}

/* Embeds with `em`, mapping a failure to the client's error: the text
 * without words named as what[i] ("points", "input"; NULL: the query),
 * index_of[i] when given; a provider failure as unavailable (nothing was
 * written anywhere). */
static int embed_with(svc_call_t *c, akidb_embedder_t *em, const char *const *texts,
                      const size_t *lens, size_t n, const char *what, const size_t *index_of,
                      float *out) {
  char err[512] = "";
  trace_span_t *sp = trace_client_begin("embed.call");
  char tp[TRACE_TRACEPARENT_SIZE];
  bool has_tp = trace_current_traceparent(tp); /* the model server continues this span */
  int rc = akidb_embed(em, texts, lens, n, out, has_tp ? tp : NULL, err, sizeof err);
  if (sp) {
    trace_span_set_str(sp, "akidb.embed.provider",
                       akidb_embed_provider_name(akidb_embed_provider_of(em)));
    trace_span_set_int(sp, "akidb.embed.inputs", (int64_t)n);
    if (rc) trace_span_set_status(sp, TRACE_STATUS_ERROR, err);
  }
  trace_span_end(sp);
  if (!rc) return 0;
  if (rc == AKIDB_EVALUE) {
    char where[64] = "the query";
    size_t i = first_without_terms(texts, lens, n);
    if (what) snprintf(where, sizeof where, "%s[%zu]", what, index_of ? index_of[i] : i);
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

int svc_embed(svc_call_t *c, const char *const *texts, const size_t *lens, size_t n,
              const size_t *points, float *out) {
  akidb_embedder_t *em;
  if (entry_embedder(c, c->coll, &em)) return -1;
  return embed_with(c, em, texts, lens, n, points ? "points" : NULL, points, out);
}

bool svc_embedding_is_builtin(svc_call_t *c) {
  akidb_embedder_t *em;
  if (!svc_has_embedding(c) || entry_embedder(c, c->coll, &em)) return false;
  return akidb_embed_provider_of(em) == AKIDB_EMBED_BUILTIN;
}

/* ------------------------------------------------------ /v1/embeddings -- */

/* Counts the tokens of a text (the usage figure of the answer). */
static int count_token(void *ctx, const char *tok, size_t len) {
  (void)tok, (void)len;
  (*(uint64_t *)ctx)++;
  return 0;
}

/* The checks that need nothing resolved. */
static int check_embeddings(svc_call_t *c, const akidb_embeddings_args_t *a) {
  const akidb_limits_t *l = &c->svc->opt.limits;
  if (!a->model || !*a->model)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "'model' is required: \"" AKIDB_TEXT_EMBED_MODEL "\" (the built-in "
                    "embedder) or \"<database>/<collection>\" (that collection's model)");
  if (a->n == 0)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "'input' must be a string or a non-empty array of strings");
  if (a->n > l->max_batch)
    return svc_fail(c, AKIDB_ST_PAYLOAD_TOO_LARGE, "'input' holds %zu texts; the limit is %u",
                    a->n, l->max_batch);
  for (size_t i = 0; i < a->n; i++) {
    size_t bad;
    if (akidb_text_validate_utf8(a->inputs[i].p, a->inputs[i].len, &bad))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "input[%zu] is not valid UTF-8 at byte %zu",
                      i, bad);
  }
  return 0;
}

/* The caller's tenant (embeddings are a tenant's, counted by its QPS quota). */
static int resolve_caller_tenant(svc_call_t *c) {
  if (svc_authenticate(c)) return -1;
  if (!c->who.has_tenant)
    return svc_fail(c, AKIDB_ST_PERMISSION_DENIED,
                    "permission denied for embed: the embeddings endpoint serves a tenant's "
                    "users and keys (a system admin has no tenant)");
  if (svc_cached_tenant_by_id(c->svc, &c->who.tenant_id, &c->tenant))
    return svc_fail(c, AKIDB_ST_PERMISSION_DENIED, "permission denied for embed: no tenant");
  akidb_resource_t res = {.tenant_id = &c->tenant.id};
  return svc_authorize(c, AKIDB_ACT_EMBED, &res) ? -1 : 0;
}

/* "<database>/<collection>": that collection's model (c->coll, resolved). */
static int resolve_model_collection(svc_call_t *c, const char *model) {
  const char *slash = strchr(model, '/');
  char db[AKIDB_OBJECT_NAME_MAX + 1], coll[AKIDB_OBJECT_NAME_MAX + 1];
  size_t n = slash ? (size_t)(slash - model) : 0;
  if (!slash || n == 0 || n > AKIDB_OBJECT_NAME_MAX || strlen(slash + 1) > AKIDB_OBJECT_NAME_MAX)
    return svc_fail(c, AKIDB_ST_NOT_FOUND,
                    "model '%.100s' is not configured here: use \"" AKIDB_TEXT_EMBED_MODEL
                    "\" or \"<database>/<collection>\" of a collection with an embedding model",
                    model);
  memcpy(db, model, n);
  db[n] = '\0';
  snprintf(coll, sizeof coll, "%s", slash + 1);
  akidb_request_t named = *c->req;
  named.tenant = c->tenant.slug;
  named.database = db;
  named.collection = coll;
  const akidb_request_t *saved = c->req;
  c->req = &named;
  int rc = svc_resolve_database(c) || svc_resolve_collection(c) ? -1 : 0;
  c->req = saved;
  if (!rc && !svc_has_embedding(c))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "collection '%s' of database '%s' has no embedding model", coll, db);
  return rc;
}

/* The built-in embedder of `dim` on a's inputs into r. */
static int embed_builtin(svc_call_t *c, const char *const *texts, const size_t *lens, size_t n,
                         uint32_t dim, float *out) {
  akidb_embed_config_t cfg;
  akidb_embed_config_default(&cfg);
  cfg.provider = AKIDB_EMBED_BUILTIN;
  cfg.dimension = dim;
  akidb_embedder_t *e = NULL;
  char err[512] = "";
  if (akidb_embed_create(&cfg, &e, err, sizeof err))
    return svc_fail(c, AKIDB_ST_INTERNAL, "the built-in embedder: %s", err);
  int rc = embed_with(c, e, texts, lens, n, "input", NULL, out);
  akidb_embed_destroy(e);
  return rc;
}

int svc_op_embeddings(svc_call_t *c) {
  const akidb_embeddings_args_t *a = c->req->args;
  if (check_embeddings(c, a) || resolve_caller_tenant(c)) return -1;
  bool builtin = strcmp(a->model, AKIDB_TEXT_EMBED_MODEL) == 0;
  uint32_t dim = a->dimensions ? a->dimensions : AKIDB_TEXT_EMBED_DIM_DEFAULT;
  if (builtin && (dim < AKIDB_TEXT_EMBED_DIM_MIN || dim > AKIDB_TEXT_EMBED_DIM_MAX))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "'dimensions' must be %u..%u for " AKIDB_TEXT_EMBED_MODEL,
                    AKIDB_TEXT_EMBED_DIM_MIN, AKIDB_TEXT_EMBED_DIM_MAX);
  if (!builtin) {
    if (resolve_model_collection(c, a->model)) return -1;
    dim = c->coll->dim;
    if (a->dimensions && a->dimensions != dim)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "'dimensions' %u: the model of %s makes %u-dimensional vectors",
                      a->dimensions, a->model, dim);
  }
  akidb_embeddings_result_t *r = &c->res->result.embeddings;
  const char **texts = malloc(a->n * sizeof *texts);
  size_t *lens = malloc(a->n * sizeof *lens);
  r->vectors = malloc(a->n * (size_t)dim * sizeof *r->vectors);
  int rc = texts && lens && r->vectors ? 0 : svc_fail(c, AKIDB_ST_INTERNAL, "out of memory");
  for (size_t i = 0; !rc && i < a->n; i++) {
    texts[i] = a->inputs[i].p ? a->inputs[i].p : "";
    lens[i] = a->inputs[i].len;
    akidb_text_tokenize(texts[i], lens[i], AKIDB_TEXT_TOKENS, count_token, &r->tokens, NULL);
  }
  if (!rc) rc = builtin ? embed_builtin(c, texts, lens, a->n, dim, r->vectors)
                        : svc_embed(c, texts, lens, a->n, NULL, r->vectors);
  free(texts);
  free(lens);
  if (rc) return -1;
  r->n = a->n;
  r->dimension = dim;
  r->base64 = a->base64;
  snprintf(r->model, sizeof r->model, "%s", a->model);
  return svc_result(c);
}
