/*
 * akidb/catalog.h — the metadata catalog: tenants, databases, collections,
 * users, API keys and the audit log, kept in one SQLite file.
 *
 * Conventions shared by every function below:
 *  - Returns AKIDB_OK (0) or a negative akidb_err_t. Calls that can fail for
 *    a reason the caller must fix take `char *err, size_t errlen`, which
 *    receives one sentence saying what went wrong (`err` may be NULL). The
 *    sentence names the field at fault and never consists of a raw SQLite
 *    message alone.
 *  - Errors common to all calls: AKIDB_EINVAL (bad argument, the message names
 *    the field), AKIDB_ENOMEM, AKIDB_EIO (the catalog file could not be read
 *    or written; the message carries SQLite's text after our own).
 *  - Specific errors: AKIDB_ENOTFOUND ("tenant 'acme' not found"),
 *    AKIDB_EEXIST (which field: "a tenant with slug 'acme' already exists"),
 *    AKIDB_ETRANSITION ("tenant status cannot change from active to
 *    provisioning"), AKIDB_EQUOTA ("quota max_collections exceeded: limit 10,
 *    requested 11"), AKIDB_ECONFLICT (the parent's state forbids the call).
 *  - Structs are plain values with fixed-size text fields; the catalog keeps
 *    no pointer to them. Lists return a malloc'd array the caller releases
 *    with the list's _free function.
 *  - Every mutation takes an optional `const akidb_audit_ctx_t *audit`: when
 *    not NULL, the audit row(s) describing the change are appended in the
 *    same SQLite transaction, so a change and its audit record commit or
 *    vanish together.
 *  - Thread safety: any number of threads may call any function on one
 *    catalog at once. Writes are serialised on one writer connection; reads
 *    use a pool of reader connections and see the last committed state.
 */
#ifndef AKIDB_CATALOG_H
#define AKIDB_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/errors.h"
#include "akidb/index.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ UUID -- */

/* A UUID in its 16-byte binary form (RFC 9562 byte order). */
typedef struct {
  uint8_t bytes[16];
} akidb_uuid_t;

#define AKIDB_UUID_STR_LEN 36 /* "xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx" */

/* Fills buf with n bytes from getrandom(2) (short reads and EINTR retried).
 * Errors: AKIDB_EIO. Used for UUIDs, API keys and session tokens. */
int akidb_random_bytes(uint8_t *buf, size_t n);

/*
 * Generates a UUIDv7: 48-bit Unix milliseconds, version 7, a 12-bit counter
 * and 62 random bits from getrandom(2). Ids made by one process are strictly
 * increasing in byte order, also within one millisecond and when the clock
 * steps back. Thread-safe. Errors: AKIDB_EIO (getrandom failed).
 */
int akidb_uuid_v7(akidb_uuid_t *out);

/*
 * The same kind of id, ordered the same way, for ids that must be unique
 * but need not be unguessable (request ids): the 62 random bits come from a
 * per-thread generator seeded once from getrandom(2), so no system call per
 * id. Thread-safe. Errors: AKIDB_EIO (the first getrandom of the thread).
 */
int akidb_uuid_v7_fast(akidb_uuid_t *out);

/* Writes the canonical lower-case 36-character form plus a NUL into `out`. */
void akidb_uuid_format(const akidb_uuid_t *id, char out[AKIDB_UUID_STR_LEN + 1]);

/* Parses the canonical 36-character form (either case). AKIDB_EINVAL if not. */
int akidb_uuid_parse(const char *text, akidb_uuid_t *out);

/* The Unix time in milliseconds stored in a UUIDv7. */
int64_t akidb_uuid_v7_unix_ms(const akidb_uuid_t *id);

/* memcmp order: <0, 0, >0. For UUIDv7 this is creation order. */
int akidb_uuid_compare(const akidb_uuid_t *a, const akidb_uuid_t *b);

/* True for the all-zero UUID, which the catalog reads as "none / generate". */
bool akidb_uuid_is_nil(const akidb_uuid_t *id);

/* --------------------------------------------------------------- limits -- */

#define AKIDB_SLUG_MIN 3u
#define AKIDB_SLUG_MAX 63u         /* tenant slug: [a-z0-9-]{3,63} */
#define AKIDB_TENANT_NAME_MAX 255u /* bytes of UTF-8, no control characters */
#define AKIDB_OBJECT_NAME_MAX 63u  /* database/collection: [A-Za-z0-9][A-Za-z0-9_-]{0,62} */
#define AKIDB_USERNAME_MAX 64u     /* [a-z0-9][a-z0-9._@-]{0,63} */
#define AKIDB_KEY_NAME_MAX 63u     /* API key label: printable ASCII */
#define AKIDB_EMBEDDING_JSON_MAX 4095u
#define AKIDB_KEY_PREFIX_LEN 16u /* hex characters of a key's public prefix */
#define AKIDB_QUOTA_QPS_MAX 10000000u
#define AKIDB_QUOTA_COLLECTIONS_MAX 1000000u
#define AKIDB_QUOTA_BYTES_MAX 9223372036854775807ull /* INT64_MAX */
#define AKIDB_LIST_LIMIT_DEFAULT 100u
#define AKIDB_LIST_LIMIT_MAX 1000u

/* Validators used by the catalog itself (and by importers that want to
 * report errors before touching it). AKIDB_OK or AKIDB_EINVAL with `err`
 * saying which rule the text breaks. `field` names the field in messages. */
int akidb_check_slug(const char *slug, const char *field, char *err, size_t errlen);
int akidb_check_tenant_name(const char *name, const char *field, char *err, size_t errlen);
int akidb_check_object_name(const char *name, const char *field, char *err, size_t errlen);
int akidb_check_username(const char *name, const char *field, char *err, size_t errlen);

