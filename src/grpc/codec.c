/*
 * grpc/codec.c — the core of the gRPC codec: finds the method of a path in
 * the codec files' tables (codec_points.c, codec_admin.c, codec_data.c: protobuf
 * (protobuf-c, generated from proto/) → typed arguments, typed results →
 * protobuf, like the REST codec does with JSON in src/http/codec.c), runs
 * one call (unpack, decode, call the service, encode, pack), and owns the
 * per-call arena and the helpers the codec files share. Every message and
 * argument of a call lives in the call's arena and is freed when the
 * answer is packed.
 *
 * Locking: none (stateless; the table is constant). Durability: none of
 * its own; a write is answered only after the service returned.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "grpc/health/v1/health.pb-c.h"
#include "grpc/rpc_internal.h"
#include "json/json_rules.h"

/* ------------------------------------------------------------- arena -- */

struct rpc_block {
  rpc_block_t *next;
  max_align_t data[];
};

void *rpc_alloc(rpc_arena_t *a, size_t n) {
  rpc_block_t *b = calloc(1, sizeof *b + (n ? n : 1));
  if (!b) return NULL;
  b->next = a->head;
  a->head = b;
  return b->data;
}

char *rpc_strndup(rpc_arena_t *a, const char *p, size_t n) {
  char *s = rpc_alloc(a, n + 1);
  if (s && n) memcpy(s, p, n);
  return s;
}

void rpc_arena_free(rpc_arena_t *a) {
  while (a->head) {
    rpc_block_t *next = a->head->next;
    free(a->head);
    a->head = next;
  }
}

/* ------------------------------------------------------------ helpers -- */

int rpc_oom(akidb_svc_error_t *e) {
  return akidb_svc_error_set(e, AKIDB_ST_INTERNAL, "out of memory");
}

void rpc_path3(akidb_request_t *req, const char *tenant, const char *db, const char *coll) {
  req->tenant = rpc_opt(tenant);
  req->database = rpc_opt(db);
  req->collection = rpc_opt(coll);
}

akidb_bytes_t rpc_bytes_of(const char *s) {
  return s && *s ? (akidb_bytes_t){s, strlen(s)} : (akidb_bytes_t){NULL, 0};
}

char *rpc_str_of(rpc_arena_t *ar, const char *p, size_t n) {
  if (!p) return (char *)protobuf_c_empty_string;
  return rpc_strndup(ar, p, n);
}

char *rpc_time_of(rpc_arena_t *ar, int64_t ms) {
  if (!ms) return (char *)protobuf_c_empty_string;
  json_t *j = jr_time(ms, false);
  const char *s = j ? json_string_value(j) : NULL;
  char *out = s ? rpc_strndup(ar, s, strlen(s)) : NULL;
  json_decref(j);
  return out;
}

char *rpc_uuid_of(rpc_arena_t *ar, const akidb_uuid_t *id) {
  char *s = rpc_alloc(ar, AKIDB_UUID_STR_LEN + 1);
  if (s) akidb_uuid_format(id, s);
  return s;
}

/* The string field `name` of m; NULL when m has none or it is "". */
static const char *field_text(const ProtobufCMessage *m, const char *name) {
  const ProtobufCFieldDescriptor *f =
      protobuf_c_message_descriptor_get_field_by_name(m->descriptor, name);
  if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED ||
      (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF))
    return NULL;
  return rpc_opt(*(char *const *)((const char *)m + f->offset));
}

void rpc_path_in(const ProtobufCMessage *m, akidb_request_t *req) {
  req->tenant = field_text(m, "tenant");
  req->database = field_text(m, "database");
  req->collection = field_text(m, "collection");
  req->username = field_text(m, "username");
  req->key_id = field_text(m, "key_id");
  req->snapshot = field_text(m, "snapshot");
  req->upload = field_text(m, "upload");
}

int rpc_decode_path(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                    akidb_svc_error_t *e) {
  (void)a, (void)e;
  rpc_path_in(m, req);
  return 0;
}

