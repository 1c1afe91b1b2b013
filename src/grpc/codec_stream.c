/*
 * grpc/codec_stream.c — the gRPC codec of the streaming methods, one step
 * per message (rpc_step_fn; the server in server.c moves the messages):
 *   - PointService/UpsertStream (bidirectional): each request is one
 *     points.upsert, acknowledged once durable, in order; the first
 *     refused batch ends the call with its status;
 *   - PointService/Scan (server streaming): points.scan pages until none
 *     is left, each read when the last one has been taken by the client;
 *   - UploadService/PutUpload (client streaming): the chunks gathered up to
 *     limits.max_body_bytes, then one uploads.put.
 * Flow control: the server asks for the next request only once the step
 * of the last one has been answered, and sends the next Scan page only
 * once the last one has left, so a call holds at most one request (or one
 * page) in memory whatever the client does.
 *
 * Locking: none; a call's state is used by one thread at a time (the one
 * that took the call's event). Durability: an acknowledgement is sent only
 * after the service returned, i.e. once the batch is durable.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "akidb/v1/points.pb-c.h"
#include "akidb/v1/uploads.pb-c.h"
#include "grpc/rpc_internal.h"

/* A request's path, fixed by the first message of a stream. */
typedef struct {
  char tenant[128], database[128], collection[128], upload[256];
} stream_path_t;

/* Copies `s` into `dst` (cap bytes); -1 when it does not fit. */
static int keep(char *dst, size_t cap, const char *s) {
  size_t n = strlen(s);
  if (n >= cap) return -1;
  memcpy(dst, s, n + 1);
  return 0;
}

/* A later message's field: "" or the first message's value. */
static bool same_or_empty(const char *kept, const char *s) { return !*s || strcmp(kept, s) == 0; }

static rpc_step_t finish_error(rpc_answer_t *out, akidb_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static rpc_step_t finish_error(rpc_answer_t *out, akidb_status_t st, const char *fmt, ...) {
  akidb_svc_error_t e = {0};
  va_list ap;
  va_start(ap, fmt);
  akidb_svc_error_vset(&e, st, fmt, ap);
  va_end(ap);
  rpc_answer_error(out, &e);
  return RPC_STEP_FINISH;
}

static rpc_step_t not_a_message(rpc_answer_t *out, const ProtobufCMessageDescriptor *d) {
  return finish_error(out, AKIDB_ST_INVALID_ARGUMENT, "a message is not a valid %s", d->name);
}

/* ------------------------------------------------------ UpsertStream -- */

typedef struct {
  stream_path_t path;
  bool named;       /* the first message was read */
  uint64_t batches; /* acknowledged */
} upsert_stream_t;

/* Fixes the path from the first message, or checks a later one's. */
static int upsert_stream_path(upsert_stream_t *u, const Akidb__V1__UpsertStreamRequest *r,
                              akidb_svc_error_t *e) {
  if (!u->named) {
    if (!*r->tenant || !*r->database || !*r->collection)
      return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                                 "the first message of UpsertStream must name tenant, database "
                                 "and collection");
    if (keep(u->path.tenant, sizeof u->path.tenant, r->tenant) ||
        keep(u->path.database, sizeof u->path.database, r->database) ||
        keep(u->path.collection, sizeof u->path.collection, r->collection))
      return akidb_svc_error_set(e, AKIDB_ST_NOT_FOUND,
                                 "no such collection: a name is longer than any name can be");
    u->named = true;
    return 0;
  }
  if (!same_or_empty(u->path.tenant, r->tenant) ||
      !same_or_empty(u->path.database, r->database) ||
      !same_or_empty(u->path.collection, r->collection))
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "batch %llu names another collection: an UpsertStream writes to "
                               "the collection of its first message (leave the names empty "
                               "after it)",
                               (unsigned long long)u->batches);
  return 0;
}