/* --------------------------------------------------------------- enums -- */

typedef enum {
  AKIDB_TENANT_PROVISIONING = 0,
  AKIDB_TENANT_ACTIVE = 1,
  AKIDB_TENANT_SUSPENDED = 2,
  AKIDB_TENANT_DECOMMISSIONED = 3
} akidb_tenant_status_t;
#define AKIDB_TENANT_STATUS_COUNT 4

/*
 * Tenant status transitions (SPEC §1). Legal:
 *   provisioning → active, provisioning → decommissioned (provisioning was
 *   abandoned), active → suspended, suspended → active,
 *   suspended → decommissioned.
 * Everything else is refused, including a change to the same status and any
 * change out of decommissioned (terminal). An active tenant is suspended
 * before it is decommissioned, so its users are locked out first.
 */
bool akidb_tenant_transition_allowed(akidb_tenant_status_t from, akidb_tenant_status_t to);

typedef enum {
  AKIDB_DATABASE_PROVISIONING = 0,
  AKIDB_DATABASE_READY = 1,
  AKIDB_DATABASE_MIGRATING = 2,
  AKIDB_DATABASE_DELETING = 3
} akidb_database_state_t;
#define AKIDB_DATABASE_STATE_COUNT 4

/*
 * Database state transitions. Legal: provisioning → ready,
 * provisioning → deleting, ready → migrating, migrating → ready,
 * ready → deleting. Deleting is terminal (the row is then deleted); a
 * migrating database returns to ready before it can be deleted. A database
 * in state deleting accepts no new collections (AKIDB_ECONFLICT).
 */
bool akidb_database_transition_allowed(akidb_database_state_t from, akidb_database_state_t to);

typedef enum { AKIDB_TIER_HOT = 0, AKIDB_TIER_WARM = 1, AKIDB_TIER_COLD = 2 } akidb_tier_t;

typedef enum {
  AKIDB_ROLE_SYSTEM_ADMIN = 0, /* manages tenants; belongs to no tenant */
  AKIDB_ROLE_ADMIN = 1,        /* everything inside its tenant */
  AKIDB_ROLE_DEVELOPER = 2,    /* databases, collections, points, search */
  AKIDB_ROLE_VIEWER = 3,       /* read and search */
  AKIDB_ROLE_AUDITOR = 4       /* the tenant's audit log */
} akidb_role_t;
#define AKIDB_ROLE_COUNT 5

typedef enum { AKIDB_USER_ACTIVE = 0, AKIDB_USER_DISABLED = 1 } akidb_user_status_t;

/* Names as stored and shown ("provisioning", "ready", "hot", "system-admin",
 * "disabled"); never NULL ("?" for an out-of-range value). The _parse
 * functions accept exactly these names; AKIDB_EINVAL otherwise. */
const char *akidb_tenant_status_name(akidb_tenant_status_t s);
int akidb_tenant_status_parse(const char *name, akidb_tenant_status_t *out);
const char *akidb_database_state_name(akidb_database_state_t s);
int akidb_database_state_parse(const char *name, akidb_database_state_t *out);
const char *akidb_tier_name(akidb_tier_t t);
int akidb_tier_parse(const char *name, akidb_tier_t *out);
const char *akidb_role_name(akidb_role_t r);
int akidb_role_parse(const char *name, akidb_role_t *out);
const char *akidb_user_status_name(akidb_user_status_t s);
int akidb_user_status_parse(const char *name, akidb_user_status_t *out);

/* ------------------------------------------------------------- catalog -- */

typedef struct akidb_catalog akidb_catalog_t;

/* The schema version this build writes; catalogs of a newer one are refused. */
#define AKIDB_CATALOG_SCHEMA_VERSION 5

typedef struct {
  uint32_t readers;         /* reader connections (default 4, 1..64) */
  uint32_t busy_timeout_ms; /* wait for another process's lock (default 5000) */
  bool synchronous_normal;  /* false (default): fsync every commit
                               (synchronous=FULL); true: synchronous=NORMAL
                               (a power cut may lose the last commits, never
                               corrupts) */
} akidb_catalog_options_t;

/* Fills `o` with the defaults above. */
void akidb_catalog_options_default(akidb_catalog_options_t *o);

/*
 * Opens (creating if absent) the catalog at `path`, sets WAL mode, foreign
 * keys and the busy timeout, and applies the embedded schema migrations that
 * the file lacks, all in one transaction. `opt` may be NULL (defaults).
 * Errors: AKIDB_EVERSION (the file was written by a newer AkiDB: its schema
 * version is above AKIDB_CATALOG_SCHEMA_VERSION; the message gives both),
 * AKIDB_EFORMAT (an SQLite file that is not an AkiDB catalog, or not an
 * SQLite file), AKIDB_EIO. On success *out must be closed with
 * akidb_catalog_close.
 */
int akidb_catalog_open(const char *path, const akidb_catalog_options_t *opt, akidb_catalog_t **out,
                       char *err, size_t errlen);

/* Closes every connection and frees the catalog. No call may be in progress
 * and no transaction open (one left open is rolled back). NULL is accepted. */
void akidb_catalog_close(akidb_catalog_t *cat);

/* The schema version recorded in the file (== AKIDB_CATALOG_SCHEMA_VERSION
 * after a successful open). */
int akidb_catalog_schema_version(akidb_catalog_t *cat, int *out);

/*
 * Explicit transaction: between begin and commit/rollback, every catalog call
 * made by the calling thread (reads included) joins one SQLite transaction;
 * other threads' writes wait and their reads see the state before begin.
 * Transactions do not nest, and a thread holds at most one at a time, on one
 * catalog (AKIDB_ECONFLICT). A call that fails inside the
 * transaction undoes only its own changes; the caller decides whether to
 * commit the rest. commit: AKIDB_EIO leaves nothing applied. rollback never
 * fails. Only the thread that called begin may call commit/rollback.
 */
