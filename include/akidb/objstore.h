/*
 * akidb/objstore.h — the object store: one interface over two
 * implementations, a local directory ("local") and an S3-compatible service
 * over HTTP(S) ("s3", libcurl, requests signed with AWS Signature Version 4
 * by AkiDB itself).
 *
 * Objects are named by keys: 1..1024 bytes of UTF-8 without control
 * characters, no leading '/', no empty, "." or ".." segment, and no segment
 * containing ".tmp-" (reserved for the local store's temporary files). The
 * same rule holds for both kinds, so a deployment can move between them.
 * `prefix` (options) is prepended to every key on the wire / on disk and is
 * never seen by callers (list returns keys without it).
 *
 * Integrity. Every object is checksummed while it streams: CRC32C of its
 * bytes and its size. The writer's commit (and put) return them
 * (akidb_objstore_result_t); objects written in one request (smaller than
 * one part) also store them as user metadata (`x-amz-meta-akidb-crc32c`,
 * `x-amz-meta-akidb-size`), which a multipart upload cannot (its checksum
 * is unknown when the upload is created), so callers that must verify large
 * objects keep the result (a catalog row, a manifest) and pass it back to
 * get as the expected checksum. A whole-object get verifies the bytes
 * against the expected checksum when given, else against the stored
 * metadata when present, and returns AKIDB_ECORRUPT on a mismatch. After an
 * upload the ETag the service returns is checked against the MD5 computed
 * locally (one request: MD5 of the body; multipart: MD5 of the concatenated
 * binary part MD5s followed by "-<parts>", or the MD5 of the whole object
 * from servers that report that, such as s3rver), and after a multipart
 * upload a HEAD checks the stored size and ETag; a mismatch is
 * AKIDB_ECORRUPT.
 *
 * Failures. Every request has a connect timeout and a total timeout.
 * Transient failures (HTTP 5xx and 429, S3 codes SlowDown, RequestTimeout,
 * InternalError, refused or reset connections, timeouts) are retried up to
 * `max_retries` times with exponential backoff and full jitter; a call thus
 * takes at most (max_retries + 1) × (connect + request timeout) plus the
 * backoff sleeps. Other errors are reported at once. Uploads are retried per
 * request from buffered parts, so put never needs to re-read its source.
 * A circuit breaker per store (one endpoint) opens after `breaker_failures`
 * consecutive transient failures: calls then fail fast with
 * AKIDB_EUNAVAILABLE until `breaker_cooldown_ms` passed, when one probe is
 * let through (half-open); its success closes the breaker, its failure
 * reopens it. Any answer from the service that is not transient (even
 * 404) counts as a success.
 *
 * Errors. Every fallible call returns 0 or a negative AKIDB_* code and
 * writes one sentence into `err` (may be NULL) naming the operation, the
 * key and the cause, e.g. "s3 PUT bucket/akidb/x: 403 InvalidAccessKeyId:
 * The AWS Access Key Id you provided does not exist in our records." The
 * secret key and session token never appear in messages. Codes:
 *   AKIDB_EINVAL       bad argument or option, unsafe key (nothing was sent)
 *   AKIDB_ENOTFOUND    no such object (get, head) or bucket
 *   AKIDB_EPERM        the service refused the credentials (HTTP 401/403)
 *   AKIDB_ECORRUPT     checksum, size or ETag mismatch
 *   AKIDB_ECONFLICT    the local store cannot hold this key beside an
 *                      existing one ("a" and "a/b"); an S3 precondition failed
 *   AKIDB_EUNAVAILABLE retries exhausted on transient failures, or the
 *                      circuit breaker is open
 *   AKIDB_ETIMEDOUT    the last attempt timed out
 *   AKIDB_ELIMIT       object larger than 10,000 parts, metadata too large
 *   AKIDB_EIO          local I/O error, or an unexpected answer from S3
 *   AKIDB_ENOMEM       out of memory
 *   a callback's own non-zero return value, passed through unchanged
 *
 * Thread safety: a store handle is used by any number of threads at once
 * (close excepted). A writer belongs to one thread at a time.
 */
