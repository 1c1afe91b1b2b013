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

#include "akidb/v1/common.pb-c.h"
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
    akidb_embeddings_args_t embeddings;
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
  RPC_BIDI_EACH,     /* each request one call of the method's unary codec, answered in
                        order; the first error ends the call (SearchStream) */
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

/* A unary method's row: path, operation (AKIDB_OP_<op>), request message
 * (akidb__v1__<msg>__descriptor), decoder, encoder. */
#define RPC_UNARY_METHOD(path, op, msg, dec, enc)                                     \
  {path, AKIDB_OP_##op, &akidb__v1__##msg##__descriptor, dec, enc, RPC_UNARY, NULL, NULL}
/* The row that ends a table. */
#define RPC_METHODS_END {NULL, 0, NULL, NULL, NULL, RPC_UNARY, NULL, NULL}

/* The tables of the codec files, each ended by RPC_METHODS_END. */
extern const rpc_method_t rpc_point_methods[]; /* codec_points.c: health, auth, points */
extern const rpc_method_t rpc_admin_methods[]; /* codec_admin.c: tenants, databases,
                                                  collections, users, keys, audit */
extern const rpc_method_t rpc_data_methods[];  /* codec_data.c: snapshots, uploads, import,
                                                  system */
extern const rpc_method_t rpc_stream_methods[]; /* codec_stream.c: UpsertStream, Scan, PutUpload */

/* The method served at this path ("/akidb.v1.PointService/Upsert"), or
 * NULL (UNIMPLEMENTED). */
const rpc_method_t *rpc_method_find(const char *path, size_t len);

/* The i-th method of all the tables (0-based), or NULL past the last. */
const rpc_method_t *rpc_method_at(size_t i);

/* Unpacks and decodes one request of `m` without calling anything (the
 * decoding of rpc_unary_decode; a streaming method: the unpack only); 0, or
 * -1 with *e set. For the fuzz harness. */
int rpc_codec_decode(const rpc_method_t *m, const akidb_limits_t *limits, const uint8_t *in,
                     size_t len, akidb_svc_error_t *e);

/* A unary call between its decoding and its answer: the request message,
 * the typed arguments and their arena. */
typedef struct {
  akidb_request_t req; /* credentials, request id, source, deadline: set by the server */
  rpc_arena_t arena;
  rpc_args_t a;
  ProtobufCMessage *msg;
} rpc_unary_t;

/* Unpacks and decodes the request of `m` into u (u->req's path members
 * are set; its other members are the caller's); 0, or -1 with the error
 * in `out`. Either way rpc_unary_free releases u. */
int rpc_unary_decode(akidb_service_t *svc, const rpc_method_t *m, const uint8_t *in, size_t len,
                     rpc_unary_t *u, rpc_answer_t *out);

/* Calls the service with the decoded call and encodes the answer into
 * `out` (any thread). */
void rpc_unary_run(akidb_service_t *svc, const rpc_method_t *m, rpc_unary_t *u,
                   rpc_answer_t *out);

/* Frees what decoding kept; the request's tenant goes to out->tenant. */
void rpc_unary_free(rpc_unary_t *u, rpc_answer_t *out);

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

/* Sets the request's path members (tenant, database, collection, username,
 * key_id, snapshot, upload) from the string fields of those names that `m`
 * has ("" → absent). Not for messages where such a field is an argument
 * rather than a path parameter (RestoreSnapshot's target database and
 * collection, Import's upload). */
void rpc_path_in(const ProtobufCMessage *m, akidb_request_t *req);

/* An rpc_decode_fn for requests that carry nothing but their path. */
int rpc_decode_path(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                    akidb_svc_error_t *e);

#define RPC_N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* map[v] when v indexes the n entries of map, else 0 (a proto enum's
 * unspecified): the service's enum values into the contract's. */
static inline int rpc_out(const int *map, size_t n, int v) {
  return v >= 0 && (size_t)v < n ? map[v] : 0;
}

/* v in min..max, or INVALID_ARGUMENT with REST's message ("field 'm' must
 * be an integer in 2..100"). 0 or -1. */
int rpc_in_range(uint64_t v, const char *field, uint64_t min, uint64_t max,
                 akidb_svc_error_t *e);

/* An empty message of type d in the arena (the answer of a delete); NULL
 * when out of memory. */
ProtobufCMessage *rpc_empty(rpc_arena_t *ar, const ProtobufCMessageDescriptor *d);

/* Room for n pointers (at least one) in the arena, zeroed. */
void *rpc_items(rpc_arena_t *ar, size_t n);

/* A NUL-terminated string copied into the arena; NULL when out of memory. */
char *rpc_text(rpc_arena_t *ar, const char *s);

/* A list's `next` in the arena: the cursor's UUID when there is more, else
 * "" (REST's null). */
char *rpc_next_of(rpc_arena_t *ar, bool has_more, const akidb_uuid_t *next);

/*
 * A proto enum's value `v` of field `field` into the service's value: 0
 * (`*_UNSPECIFIED`) leaves *has false; 1..n_map-1 set *has and *out to
 * map[v]; any other value (protobuf-c keeps unknown numbers) is
 * INVALID_ARGUMENT naming the field and its values (from `d`). 0 or -1.
 */
int rpc_enum_in(const ProtobufCEnumDescriptor *d, int v, const char *field, const int *map,
                size_t n_map, bool *has, int *out, akidb_svc_error_t *e);

/* Checks a page's limit (0: the default; above AKIDB_LIST_LIMIT_MAX
 * refused); 0, or -1 with *e set. NULL accepted. */
int rpc_page_limit_in(const Akidb__V1__PageRequest *p, akidb_svc_error_t *e);

/* A PageRequest (NULL: the first page of the default size) into `page`:
 * limit 0 is the default, above AKIDB_LIST_LIMIT_MAX refused; `after` ""
 * or a previous page's `next` (a UUID). 0 or -1 with *e set. */
int rpc_page_in(const Akidb__V1__PageRequest *p, akidb_page_t *page, akidb_svc_error_t *e);

/* Turns off abseil's lock-order tracking for the process (absl_mode.cc,
 * the one C++ file); agrpc_prepare calls it before the core starts. */
void agrpc_lock_tracking_off(void);

#endif /* AKIDB_RPC_INTERNAL_H */