int akidb_catalog_begin(akidb_catalog_t *cat, char *err, size_t errlen);
int akidb_catalog_commit(akidb_catalog_t *cat, char *err, size_t errlen);
void akidb_catalog_rollback(akidb_catalog_t *cat);

/*
 * Catalog-wide key/value settings (e.g. the record of a v1 import). Keys are
 * 1..128 bytes, values up to 64 KiB of text. get: AKIDB_ENOTFOUND when the
 * key is absent, AKIDB_ELIMIT when the value (plus NUL) does not fit in
 * `len` bytes. set replaces any previous value.
 */
int akidb_catalog_meta_get(akidb_catalog_t *cat, const char *key, char *value, size_t len,
                           char *err, size_t errlen);
int akidb_catalog_meta_set(akidb_catalog_t *cat, const char *key, const char *value, char *err,
                           size_t errlen);

/* Cursor pagination shared by every list: items are ordered by id (for
 * UUIDv7 ids, creation order); `after` (when has_after) excludes it and
 * everything before it; `limit` 0 means AKIDB_LIST_LIMIT_DEFAULT, above
 * AKIDB_LIST_LIMIT_MAX is AKIDB_EINVAL. Pass the previous list's `next` as
 * `after` to get the following page. */
typedef struct {
  akidb_uuid_t after;
  bool has_after;
  uint32_t limit;
} akidb_page_t;

/* The audit context of a mutation: who asked, and the request id. */
typedef struct {
  const akidb_uuid_t *actor_id; /* the user acting; NULL for the system */
  const char *actor;            /* display name (username); NULL → "system" */
  const char *request_id;       /* NULL → "" */
} akidb_audit_ctx_t;

/* ------------------------------------------------------------- tenants -- */

/* Quotas; 0 means unlimited for each. */
typedef struct {
  uint64_t max_memory_bytes;  /* 0..AKIDB_QUOTA_BYTES_MAX */
  uint64_t max_storage_bytes; /* 0..AKIDB_QUOTA_BYTES_MAX */
  uint32_t max_qps;           /* 0..AKIDB_QUOTA_QPS_MAX */
  uint32_t max_collections;   /* 0..AKIDB_QUOTA_COLLECTIONS_MAX */
} akidb_quotas_t;

typedef struct {
  akidb_uuid_t id;
  char slug[AKIDB_SLUG_MAX + 1];
  char name[AKIDB_TENANT_NAME_MAX + 1];
  akidb_tenant_status_t status;
  akidb_quotas_t quotas;
  int64_t created_at_ms; /* Unix ms, set at insert, never changes */
  int64_t updated_at_ms; /* Unix ms, moves forward on every update */
} akidb_tenant_t;

typedef struct {
  akidb_tenant_t *items;
  size_t count;
  bool has_more;     /* another page follows */
  akidb_uuid_t next; /* cursor for the next page (last item's id) */
} akidb_tenant_list_t;

/*
 * Creates a tenant from `in`: slug, name, status (the initial status, usually
 * provisioning), quotas; `in->id` nil → a new UUIDv7; `in->created_at_ms` 0
 * → now (importers may keep an older time). On success `out` (may be NULL)
 * receives the stored row. Errors: AKIDB_EINVAL (field named), AKIDB_EEXIST
 * (slug or id taken). Audit: tenant.create.
 */
int akidb_tenant_create(akidb_catalog_t *cat, const akidb_tenant_t *in,
                        const akidb_audit_ctx_t *audit, akidb_tenant_t *out, char *err,
                        size_t errlen);

/* Reads a tenant by id or by slug into the caller's `out` (which may alias
 * `id`/`slug`). AKIDB_ENOTFOUND ("tenant 'acme' not found") when absent. */
int akidb_tenant_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_tenant_t *out, char *err,
                     size_t errlen);
int akidb_tenant_get_by_slug(akidb_catalog_t *cat, const char *slug, akidb_tenant_t *out, char *err,
                             size_t errlen);

/* One page of tenants (see akidb_page_t). `page` may be NULL (first page).
 * On success `out->items` is malloc'd (NULL when count is 0) and belongs to
 * the caller until akidb_tenant_list_free. Errors: AKIDB_EINVAL (limit). */
int akidb_tenant_list(akidb_catalog_t *cat, const akidb_page_t *page, akidb_tenant_list_t *out,
                      char *err, size_t errlen);
/* Frees the items and zeroes the list. NULL and empty lists are accepted. */
void akidb_tenant_list_free(akidb_tenant_list_t *list);

/* Fields to change; NULL / false leaves a field as it is. The slug never
 * changes (it names the tenant in URLs and data paths). */
typedef struct {
  const char *name;
  const akidb_quotas_t *quotas;
  bool set_status;
  akidb_tenant_status_t status;
} akidb_tenant_update_t;

/*
 * Applies `upd` in one transaction. Errors: AKIDB_ENOTFOUND,
 * AKIDB_ETRANSITION (status change not allowed; message "from → to"),
 * AKIDB_EINVAL. Lowering max_collections below the current count is allowed:
 * existing collections stay, new ones are refused. Audit: tenant.update
 * (name), tenant.quota_change (old and new quotas), tenant.status_change
 * (from, to) — one row per kind of change.
 */
int akidb_tenant_update(akidb_catalog_t *cat, const akidb_uuid_t *id,
                        const akidb_tenant_update_t *upd, const akidb_audit_ctx_t *audit,
                        akidb_tenant_t *out, char *err, size_t errlen);