#ifndef AKIDB_OBJSTORE_H
#define AKIDB_OBJSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "akidb/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- options */

/* Option bounds: DEFAULT / MIN / MAX, checked by akidb_objstore_options_validate. */
#define AKIDB_OBJSTORE_CONNECT_TIMEOUT_MS_DEFAULT 5000u
#define AKIDB_OBJSTORE_CONNECT_TIMEOUT_MS_MIN 10u
#define AKIDB_OBJSTORE_CONNECT_TIMEOUT_MS_MAX 600000u
#define AKIDB_OBJSTORE_REQUEST_TIMEOUT_MS_DEFAULT 60000u
#define AKIDB_OBJSTORE_REQUEST_TIMEOUT_MS_MIN 10u
#define AKIDB_OBJSTORE_REQUEST_TIMEOUT_MS_MAX 3600000u
#define AKIDB_OBJSTORE_MAX_PARALLEL_DEFAULT 4u
#define AKIDB_OBJSTORE_MAX_PARALLEL_MIN 1u
#define AKIDB_OBJSTORE_MAX_PARALLEL_MAX 64u
#define AKIDB_OBJSTORE_PART_SIZE_DEFAULT (8ull << 20)
#define AKIDB_OBJSTORE_PART_SIZE_MIN (5ull << 20) /* S3's minimum part */
#define AKIDB_OBJSTORE_PART_SIZE_MAX (5ull << 30) /* S3's maximum part */
#define AKIDB_OBJSTORE_MAX_RETRIES_DEFAULT 4u
#define AKIDB_OBJSTORE_MAX_RETRIES_MIN 0u
#define AKIDB_OBJSTORE_MAX_RETRIES_MAX 20u
#define AKIDB_OBJSTORE_RETRY_BASE_MS_DEFAULT 50u
#define AKIDB_OBJSTORE_RETRY_BASE_MS_MIN 1u
#define AKIDB_OBJSTORE_RETRY_BASE_MS_MAX 60000u
#define AKIDB_OBJSTORE_RETRY_MAX_MS_DEFAULT 5000u
#define AKIDB_OBJSTORE_RETRY_MAX_MS_MIN 1u
#define AKIDB_OBJSTORE_RETRY_MAX_MS_MAX 600000u
#define AKIDB_OBJSTORE_BREAKER_FAILURES_DEFAULT 5u
#define AKIDB_OBJSTORE_BREAKER_FAILURES_MIN 1u
#define AKIDB_OBJSTORE_BREAKER_FAILURES_MAX 1000u
#define AKIDB_OBJSTORE_BREAKER_COOLDOWN_MS_DEFAULT 10000u
#define AKIDB_OBJSTORE_BREAKER_COOLDOWN_MS_MIN 1u
#define AKIDB_OBJSTORE_BREAKER_COOLDOWN_MS_MAX 3600000u

#define AKIDB_OBJSTORE_KEY_MAX 1024u      /* bytes of a key (S3's limit) */
#define AKIDB_OBJSTORE_META_MAX 2048u     /* bytes of user metadata names + values */
#define AKIDB_OBJSTORE_META_COUNT_MAX 16u /* user metadata entries per object */
#define AKIDB_OBJSTORE_MAX_PARTS 10000u   /* S3's limit of parts per upload */

