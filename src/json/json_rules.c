/*
 * json/json_rules.c — owns the request JSON conventions and the JSON form
 * of a point (json_rules.h).
 * Stateless; no locking, nothing durable.
 */
#include "json/json_rules.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int jr_fail(akidb_svc_error_t *e, akidb_status_t st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  akidb_svc_error_vset(e, st, fmt, ap);
  va_end(ap);
  return -1;
}

int jr_keys(const json_t *obj, const char *what, const char *const *allowed,
            akidb_svc_error_t *e) {
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)obj, key, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, key) == 0;
    if (ok) continue;
    char list[256] = "";
    size_t n = 0;
    for (const char *const *a = allowed; *a; a++)
      n += (size_t)snprintf(list + n, n < sizeof list ? sizeof list - n : 0, "%s%s",
                            a == allowed ? "" : ", ", *a);
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "unknown field '%s' in %s (allowed: %s)", key,
                   what, list);
  }
  return 0;
}

int jr_body_object(const json_t *body, const char *what, const char *const *allowed,
                   akidb_svc_error_t *e) {
  if (!body)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s: a JSON object body is required", what);
  if (!json_is_object(body))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "%s: the body must be a JSON object", what);
  return jr_keys(body, what, allowed, e);
}

int jr_string(const json_t *obj, const char *key, const char **out, akidb_svc_error_t *e) {
  json_t *v = obj ? json_object_get(obj, key) : NULL;
  if (!v) return 0;
  if (!json_is_string(v))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field '%s' must be a string", key);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field '%s' must not contain NUL characters",
                   key);
  *out = json_string_value(v);
  return 1;
}

int jr_bool(const json_t *obj, const char *key, bool *out, akidb_svc_error_t *e) {
  json_t *v = obj ? json_object_get(obj, key) : NULL;
  if (!v) return 0;
  if (!json_is_boolean(v))
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "field '%s' must be true or false", key);
  *out = json_is_true(v);
  return 1;
}

int jr_u64(const json_t *obj, const char *key, uint64_t min, uint64_t max, uint64_t *out,
           akidb_svc_error_t *e) {
  json_t *v = obj ? json_object_get(obj, key) : NULL;
  if (!v) return 0;
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max)
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                   "field '%s' must be an integer in %" PRIu64 "..%" PRIu64, key, min, max);
  *out = (uint64_t)json_integer_value(v);
  return 1;
}

const char *jr_query(const akidb_param_t *q, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (q[i].key && strcmp(q[i].key, key) == 0) return q[i].value ? q[i].value : "";
  return NULL;
}

int jr_query_bool(const akidb_param_t *q, size_t n, const char *key, bool *out,
                  akidb_svc_error_t *e) {
  const char *v = jr_query(q, n, key);
  if (!v) return 0;
  if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || *v == '\0')
    *out = true;
  else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
    *out = false;
  else
    return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT, "query parameter '%s' must be true or false",
                   key);
  return 1;
}

json_t *jr_point(const akidb_point_out_t *p, uint32_t dim, bool with_payload) {
  json_t *o = json_pack("{s:s%}", "id", p->id, p->id_len);
  if (!o) return NULL;
  if (with_payload) {
    json_t *pl = p->payload ? json_loadb(p->payload, p->payload_len, 0, NULL) : NULL;
    json_object_set_new(o, "payload", pl ? pl : json_null());
  }
  if (p->text && with_payload) json_object_set_new(o, "text", json_stringn(p->text, p->text_len));
  if (p->vector) {
    json_t *v = json_array();
    for (uint32_t i = 0; i < dim; i++) json_array_append_new(v, json_real(p->vector[i]));
    json_object_set_new(o, "vector", v);
  }
  return o;
}

int jr_query_page(const akidb_param_t *q, size_t n, akidb_page_t *page, akidb_svc_error_t *e) {
  memset(page, 0, sizeof *page);
  const char *limit = jr_query(q, n, "limit");
  if (limit) {
    char *end;
    errno = 0;
    unsigned long v = strtoul(limit, &end, 10);
    if (errno || *end || !*limit || v < 1 || v > AKIDB_LIST_LIMIT_MAX)
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "query parameter 'limit' must be an integer in 1..%u", AKIDB_LIST_LIMIT_MAX);
    page->limit = (uint32_t)v;
  }
  const char *after = jr_query(q, n, "after");
  if (after) {
    if (akidb_uuid_parse(after, &page->after))
      return jr_fail(e, AKIDB_ST_INVALID_ARGUMENT,
                     "query parameter 'after' must be the 'next' cursor of a previous page");
    page->has_after = true;
  }
  return 0;
}

/* ------------------------------------------------------------ encoders -- */

json_t *jr_time(int64_t ms, bool zero_is_null) {
  if (ms == 0 && zero_is_null) return json_null();
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
  return json_string(buf);
}


json_t *jr_uuid(const akidb_uuid_t *id) {
  char text[AKIDB_UUID_STR_LEN + 1];
  akidb_uuid_format(id, text);
  return json_string(text);
}


json_t *jr_list(json_t *items, bool has_more, const akidb_uuid_t *next) {
  if (!items) return NULL;
  return json_pack("{s:o,s:o}", "items", items, "next", has_more ? jr_uuid(next) : json_null());
}

json_t *jr_tenant(const akidb_tenant_t *t) {
  return json_pack("{s:o,s:s,s:s,s:s,s:{s:I,s:I,s:I,s:I},s:o,s:o}", "id", jr_uuid(&t->id),
                   "slug", t->slug, "name", t->name, "status",
                   akidb_tenant_status_name(t->status), "quotas", "max_memory_bytes",
                   (json_int_t)t->quotas.max_memory_bytes, "max_storage_bytes",
                   (json_int_t)t->quotas.max_storage_bytes, "max_qps",
                   (json_int_t)t->quotas.max_qps, "max_collections",
                   (json_int_t)t->quotas.max_collections, "created_at",
                   jr_time(t->created_at_ms, false), "updated_at",
                   jr_time(t->updated_at_ms, false));
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

int jr_parse_time(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, sec, n = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
  const char *p = s + n;
  int frac = 0;
  if (*p == '.') {
    int digits = 0;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++)
      if (digits < 3) frac = frac * 10 + (*p - '0');
    if (!digits) return -1;
    for (; digits < 3; digits++) frac *= 10;
  }
  int64_t offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int oh, om;
    if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2) return -1;
    offset = (oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
    p += 6;
  } else {
    return -1;
  }
  if (*p) return -1;
  int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
  *ms = (t - offset) * 1000 + frac;
  return 0;
}



json_t *jr_user(const akidb_user_t *u, const char *tenant_slug) {
  return json_pack("{s:o,s:o,s:s,s:s,s:s,s:b,s:o,s:o}", "id", jr_uuid(&u->id), "tenant",
                   tenant_slug ? json_string(tenant_slug) : json_null(), "username", u->username,
                   "role", akidb_role_name(u->role), "status", akidb_user_status_name(u->status),
                   "has_password", u->has_password, "created_at",
                   jr_time(u->created_at_ms, false), "updated_at",
                   jr_time(u->updated_at_ms, false));
}