/*
 * Deletes a tenant (any status) with its databases, collections, users, API
 * keys and sessions (ON DELETE CASCADE). When `removed` is not NULL it
 * receives a malloc'd array (free() it; NULL when *n_removed is 0) of the ids
 * of the collections that were removed, so the storage layer can delete their
 * data; it is filled only when the delete committed. Audit rows stay (the
 * log outlives the tenant). Errors: AKIDB_ENOTFOUND. Audit: tenant.delete.
 */
int akidb_tenant_delete(akidb_catalog_t *cat, const akidb_uuid_t *id,
                        const akidb_audit_ctx_t *audit, akidb_uuid_t **removed, size_t *n_removed,
                        char *err, size_t errlen);

/* Number of collections in all databases of a tenant. */
int akidb_tenant_collection_count(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                                  uint64_t *out, char *err, size_t errlen);

/* ----------------------------------------------------------- databases -- */

typedef struct {
  akidb_uuid_t id;
  akidb_uuid_t tenant_id;
  char name[AKIDB_OBJECT_NAME_MAX + 1];
  akidb_database_state_t state;
  int64_t created_at_ms;
  int64_t updated_at_ms;
} akidb_database_t;

typedef struct {
  akidb_database_t *items;
  size_t count;
  bool has_more;
  akidb_uuid_t next;
} akidb_database_list_t;

/*
 * Creates a database in tenant `in->tenant_id` with `in->name` and initial
 * `in->state` (provisioning or ready); id nil → new UUIDv7; created_at_ms 0
 * → now. Errors: AKIDB_ENOTFOUND (tenant), AKIDB_EEXIST (name taken in the
 * tenant), AKIDB_ECONFLICT (tenant decommissioned). Audit: database.create.
 */
int akidb_database_create(akidb_catalog_t *cat, const akidb_database_t *in,
                          const akidb_audit_ctx_t *audit, akidb_database_t *out, char *err,
                          size_t errlen);
/* Reads a database by id, or by name within a tenant, into `out`.
 * AKIDB_ENOTFOUND when absent. */
int akidb_database_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_database_t *out,
                       char *err, size_t errlen);
int akidb_database_get_by_name(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                               const char *name, akidb_database_t *out, char *err, size_t errlen);
/* One page of the databases of one tenant (an unknown tenant gives an
 * empty page); ownership as akidb_tenant_list. */
int akidb_database_list(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                        const akidb_page_t *page, akidb_database_list_t *out, char *err,
                        size_t errlen);
void akidb_database_list_free(akidb_database_list_t *list);

typedef struct {
  const char *name; /* rename (unique in the tenant) */
  bool set_state;
  akidb_database_state_t state;
} akidb_database_update_t;

/* Errors: AKIDB_ENOTFOUND, AKIDB_EEXIST (name), AKIDB_ETRANSITION.
 * Audit: database.update. */
int akidb_database_update(akidb_catalog_t *cat, const akidb_uuid_t *id,
                          const akidb_database_update_t *upd, const akidb_audit_ctx_t *audit,
                          akidb_database_t *out, char *err, size_t errlen);

/* Deletes a database and its collections; `removed` as for tenants.
 * Errors: AKIDB_ENOTFOUND. Audit: database.delete. */
int akidb_database_delete(akidb_catalog_t *cat, const akidb_uuid_t *id,
                          const akidb_audit_ctx_t *audit, akidb_uuid_t **removed, size_t *n_removed,
                          char *err, size_t errlen);

/* --------------------------------------------------------- collections -- */

#define AKIDB_OBJECT_KEY_MAX 1024u   /* bytes of an object key kept in the catalog */
#define AKIDB_OBJECT_ERROR_MAX 1024u /* bytes of a stored error message */

/* How a collection moves between tiers. */
typedef struct {
  bool pinned;           /* true: stays in its tier (set by the pin API) */
  uint32_t warm_after_s; /* idle seconds before hot → warm; 0 = never */
  uint32_t cold_after_s; /* idle seconds before warm → cold; 0 = never */
} akidb_tier_policy_t;

typedef struct {
  akidb_uuid_t id;
  akidb_uuid_t database_id;
  akidb_uuid_t tenant_id; /* filled on read (the database's tenant) */
  char name[AKIDB_OBJECT_NAME_MAX + 1];
  uint32_t dimension; /* AKIDB_DIM_MIN..AKIDB_DIM_MAX */
  akidb_metric_t metric;
  uint32_t hnsw_m;                                   /* AKIDB_HNSW_M_MIN..MAX */
  uint32_t hnsw_ef_construction;                     /* AKIDB_HNSW_EF_CONSTRUCTION_MIN..MAX, >= m */
  uint32_t hnsw_ef_search;                           /* AKIDB_HNSW_EF_SEARCH_MIN..MAX */
  char embedding_json[AKIDB_EMBEDDING_JSON_MAX + 1]; /* JSON object, "" = none */
  double bm25_k1, bm25_b; /* the text index's parameters (AKIDB_TEXT_BM25_*) */
  akidb_tier_t tier;
  akidb_tier_policy_t tier_policy;
  char cold_manifest[AKIDB_OBJECT_KEY_MAX + 1]; /* "" = data on local disk; else its manifest object
                                   (akidb_collection_meta_set_cold) */
  int64_t created_at_ms;
  int64_t updated_at_ms;
} akidb_collection_meta_t;

typedef struct {
  akidb_collection_meta_t *items;
  size_t count;
  bool has_more;
  akidb_uuid_t next;
} akidb_collection_meta_list_t;

/* Fills the index parameters with the AKIDB_HNSW_*_DEFAULT values, tier hot,
 * no embedding, policy not pinned and never moving. */
void akidb_collection_meta_defaults(akidb_collection_meta_t *c);