typedef struct {
  const char *kind;          /* "local" or "s3" (required) */
  const char *path;          /* local: root directory (created if missing) */
  const char *endpoint;      /* s3: "http://host[:port]" or "https://..." */
  const char *bucket;        /* s3: bucket name (required) */
  const char *region;        /* s3: signing region; NULL = "us-east-1" */
  const char *prefix;        /* both: prepended to every key; NULL = "" */
  const char *access_key;    /* s3: access key id (required) */
  const char *secret_key;    /* s3: secret access key (required) */
  const char *session_token; /* s3: temporary credentials' token, or NULL */
  const char *ca_file;       /* s3: CA bundle for TLS; NULL = system store */
  bool path_style;           /* s3: http://host/bucket/key instead of
                                http://bucket.host/key (default false) */
  uint32_t connect_timeout_ms;  /* per attempt */
  uint32_t request_timeout_ms;  /* total time of one attempt */
  uint32_t max_parallel;        /* parts in flight per writer */
  uint64_t part_size;           /* multipart part size in bytes */
  uint32_t max_retries;         /* retries after the first attempt */
  uint32_t retry_base_ms;       /* backoff: sleep U(0, min(max, base·2^n)) */
  uint32_t retry_max_ms;
  uint32_t breaker_failures;    /* consecutive failures that open the breaker */
  uint32_t breaker_cooldown_ms; /* open → half-open after this long */
} akidb_objstore_options_t;

/* Fills `o` with the defaults above; strings NULL, path_style false. */
void akidb_objstore_options_default(akidb_objstore_options_t *o);

/* Checks every option against its kind and bounds. Returns 0 or
 * AKIDB_EINVAL with a sentence naming the option and what to fix. Does not
 * touch the network or the file system. */
int akidb_objstore_options_validate(const akidb_objstore_options_t *o, char *err,
                                    size_t errlen);

/* ----------------------------------------------------------------- handle */

typedef struct akidb_objstore akidb_objstore_t;

/* Validates `o` and opens a store; copies every string it needs (the
 * options may be freed after the call). local: creates `path` (and the
 * prefix directory) if missing. s3: nothing is sent until the first call.
 * Returns 0 (*out set), AKIDB_EINVAL, AKIDB_EIO (local root unusable) or
 * AKIDB_ENOMEM. */
int akidb_objstore_open(const akidb_objstore_options_t *o, akidb_objstore_t **out,
                        char *err, size_t errlen);

/* Closes the store and frees it; no call may be running or start, and every
 * writer must have been committed or aborted. NULL is ignored. */
void akidb_objstore_close(akidb_objstore_t *s);

/* "local" or "s3". */
const char *akidb_objstore_kind(const akidb_objstore_t *s);

/* The endpoint as shown in messages ("http://127.0.0.1:9000",
 * "local:/var/lib/akidb/cold"); valid until close. */
const char *akidb_objstore_endpoint(const akidb_objstore_t *s);

/* --------------------------------------------------------------- metadata */

typedef struct {
  const char *name;  /* lower-case [a-z0-9-], not starting with "akidb-" */
  const char *value; /* printable ASCII (0x20..0x7e) */
} akidb_objstore_meta_t;

/* What put/commit report: the object's size, its CRC32C and its ETag. */
typedef struct {
  uint64_t size;
  uint32_t crc32c;
  char etag[72]; /* without quotes: 32 hex digits, or "<hex>-<parts>" */
} akidb_objstore_result_t;

/* HEAD. Strings point into this struct (meta_buf), valid as long as it. */
typedef struct {
  uint64_t size;
  int64_t last_modified; /* Unix seconds (UTC) */
  char etag[72];         /* without quotes */
  bool has_crc32c;       /* the object carries akidb-crc32c metadata */
  uint32_t crc32c;
  size_t nmeta; /* user metadata (without the akidb-* entries) */
  akidb_objstore_meta_t meta[AKIDB_OBJSTORE_META_COUNT_MAX];
  char meta_buf[AKIDB_OBJSTORE_META_MAX + 2 * AKIDB_OBJSTORE_META_COUNT_MAX];
} akidb_objstore_info_t;

/* ------------------------------------------------------------- operations */

/* Source of a put: fill `buf` with up to `len` bytes; return the number of
 * bytes (0 = end of data) or a negative AKIDB_* code to abort the put
 * (returned by put unchanged). Called from the thread that called put. */
typedef ssize_t (*akidb_objstore_read_fn)(void *ctx, void *buf, size_t len);

/* Sink of a get: consume `len` bytes; return 0 to go on or a non-zero
 * value to stop (get then returns that value). Called from the thread that
 * called get; `buf` is valid only during the call. */