int rpc_in_range(uint64_t v, const char *field, uint64_t min, uint64_t max,
                 akidb_svc_error_t *e) {
  if (v >= min && v <= max) return 0;
  return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                             "field '%s' must be an integer in %" PRIu64 "..%" PRIu64, field, min,
                             max);
}

ProtobufCMessage *rpc_empty(rpc_arena_t *ar, const ProtobufCMessageDescriptor *d) {
  ProtobufCMessage *m = rpc_alloc(ar, d->sizeof_message);
  if (m) protobuf_c_message_init(d, m);
  return m;
}

void *rpc_items(rpc_arena_t *ar, size_t n) { return rpc_alloc(ar, (n ? n : 1) * sizeof(void *)); }

char *rpc_text(rpc_arena_t *ar, const char *s) { return rpc_strndup(ar, s, strlen(s)); }

char *rpc_next_of(rpc_arena_t *ar, bool has_more, const akidb_uuid_t *next) {
  return has_more ? rpc_uuid_of(ar, next) : (char *)protobuf_c_empty_string;
}

/* "field 'f' must be one of A, B, C (or unspecified); got 7" from the
 * enum's descriptor (every value but 0). */
static int enum_fail(const ProtobufCEnumDescriptor *d, int v, const char *field,
                     akidb_svc_error_t *e) {
  char names[400] = "";
  size_t len = 0;
  for (unsigned i = 0; i < d->n_values && len < sizeof names; i++) {
    if (d->values[i].value == 0) continue;
    int n = snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", d->values[i].name);
    if (n > 0) len += (size_t)n;
  }
  return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                             "field '%s' must be one of %s (or unspecified); got %d", field, names,
                             v);
}

int rpc_enum_in(const ProtobufCEnumDescriptor *d, int v, const char *field, const int *map,
                size_t n_map, bool *has, int *out, akidb_svc_error_t *e) {
  if (v == 0) return 0;
  if (v < 0 || (size_t)v >= n_map || !protobuf_c_enum_descriptor_get_value(d, v))
    return enum_fail(d, v, field, e);
  *has = true;
  *out = map[v];
  return 0;
}

int rpc_page_limit_in(const Akidb__V1__PageRequest *p, akidb_svc_error_t *e) {
  if (!p || p->limit <= AKIDB_LIST_LIMIT_MAX) return 0;
  return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                             "field 'page.limit' must be an integer in 1..%u (0: the default, %u)",
                             AKIDB_LIST_LIMIT_MAX, AKIDB_LIST_LIMIT_DEFAULT);
}

int rpc_page_in(const Akidb__V1__PageRequest *p, akidb_page_t *page, akidb_svc_error_t *e) {
  memset(page, 0, sizeof *page);
  if (!p) return 0;
  if (rpc_page_limit_in(p, e)) return -1;
  page->limit = p->limit;
  if (!p->after || !*p->after) return 0;
  if (akidb_uuid_parse(p->after, &page->after))
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "field 'page.after' must be the 'next' cursor of a previous page");
  page->has_after = true;
  return 0;
}

/* -------------------------------------------------------------- table -- */

static const rpc_method_t *const TABLES[] = {rpc_point_methods, rpc_stream_methods,
                                             rpc_admin_methods, rpc_data_methods};

const rpc_method_t *rpc_method_find(const char *path, size_t len) {
  for (size_t t = 0; t < sizeof TABLES / sizeof TABLES[0]; t++)
    for (const rpc_method_t *m = TABLES[t]; m->path; m++)
      if (strlen(m->path) == len && memcmp(m->path, path, len) == 0) return m;
  return NULL;
}

/* --------------------------------------------------------------- call -- */

void rpc_answer_error(rpc_answer_t *out, const akidb_svc_error_t *e) {
  out->code = akidb_status_grpc(e->status);
  out->retry_after_s = e->status == AKIDB_ST_RATE_LIMITED ? e->retry_after_s : 0;
  snprintf(out->message, sizeof out->message, "%s", e->message);
}