/*
 * Creates a collection in database `in->database_id`. Checks, in this order:
 * fields (AKIDB_EINVAL naming the field and range), the database exists
 * (AKIDB_ENOTFOUND) and is not being deleted and its tenant is not
 * decommissioned (AKIDB_ECONFLICT), the tenant's max_collections quota
 * (AKIDB_EQUOTA: "quota max_collections exceeded: limit L, requested L+1"),
 * name unique in the database (AKIDB_EEXIST). Audit: collection.create.
 */
int akidb_collection_meta_create(akidb_catalog_t *cat, const akidb_collection_meta_t *in,
                                 const akidb_audit_ctx_t *audit, akidb_collection_meta_t *out,
                                 char *err, size_t errlen);
/* Reads a collection by id, or by name within a database, into `out`
 * (tenant_id filled from its database). AKIDB_ENOTFOUND when absent. */
int akidb_collection_meta_get(akidb_catalog_t *cat, const akidb_uuid_t *id,
                              akidb_collection_meta_t *out, char *err, size_t errlen);
int akidb_collection_meta_get_by_name(akidb_catalog_t *cat, const akidb_uuid_t *database_id,
                                      const char *name, akidb_collection_meta_t *out, char *err,
                                      size_t errlen);
/* One page of the collections of one database, or of every database when
 * `database_id` is NULL (the storage layer's start-up scan, e.g. to find
 * data directories whose collection no longer exists after a crash between
 * a delete's commit and the removal of its data). Ownership as
 * akidb_tenant_list. */
int akidb_collection_meta_list(akidb_catalog_t *cat, const akidb_uuid_t *database_id,
                               const akidb_page_t *page, akidb_collection_meta_list_t *out,
                               char *err, size_t errlen);
void akidb_collection_meta_list_free(akidb_collection_meta_list_t *list);

/* Mutable fields (dimension, metric, m and ef_construction are fixed once the
 * index exists). NULL / false leaves a field unchanged; embedding_json ""
 * removes the embedding configuration. */
typedef struct {
  const char *name;
  bool set_ef_search;
  uint32_t ef_search;
  const char *embedding_json;
  bool set_tier;
  akidb_tier_t tier;
  const akidb_tier_policy_t *tier_policy;
} akidb_collection_meta_update_t;

/* Errors: AKIDB_ENOTFOUND, AKIDB_EEXIST (name), AKIDB_EINVAL.
 * Audit: collection.update, and collection.tier_change (from, to, policy)
 * when the tier or its policy changes. */
int akidb_collection_meta_update(akidb_catalog_t *cat, const akidb_uuid_t *id,
                                 const akidb_collection_meta_update_t *upd,
                                 const akidb_audit_ctx_t *audit, akidb_collection_meta_t *out,
                                 char *err, size_t errlen);

/* Deletes one collection; `removed` as for tenants (one id).
 * Errors: AKIDB_ENOTFOUND. Audit: collection.delete. */
int akidb_collection_meta_delete(akidb_catalog_t *cat, const akidb_uuid_t *id,
                                 const akidb_audit_ctx_t *audit, akidb_uuid_t **removed,
                                 size_t *n_removed, char *err, size_t errlen);

/* Marks a collection cold: its data lives only in the object store, under
 * the manifest object `manifest_key` (1..AKIDB_OBJECT_KEY_MAX bytes); NULL
 * marks it local again. Call it only once the upload is confirmed (going
 * cold) or the download is complete (coming back). Errors: AKIDB_ENOTFOUND,
 * AKIDB_EINVAL. No audit row: the tier change is audited by the caller. */
int akidb_collection_meta_set_cold(akidb_catalog_t *cat, const akidb_uuid_t *id,
                                   const char *manifest_key, char *err, size_t errlen);

/* ----------------------------------------------------------- snapshots -- */

typedef enum {
  AKIDB_SNAPSHOT_CREATING = 0, /* being written to the object store */
  AKIDB_SNAPSHOT_READY = 1,    /* complete: its manifest is uploaded */
  AKIDB_SNAPSHOT_FAILED = 2,   /* the upload failed; `error` says why */
  AKIDB_SNAPSHOT_STATE_COUNT
} akidb_snapshot_state_t;
const char *akidb_snapshot_state_name(akidb_snapshot_state_t s);

/* A snapshot of a collection, owned by the collection's tenant: it outlives
 * the collection (and is removed with the tenant). */
typedef struct {
  akidb_uuid_t id;
  akidb_uuid_t tenant_id;
  akidb_uuid_t collection_id;                       /* the source, maybe deleted since */
  char database_name[AKIDB_OBJECT_NAME_MAX + 1];    /* the source's names when taken */
  char collection_name[AKIDB_OBJECT_NAME_MAX + 1];
  akidb_snapshot_state_t state;
  uint64_t log_seq; /* the collection's log position it holds */
  uint64_t points;
  uint64_t bytes;   /* of every object, manifest included */
  char manifest_key[AKIDB_OBJECT_KEY_MAX + 1];
  char error[AKIDB_OBJECT_ERROR_MAX + 1]; /* FAILED: why; else "" */
  int64_t created_at_ms;
  int64_t updated_at_ms;
} akidb_snapshot_t;

typedef struct {
  akidb_snapshot_t *items;
  size_t count;
  bool has_more;
  akidb_uuid_t next;
} akidb_snapshot_list_t;

/* Records a snapshot being created (state CREATING; id nil → new UUIDv7).
 * Errors: AKIDB_EINVAL (names, key), AKIDB_ENOTFOUND (tenant), AKIDB_ECONFLICT
 * (tenant decommissioned). No audit row: the caller audits the outcome
 * (snapshot.create) once it is known. */
