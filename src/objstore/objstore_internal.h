/*
 * objstore_internal.h — private layout of the object store (src/objstore/):
 * the store handle, the retry runner and circuit breaker (with an
 * injectable clock so tests run them without a network), statistics, and
 * the functions each implementation (local.c, s3.c, s3_writer.c) provides
 * to the dispatcher (objstore.c).
 */
#ifndef AKIDB_OBJSTORE_INTERNAL_H
#define AKIDB_OBJSTORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/objstore.h"

/* ------------------------------------------------------------------ clock */

/* Time, sleep and randomness of the retry runner and breaker; the default
 * is the monotonic clock, nanosleep and a per-thread generator. */
typedef struct {
  uint64_t (*now_ms)(void *ctx);
  void (*sleep_ms)(void *ctx, uint64_t ms);
  uint64_t (*random)(void *ctx);
  void *ctx;
} objstore_clock_t;

extern const objstore_clock_t objstore_real_clock;

/* ---------------------------------------------------------------- breaker */

typedef struct {
  pthread_mutex_t lock;
  int state;                /* akidb_objstore_breaker_state_t */
  uint32_t consecutive;     /* transient failures in a row */
  uint64_t opened_at_ms;    /* when it last opened */
  bool probe_in_flight;     /* half-open: the one probe is running */
  uint64_t opens;           /* times it opened */
  uint64_t probes;          /* half-open probes let through */
  uint32_t threshold;       /* breaker_failures */
  uint64_t cooldown_ms;     /* breaker_cooldown_ms */
  char last_error[192];     /* cause of the last failure, for messages */
  const char *endpoint;     /* for messages; owned by the store */
  const objstore_clock_t *clock;
} objstore_breaker_t;

void breaker_init(objstore_breaker_t *b, uint32_t threshold, uint64_t cooldown_ms,
                  const char *endpoint, const objstore_clock_t *clock);
void breaker_destroy(objstore_breaker_t *b);
/* May a request go out now? 0 = yes (*probe set when it is the half-open
 * probe), or AKIDB_EUNAVAILABLE with the reason in err. */
int breaker_admit(objstore_breaker_t *b, bool *probe, char *err, size_t errlen);
/* Outcome of an admitted request: `failed` = transient failure (with its
 * cause). A probe's outcome closes or reopens the breaker. */
void breaker_record(objstore_breaker_t *b, bool probe, bool failed, const char *cause);
/* State and consecutive failures (under the lock). */
void breaker_read(objstore_breaker_t *b, int *state, uint32_t *consecutive, uint64_t *opens,
                  uint64_t *probes);

/* ------------------------------------------------------------------ stats */

typedef struct {
  _Atomic uint64_t calls, errors, retries, bytes_in, bytes_out;
  _Atomic uint64_t bucket[AKIDB_OBJSTORE_LATENCY_NBOUNDS + 1]; /* not cumulative */
  _Atomic uint64_t latency_ns_sum;
} objstore_op_counters_t;

typedef struct {
  objstore_op_counters_t op[AKIDB_OBJSTORE_OP_COUNT];
} objstore_stats_t;

/* Counts one finished call of `op` that took `ns` (failed when rc != 0). */
void stats_record(objstore_stats_t *st, int op, int rc, uint64_t ns);
void stats_add_bytes(objstore_stats_t *st, int op, uint64_t in, uint64_t out);
void stats_add_retry(objstore_stats_t *st, int op);

/* ----------------------------------------------------------- retry runner */

typedef struct {
  objstore_breaker_t *breaker;
  objstore_stats_t *stats;
  const objstore_clock_t *clock;
  uint32_t max_retries, retry_base_ms, retry_max_ms;
} objstore_retry_t;

/* One attempt of a request. Returns 0 or an AKIDB_* code with err filled;
 * sets *transient when the failure may go away on retry. `attempt` counts
 * from 0. */
typedef int (*objstore_attempt_fn)(void *ctx, uint32_t attempt, bool *transient, char *err,
                                   size_t errlen);

/* Runs `fn` through the breaker with retries and backoff, counting the call
 * under `op`. Returns fn's last result, or AKIDB_EUNAVAILABLE when the
 * breaker refused. */
int objstore_retry_run(const objstore_retry_t *r, int op, objstore_attempt_fn fn, void *ctx,
                       char *err, size_t errlen);

/* Backoff before retry number `retry` (1 = first retry): a uniform draw in
 * [0, min(max_ms, base_ms · 2^(retry-1))] from `rnd` (full jitter). */