static ProtobufCMessage *encode_ack(const akidb_response_t *resp, rpc_arena_t *ar,
                                    uint64_t batch_id) {
  Akidb__V1__UpsertResponse *full = (void *)rpc_encode_upsert(resp, ar);
  Akidb__V1__UpsertStreamAck *ack = rpc_alloc(ar, sizeof *ack);
  if (!full || !ack) return NULL;
  akidb__v1__upsert_stream_ack__init(ack);
  ack->batch_id = batch_id;
  ack->upserted = full->upserted;
  ack->ids = full->ids;
  ack->n_ids = full->n_ids;
  return &ack->base;
}

/* Writes one batch; SEND with its acknowledgement or FINISH with why not. */
static rpc_step_t upsert_batch(rpc_stream_t *st, upsert_stream_t *u,
                               const Akidb__V1__UpsertStreamRequest *r, rpc_answer_t *out) {
  rpc_arena_t arena = {0};
  rpc_args_t a = {.arena = &arena, .limits = akidb_service_limits(st->svc),
                  .op = AKIDB_OP_POINT_UPSERT};
  akidb_svc_error_t e = {0};
  akidb_request_t req = st->req;
  rpc_path3(&req, u->path.tenant, u->path.database, u->path.collection);
  if (rpc_decode_points(&a, (ProtobufCMessage *const *)r->points, r->n_points, &e)) {
    rpc_answer_error(out, &e);
  } else {
    akidb_response_t resp;
    if (rpc_call_service(st->svc, &req, &a, &resp, out))
      rpc_answer_message(out, encode_ack(&resp, &arena, r->batch_id));
    akidb_response_clear(&resp);
  }
  rpc_arena_free(&arena);
  if (out->code) return RPC_STEP_FINISH;
  u->batches++;
  return RPC_STEP_SEND;
}

static rpc_step_t upsert_stream_step(rpc_stream_t *st, const uint8_t *in, size_t len, bool end,
                                     rpc_answer_t *out) {
  if (end) return RPC_STEP_FINISH; /* every batch acknowledged: OK */
  upsert_stream_t *u = st->state;
  if (!u && !(u = st->state = calloc(1, sizeof *u)))
    return finish_error(out, AKIDB_ST_INTERNAL, "out of memory");
  Akidb__V1__UpsertStreamRequest *r = akidb__v1__upsert_stream_request__unpack(NULL, len, in);
  if (!r) return not_a_message(out, &akidb__v1__upsert_stream_request__descriptor);
  akidb_svc_error_t e = {0};
  rpc_step_t step;
  if (upsert_stream_path(u, r, &e)) {
    rpc_answer_error(out, &e);
    step = RPC_STEP_FINISH;
  } else {
    step = upsert_batch(st, u, r, out);
  }
  akidb__v1__upsert_stream_request__free_unpacked(r, NULL);
  return step;
}

/* -------------------------------------------------------------- Scan -- */

typedef struct {
  stream_path_t path;
  char after[24]; /* the cursor of the next page; "" at the start */
  uint32_t limit;
  bool with_vector, done;
} scan_stream_t;

/* The first step: the request into the state. */
static int scan_open(rpc_stream_t *st, const uint8_t *in, size_t len, akidb_svc_error_t *e) {
  Akidb__V1__ScanRequest *r = akidb__v1__scan_request__unpack(NULL, len, in);
  if (!r)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT, "the request is not a valid %s",
                               akidb__v1__scan_request__descriptor.name);
  scan_stream_t *s = st->state = calloc(1, sizeof *s);
  int rc = 0;
  if (!s) rc = rpc_oom(e);
  else if (r->batch_size > akidb_service_limits(st->svc)->max_batch)
    rc = akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT, "'batch_size' must be 0..%u",
                             akidb_service_limits(st->svc)->max_batch);
  else if (keep(s->path.tenant, sizeof s->path.tenant, r->tenant) ||
           keep(s->path.database, sizeof s->path.database, r->database) ||
           keep(s->path.collection, sizeof s->path.collection, r->collection))
    rc = akidb_svc_error_set(e, AKIDB_ST_NOT_FOUND,
                             "no such collection: a name is longer than any name can be");
  else if (keep(s->after, sizeof s->after, r->after))
    rc = akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                             "'after' must be the 'next' cursor of a previous page of this scan");
  if (!rc) {
    s->limit = r->batch_size;
    s->with_vector = r->with_vector;
  }
  akidb__v1__scan_request__free_unpacked(r, NULL);
  return rc;
}