int akidb_snapshot_create(akidb_catalog_t *cat, const akidb_snapshot_t *in,
                          akidb_snapshot_t *out, char *err, size_t errlen);
/* Ends a CREATING snapshot: READY with its log position, point and byte
 * counts, or FAILED with `error`. Errors: AKIDB_ENOTFOUND, AKIDB_ETRANSITION
 * (not CREATING), AKIDB_EINVAL. */
int akidb_snapshot_finish(akidb_catalog_t *cat, const akidb_uuid_t *id,
                          akidb_snapshot_state_t state, uint64_t log_seq, uint64_t points,
                          uint64_t bytes, const char *error, akidb_snapshot_t *out, char *err,
                          size_t errlen);
/* Reads one snapshot. AKIDB_ENOTFOUND when absent. */
int akidb_snapshot_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_snapshot_t *out,
                       char *err, size_t errlen);
/* One page of a tenant's snapshots, oldest first; of one source collection
 * only when `collection_id` is not NULL. Ownership as akidb_tenant_list. */
int akidb_snapshot_list(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                        const akidb_uuid_t *collection_id, const akidb_page_t *page,
                        akidb_snapshot_list_t *out, char *err, size_t errlen);
void akidb_snapshot_list_free(akidb_snapshot_list_t *list);
/* Deletes a snapshot's row (its objects are the caller's: delete them
 * first, or queue them). Errors: AKIDB_ENOTFOUND. Audit: snapshot.delete. */
int akidb_snapshot_delete(akidb_catalog_t *cat, const akidb_uuid_t *id,
                          const akidb_audit_ctx_t *audit, char *err, size_t errlen);

/* ---------------------------------------------------- dead-letter queue -- */

typedef enum {
  AKIDB_DEAD_LETTER_COLD_UPLOAD = 0,   /* a collection's move to the cold tier */
  AKIDB_DEAD_LETTER_OBJECT_DELETE = 1, /* an object (or prefix) to delete */
  AKIDB_DEAD_LETTER_KIND_COUNT
} akidb_dead_letter_kind_t;
const char *akidb_dead_letter_kind_name(akidb_dead_letter_kind_t k);

/* Work on the object store that exhausted its retries, kept until it
 * succeeds: one entry per (kind, object key). */
typedef struct {
  int64_t seq;                 /* ascending, never reused */
  akidb_dead_letter_kind_t kind;
  akidb_uuid_t collection_id;  /* when has_collection */
  bool has_collection;
  char object_key[AKIDB_OBJECT_KEY_MAX + 1];
  uint32_t attempts;
  char last_error[AKIDB_OBJECT_ERROR_MAX + 1];
  int64_t created_at_ms;
  int64_t next_attempt_at_ms;  /* not retried before */
} akidb_dead_letter_t;

typedef struct {
  akidb_dead_letter_t *items;
  size_t count;
  bool has_more;
  int64_t next_seq; /* cursor for the next page */
} akidb_dead_letter_list_t;

/* Queues work (attempts 1), or, when (kind, object_key) is queued already,
 * counts one more attempt and replaces its error and next attempt time.
 * `collection_id` may be NULL; `error` is cut to AKIDB_OBJECT_ERROR_MAX
 * bytes. *seq_out (may be NULL) receives the entry's seq. */
int akidb_dead_letter_put(akidb_catalog_t *cat, akidb_dead_letter_kind_t kind,
                          const akidb_uuid_t *collection_id, const char *object_key,
                          const char *error, int64_t next_attempt_at_ms, int64_t *seq_out,
                          char *err, size_t errlen);
/* A page of entries by seq (cursor: the previous page's next_seq; 0 first);
 * with `due_before_ms` > 0 only those whose next attempt is before it.
 * Ownership as akidb_tenant_list. */
int akidb_dead_letter_list(akidb_catalog_t *cat, int64_t due_before_ms, int64_t cursor,
                           uint32_t limit, akidb_dead_letter_list_t *out, char *err,
                           size_t errlen);
void akidb_dead_letter_list_free(akidb_dead_letter_list_t *list);
/* Removes an entry once its work succeeded (absent: AKIDB_OK); by seq, or
 * by kind and object key. */
int akidb_dead_letter_remove(akidb_catalog_t *cat, int64_t seq, char *err, size_t errlen);
int akidb_dead_letter_remove_key(akidb_catalog_t *cat, akidb_dead_letter_kind_t kind,
                                 const char *object_key, char *err, size_t errlen);
/* Makes every entry due now (at start: no work of a previous process is
 * still running). */
int akidb_dead_letter_all_due(akidb_catalog_t *cat, char *err, size_t errlen);
/* Entries queued (the queue's depth). */
int akidb_dead_letter_count(akidb_catalog_t *cat, uint64_t *out, char *err, size_t errlen);

/* --------------------------------------------------------------- users -- */

typedef struct {
  akidb_uuid_t id;
  akidb_uuid_t tenant_id; /* meaningful when has_tenant */
  bool has_tenant;        /* false exactly for system admins */
  char username[AKIDB_USERNAME_MAX + 1];
  akidb_role_t role;
  akidb_user_status_t status;
  bool has_password; /* false: cannot log in until a password is set */
  int64_t created_at_ms;
  int64_t updated_at_ms;
} akidb_user_t;

typedef struct {
  akidb_user_t *items;
  size_t count;
  bool has_more;
  akidb_uuid_t next;
} akidb_user_list_t;

#define AKIDB_PASSWORD_HASH_MAX 255u /* encoded Argon2 hash, see akidb/auth.h */

