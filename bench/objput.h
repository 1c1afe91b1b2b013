/*
 * objput.h — the small-object upload runs of the object-store benchmark
 * (bench/objectstore.c, row 2): N threads PUT 1 KiB objects for a fixed
 * time to an S3 endpoint, either through AkiDB's object-store C API
 * (akidb_objstore_put_buffer, or akidb_objstore_put_many batches) or
 * through a minimal libcurl client (one
 * keep-alive easy handle per thread, a fixed Authorization header that
 * names the access key, UNSIGNED-PAYLOAD: the least a client can do against
 * a server that does not verify signatures, such as s3rver). Each run
 * reports its rate, latency per request and the CPU time of this process
 * and of the server process. Bench only.
 */
#ifndef AKIDB_BENCH_OBJPUT_H
#define AKIDB_BENCH_OBJPUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* AKIDB: one akidb_objstore_put_buffer at a time per thread. MINIMAL: the
 * bare libcurl loop. BATCH: each thread calls akidb_objstore_put_many with
 * PUT_BATCH objects, batch_parallel of them in flight at once. */
typedef enum { PUT_CLIENT_AKIDB = 0, PUT_CLIENT_MINIMAL = 1, PUT_CLIENT_BATCH = 2 } put_client_t;

#define PUT_BATCH 64u

typedef struct {
  const char *endpoint; /* "http://127.0.0.1:<port>" */
  const char *bucket, *access_key, *secret_key;
  pid_t server_pid;     /* the S3 server process, for its CPU time (or -1) */
  double seconds;       /* length of one run */
  size_t object_bytes;  /* size of every object */
  uint32_t batch_parallel; /* PUT_CLIENT_BATCH: puts in flight per batch */
} put_setup_t;

typedef struct {
  put_client_t client;
  uint32_t threads;
  uint64_t ops, errors;
  double seconds;              /* from the start barrier to the last thread's end */
  double p50_ms, p99_ms, mean_ms; /* per request (per batch call for BATCH), successful ones */
  double self_cpu_s;           /* CPU time of this process during the run */
  double server_cpu_s;         /* CPU time of the S3 server during the run */
  char first_error[256];
} put_run_t;

/* "akidb C API", "minimal libcurl" or "akidb C API, batched". */
const char *put_client_name(put_client_t c);

/* One run: `threads` threads PUT objects under "<tag>/t<i>/<n>" for
 * s->seconds. Returns 0, or -1 with a sentence in err when the run could
 * not start (per-request failures are counted in out->errors). */
int put_run(const put_setup_t *s, put_client_t client, uint32_t threads, const char *tag,
            put_run_t *out, char *err, size_t errlen);

/* utime + stime of a process from /proc/<pid>/stat, in seconds; -1 if gone. */
double put_proc_cpu_s(pid_t pid);

#endif /* AKIDB_BENCH_OBJPUT_H */