typedef int (*akidb_objstore_write_fn)(void *ctx, const void *buf, size_t len);

typedef struct {
  /* Size of the source when known, else -1. When known, a source that
   * yields a different number of bytes fails the put (AKIDB_EINVAL) and
   * nothing is stored; sizes above 10,000 default parts grow the part size. */
  int64_t size;
  const akidb_objstore_meta_t *meta; /* user metadata, or NULL */
  size_t nmeta;
} akidb_objstore_put_options_t;

/* Stores `key` from `read`: one request below one part, a multipart upload
 * (writer below) above. Overwrites an existing object; a failed put leaves
 * the old object (if any) in place. `opts` may be NULL (size unknown, no
 * metadata); `out` (may be NULL) receives size, CRC32C and ETag. Errors:
 * see the top of this file; the source's own negative code. */
int akidb_objstore_put(akidb_objstore_t *s, const char *key, akidb_objstore_read_fn read,
                       void *read_ctx, const akidb_objstore_put_options_t *opts,
                       akidb_objstore_result_t *out, char *err, size_t errlen);

/* Convenience: put of one memory buffer. */
int akidb_objstore_put_buffer(akidb_objstore_t *s, const char *key, const void *data,
                              size_t len, akidb_objstore_result_t *out, char *err,
                              size_t errlen);

/* One object of a batched put (akidb_objstore_put_many). The caller fills
 * key, read, read_ctx and opts; the call fills the rest. */
typedef struct {
  const char *key;
  akidb_objstore_read_fn read; /* called from one of the batch's threads */
  void *read_ctx;
  akidb_objstore_put_options_t opts; /* size (or -1), metadata */
  /* filled by the call */
  bool attempted;                 /* false: skipped after another item failed */
  int rc;                         /* the put's result when attempted */
  akidb_objstore_result_t result; /* size, CRC32C, ETag when rc == 0 */
  char err[256];                  /* the put's message when rc != 0 */
} akidb_objstore_put_item_t;

/* Puts `n` objects, up to `parallel` at once (threads of this call; 0 =
 * the store's max_parallel): the way to store many small objects, whose
 * time is round trips rather than bytes. Each item is an ordinary put
 * (retries, breaker, verification). After the first failure no further
 * item starts (those keep attempted = false); the ones running finish.
 * The calling thread is one of the workers (fewer run when threads cannot
 * be started). Returns AKIDB_OK when every item was stored, else the first
 * failure's code with its message in err. */
int akidb_objstore_put_many(akidb_objstore_t *s, akidb_objstore_put_item_t *items, size_t n,
                            uint32_t parallel, char *err, size_t errlen);

/* An item that puts `len` bytes at `data` (which must outlive the call). */
typedef struct {
  const void *data;
  size_t len, off;
} akidb_objstore_buffer_src_t;
ssize_t akidb_objstore_buffer_read(void *ctx, void *buf, size_t len);

typedef struct {
  uint64_t offset; /* first byte */
  uint64_t length; /* bytes from offset; 0 = to the end */
  /* Expected checksum of the whole object (from put/commit). Used only for
   * whole-object reads (offset 0, length 0); ranges are not verified. */
  bool has_expected;
  uint64_t expected_size;
  uint32_t expected_crc32c;
} akidb_objstore_get_options_t;

/* Streams `key` (or a range of it) into `write`. `opts` may be NULL (whole
 * object, verified against its stored checksum when it has one). A range
 * past the end yields the bytes that exist (none when offset ≥ size).
 * Interrupted transfers are resumed at the byte they stopped at, pinned to
 * the same object version (If-Match on its ETag). Verification happens at
 * the end: on AKIDB_ECORRUPT the caller must discard the bytes it received.
 * Errors: AKIDB_ENOTFOUND, AKIDB_ECORRUPT, the rest as above. `info` (may
 * be NULL) receives the object's HEAD-like description (size is the whole
 * object's). */