uint64_t objstore_backoff_ms(uint32_t retry, uint32_t base_ms, uint32_t max_ms, uint64_t rnd);

/* ------------------------------------------------------------------ store */

typedef enum { OBJSTORE_LOCAL, OBJSTORE_S3 } objstore_kind_t;

typedef struct local_store local_store_t;
typedef struct s3_store s3_store_t;

struct akidb_objstore {
  objstore_kind_t kind;
  akidb_objstore_options_t opt; /* strings below are owned copies */
  char *path, *endpoint, *bucket, *region, *prefix, *access_key, *secret_key,
      *session_token, *ca_file;
  char *display;   /* endpoint as shown in messages */
  objstore_breaker_t breaker;
  objstore_stats_t stats;
  objstore_retry_t retry;
  union {
    local_store_t *local;
    s3_store_t *s3;
  } impl;
};

/* Formats into err (NULL-safe, always terminated). */
void objstore_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks user metadata names, values and total size. 0 or AKIDB_EINVAL/ELIMIT. */
int objstore_meta_check(const akidb_objstore_meta_t *meta, size_t nmeta, char *err,
                        size_t errlen);

/* Adds (name, value) to info->meta, copying into meta_buf; akidb-crc32c and
 * akidb-size fill the checksum fields instead. */
void objstore_info_add_meta(akidb_objstore_info_t *info, const char *name, size_t nlen,
                            const char *value, size_t vlen);

/* Lower-case hex of `n` bytes into `out` (2n + 1 bytes). */
void objstore_hex(const uint8_t *in, size_t n, char *out);

/* --------------------------------------------------------- implementations */

/* Backend writer: receives the bytes the generic writer checksummed. */
typedef struct backend_writer backend_writer_t;

int local_open(akidb_objstore_t *s, char *err, size_t errlen);
void local_close(akidb_objstore_t *s);
int local_writer_open(akidb_objstore_t *s, const char *key, const akidb_objstore_meta_t *meta,
                      size_t nmeta, backend_writer_t **out, char *err, size_t errlen);
int local_writer_write(backend_writer_t *w, const void *buf, size_t len, char *err,
                       size_t errlen);
int local_writer_commit(backend_writer_t *w, uint64_t size, uint32_t crc,
                        akidb_objstore_result_t *out, char *err, size_t errlen);
void local_writer_abort(backend_writer_t *w);
int local_get(akidb_objstore_t *s, const char *key, uint64_t offset, uint64_t length,
              akidb_objstore_write_fn write, void *ctx, akidb_objstore_info_t *info, char *err,
              size_t errlen);
int local_head(akidb_objstore_t *s, const char *key, akidb_objstore_info_t *info, char *err,
               size_t errlen);
int local_list(akidb_objstore_t *s, const char *prefix, akidb_objstore_list_fn fn, void *ctx,
               char *err, size_t errlen);
int local_delete(akidb_objstore_t *s, const char *key, char *err, size_t errlen);
/* Parses the header of a local object file (the first 8 KiB of the len
 * bytes at hdr, not NUL-terminated) into info: 0 or AKIDB_ECORRUPT. Reads
 * nothing outside those 8 KiB. */
int local_header_decode(const char *hdr, size_t len, akidb_objstore_info_t *info);

int s3_open(akidb_objstore_t *s, char *err, size_t errlen);
void s3_close(akidb_objstore_t *s);
int s3_writer_open(akidb_objstore_t *s, const char *key, const akidb_objstore_meta_t *meta,
                   size_t nmeta, uint64_t part_size, backend_writer_t **out, char *err,
                   size_t errlen);
int s3_writer_write(backend_writer_t *w, const void *buf, size_t len, char *err, size_t errlen);
int s3_writer_commit(backend_writer_t *w, uint64_t size, uint32_t crc,
                     akidb_objstore_result_t *out, char *err, size_t errlen);
void s3_writer_abort(backend_writer_t *w);
int s3_get(akidb_objstore_t *s, const char *key, uint64_t offset, uint64_t length,
           akidb_objstore_write_fn write, void *ctx, akidb_objstore_info_t *info, char *err,
           size_t errlen);
int s3_head(akidb_objstore_t *s, const char *key, akidb_objstore_info_t *info, char *err,
            size_t errlen);
int s3_list(akidb_objstore_t *s, const char *prefix, akidb_objstore_list_fn fn, void *ctx,
            char *err, size_t errlen);
int s3_delete(akidb_objstore_t *s, const char *key, char *err, size_t errlen);

#endif /* AKIDB_OBJSTORE_INTERNAL_H */