static ProtobufCMessage *encode_page(const akidb_scan_result_t *p, rpc_arena_t *ar) {
  Akidb__V1__ScanResponse *r = rpc_alloc(ar, sizeof *r);
  Akidb__V1__Point **pts = rpc_alloc(ar, (p->page.n ? p->page.n : 1) * sizeof *pts);
  if (!r || !pts) return NULL;
  akidb__v1__scan_response__init(r);
  for (size_t i = 0; i < p->page.n; i++)
    if (!(pts[i] = rpc_point_of(ar, &p->page.points[i], p->page.dimension))) return NULL;
  r->points = pts;
  r->n_points = p->page.n;
  r->next = rpc_str_of(ar, p->next, strlen(p->next));
  return r->next ? &r->base : NULL;
}

/* Reads the next page: SEND it, or FINISH (the end, or an error). */
static rpc_step_t scan_page(rpc_stream_t *st, scan_stream_t *s, rpc_answer_t *out) {
  rpc_arena_t arena = {0};
  rpc_args_t a = {.arena = &arena, .limits = akidb_service_limits(st->svc),
                  .op = AKIDB_OP_POINT_SCAN};
  a.u.scan = (akidb_scan_args_t){s->after[0] ? s->after : NULL, s->limit, s->with_vector};
  akidb_request_t req = st->req;
  rpc_path3(&req, s->path.tenant, s->path.database, s->path.collection);
  akidb_response_t resp;
  rpc_step_t step = RPC_STEP_FINISH;
  if (rpc_call_service(st->svc, &req, &a, &resp, out)) {
    const akidb_scan_result_t *p = &resp.result.scan;
    snprintf(s->after, sizeof s->after, "%s", p->next);
    s->done = !p->next[0];
    if (p->page.n) { /* an empty collection sends no message at all */
      rpc_answer_message(out, encode_page(p, &arena));
      step = out->code ? RPC_STEP_FINISH : RPC_STEP_SEND;
    }
  }
  akidb_response_clear(&resp);
  rpc_arena_free(&arena);
  return step;
}

static rpc_step_t scan_step(rpc_stream_t *st, const uint8_t *in, size_t len, bool end,
                            rpc_answer_t *out) {
  (void)end;
  akidb_svc_error_t e = {0};
  if (!st->state && scan_open(st, in, len, &e)) {
    rpc_answer_error(out, &e);
    return RPC_STEP_FINISH;
  }
  scan_stream_t *s = st->state;
  return s->done ? RPC_STEP_FINISH : scan_page(st, s, out);
}

/* --------------------------------------------------------- PutUpload -- */

typedef struct {
  stream_path_t path;
  bool named;
  uint8_t *data;
  size_t len, cap;
} upload_stream_t;

static int upload_path(upload_stream_t *u, const Akidb__V1__PutUploadRequest *r,
                       akidb_svc_error_t *e) {
  if (!u->named) {
    if (!*r->tenant || !*r->upload)
      return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                                 "the first message of PutUpload must name tenant and upload");
    if (keep(u->path.tenant, sizeof u->path.tenant, r->tenant) ||
        keep(u->path.upload, sizeof u->path.upload, r->upload))
      return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                                 "the upload's name must be 1..200 characters of A-Z a-z 0-9 "
                                 ". _ -, not starting with '.'");
    u->named = true;
    return 0;
  }
  if (!same_or_empty(u->path.tenant, r->tenant) || !same_or_empty(u->path.upload, r->upload))
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "a later message of PutUpload names another tenant or upload "
                               "(leave them empty after the first)");
  return 0;
}

