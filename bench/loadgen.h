/*
 * loadgen.h — the server benchmark's HTTP/1.1 load generator (bench only):
 * a blocking keep-alive connection for setup, ingest and the sequential
 * client, and an open-loop driver that sends pre-encoded requests at fixed
 * instants over a pool of non-blocking keep-alive connections (epoll), with
 * latency measured from each request's scheduled send time.
 *
 * Only loopback: every connection goes to 127.0.0.1. The server is expected
 * to answer with Content-Length (a chunked answer is reported as an error).
 */
#ifndef AKIDB_BENCH_LOADGEN_H
#define AKIDB_BENCH_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Monotonic time in microseconds. */
double lg_now_us(void);

/* ------------------------------------------------------------ parsing -- */

/* One parsed response head. */
typedef struct {
  int status;         /* 200, 404, ... */
  size_t head_len;    /* bytes up to and including the blank line */
  size_t body_len;    /* Content-Length */
  bool close;         /* "Connection: close" */
} lg_head_t;

/*
 * Parses a response head at the start of buf[0..len). Returns 1 when the
 * head is complete (filled into h), 0 when more bytes are needed, and a
 * negative akidb_err_t when the head is malformed or has no Content-Length.
 */
int lg_parse_head(const char *buf, size_t len, lg_head_t *h);

/*
 * Writes a request head ("POST path HTTP/1.1", Host, Authorization when
 * token is not NULL, Content-Type and Content-Length when body_len is not
 * (size_t)-1) into buf. Returns its length, or 0 when cap is too small.
 */
size_t lg_format_head(char *buf, size_t cap, const char *method, const char *path,
                      const char *token, size_t body_len);

/*
 * Finds the value of the first `"key": "<string>"` at or after `from` in
 * body[0..len) (no escapes inside the value). Returns a pointer to its first
 * character and sets *n, or NULL. Minimal and fast: meant for ids and tokens.
 */
const char *lg_find_string(const char *body, size_t len, const char *key, size_t *n);

/* Like lg_find_string for a non-negative integer value; -1 when absent. */
long long lg_find_int(const char *body, size_t len, const char *key);

/* ------------------------------------------------- blocking connection -- */

typedef struct {
  int fd;
  uint16_t port;
  char *buf; /* receive buffer: the last response stays here until the next call */
  size_t cap, len;
} lg_conn_t;

/* One response on a blocking connection; body points into the connection's
 * buffer and stays valid until the next call on it. */
typedef struct {
  int status;
  const char *body;
  size_t body_len;
} lg_response_t;

/* Connects to 127.0.0.1:port (TCP_NODELAY). */
int lg_conn_open(lg_conn_t *c, uint16_t port, char *err, size_t errlen);

/* Closes the socket and frees the buffer; a zeroed connection is accepted. */
void lg_conn_close(lg_conn_t *c);

/*
 * Writes the request (iov parts) and reads one whole response. If the
 * server had closed the idle connection, reconnects once and retries.
 */
int lg_conn_roundtrip(lg_conn_t *c, const struct iovec *iov, int iovcnt,
                      lg_response_t *r, char *err, size_t errlen);

/* A request with a small body (or none when body is NULL). */
int lg_conn_request(lg_conn_t *c, const char *method, const char *path,
                    const char *token, const char *body, lg_response_t *r,
                    char *err, size_t errlen);

/* Polls GET /ready on 127.0.0.1:port every poll_ms until it answers 200.
 * Returns the seconds it took; -1 when the process `pid` exited first
 * (*status, when not NULL, holds its wait status), -2 after timeout_s. */
double lg_wait_ready(int pid, uint16_t port, double timeout_s, long poll_ms, int *status);

/* ------------------------------------------------------------ open loop -- */

/* Called for every completed request, with its index (0..scheduled-1). */
typedef void (*lg_response_fn)(void *ctx, size_t index, int status, const char *body,
                               size_t body_len);

typedef struct {
  uint16_t port;
  double rate;          /* requests per second */
  double duration_s;    /* sends are scheduled over this long */
  double drain_s;       /* then wait this long for the last answers */
  uint32_t connections; /* pool size */
  size_t n_req;         /* request i sends req[i % n_req] */
  const char *const *req;
  const size_t *req_len;
  lg_response_fn on_response; /* may be NULL */
  void *ctx;
} lg_open_loop_t;

typedef struct {
  size_t scheduled; /* requests due in the window */
  size_t sent;
  size_t ok;        /* 200 answers */
  size_t failed;    /* other statuses, connection errors, unanswered */
  size_t unanswered;
  double *latency_us; /* of the ok requests, from scheduled send to full answer */
  size_t n_latency;
  double elapsed_s;   /* first scheduled send to last answer */
  double max_send_lag_us; /* latest a request went out after its instant */
  uint32_t reconnects;
} lg_open_result_t;

/* Runs one open-loop load. The result's latency_us is malloc'd: free it. */
int lg_open_loop_run(const lg_open_loop_t *o, lg_open_result_t *r, char *err, size_t errlen);

#endif /* AKIDB_BENCH_LOADGEN_H */