int akidb_objstore_get(akidb_objstore_t *s, const char *key,
                       const akidb_objstore_get_options_t *opts, akidb_objstore_write_fn write,
                       void *write_ctx, akidb_objstore_info_t *info, char *err, size_t errlen);

/* Describes `key`. Errors: AKIDB_ENOTFOUND, the rest as above. */
int akidb_objstore_head(akidb_objstore_t *s, const char *key, akidb_objstore_info_t *info,
                        char *err, size_t errlen);

/* One key of a listing; pointers valid only during the callback. */
typedef struct {
  const char *key; /* without the store's prefix */
  uint64_t size;
  int64_t last_modified; /* Unix seconds */
  const char *etag;      /* without quotes */
} akidb_objstore_entry_t;

/* Return 0 to continue the listing, non-zero to stop it (list returns it). */
typedef int (*akidb_objstore_list_fn)(void *ctx, const akidb_objstore_entry_t *e);

/* Calls `fn` for every key that starts with `prefix` (NULL or "" = all),
 * following S3's continuation tokens (1,000 keys per page). Order: the
 * service's (AWS S3: UTF-8 byte order; s3rver differs); local: byte order.
 * Errors: as above; the callback's non-zero value. */
int akidb_objstore_list(akidb_objstore_t *s, const char *prefix, akidb_objstore_list_fn fn,
                        void *ctx, char *err, size_t errlen);

/* Reads a whole small object (a manifest) into a malloc'd buffer *out of
 * *len bytes (free() it). AKIDB_ELIMIT ("over <max> bytes" in err) when it
 * is larger than `max`; otherwise as get. */
int akidb_objstore_get_all(akidb_objstore_t *s, const char *key, size_t max, char **out,
                           size_t *len, char *err, size_t errlen);

/* Reads exactly `len` bytes of `key` at `offset` into `buf` (a ranged get:
 * random access for a file reader such as Parquet's). AKIDB_ECORRUPT when
 * the object holds fewer bytes there ("ends before byte N" in err);
 * otherwise as get. Ranges are not checked against the object's checksum:
 * a caller that needs the whole object intact verifies it once with a
 * whole-object get. */
int akidb_objstore_read_at(akidb_objstore_t *s, const char *key, uint64_t offset, void *buf,
                           size_t len, char *err, size_t errlen);

/* Deletes `key`; deleting an absent key succeeds. */
int akidb_objstore_delete(akidb_objstore_t *s, const char *key, char *err, size_t errlen);

/* Deletes `first` (may be NULL; absent is fine) and then every object whose
 * key starts with `prefix` (a listing), going on past failures. Returns the
 * first error (its message in `err`); AKIDB_OK when everything is gone. */
int akidb_objstore_delete_prefix(akidb_objstore_t *s, const char *first, const char *prefix,
                                 char *err, size_t errlen);

/* ----------------------------------------------------------------- writer */

typedef struct akidb_objstore_writer akidb_objstore_writer_t;

/* Starts writing `key`. Nothing is visible under `key` before commit.
 * s3: bytes are buffered in parts of `part_size` (at most max_parallel + 1
 * parts in memory); the first full part starts a multipart upload and up
 * to max_parallel parts upload at once on the writer's own threads; an
 * object smaller than one part is sent as one PUT at commit. local: bytes
 * go to `<key>.tmp-<random>`, which commit fsyncs and renames. `meta` (may
 * be NULL) is copied. Returns 0 (*out set), AKIDB_EINVAL (key, metadata),
 * AKIDB_ECONFLICT, AKIDB_EIO, AKIDB_ENOMEM. */
int akidb_objstore_writer_open(akidb_objstore_t *s, const char *key,
                               const akidb_objstore_meta_t *meta, size_t nmeta,
                               akidb_objstore_writer_t **out, char *err, size_t errlen);

/* Appends `len` bytes. May block while parts upload. An error is sticky:
 * every later write or commit returns it; the writer must still be aborted. */
int akidb_objstore_writer_write(akidb_objstore_writer_t *w, const void *buf, size_t len,
                                char *err, size_t errlen);

