/*
 * grpc/rpc_internal.h — what the gRPC server (server.c) and its codec
 * share: the per-call arena, the answer of a call, the method tables (one
 * per codec file: codec_points.c, codec_admin.c) and the helpers the codec
 * files have in common (codec.c). Private to src/grpc/.
 */
#ifndef AKIDB_RPC_INTERNAL_H
#define AKIDB_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "akidb/v1/points.pb-c.h"
#include "service/service.h"

/* Memory that lives as long as one call; freed at once. */
typedef struct rpc_block rpc_block_t;
typedef struct {
  rpc_block_t *head;
} rpc_arena_t;

void *rpc_alloc(rpc_arena_t *a, size_t n); /* zeroed; NULL when out of memory */
char *rpc_strndup(rpc_arena_t *a, const char *p, size_t n);
void rpc_arena_free(rpc_arena_t *a);

/* The outcome of one call (or of one message of a stream). */
typedef struct {
  int code;               /* gRPC status code (0 = OK) */
  char message[512];      /* the status details when code != 0 */
  uint32_t retry_after_s; /* RATE_LIMITED: the trailing `retry-after` */
  uint8_t *body;          /* code 0: the packed response (malloc'd) */
  size_t len;
  char tenant[128];       /* the tenant the request named ("" none), for the access log */
} rpc_answer_t;

/* The arguments of one call: the member its operation takes. */
typedef struct {
  rpc_arena_t *arena;
  const akidb_limits_t *limits;
  akidb_op_t op; /* the method's; a decoder may choose another (health) */
  union {
    akidb_no_args_t none;
    akidb_list_args_t list;
    akidb_tenant_create_args_t tenant_create;
    akidb_tenant_update_args_t tenant_update;
    akidb_database_create_args_t database_create;
    akidb_collection_create_args_t collection_create;
    akidb_collection_update_args_t collection_update;
    akidb_login_args_t login;
    akidb_user_create_args_t user_create;
    akidb_user_update_args_t user_update;
    akidb_key_create_args_t key_create;
    akidb_audit_args_t audit;
    akidb_restore_args_t restore;
    akidb_import_args_t import;
    akidb_upload_put_args_t upload_put;
    akidb_dead_letter_args_t dead_letters;
    akidb_upsert_args_t upsert;
    akidb_get_args_t get;
    akidb_ids_args_t ids;
    akidb_scan_args_t scan;
    akidb_search_args_t search;
  } u;
} rpc_args_t;

/* Decodes the unpacked request `m` into a->u and the path members of
 * `req`; 0, or -1 with *e set (nothing called). */
typedef int (*rpc_decode_fn)(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                             akidb_svc_error_t *e);
/* The response message (in the arena), or NULL when out of memory. */
typedef ProtobufCMessage *(*rpc_encode_fn)(const akidb_response_t *r, rpc_arena_t *ar);

/* How the messages of a method flow. */
typedef enum {
  RPC_UNARY,         /* one request, one answer */
  RPC_WATCH,         /* one request, one answer, open until cancelled (Health/Watch) */
  RPC_SERVER_STREAM, /* one request, answers until the step finishes (Scan) */
  RPC_CLIENT_STREAM, /* requests until the client closes, one answer (PutUpload) */
  RPC_BIDI,          /* one answer per request, in order (UpsertStream) */
} rpc_shape_t;

/* A streaming call as its codec sees it. */
typedef struct {
  akidb_service_t *svc;
  akidb_request_t req; /* credentials, request id, source, deadline (the server's) */
  void *state;         /* the method's own, freed by its stream_free */
} rpc_stream_t;

/* What the server does after a step. */
typedef enum {
  RPC_STEP_SEND,   /* send out->body, then: SERVER_STREAM steps again (in = NULL);
                      BIDI receives the next request */
  RPC_STEP_MORE,   /* nothing to send: receive the next request */
  RPC_STEP_FINISH, /* send out->body if any (code 0), then the status out->code */
} rpc_step_t;

/* One step of a streaming call. `in`: the next request message (the first
 * step of a SERVER_STREAM gets its one request; later steps get NULL);
 * `end`: the client closed its side (in is NULL). Writes the answer of the
 * step into `out` (zeroed by the server before each step). */
typedef rpc_step_t (*rpc_step_fn)(rpc_stream_t *st, const uint8_t *in, size_t len, bool end,
                                  rpc_answer_t *out);