/*
 * Stores a user. `in`: tenant (has_tenant false only with role
 * system-admin, and system-admin only without a tenant), username (unique in
 * the tenant; system-admin usernames unique among system admins), role,
 * status, id nil → new UUIDv7. `password_hash` is an encoded Argon2id hash
 * (akidb_password_hash) or NULL (no password). Most callers want
 * akidb_auth_user_create, which hashes a plain password. Errors:
 * AKIDB_ENOTFOUND (tenant), AKIDB_EEXIST (username), AKIDB_EINVAL,
 * AKIDB_ECONFLICT (tenant decommissioned). Audit: user.create.
 */
int akidb_user_create(akidb_catalog_t *cat, const akidb_user_t *in, const char *password_hash,
                      const akidb_audit_ctx_t *audit, akidb_user_t *out, char *err, size_t errlen);
/* Reads a user by id into `out` (the password hash is never returned).
 * AKIDB_ENOTFOUND when absent. */
int akidb_user_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_user_t *out, char *err,
                   size_t errlen);
/* Reads a user by username within a tenant; `tenant_id` NULL looks among
 * system admins. AKIDB_ENOTFOUND when absent. */
int akidb_user_get_by_name(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id,
                           const char *username, akidb_user_t *out, char *err, size_t errlen);
/* One page of the users of a tenant, or of the system admins when
 * `tenant_id` is NULL. Ownership as akidb_tenant_list. */
int akidb_user_list(akidb_catalog_t *cat, const akidb_uuid_t *tenant_id, const akidb_page_t *page,
                    akidb_user_list_t *out, char *err, size_t errlen);
void akidb_user_list_free(akidb_user_list_t *list);

typedef struct {
  bool set_role;
  akidb_role_t role; /* a tenant user cannot become system-admin, nor back */
  bool set_status;
  akidb_user_status_t status;
  const char *password_hash; /* encoded hash; see akidb_auth_set_password */
} akidb_user_update_t;

/* Applies `upd` in one transaction. Errors: AKIDB_ENOTFOUND, AKIDB_EINVAL
 * (including a change to or from system-admin), AKIDB_ECONFLICT (disabling
 * the last active system admin). Disabling a user or changing its role or
 * password takes effect for cached credentials at once (see akidb/auth.h).
 * A password change also ends the user's sessions.
 * Audit: user.role_change (from, to), user.update (status, password). */
int akidb_user_update(akidb_catalog_t *cat, const akidb_uuid_t *id, const akidb_user_update_t *upd,
                      const akidb_audit_ctx_t *audit, akidb_user_t *out, char *err, size_t errlen);

/* Deletes a user with its API keys and sessions. Errors: AKIDB_ENOTFOUND,
 * AKIDB_ECONFLICT (the last active system admin). Audit: user.delete. */
int akidb_user_delete(akidb_catalog_t *cat, const akidb_uuid_t *id, const akidb_audit_ctx_t *audit,
                      char *err, size_t errlen);

/* ------------------------------------------------------------ API keys -- */

/* An API key's record; its secret is never stored (only its SHA-256). */
typedef struct {
  akidb_uuid_t id;
  akidb_uuid_t user_id;
  akidb_uuid_t tenant_id; /* the user's tenant, when has_tenant */
  bool has_tenant;
  char name[AKIDB_KEY_NAME_MAX + 1];
  char prefix[AKIDB_KEY_PREFIX_LEN + 1]; /* public part, shown in listings */
  int64_t created_at_ms;
  int64_t last_used_ms;  /* 0 = never; refreshed when resolved from the catalog */
  int64_t expires_at_ms; /* 0 = never */
  int64_t revoked_at_ms; /* 0 = not revoked */
} akidb_api_key_t;

typedef struct {
  akidb_api_key_t *items;
  size_t count;
  bool has_more;
  akidb_uuid_t next;
} akidb_api_key_list_t;

/* One page of the keys of one user (`user_id`), or of every user of a
 * tenant (`user_id` NULL, `tenant_id` set), revoked ones included; both NULL
 * is AKIDB_EINVAL. Ownership as akidb_tenant_list. Creation and revocation
 * are in akidb/auth.h. */
int akidb_api_key_list(akidb_catalog_t *cat, const akidb_uuid_t *user_id,
                       const akidb_uuid_t *tenant_id, const akidb_page_t *page,
                       akidb_api_key_list_t *out, char *err, size_t errlen);
void akidb_api_key_list_free(akidb_api_key_list_t *list);
/* Reads one key's record. AKIDB_ENOTFOUND when absent. */
int akidb_api_key_get(akidb_catalog_t *cat, const akidb_uuid_t *id, akidb_api_key_t *out, char *err,
                      size_t errlen);

/* ----------------------------------------------------------- audit log -- */