void rpc_answer_message(rpc_answer_t *out, const ProtobufCMessage *msg) {
  size_t n = msg ? protobuf_c_message_get_packed_size(msg) : 0;
  out->body = msg ? malloc(n ? n : 1) : NULL;
  if (!out->body) {
    out->code = akidb_status_grpc(AKIDB_ST_INTERNAL);
    snprintf(out->message, sizeof out->message, "out of memory while encoding the answer");
    return;
  }
  out->len = protobuf_c_message_pack(msg, out->body);
  out->code = 0;
}

bool rpc_call_service(akidb_service_t *svc, akidb_request_t *req, rpc_args_t *a,
                      akidb_response_t *resp, rpc_answer_t *out) {
  memset(resp, 0, sizeof *resp);
  req->args = &a->u;
  akidb_service_call(svc, a->op, req, resp);
  req->args = NULL;
  if (akidb_status_is_ok(resp->status)) return true;
  rpc_answer_error(out, &resp->error);
  return false;
}

/* Health answers NOT_SERVING instead of an error. */
static void call_unary(akidb_service_t *svc, const rpc_method_t *m, akidb_request_t *req,
                       rpc_args_t *a, rpc_answer_t *out) {
  akidb_response_t resp;
  if (rpc_call_service(svc, req, a, &resp, out)) {
    rpc_answer_message(out, m->encode(&resp, a->arena));
  } else if (m->op == AKIDB_OP_HEALTH) {
    memset(out, 0, sizeof *out);
    rpc_answer_message(out, rpc_health_answer(a->arena, false));
  }
  akidb_response_clear(&resp);
}

/* Unpacks and decodes a request into *a and req; 0, or -1 with *e set.
 * *msg (free with protobuf_c_message_free_unpacked) may be set either way. */
static int decode_request(const rpc_method_t *m, const uint8_t *in, size_t len, rpc_args_t *a,
                          akidb_request_t *req, ProtobufCMessage **msg, akidb_svc_error_t *e) {
  *msg = protobuf_c_message_unpack(m->in, NULL, len, in);
  if (!*msg)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "the request is not a valid %s message", m->in->name);
  return m->decode ? m->decode(*msg, a, req, e) : 0;
}

int rpc_unary_decode(akidb_service_t *svc, const rpc_method_t *m, const uint8_t *in, size_t len,
                     rpc_unary_t *u, rpc_answer_t *out) {
  memset(out, 0, sizeof *out);
  u->a = (rpc_args_t){.arena = &u->arena, .limits = akidb_service_limits(svc), .op = m->op};
  akidb_svc_error_t e = {0};
  if (!decode_request(m, in, len, &u->a, &u->req, &u->msg, &e)) return 0;
  rpc_answer_error(out, &e);
  return -1;
}

void rpc_unary_run(akidb_service_t *svc, const rpc_method_t *m, rpc_unary_t *u,
                   rpc_answer_t *out) {
  call_unary(svc, m, &u->req, &u->a, out);
}

void rpc_unary_free(rpc_unary_t *u, rpc_answer_t *out) {
  if (u->req.tenant) snprintf(out->tenant, sizeof out->tenant, "%s", u->req.tenant);
  u->req.tenant = u->req.database = u->req.collection = NULL; /* they pointed into msg */
  if (u->msg) protobuf_c_message_free_unpacked(u->msg, NULL);
  u->msg = NULL;
  rpc_arena_free(&u->arena);
}

int rpc_codec_decode(const rpc_method_t *m, const akidb_limits_t *limits, const uint8_t *in,
                     size_t len, akidb_svc_error_t *e) {
  rpc_arena_t arena = {0};
  rpc_args_t a = {.arena = &arena, .limits = limits, .op = m->op};
  akidb_request_t req = {0};
  ProtobufCMessage *msg = NULL;
  int rc = decode_request(m, in, len, &a, &req, &msg, e);
  if (msg) protobuf_c_message_free_unpacked(msg, NULL);
  rpc_arena_free(&arena);
  return rc;
}

const rpc_method_t *rpc_method_at(size_t i) {
  for (size_t t = 0; t < sizeof TABLES / sizeof TABLES[0]; t++)
    for (const rpc_method_t *m = TABLES[t]; m->path; m++)
      if (i-- == 0) return m;
  return NULL;
}
