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

