/*
 * service/service.h — the service layer: every operation of the product,
 * once. A transport (REST in src/http/, gRPC later) decodes a request into an
 * akidb_request_t (credentials, path parameters and the operation's typed
 * arguments), calls akidb_service_call, and encodes the typed result; no
 * business rule lives in a transport, and no wire format in the service. Each operation runs: validate input → authenticate →
 * authorise (akidb_authorize) → tenant status and quotas → execute → audit.
 *
 * The service owns the catalog, the identity context, every open
 * collection (data under <data_dir>/collections/<collection-uuid>/) and the
 * object store (snapshots; <data_dir>/objects unless configured).
 *
 * Thread safety: akidb_service_call may be called from any number of threads
 * at once; open/close/load are called once by the owning program.
 */
#ifndef AKIDB_SERVICE_H
#define AKIDB_SERVICE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/embed.h"
#include "akidb/auth.h"
#include "akidb/catalog.h"
#include "akidb/objstore.h"
#include "akidb/store.h"

/* ------------------------------------------------------------- status -- */

/*
 * X(name, code, http, grpc): the one table mapping the service's outcome
 * kinds to the wire. The first three are successes (a result; a resource
 * created; done, nothing to return); the rest are errors, whose `code` is
 * the "code" string of a REST error body. `grpc` is the gRPC status code
 * number. An operation names the kind; the transport chooses the wire
 * status from this table.
 */