/* Makes the object visible (atomically: readers see the old object or the
 * new one) and frees the writer, whatever the outcome. `out` (may be NULL)
 * receives size, CRC32C and ETag. On failure nothing new is visible and a
 * started multipart upload is aborted. */
int akidb_objstore_writer_commit(akidb_objstore_writer_t *w, akidb_objstore_result_t *out,
                                 char *err, size_t errlen);

/* Discards everything written and frees the writer (aborts the multipart
 * upload, removes the temporary file). NULL is ignored. */
void akidb_objstore_writer_abort(akidb_objstore_writer_t *w);

/* ------------------------------------------------------------- statistics */

typedef enum {
  AKIDB_OBJSTORE_OP_PUT = 0,      /* put calls and one-request uploads */
  AKIDB_OBJSTORE_OP_GET,
  AKIDB_OBJSTORE_OP_HEAD,
  AKIDB_OBJSTORE_OP_LIST,         /* one per page */
  AKIDB_OBJSTORE_OP_DELETE,
  AKIDB_OBJSTORE_OP_MPU_CREATE,   /* CreateMultipartUpload */
  AKIDB_OBJSTORE_OP_MPU_PART,     /* UploadPart */
  AKIDB_OBJSTORE_OP_MPU_COMPLETE, /* CompleteMultipartUpload */
  AKIDB_OBJSTORE_OP_MPU_ABORT,    /* AbortMultipartUpload */
  AKIDB_OBJSTORE_OP_COUNT
} akidb_objstore_op_t;

/* Latency histogram bounds in seconds (Prometheus `le`), then +Inf. */
#define AKIDB_OBJSTORE_LATENCY_BOUNDS                                          \
  {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0}
#define AKIDB_OBJSTORE_LATENCY_NBOUNDS 14

typedef struct {
  uint64_t calls;     /* requests made (a retried request counts once) */
  uint64_t errors;    /* calls that finally failed */
  uint64_t retries;   /* extra attempts */
  uint64_t bytes_in;  /* payload bytes received from the store */
  uint64_t bytes_out; /* payload bytes sent to the store */
  /* cumulative: latency_le[i] = calls that took ≤ bounds[i] seconds;
   * latency_le[NBOUNDS] = all calls (+Inf) */
  uint64_t latency_le[AKIDB_OBJSTORE_LATENCY_NBOUNDS + 1];
  double latency_sum_s;
} akidb_objstore_op_stats_t;

typedef enum {
  AKIDB_OBJSTORE_BREAKER_CLOSED = 0,
  AKIDB_OBJSTORE_BREAKER_HALF_OPEN = 1,
  AKIDB_OBJSTORE_BREAKER_OPEN = 2,
} akidb_objstore_breaker_state_t;

typedef struct {
  akidb_objstore_op_stats_t op[AKIDB_OBJSTORE_OP_COUNT];
  int breaker_state;             /* akidb_objstore_breaker_state_t */
  uint32_t consecutive_failures; /* transient failures in a row */
  uint64_t breaker_opens;        /* times the breaker opened */
  uint64_t breaker_probes;       /* half-open probe requests let through */
} akidb_objstore_stats_t;

/* A snapshot of the store's counters (each value read atomically; values of
 * calls in flight may be partly counted). Thread-safe. */
void akidb_objstore_stats(akidb_objstore_t *s, akidb_objstore_stats_t *out);

/* "put", "get", "head", "list", "delete", "multipart_create",
 * "multipart_part", "multipart_complete", "multipart_abort"; "?" otherwise. */
const char *akidb_objstore_op_name(int op);

/* "closed", "half_open", "open". */
const char *akidb_objstore_breaker_state_name(int state);

/* The latency bucket bounds (AKIDB_OBJSTORE_LATENCY_NBOUNDS seconds). */
const double *akidb_objstore_latency_bounds(void);

/* Checks a key against the rule at the top of this file. 0 or AKIDB_EINVAL. */
int akidb_objstore_key_check(const char *key, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_OBJSTORE_H */