/* Audit action types. Stored by name ("tenant.create"). */
typedef enum {
  AKIDB_AUDIT_LOGIN_SUCCESS = 0,      /* login.success */
  AKIDB_AUDIT_LOGIN_FAILURE,          /* login.failure */
  AKIDB_AUDIT_LOGOUT,                 /* logout */
  AKIDB_AUDIT_TENANT_CREATE,          /* tenant.create */
  AKIDB_AUDIT_TENANT_UPDATE,          /* tenant.update */
  AKIDB_AUDIT_TENANT_DELETE,          /* tenant.delete */
  AKIDB_AUDIT_TENANT_STATUS_CHANGE,   /* tenant.status_change */
  AKIDB_AUDIT_TENANT_QUOTA_CHANGE,    /* tenant.quota_change */
  AKIDB_AUDIT_DATABASE_CREATE,        /* database.create */
  AKIDB_AUDIT_DATABASE_UPDATE,        /* database.update */
  AKIDB_AUDIT_DATABASE_DELETE,        /* database.delete */
  AKIDB_AUDIT_COLLECTION_CREATE,      /* collection.create */
  AKIDB_AUDIT_COLLECTION_UPDATE,      /* collection.update */
  AKIDB_AUDIT_COLLECTION_DELETE,      /* collection.delete */
  AKIDB_AUDIT_COLLECTION_TIER_CHANGE, /* collection.tier_change */
  AKIDB_AUDIT_USER_CREATE,            /* user.create */
  AKIDB_AUDIT_USER_UPDATE,            /* user.update */
  AKIDB_AUDIT_USER_DELETE,            /* user.delete */
  AKIDB_AUDIT_USER_ROLE_CHANGE,       /* user.role_change */
  AKIDB_AUDIT_APIKEY_CREATE,          /* apikey.create */
  AKIDB_AUDIT_APIKEY_REVOKE,          /* apikey.revoke */
  AKIDB_AUDIT_SNAPSHOT_CREATE,        /* snapshot.create */
  AKIDB_AUDIT_SNAPSHOT_RESTORE,       /* snapshot.restore */
  AKIDB_AUDIT_SNAPSHOT_DELETE,        /* snapshot.delete */
  AKIDB_AUDIT_ACCESS_DENIED,          /* access.denied (an authorisation refusal) */
  AKIDB_AUDIT_LOG_PRUNE,              /* audit.prune */
  AKIDB_AUDIT_CATALOG_IMPORT,         /* catalog.import (akidb migrate v1-to-v2) */
  AKIDB_AUDIT_ACTION_COUNT
} akidb_audit_action_t;

const char *akidb_audit_action_name(akidb_audit_action_t a);
int akidb_audit_action_parse(const char *name, akidb_audit_action_t *out);

typedef enum {
  AKIDB_AUDIT_SUCCESS = 0,
  AKIDB_AUDIT_FAILURE = 1, /* the operation was attempted and failed */
  AKIDB_AUDIT_DENIED = 2   /* refused by authorisation, quota or rate limit */
} akidb_audit_outcome_t;
const char *akidb_audit_outcome_name(akidb_audit_outcome_t o);

#define AKIDB_AUDIT_ACTOR_MAX 128u
#define AKIDB_AUDIT_TARGET_MAX 255u
#define AKIDB_REQUEST_ID_MAX 128u
#define AKIDB_AUDIT_DETAILS_MAX 4095u

typedef struct {
  int64_t seq;           /* position in the log: ascending, never reused */
  int64_t time_ms;       /* Unix ms */
  akidb_uuid_t actor_id; /* when has_actor */
  bool has_actor;
  char actor[AKIDB_AUDIT_ACTOR_MAX + 1]; /* username, attempted username, "system" */
  akidb_uuid_t tenant_id;                /* when has_tenant */
  bool has_tenant;
  akidb_audit_action_t action;
  char target[AKIDB_AUDIT_TARGET_MAX + 1]; /* "tenant/acme", "collection/acme/main/docs" */
  akidb_audit_outcome_t outcome;
  char request_id[AKIDB_REQUEST_ID_MAX + 1];
  char details[AKIDB_AUDIT_DETAILS_MAX + 1]; /* a JSON object */
} akidb_audit_entry_t;

typedef struct {
  akidb_audit_entry_t *items;
  size_t count;
  bool has_more;
  int64_t next_seq; /* cursor for the next page */
} akidb_audit_list_t;

/*
 * Appends one entry (its seq is assigned; `seq_out` may be NULL). time_ms 0
 * → now. details "" → "{}"; otherwise it must be a JSON object
 * (AKIDB_EINVAL). Used by the service layer for what the catalog does not
 * record itself: logins (akidb/auth.h does), denials, snapshots.
 */
int akidb_audit_append(akidb_catalog_t *cat, const akidb_audit_entry_t *e, int64_t *seq_out,
                       char *err, size_t errlen);

/* Filters; NULL / false / 0 means "any". */
typedef struct {
  const akidb_uuid_t *tenant_id;
  const akidb_uuid_t *actor_id;
  const char *actor; /* actor display name, exact */
  bool by_action;
  akidb_audit_action_t action;
  int64_t from_ms;   /* time_ms >= from_ms (0: no bound) */
  int64_t to_ms;     /* time_ms <  to_ms (0: no bound) */
  bool newest_first; /* default oldest first */
  int64_t cursor;    /* 0: first page; else the previous next_seq */
  uint32_t limit;    /* 0 → AKIDB_LIST_LIMIT_DEFAULT; max AKIDB_LIST_LIMIT_MAX */
} akidb_audit_query_t;

/* One page of entries matching every filter of `q` (NULL: all), ordered by
 * seq ascending, or descending with newest_first; pass the previous page's
 * next_seq as `cursor` (in the same direction) for the next page. Ownership
 * as akidb_tenant_list. Errors: AKIDB_EINVAL (unknown action, to_ms <=
 * from_ms, limit). */
int akidb_audit_query(akidb_catalog_t *cat, const akidb_audit_query_t *q, akidb_audit_list_t *out,
                      char *err, size_t errlen);
void akidb_audit_list_free(akidb_audit_list_t *list);

#define AKIDB_AUDIT_MIN_RETENTION_MS (24ll * 3600 * 1000) /* one day */

/*
 * Retention pruning, the only way rows leave the audit log (triggers refuse
 * every other UPDATE and DELETE of audit_log): deletes the entries with
 * time_ms < cutoff_ms and appends an audit.prune entry saying how many, in one
 * transaction. cutoff_ms must be at least AKIDB_AUDIT_MIN_RETENTION_MS in the
 * past (AKIDB_EINVAL otherwise), so the recent log cannot be wiped.
 * `deleted` may be NULL.
 */
int akidb_audit_prune(akidb_catalog_t *cat, int64_t cutoff_ms, const akidb_audit_ctx_t *audit,
                      uint64_t *deleted, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_CATALOG_H */