#define AKIDB_STATUS_MAP(X)                                  \
  X(OK, "ok", 200, 0)                                        \
  X(CREATED, "created", 201, 0)                              \
  X(DONE, "done", 204, 0)                                    \
  X(INVALID_JSON, "invalid_json", 400, 3)                    \
  X(INVALID_ARGUMENT, "invalid_argument", 400, 3)            \
  X(UNAUTHENTICATED, "unauthenticated", 401, 16)             \
  X(PERMISSION_DENIED, "permission_denied", 403, 7)          \
  X(QUOTA_EXCEEDED, "quota_exceeded", 403, 8)                \
  X(NOT_FOUND, "not_found", 404, 5)                          \
  X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, 12)       \
  X(ALREADY_EXISTS, "already_exists", 409, 6)                \
  X(CONFLICT, "conflict", 409, 9)                            \
  X(PAYLOAD_TOO_LARGE, "payload_too_large", 413, 8)          \
  X(UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", 415, 3) \
  X(RATE_LIMITED, "rate_limited", 429, 8)                    \
  X(DEADLINE_EXCEEDED, "deadline_exceeded", 504, 4)          \
  X(INTERNAL, "internal", 500, 13)                           \
  X(UNAVAILABLE, "unavailable", 503, 14)

typedef enum {
#define AKIDB_STATUS_ENUM(name, code, http, grpc) AKIDB_ST_##name,
  AKIDB_STATUS_MAP(AKIDB_STATUS_ENUM)
#undef AKIDB_STATUS_ENUM
      AKIDB_ST_COUNT
} akidb_status_t;

/* Whether `s` is a success (OK, CREATED or DONE). */
static inline int akidb_status_is_ok(akidb_status_t s) { return s <= AKIDB_ST_DONE; }

const char *akidb_status_code(akidb_status_t s); /* "invalid_argument" */
int akidb_status_http(akidb_status_t s);         /* 400 */
int akidb_status_grpc(akidb_status_t s);         /* 3 */

/* An error answer: kind, one sentence saying what to fix, and for
 * RATE_LIMITED the seconds after which a retry may succeed. */
typedef struct {
  akidb_status_t status;
  uint32_t retry_after_s;
  char message[512];
} akidb_svc_error_t;

/* Sets e's status and message (printf format); returns -1 (for `return
 * set(...)` in checks). */
int akidb_svc_error_set(akidb_svc_error_t *e, akidb_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int akidb_svc_error_vset(akidb_svc_error_t *e, akidb_status_t st, const char *fmt, va_list ap);

/* ---------------------------------------------------------- operations -- */

/* X(name, "tenants.create"): every operation, named for logs and metrics. */
#define AKIDB_OP_MAP(X)                            \
  X(HEALTH, "health")                              \
  X(READY, "ready")                                \
  X(LOGIN, "auth.login")                           \
  X(LOGOUT, "auth.logout")                         \
  X(WHOAMI, "auth.whoami")                         \
  X(TENANT_LIST, "tenants.list")                   \
  X(TENANT_CREATE, "tenants.create")               \
  X(TENANT_GET, "tenants.get")                     \
  X(TENANT_UPDATE, "tenants.update")               \
  X(TENANT_DELETE, "tenants.delete")               \
  X(DATABASE_LIST, "databases.list")               \
  X(DATABASE_CREATE, "databases.create")           \
  X(DATABASE_GET, "databases.get")                 \
  X(DATABASE_DELETE, "databases.delete")           \
  X(COLLECTION_LIST, "collections.list")           \
  X(COLLECTION_CREATE, "collections.create")       \
  X(COLLECTION_GET, "collections.get")             \
  X(COLLECTION_UPDATE, "collections.update")       \
  X(COLLECTION_DELETE, "collections.delete")       \
  X(POINT_COUNT, "points.count")                   \
  X(POINT_UPSERT, "points.upsert")                 \
  X(POINT_GET_MANY, "points.get_many")             \
  X(POINT_DELETE, "points.delete")                 \
  X(POINT_GET, "points.get")                       \
  X(POINT_SCAN, "points.scan")                     \
  X(SEARCH, "search")                              \
  X(EMBEDDINGS, "embeddings")                      \
  X(SNAPSHOT_LIST_COLLECTION, "snapshots.list_collection") \
  X(SNAPSHOT_CREATE, "snapshots.create")           \
  X(SNAPSHOT_LIST, "snapshots.list")               \
  X(SNAPSHOT_GET, "snapshots.get")                 \
  X(SNAPSHOT_DELETE, "snapshots.delete")           \
  X(SNAPSHOT_RESTORE, "snapshots.restore")         \
  X(POINT_IMPORT, "points.import")                 \
  X(UPLOAD_LIST, "uploads.list")                   \
  X(UPLOAD_PUT, "uploads.put")                     \
  X(UPLOAD_DELETE, "uploads.delete")               \
  X(USER_LIST, "users.list")                       \
  X(USER_CREATE, "users.create")                   \
  X(USER_GET, "users.get")                         \
  X(USER_UPDATE, "users.update")                   \
  X(USER_DELETE, "users.delete")                   \
  X(KEY_LIST, "keys.list")                         \
  X(KEY_CREATE, "keys.create")                     \
  X(KEY_REVOKE, "keys.revoke")                     \
  X(AUDIT_TENANT, "audit.tenant")                  \
  X(AUDIT_ALL, "audit.all")                        \
  X(SYSTEM_OBJECT_STORE, "system.object_store")    \
  X(SYSTEM_DEAD_LETTERS, "system.dead_letters")

typedef enum {
#define AKIDB_OP_ENUM(name, text) AKIDB_OP_##name,
  AKIDB_OP_MAP(AKIDB_OP_ENUM)
#undef AKIDB_OP_ENUM
      AKIDB_OP_COUNT
} akidb_op_t;

const char *akidb_op_name(akidb_op_t op);

/* One query-string parameter, already percent-decoded. */
typedef struct {
  const char *key;
  const char *value;
} akidb_param_t;


/* ------------------------------------------------ typed operations -- */

/*
 * The typed core: every operation listed in AKIDB_OP_TYPED (all of them)
 * takes its arguments as C values (akidb_request_t.args, the struct named
 * in the second column) and answers with C values (akidb_response_t.result,
 * the member named in the third); each transport's codec turns its wire
 * format into those and back (REST: src/http/codec.c), so the service
 * never sees JSON.
 */
#define AKIDB_OP_TYPED(X)                                  \
  X(HEALTH, akidb_no_args_t, probe)                        \
  X(READY, akidb_no_args_t, probe)                         \
  X(TENANT_LIST, akidb_list_args_t, tenants)               \
  X(TENANT_CREATE, akidb_tenant_create_args_t, tenant)     \
  X(TENANT_GET, akidb_no_args_t, tenant)                   \
  X(TENANT_UPDATE, akidb_tenant_update_args_t, tenant)     \
  X(TENANT_DELETE, akidb_no_args_t, none)                  \
  X(DATABASE_LIST, akidb_list_args_t, databases)           \
  X(DATABASE_CREATE, akidb_database_create_args_t, database) \
  X(DATABASE_GET, akidb_no_args_t, database)               \
  X(DATABASE_DELETE, akidb_no_args_t, none)                \
  X(COLLECTION_LIST, akidb_list_args_t, collections)       \
  X(COLLECTION_CREATE, akidb_collection_create_args_t, collection) \
  X(COLLECTION_GET, akidb_no_args_t, collection)           \
  X(COLLECTION_UPDATE, akidb_collection_update_args_t, collection) \
  X(COLLECTION_DELETE, akidb_no_args_t, none)              \
  X(LOGIN, akidb_login_args_t, login)                      \
  X(LOGOUT, akidb_no_args_t, none)                         \
  X(WHOAMI, akidb_no_args_t, whoami)                       \
  X(USER_LIST, akidb_list_args_t, users)                   \
  X(USER_CREATE, akidb_user_create_args_t, user)           \
  X(USER_GET, akidb_no_args_t, user)                       \
  X(USER_UPDATE, akidb_user_update_args_t, user)           \
  X(USER_DELETE, akidb_no_args_t, none)                    \
  X(KEY_LIST, akidb_list_args_t, keys)                     \
  X(KEY_CREATE, akidb_key_create_args_t, key)              \
  X(KEY_REVOKE, akidb_no_args_t, none)                     \
  X(AUDIT_TENANT, akidb_audit_args_t, audit)               \
  X(AUDIT_ALL, akidb_audit_args_t, audit)                  \
  X(SNAPSHOT_LIST_COLLECTION, akidb_list_args_t, snapshots) \
  X(SNAPSHOT_CREATE, akidb_no_args_t, snapshot)            \
  X(SNAPSHOT_LIST, akidb_list_args_t, snapshots)           \
  X(SNAPSHOT_GET, akidb_no_args_t, snapshot)               \
  X(SNAPSHOT_DELETE, akidb_no_args_t, none)                \
  X(SNAPSHOT_RESTORE, akidb_restore_args_t, restore)       \
  X(POINT_IMPORT, akidb_import_args_t, import)             \
  X(UPLOAD_LIST, akidb_no_args_t, uploads)                 \
  X(UPLOAD_PUT, akidb_upload_put_args_t, upload)           \
  X(UPLOAD_DELETE, akidb_no_args_t, none)                  \
  X(SYSTEM_OBJECT_STORE, akidb_no_args_t, object_store)    \
  X(SYSTEM_DEAD_LETTERS, akidb_dead_letter_args_t, dead_letters) \
  X(POINT_COUNT, akidb_no_args_t, count)                   \
  X(POINT_UPSERT, akidb_upsert_args_t, upsert)             \
  X(POINT_GET, akidb_get_args_t, points)                   \
  X(POINT_GET_MANY, akidb_ids_args_t, points)              \
  X(POINT_DELETE, akidb_ids_args_t, count)                \
  X(POINT_SCAN, akidb_scan_args_t, scan)                   \
  X(SEARCH, akidb_search_args_t, search)                   \
  X(EMBEDDINGS, akidb_embeddings_args_t, embeddings)

/* Bytes that are not NUL-terminated (ids may hold any byte but NUL). */
typedef struct {
  const char *p; /* NULL: absent */
  size_t len;
} akidb_bytes_t;

/* The arguments of an operation that takes none beyond its path. */
typedef struct {
  char unused;
} akidb_no_args_t;

/* A page of a list (REST: the "limit" and "after" query parameters). */
typedef struct {
  akidb_page_t page;
} akidb_list_args_t;

/* Quotas a request sets: only the fields marked present change. */
typedef struct {
  bool present; /* the quotas were sent at all */
  bool has_max_memory_bytes, has_max_storage_bytes, has_max_qps, has_max_collections;
  akidb_quotas_t values;
} akidb_quota_fields_t;

typedef struct {
  const char *slug, *name; /* NULL: absent (both required) */
  bool has_status;         /* absent: active */
  akidb_tenant_status_t status;
  akidb_quota_fields_t quotas;
} akidb_tenant_create_args_t;

typedef struct {
  const char *name; /* NULL: unchanged */
  bool has_status;
  akidb_tenant_status_t status;
  akidb_quota_fields_t quotas;
} akidb_tenant_update_args_t;

typedef struct {
  const char *name; /* NULL: absent (required) */
} akidb_database_create_args_t;

typedef struct {
  const char *tenant;             /* slug; NULL or "": a system admin */
  const char *username, *password; /* NULL: absent (required) */
} akidb_login_args_t;

typedef struct {
  const char *username; /* NULL: absent (required) */
  bool has_role;        /* required */
  akidb_role_t role;
  const char *password; /* NULL: none (API keys only) */
} akidb_user_create_args_t;

typedef struct {
  bool has_role, has_status;
  akidb_role_t role;
  akidb_user_status_t status;
  const char *password; /* NULL: unchanged */
} akidb_user_update_args_t;

typedef struct {
  const char *name;      /* NULL: absent (required) */
  int64_t expires_at_ms; /* 0: never */
} akidb_key_create_args_t;

typedef struct {
  akidb_audit_query_t query; /* the tenant is the path's (audit.tenant) or any (audit.all) */
} akidb_audit_args_t;

typedef struct {
  const char *database, *collection; /* NULL: the snapshot's own */
  bool replace;                      /* over the existing collection */
} akidb_restore_args_t;

/* An import of an uploaded Parquet file into the path's collection. */
typedef struct {
  const char *upload; /* the upload's name (required) */
  const char *id_column, *vector_column, *text_column, *payload_column; /* NULL: found */
  bool has_extra_columns; /* absent: true (other columns go into the payload) */
  bool extra_columns;
} akidb_import_args_t;

typedef struct {
  const void *data; /* the file's bytes */
  size_t len;
} akidb_upload_put_args_t;

typedef struct {
  uint32_t limit;  /* 0: the default */
  int64_t after;   /* 0: from the start; else the `next` of a previous page */
} akidb_dead_letter_args_t;

typedef struct {
  const char *name;   /* NULL: absent (required) */
  uint32_t dimension; /* 0: absent (required) */
  bool has_metric;    /* absent: cosine */
  akidb_metric_t metric;
  bool has_m, has_ef_construction, has_ef_search; /* absent: the defaults */
  uint32_t m, ef_construction, ef_search;
  bool has_bm25_k1, has_bm25_b; /* the text index's BM25 parameters; absent: defaults */
  double bm25_k1, bm25_b;
  const akidb_embed_spec_t *embedding; /* NULL: none (points and queries bring vectors) */
} akidb_collection_create_args_t;

typedef struct {
  bool has_ef_search;
  uint32_t ef_search;
  bool has_tier; /* move it there now */
  akidb_tier_t tier;
  bool has_pin; /* keep it there (or let tiering move it again) */
  bool pinned;
} akidb_collection_update_args_t;

/* A point as a write brings it. */
typedef struct {
  akidb_bytes_t id;      /* absent: the service generates a UUIDv7 */
  const float *vector;   /* n_values finite floats (the service checks the count) */
  uint32_t n_values;
  akidb_bytes_t payload; /* a JSON object as compact text, or absent */
  akidb_bytes_t text;    /* or absent */
} akidb_point_in_t;

typedef struct {
  const akidb_point_in_t *points;
  size_t n;
} akidb_upsert_args_t;

typedef struct {
  akidb_bytes_t id;
  bool with_vector;
} akidb_get_args_t;

typedef struct {
  const akidb_bytes_t *ids;
  size_t n;
  bool with_vector; /* get_many */
} akidb_ids_args_t;

/* One page of an export of a collection's points, in the order they were
 * written (akidb_collection_scan_page). */
typedef struct {
  const char *after; /* a previous page's `next` cursor; NULL: from the start */
  uint32_t limit;    /* points per page, 1..max_batch; 0: AKIDB_SCAN_PAGE_DEFAULT */
  bool with_vector;
} akidb_scan_args_t;

#define AKIDB_SCAN_PAGE_DEFAULT 1000u

/* A scalar of a payload filter. */
typedef enum {
  AKIDB_VALUE_NULL,
  AKIDB_VALUE_BOOL,
  AKIDB_VALUE_NUMBER,
  AKIDB_VALUE_STRING,
} akidb_value_kind_t;

typedef struct {
  akidb_value_kind_t kind;
  bool boolean;
  double number;
  akidb_bytes_t string;
} akidb_value_t;

/* A payload filter: boolean combinations of conditions on dot paths. */
typedef enum {
  AKIDB_FILTER_AND,
  AKIDB_FILTER_OR,
  AKIDB_FILTER_NOT,
  AKIDB_FILTER_EQ,
  AKIDB_FILTER_NE,
  AKIDB_FILTER_GT,
  AKIDB_FILTER_GTE,
  AKIDB_FILTER_LT,
  AKIDB_FILTER_LTE,
  AKIDB_FILTER_IN,
} akidb_filter_op_t;

typedef struct akidb_filter_node {
  akidb_filter_op_t op;
  akidb_bytes_t field;                   /* conditions: "color", "meta.year" */
  const akidb_value_t *values;           /* conditions: 1 value; IN: n_values */
  size_t n_values;
  const struct akidb_filter_node *kids;  /* AND, OR: n_kids; NOT: 1 */
  size_t n_kids;
} akidb_filter_node_t;

/* A query vector. */
typedef struct {
  const float *values;
  uint32_t n;
} akidb_vector_t;

/* How a search ranks: by vector distance (default), by the BM25 score of
 * the points' text (the query is `text`), or both fused (HYBRID). */
typedef enum {
  AKIDB_SEARCH_VECTOR = 0,
  AKIDB_SEARCH_TEXT = 1,
  AKIDB_SEARCH_HYBRID = 2
} akidb_search_mode_t;

/* How HYBRID fuses its two ranked lists (service/fusion.h). */
typedef enum { AKIDB_FUSION_RRF = 0, AKIDB_FUSION_LINEAR = 1 } akidb_fusion_method_t;

typedef struct {
  akidb_fusion_method_t method;
  uint32_t rrf_k;                      /* 0: 60 */
  bool has_weights;                    /* RRF weights; absent: 1 and 1 */
  double weight_vector, weight_text;
  bool has_alpha;                      /* LINEAR: the vector side's share; absent: 0.5 */
  double alpha;
} akidb_fusion_args_t;

typedef struct {
  akidb_search_mode_t mode;
  akidb_bytes_t text;                /* TEXT, HYBRID: the query text (UTF-8); VECTOR: a text
                                        the collection's embedding model turns into the query */
  akidb_fusion_args_t fusion;        /* HYBRID */
  uint32_t candidates;               /* HYBRID: hits taken from each side; 0: max(k, 50) */
  bool explain;                      /* HYBRID: each hit's rank and score on each side */
  const akidb_vector_t *queries;     /* VECTOR */
  size_t n_queries;
  bool batch;                        /* answer per query (REST "vectors") */
  uint32_t k;                        /* 0: 10 */
  uint32_t ef;                       /* 0: the collection's ef_search */
  bool exact;
  bool include_payload, include_vector;
  const akidb_filter_node_t *filter; /* or NULL */
} akidb_search_args_t;

/* A hybrid hit's place on each side (rank 0: that side did not find it). */
typedef struct {
  uint32_t vector_rank, text_rank;
  float distance;   /* vector side */
  float text_score; /* text side (BM25) */
} akidb_hit_explain_t;

/* Search: the hits of each query, nearest first (TEXT, HYBRID: best score
 * first, each hit's `score` set instead of its distance). */
typedef struct {
  akidb_search_result_t *per_query;
  size_t n;
  akidb_search_mode_t mode;
  akidb_hit_explain_t *explain; /* HYBRID with explain: one per hit of per_query[0] */
  bool batch;
  bool include_payload;
  uint32_t dimension;
} akidb_search_results_t;

/* POST /v1/embeddings (the OpenAI embeddings request): `model` is
 * "akidb-builtin-v1" (the built-in embedder, `dimensions` or 1024) or
 * "<database>/<collection>" (that collection's model, in the caller's
 * tenant). */
typedef struct {
  const char *model;            /* NULL: absent (required) */
  const akidb_bytes_t *inputs;  /* UTF-8 texts */
  size_t n;
  bool base64;                  /* encoding_format "base64": the floats' bytes, little-endian */
  uint32_t dimensions;          /* 0: the model's */
} akidb_embeddings_args_t;

typedef struct {
  float *vectors;     /* n × dimension */
  size_t n;
  uint32_t dimension;
  char model[320];    /* as asked */
  uint64_t tokens;    /* usage: the inputs' tokens (the text engine's tokeniser) */
  bool base64;
} akidb_embeddings_result_t;

/* Upsert: the ids of the points written, in request order (generated ones
 * included). */
typedef struct {
  akidb_bytes_t *ids;
  char (*generated)[40]; /* storage of the generated ids */
  size_t n;
} akidb_upsert_result_t;

/* Points read (get, get_many), in request order, and the ids not found. */
typedef struct {
  akidb_point_out_t *points;
  size_t n;
  akidb_bytes_t *missing; /* borrowed from the arguments */
  size_t n_missing;
  uint32_t dimension;     /* of each vector, when asked for */
} akidb_points_result_t;

/* A page of a scan: its points and the cursor of the next page. */
typedef struct {
  akidb_points_result_t page;
  char next[24]; /* "" when nothing is left after this page */
} akidb_scan_result_t;

/* A typed operation's result; which member is set follows the operation
 * (the third column of AKIDB_OP_TYPED). */
/* A database with its tenant's slug (REST shows both). */
typedef struct {
  akidb_database_t db;
  char tenant[AKIDB_SLUG_MAX + 1];
} akidb_database_result_t;

typedef struct {
  akidb_database_list_t list;
  char tenant[AKIDB_SLUG_MAX + 1];
} akidb_databases_result_t;

/* A login: the session's token (shown once; wiped when the response is
 * cleared), its expiry and who it is. */
typedef struct {
  char token[AKIDB_TOKEN_MAX + 1];
  int64_t expires_at_ms;
  akidb_principal_t principal;
  char tenant[AKIDB_SLUG_MAX + 1]; /* "" for a system admin */
} akidb_login_result_t;

typedef struct {
  akidb_principal_t who;
  char tenant[AKIDB_SLUG_MAX + 1]; /* "" for a system admin */
} akidb_whoami_result_t;

typedef struct {
  akidb_user_t user;
  char tenant[AKIDB_SLUG_MAX + 1];
} akidb_user_result_t;

typedef struct {
  akidb_user_list_t list;
  char tenant[AKIDB_SLUG_MAX + 1];
} akidb_users_result_t;

typedef struct {
  akidb_api_key_list_t list;
  char username[AKIDB_USERNAME_MAX + 1];
} akidb_keys_result_t;

/* A new API key: its row and its secret (shown once; wiped when the
 * response is cleared). */
typedef struct {
  akidb_api_key_t key;
  char username[AKIDB_USERNAME_MAX + 1];
  char secret[AKIDB_TOKEN_MAX + 1];
} akidb_key_result_t;

typedef struct {
  akidb_audit_list_t list;
  char tenant[AKIDB_SLUG_MAX + 1]; /* audit.tenant: its slug; audit.all: "" (ids shown) */
} akidb_audit_result_t;

typedef struct {
  akidb_snapshot_t snapshot;
  char tenant[AKIDB_SLUG_MAX + 1];
} akidb_snapshot_result_t;

typedef struct {
  akidb_snapshot_list_t list;
  char tenant[AKIDB_SLUG_MAX + 1];
} akidb_snapshots_result_t;

typedef struct {
  akidb_uuid_t snapshot;
  char database[AKIDB_OBJECT_NAME_MAX + 1], collection[AKIDB_OBJECT_NAME_MAX + 1];
  uint64_t points;
  bool replaced;
} akidb_restore_result_t;

typedef struct {
  char upload[256];
  uint64_t imported;
} akidb_import_result_t;

/* One uploaded file. */
typedef struct {
  char name[256];
  uint64_t bytes;
  int64_t modified_at_ms;
  uint32_t crc32c; /* put only */
} akidb_upload_t;

typedef struct {
  akidb_upload_t *items;
  size_t count;
} akidb_uploads_result_t;

typedef struct {
  char kind[8];
  char endpoint[512]; /* as shown in messages ("http://host:port", "local:/dir") */
  akidb_objstore_stats_t stats;
  uint64_t dead_letters;
} akidb_object_store_result_t;

typedef struct {
  akidb_dead_letter_list_t list;
} akidb_dead_letters_result_t;

/* A collection as GET shows it: its row and where it lives now. */
typedef struct {
  akidb_collection_meta_t meta;
  char tenant[AKIDB_SLUG_MAX + 1];
  char database[AKIDB_OBJECT_NAME_MAX + 1];
  bool resident, cold, failed;
  uint64_t points, pending, memory_bytes, disk_bytes; /* live, or as last seen */
  int64_t last_access_wall_ms;                        /* 0: not since start */
  char load_error[256];                               /* when failed */
} akidb_collection_view_t;

typedef struct {
  akidb_collection_view_t *items;
  size_t count;
  bool has_more;
  akidb_uuid_t next;
} akidb_collections_result_t;

typedef union {
  const char *probe; /* health: "ok"; ready: "ready" */
  uint64_t count; /* count: live points; delete: points deleted */
  akidb_login_result_t login;
  akidb_whoami_result_t whoami;
  akidb_user_result_t user;
  akidb_users_result_t users;
  akidb_keys_result_t keys;
  akidb_key_result_t key;
  akidb_audit_result_t audit;
  akidb_snapshot_result_t snapshot;
  akidb_snapshots_result_t snapshots;
  akidb_restore_result_t restore;
  akidb_import_result_t import;
  akidb_upload_t upload;
  akidb_uploads_result_t uploads;
  akidb_object_store_result_t object_store;
  akidb_dead_letters_result_t dead_letters;
  akidb_collection_view_t collection;
  akidb_collections_result_t collections;
  akidb_tenant_t tenant;
  akidb_tenant_list_t tenants;
  akidb_database_result_t database;
  akidb_databases_result_t databases;
  akidb_upsert_result_t upsert;
  akidb_points_result_t points;
  akidb_scan_result_t scan;
  akidb_search_results_t search;
  akidb_embeddings_result_t embeddings;
} akidb_result_t;

/* Whether `op` is a typed operation. */
bool akidb_op_is_typed(akidb_op_t op);

/* A decoded request. Every pointer may be NULL when absent; all of them need
 * only live during the call. */
typedef struct {
  const char *bearer;     /* the Authorization header's value */
  const char *request_id; /* never NULL in practice: transports generate one */
  const char *source;     /* client address, for login throttling */
  /* Path parameters. */
  const char *tenant;     /* slug */
  const char *database;   /* name */
  const char *collection; /* name */
  const char *username;
  const char *key_id;   /* UUID text */
  const char *snapshot; /* UUID text */
  const char *upload;   /* an upload's name */
  const char *point_id; /* decoded */
  size_t point_id_len;
  const akidb_param_t *query; /* for a transport's codec */
  size_t n_query;
  const void *raw_body; /* an upload's bytes (routes whose body is not JSON), for the codec */
  size_t raw_len;
  const void *args; /* the operation's arguments (AKIDB_OP_TYPED) */
  /* When the caller stops waiting (CLOCK_MONOTONIC, ns; 0: never): past it
   * the operation stops at its next check (before it starts, before an
   * upsert writes, between the queries of a batch search, before an import
   * writes) with AKIDB_ST_DEADLINE_EXCEEDED, writing nothing. gRPC sets it
   * from the call's deadline. */
  int64_t deadline_ns;
} akidb_request_t;

/* Monotonic clock now, in ns (the clock of akidb_request_t.deadline_ns). */
int64_t akidb_monotonic_ns(void);

/* The answer: on success `status` is OK, CREATED or DONE and `result`
 * holds the operation's result (the caller clears it with
 * akidb_response_clear); on failure `status` is the error kind and `error`
 * says why. (The access log names the tenant from the request's `tenant`.) */
typedef struct {
  akidb_op_t op;
  akidb_status_t status; /* a success or an error kind */
  akidb_result_t result; /* on success */
  akidb_svc_error_t error;
} akidb_response_t;

/* ------------------------------------------------------------- limits -- */

/* Request limits, documented in config.example.toml. The transport enforces
 * max_body_bytes and max_json_depth; the service the rest. */
typedef struct {
  uint64_t max_body_bytes;    /* default 64 MiB */
  uint32_t max_json_depth;    /* default 32 */
  uint32_t max_batch;         /* points per upsert, queries per search; default 10000 */
  uint32_t max_k;             /* default 1000 */
  uint32_t max_ef;            /* default 10000 */
  uint32_t max_dimension;     /* default 65536 */
  uint32_t max_id_bytes;      /* point id length; default 256 */
  uint32_t max_filter_depth;  /* default 16 */
  uint64_t max_payload_bytes; /* per point; default 1 MiB */
} akidb_limits_t;

void akidb_limits_default(akidb_limits_t *l);

/* ------------------------------------------------------------ service -- */

typedef struct akidb_service akidb_service_t;

typedef struct {
  const char *data_dir; /* collections under <data_dir>/collections; required */
  const char *db_path;  /* the SQLite catalog; NULL → <data_dir>/akidb.db */
  const char *admin_username; /* first system admin; NULL → "admin" */
  const char *admin_password; /* NULL → generated and reported once */
  akidb_durability_t durability;    /* default FSYNC */
  uint32_t fsync_interval_ms;       /* INTERVAL policy; default 100 */
  uint32_t index_threads;           /* pool workers that may index one collection at once;
                                       0 = all of them (default) */
  uint32_t worker_threads;          /* the worker pool; 0 = one per CPU (default) */
  uint64_t memory_budget_bytes;     /* resident collections beyond it are unloaded, least
                                       recently used first; 0 = unlimited (default) */
  uint32_t warm_after_s;            /* a collection unused this long is unloaded (goes warm);
                                       0 = never; default 600 */
  uint32_t tier_check_ms;           /* how often tiering looks; default 1000 */
  uint32_t cold_after_s;            /* a warm collection unused this long goes to the object
                                       store (cold); 0 = never (default) */
  uint32_t dead_letter_retry_ms;    /* the dead-letter queue is retried this often; 30000 */
  uint64_t max_pending_bytes;       /* per collection: vectors waiting for the graph before
                                       writes wait; default 256 MiB; 0 = unbounded */
  uint32_t backpressure_wait_ms;    /* how long such a write waits before 429; default 1000 */
  akidb_objstore_options_t objstore; /* snapshots and the cold tier; kind NULL or "local"
                                       with no path: <data_dir>/objects (default) */
  int64_t session_ttl_ms;           /* default 12 h */
  uint32_t audit_retention_days;    /* pruned daily; 0 = keep forever (default 90) */
  akidb_limits_t limits;
  const char *embed_allowed_urls; /* comma-separated URL prefixes collections' OpenAI-compatible
                                     embedding providers may use; NULL/"": none (default) */
  uint32_t slow_request_ms; /* calls slower are logged (warn) with their plan and counted in
                               akidb_slow_requests_total; 0: off (the default here) */
  akidb_log_fn log; /* NULL: stderr */
  void *log_ctx;
} akidb_service_options_t;

void akidb_service_options_default(akidb_service_options_t *o);

/* What open did on first start. */
typedef struct {
  bool admin_created;           /* a system admin was bootstrapped */
  char admin_username[65];
  char admin_password[64];      /* "" unless generated (show once) */
} akidb_bootstrap_t;

/*
 * Opens the catalog (applying migrations), the identity context and the
 * worker pool, and bootstraps the system admin when none exists (`boot` may
 * be NULL); the service is ready when this returns. Opens no collection
 * (they load on first use); call akidb_service_load to list them and remove
 * orphaned data. Errors: as
 * akidb_catalog_open, AKIDB_EINVAL (options, named), AKIDB_EIO.
 */
int akidb_service_open(const akidb_service_options_t *o, akidb_service_t **out,
                       akidb_bootstrap_t *boot, char *err, size_t errlen);

/*
 * Lists every collection of the catalog into the registry (unloaded: a
 * collection is opened, and its log replayed, on its first use), loads the
 * ones pinned hot, and removes data directories whose collection no longer
 * exists. The service is ready (catalog open) before this runs; it may run
 * on its own thread while requests are served. `n_loaded` (may be NULL)
 * receives the number of collections listed.
 */
int akidb_service_load(akidb_service_t *svc, size_t *n_loaded, char *err, size_t errlen);

bool akidb_service_ready(akidb_service_t *svc);

/* The service's request limits (a codec words its messages with them). */
const akidb_limits_t *akidb_service_limits(const akidb_service_t *svc);

/*
 * Whether `op` on `req` can be answered without waiting on the disk, the
 * object store or a password hash: the probes, and reads (search, get,
 * get many, count, scan) of a collection that is loaded now. A transport
 * runs such a call on its network thread and hands any other to a worker.
 * A hint only: nothing is authenticated or checked here (the call is), and
 * a collection may unload just after.
 */
bool akidb_service_quick(akidb_service_t *svc, akidb_op_t op, const akidb_request_t *req);

/* Runs one operation. Never fails as a C call: the outcome is in `out`. */
void akidb_service_call(akidb_service_t *svc, akidb_op_t op, const akidb_request_t *req,
                        akidb_response_t *out);

/* Frees what a response's result holds (and wipes secrets in it). */
void akidb_response_clear(akidb_response_t *r);

/* Periodic housekeeping (expired sessions, audit retention); the server calls
 * it about once a minute. */
void akidb_service_tick(akidb_service_t *svc);

/*
 * Checkpoints and closes every collection, then the catalog. Returns the
 * first checkpoint error (everything is closed either way). NULL accepted.
 */
int akidb_service_close(akidb_service_t *svc, char *err, size_t errlen);

/* ------------------------------------------------------------ metrics -- */

/* Per-collection figures for /metrics, visited under the registry lock. */
typedef struct {
  const char *tenant, *database, *collection;
  uint64_t points, pending, memory_bytes, disk_bytes;
  uint64_t wal_fsyncs, wal_fsync_ns; /* totals since open */
  uint64_t checkpoints;
  double last_checkpoint_seconds;
  double checkpoint_age_seconds; /* since the last checkpoint when the log is newer; else 0 */
  bool wal_failed;               /* the log is in sticky failure: writes refused */
} akidb_collection_figures_t;

typedef void (*akidb_figures_fn)(void *ctx, const akidb_collection_figures_t *f);

/* Server-wide residency figures for /metrics. */
typedef struct {
  uint64_t hot, warm, cold, failed; /* collections by tier (warm: on local disk, not
                                       resident; cold: only in the object store) */
  uint64_t dead_letters;        /* object-store work waiting in the dead-letter queue */
  uint64_t resident_bytes;      /* memory of the resident collections, as they count it */
  uint64_t budget_bytes;        /* storage.memory_budget_bytes (0 = unlimited) */
  uint32_t worker_threads;
  uint64_t worker_queued, worker_slices;
  uint64_t data_free_bytes, data_size_bytes; /* the data directory's file system (statvfs;
                                                0 when it cannot be read) */
  bool ready;                                /* what /ready answers */
} akidb_tier_figures_t;
void akidb_service_tier_figures(akidb_service_t *svc, akidb_tier_figures_t *out);
/* The object store's counters and circuit breaker (akidb_objstore_stats). */
void akidb_service_object_store_stats(akidb_service_t *svc, akidb_objstore_stats_t *out);
void akidb_service_visit_collections(akidb_service_t *svc, akidb_figures_fn fn, void *ctx);

#endif /* AKIDB_SERVICE_H */