/* Appends a chunk, within limits.max_body_bytes. */
static int upload_append(rpc_stream_t *st, upload_stream_t *u, ProtobufCBinaryData d,
                         akidb_svc_error_t *e) {
  uint64_t max = akidb_service_limits(st->svc)->max_body_bytes;
  if (d.len > max - u->len)
    return akidb_svc_error_set(e, AKIDB_ST_PAYLOAD_TOO_LARGE,
                               "the upload is larger than limits.max_body_bytes (%llu bytes)",
                               (unsigned long long)max);
  if (u->len + d.len > u->cap) {
    size_t cap = u->cap ? u->cap : 1u << 16;
    while (cap < u->len + d.len) cap *= 2;
    uint8_t *p = realloc(u->data, cap);
    if (!p) return rpc_oom(e);
    u->data = p;
    u->cap = cap;
  }
  if (d.len) memcpy(u->data + u->len, d.data, d.len);
  u->len += d.len;
  return 0;
}

static ProtobufCMessage *encode_upload(const akidb_upload_t *up, rpc_arena_t *ar) {
  Akidb__V1__PutUploadResponse *r = rpc_alloc(ar, sizeof *r);
  char *crc = rpc_alloc(ar, 9);
  if (!r || !crc) return NULL;
  akidb__v1__put_upload_response__init(r);
  snprintf(crc, 9, "%08x", up->crc32c);
  r->name = rpc_str_of(ar, up->name, strlen(up->name));
  r->bytes = up->bytes;
  r->crc32c = crc;
  return r->name ? &r->base : NULL;
}

/* The client closed its side: store the upload. */
static rpc_step_t upload_put(rpc_stream_t *st, upload_stream_t *u, rpc_answer_t *out) {
  if (!u || !u->named)
    return finish_error(out, AKIDB_ST_INVALID_ARGUMENT,
                        "PutUpload received no message: the first names tenant and upload");
  rpc_arena_t arena = {0};
  rpc_args_t a = {.arena = &arena, .limits = akidb_service_limits(st->svc),
                  .op = AKIDB_OP_UPLOAD_PUT};
  a.u.upload_put = (akidb_upload_put_args_t){u->data, u->len};
  akidb_request_t req = st->req;
  req.tenant = u->path.tenant;
  req.upload = u->path.upload;
  akidb_response_t resp;
  if (rpc_call_service(st->svc, &req, &a, &resp, out))
    rpc_answer_message(out, encode_upload(&resp.result.upload, &arena));
  akidb_response_clear(&resp);
  rpc_arena_free(&arena);
  return RPC_STEP_FINISH;
}

static rpc_step_t upload_step(rpc_stream_t *st, const uint8_t *in, size_t len, bool end,
                              rpc_answer_t *out) {
  upload_stream_t *u = st->state;
  if (end) return upload_put(st, u, out);
  if (!u && !(u = st->state = calloc(1, sizeof *u)))
    return finish_error(out, AKIDB_ST_INTERNAL, "out of memory");
  Akidb__V1__PutUploadRequest *r = akidb__v1__put_upload_request__unpack(NULL, len, in);
  if (!r) return not_a_message(out, &akidb__v1__put_upload_request__descriptor);
  akidb_svc_error_t e = {0};
  int rc = upload_path(u, r, &e) || upload_append(st, u, r->data, &e);
  akidb__v1__put_upload_request__free_unpacked(r, NULL);
  if (!rc) return RPC_STEP_MORE;
  rpc_answer_error(out, &e);
  return RPC_STEP_FINISH;
}

static void upload_free(void *state) {
  upload_stream_t *u = state;
  if (u) free(u->data);
  free(u);
}

/* -------------------------------------------------------------- table -- */

#define POINTS "/akidb.v1.PointService/"

const rpc_method_t rpc_stream_methods[] = {
    {POINTS "UpsertStream", AKIDB_OP_POINT_UPSERT, &akidb__v1__upsert_stream_request__descriptor,
     NULL, NULL, RPC_BIDI, upsert_stream_step, free},
    {POINTS "Scan", AKIDB_OP_POINT_SCAN, &akidb__v1__scan_request__descriptor, NULL, NULL,
     RPC_SERVER_STREAM, scan_step, free},
    {"/akidb.v1.UploadService/PutUpload", AKIDB_OP_UPLOAD_PUT,
     &akidb__v1__put_upload_request__descriptor, NULL, NULL, RPC_CLIENT_STREAM, upload_step,
     upload_free},
    RPC_METHODS_END,
};
