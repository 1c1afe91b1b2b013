/*
 * embed/spec.c — a collection's embedding configuration as JSON: the form
 * REST takes at create and shows in GET, and the text the catalog keeps in
 * the collection's `embedding` column. One strict reader (unknown keys and
 * wrong types refused with a sentence naming the field), one canonical
 * writer (every setting written, keys sorted), so what is stored reads back
 * the same.
 *
 * Locking: none (pure functions). Durability: none (the catalog stores the
 * text).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/embed.h"

void akidb_embed_spec_default(akidb_embed_spec_t *s) {
  memset(s, 0, sizeof *s);
  akidb_embed_config_default(&s->cfg);
  s->cfg.model = s->cfg.base_url = s->cfg.api_key_env = NULL;
}

void akidb_embed_spec_config(const akidb_embed_spec_t *s, akidb_embed_config_t *out) {
  *out = s->cfg;
  out->model = s->model;
  out->base_url = s->base_url;
  out->api_key_env = s->api_key_env;
}

/* A string member into dst (cap bytes). */
static int read_string(json_t *o, const char *key, char *dst, size_t cap, char *err,
                       size_t errlen) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) {
    snprintf(err, errlen, "embedding.%s must be a string", key);
    return AKIDB_EINVAL;
  }
  size_t n = json_string_length(v);
  if (n >= cap || memchr(json_string_value(v), '\0', n)) {
    snprintf(err, errlen, "embedding.%s must be at most %zu bytes of text", key, cap - 1);
    return AKIDB_EINVAL;
  }
  memcpy(dst, json_string_value(v), n + 1);
  return 0;
}

/* A non-negative integer member (bounds are checked by validate). */
static int read_uint(json_t *o, const char *key, uint32_t *out, char *err, size_t errlen) {
  json_t *v = json_object_get(o, key);
  if (!v) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX) {
    snprintf(err, errlen, "embedding.%s must be a non-negative integer", key);
    return AKIDB_EINVAL;
  }
  *out = (uint32_t)json_integer_value(v);
  return 0;
}

static int check_keys(json_t *o, char *err, size_t errlen) {
  static const char *const keys[] = {
      "provider", "model", "base_url", "api_key_env", "send_dimensions",
#define KEY_NAME(field, NAME, def, min, max, unit) #field,
      AKIDB_EMBED_SETTINGS(KEY_NAME)
#undef KEY_NAME
      NULL};
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    bool known = false;
    for (int i = 0; keys[i] && !known; i++) known = strcmp(keys[i], key) == 0;
    if (known) continue;
    snprintf(err, errlen,
             "embedding has no field '%.64s': use provider, model, dimension, base_url, "
             "api_key_env, send_dimensions, batch_size, max_request_bytes, max_concurrency, "
             "timeout_ms, max_retries, backoff_base_ms, backoff_max_ms, breaker_threshold, "
             "breaker_cooldown_ms",
             key);
    return AKIDB_EINVAL;
  }
  return 0;
}

static int read_fields(json_t *o, akidb_embed_spec_t *s, char *err, size_t errlen) {
  char provider[16] = "";
  int rc = check_keys(o, err, errlen);
  if (!rc) rc = read_string(o, "provider", provider, sizeof provider, err, errlen);
  if (!rc && akidb_embed_provider_parse(provider) < 0) {
    snprintf(err, errlen, "embedding.provider must be \"builtin\" (offline, no model files) or "
                          "\"openai\" (an OpenAI-compatible model server)");
    rc = AKIDB_EINVAL;
  }
  if (rc) return rc;
  s->cfg.provider = (akidb_embed_provider_t)akidb_embed_provider_parse(provider);
  if ((rc = read_string(o, "model", s->model, sizeof s->model, err, errlen)) ||
      (rc = read_string(o, "base_url", s->base_url, sizeof s->base_url, err, errlen)) ||
      (rc = read_string(o, "api_key_env", s->api_key_env, sizeof s->api_key_env, err, errlen)))
    return rc;
#define READ_UINT(field, NAME, def, min, max, unit)                                  \
  if ((rc = read_uint(o, #field, &s->cfg.field, err, errlen))) return rc;
  AKIDB_EMBED_SETTINGS(READ_UINT)
#undef READ_UINT
  json_t *sd = json_object_get(o, "send_dimensions");
  if (sd && !json_is_boolean(sd)) {
    snprintf(err, errlen, "embedding.send_dimensions must be true or false");
    return AKIDB_EINVAL;
  }
  s->cfg.send_dimensions = sd && json_is_true(sd);
  return 0;
}

int akidb_embed_spec_from_json(const char *json, size_t len, akidb_embed_spec_t *s, char *err,
                               size_t errlen) {
  akidb_embed_spec_default(s);
  json_error_t je;
  json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
  if (!o || !json_is_object(o)) {
    snprintf(err, errlen, "embedding must be a JSON object such as {\"provider\": \"builtin\"}");
    json_decref(o);
    return AKIDB_EINVAL;
  }
  int rc = read_fields(o, s, err, errlen);
  json_decref(o);
  return rc;
}

int akidb_embed_spec_to_json(const akidb_embed_spec_t *s, char *out, size_t cap) {
  json_t *o = json_object();
  if (!o) return AKIDB_ENOMEM;
  int bad = json_object_set_new(o, "provider",
                                json_string(akidb_embed_provider_name(s->cfg.provider)));
  if (s->model[0]) bad |= json_object_set_new(o, "model", json_string(s->model));
  if (s->base_url[0]) bad |= json_object_set_new(o, "base_url", json_string(s->base_url));
  if (s->api_key_env[0]) bad |= json_object_set_new(o, "api_key_env", json_string(s->api_key_env));
  if (s->cfg.provider == AKIDB_EMBED_OPENAI) {
#define WRITE_UINT(field, NAME, def, min, max, unit)                                 \
    bad |= json_object_set_new(o, #field, json_integer(s->cfg.field));
    AKIDB_EMBED_SETTINGS(WRITE_UINT)
#undef WRITE_UINT
    bad |= json_object_set_new(o, "send_dimensions", json_boolean(s->cfg.send_dimensions));
  } else {
    bad |= json_object_set_new(o, "dimension", json_integer(s->cfg.dimension));
  }
  char *text = bad ? NULL : json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  if (!text) return AKIDB_ENOMEM;
  size_t n = strlen(text);
  int rc = n < cap ? AKIDB_OK : AKIDB_ELIMIT;
  if (rc == AKIDB_OK) memcpy(out, text, n + 1);
  free(text);
  return rc;
}