/* One method served: its path, operation, request type and codec. */
struct rpc_method {
  const char *path; /* "/akidb.v1.PointService/Upsert"; NULL ends a table */
  akidb_op_t op;
  const ProtobufCMessageDescriptor *in;
  rpc_decode_fn decode; /* unary and watch */
  rpc_encode_fn encode;
  rpc_shape_t shape;
  rpc_step_fn step;                /* streaming shapes */
  void (*stream_free)(void *state); /* streaming shapes; NULL state accepted */
};
typedef struct rpc_method rpc_method_t;

/* The tables of the codec files, each ended by a NULL path. */
extern const rpc_method_t rpc_point_methods[]; /* codec_points.c: health, auth, points */
extern const rpc_method_t rpc_admin_methods[]; /* codec_admin.c: the resource services */
extern const rpc_method_t rpc_stream_methods[]; /* codec_stream.c: UpsertStream, Scan, PutUpload */

/* The method served at this path ("/akidb.v1.PointService/Upsert"), or
 * NULL (UNIMPLEMENTED). */
const rpc_method_t *rpc_method_find(const char *path, size_t len);

/* The i-th method of all the tables (0-based), or NULL past the last. */
const rpc_method_t *rpc_method_at(size_t i);

/* Unpacks and decodes one request of `m` without calling anything (the
 * decoding of rpc_codec_call; a streaming method: the unpack only); 0, or
 * -1 with *e set. For the fuzz harness. */
int rpc_codec_decode(const rpc_method_t *m, const akidb_limits_t *limits, const uint8_t *in,
                     size_t len, akidb_svc_error_t *e);

/* Decodes the request message, calls the service with `req` (credentials
 * and source filled by the caller), encodes the answer into `out`. */
void rpc_codec_call(akidb_service_t *svc, const rpc_method_t *m, akidb_request_t *req,
                    const uint8_t *in, size_t len, rpc_answer_t *out);

/* Calls the service with the decoded arguments `a` (operation a->op):
 * true when it succeeded (*resp holds the result), false with the error in
 * `out`. *resp must be cleared (akidb_response_clear) either way. */
bool rpc_call_service(akidb_service_t *svc, akidb_request_t *req, rpc_args_t *a,
                      akidb_response_t *resp, rpc_answer_t *out);

/* Packs `msg` as the answer (code 0); msg NULL (out of memory while
 * encoding) or no memory to pack: INTERNAL. */
void rpc_answer_message(rpc_answer_t *out, const ProtobufCMessage *msg);

/* Fills `out` with the error of `e` (its gRPC code and message). */
void rpc_answer_error(rpc_answer_t *out, const akidb_svc_error_t *e);

/* ------------------------------------------- helpers of the codec files -- */

/* The UpsertResponse of a points.upsert result. */
ProtobufCMessage *rpc_encode_upsert(const akidb_response_t *resp, rpc_arena_t *ar);

/* A Point message of a point read (vector of `dim` floats if present). */
Akidb__V1__Point *rpc_point_of(rpc_arena_t *ar, const akidb_point_out_t *p, uint32_t dim);

/* Decodes upsert points (PointInput) into a->u.upsert. */
int rpc_decode_points(rpc_args_t *a, ProtobufCMessage *const *points, size_t n,
                      akidb_svc_error_t *e);

/* A grpc.health.v1 HealthCheckResponse (SERVING or NOT_SERVING). */
ProtobufCMessage *rpc_health_answer(rpc_arena_t *ar, bool serving);

/* INTERNAL "out of memory"; returns -1. */
int rpc_oom(akidb_svc_error_t *e);

/* "" (proto3's absent string) → NULL. */
static inline const char *rpc_opt(const char *s) { return s && *s ? s : NULL; }

/* Sets the request's tenant/database/collection path ("" → absent). */
void rpc_path3(akidb_request_t *req, const char *tenant, const char *db, const char *coll);

/* A string as bytes; {NULL, 0} for "" or NULL. */
akidb_bytes_t rpc_bytes_of(const char *s);

/* A NUL-terminated copy of bytes in the arena; "" (static) for p == NULL;
 * NULL when out of memory. */
char *rpc_str_of(rpc_arena_t *ar, const char *p, size_t n);

/* RFC 3339 time as REST shows it, in the arena; "" for 0. */
char *rpc_time_of(rpc_arena_t *ar, int64_t ms);

/* A UUID's text in the arena. */
char *rpc_uuid_of(rpc_arena_t *ar, const akidb_uuid_t *id);

#endif /* AKIDB_RPC_INTERNAL_H */
