/*
 * json.c — the service's JSON side while operations move to typed
 * arguments (service.h, AKIDB_OP_TYPED): request checks through the shared
 * rules of src/json/json_rules.c (answered as the call's error), paging,
 * and the encoding of times, ids, list envelopes and the entities shared
 * by several handlers. Stateless.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json/json_rules.h"
#include "service/svc_internal.h"

/* The JSON rules' error into the call's answer; -1. */
static int take(svc_call_t *c, const akidb_svc_error_t *e) {
  return svc_fail(c, e->status, "%s", e->message);
}

int svc_json_keys(svc_call_t *c, const json_t *obj, const char *what,
                  const char *const *allowed) {
  akidb_svc_error_t e;
  return jr_keys(obj, what, allowed, &e) < 0 ? take(c, &e) : 0;
}

int svc_body_object(svc_call_t *c, const char *what, const char *const *allowed) {
  akidb_svc_error_t e;
  return jr_body_object(c->req->body, what, allowed, &e) < 0 ? take(c, &e) : 0;
}

int svc_json_string(svc_call_t *c, const json_t *obj, const char *key, const char **out) {
  akidb_svc_error_t e;
  int r = jr_string(obj, key, out, &e);
  return r < 0 ? take(c, &e) : r;
}

int svc_json_bool(svc_call_t *c, const json_t *obj, const char *key, bool *out) {
  akidb_svc_error_t e;
  int r = jr_bool(obj, key, out, &e);
  return r < 0 ? take(c, &e) : r;
}

int svc_json_u64(svc_call_t *c, const json_t *obj, const char *key, uint64_t min, uint64_t max,
                 uint64_t *out) {
  akidb_svc_error_t e;
  int r = jr_u64(obj, key, min, max, out, &e);
  return r < 0 ? take(c, &e) : r;
}

const char *svc_query(const svc_call_t *c, const char *key) {
  return jr_query(c->req->query, c->req->n_query, key);
}

int svc_query_bool(svc_call_t *c, const char *key, bool *out) {
  akidb_svc_error_t e;
  int r = jr_query_bool(c->req->query, c->req->n_query, key, out, &e);
  return r < 0 ? take(c, &e) : r;
}

int svc_query_page(svc_call_t *c, akidb_page_t *page) {
  akidb_svc_error_t e;
  return jr_query_page(c->req->query, c->req->n_query, page, &e) < 0 ? take(c, &e) : 0;
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

int svc_parse_time(const char *s, int64_t *ms) {
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



json_t *svc_user_json(const akidb_user_t *u, const char *tenant_slug) {
  return json_pack("{s:o,s:o,s:s,s:s,s:s,s:b,s:o,s:o}", "id", jr_uuid(&u->id), "tenant",
                   tenant_slug ? json_string(tenant_slug) : json_null(), "username", u->username,
                   "role", akidb_role_name(u->role), "status", akidb_user_status_name(u->status),
                   "has_password", u->has_password, "created_at",
                   jr_time(u->created_at_ms, false), "updated_at",
                   jr_time(u->updated_at_ms, false));
}
