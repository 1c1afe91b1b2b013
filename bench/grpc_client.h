/*
 * grpc_client.h — a small gRPC client for the gRPC benchmarks (bench/grpc.c,
 * bench/server.c's closed loop), in two implementations chosen at run time
 * with gc_use: GC_CLIENT_H2, the lean one (h2grpc.c: hand-written HTTP/2 +
 * gRPC framing over one blocking socket, as loadgen.c is hand-written
 * HTTP/1.1), and GC_CLIENT_CORE, on the gRPC C core (libgrpc). Each
 * gc_conn_t is one connection of its own (never shared with another
 * gc_conn_t), plaintext to 127.0.0.1, bearer credentials in the
 * `authorization` metadata; unary calls and bidirectional streams of
 * already-packed messages. Messages are bytes here: packing and unpacking
 * (protobuf-c) is the caller's. Both implementations give the same
 * semantics below.
 *
 * A gc_conn_t is used by one thread at a time (one call at a time). For
 * bench/ only.
 */
#ifndef AKIDB_BENCH_GRPC_CLIENT_H
#define AKIDB_BENCH_GRPC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gc_conn gc_conn_t;

typedef enum { GC_CLIENT_CORE = 1, GC_CLIENT_H2 = 2 } gc_client_t;

/* The implementation later gc_open calls use (default GC_CLIENT_CORE); a
 * connection keeps the one it was opened with. */
void gc_use(gc_client_t client);
gc_client_t gc_client(void);

/* "h2" or "core". */
const char *gc_client_name(gc_client_t client);

/* grpc_init / grpc_shutdown, once per process around every other call
 * (either client). */
void gc_init(void);
void gc_shutdown(void);

/* Opens a connection to 127.0.0.1:port and waits (up to 10 s) until it
 * is ready (C core: the channel connected; h2: the SETTINGS exchanged).
 * token: sent as `authorization: Bearer <token>` on every call
 * (NULL: none). 0, or -1 with err set. */
int gc_open(gc_conn_t **out, uint16_t port, const char *token, char *err, size_t errlen);

/* Closes the connection; NULL accepted. */
void gc_close(gc_conn_t *c);

/* The outcome of a unary call. */
typedef struct {
  int status;          /* grpc_status_code: 0 OK, 8 RESOURCE_EXHAUSTED, 12 UNIMPLEMENTED, ... */
  char details[512];   /* the status message */
  long retry_after_s;  /* the trailing `retry-after` metadata, -1 when absent */
  const uint8_t *body; /* OK: the answer message; valid until the next call on the conn */
  size_t len;
} gc_result_t;

/* One unary call of `method` ("/akidb.v1.PointService/Search") with the
 * packed request req[0..len) (not copied: it must stay valid during the
 * call). Waits for the answer and the status (deadline 300 s). */
void gc_unary(gc_conn_t *c, const char *method, const uint8_t *req, size_t len, gc_result_t *r);

/* A bidirectional stream: the messages next() hands out are sent in
 * order, each once the previous send completed and while fewer than
 * `window` of them are unanswered; replies are handed to on_reply in order
 * (index 0, 1, ...), which returns nonzero to cancel the call. When next()
 * has no more (returns false) the client half-closes, and the call ends
 * with the server's status. */
typedef struct {
  const char *method;
  uint32_t window; /* >= 1 */
  /* Message `index` of this call, in *msg and *len (not copied: valid until the
   * call ends); false when there is none (then never called again). Called
   * just before the message goes out. */
  bool (*next)(void *ctx, size_t index, const uint8_t **msg, size_t *len);
  int (*on_reply)(void *ctx, size_t index, const uint8_t *body, size_t len);
  void *ctx;
} gc_stream_t;

typedef struct {
  size_t sent;    /* messages handed to the transport */
  size_t replies; /* messages received */
  int status;
  char details[512];
  long retry_after_s; /* -1 when absent */
  bool cancelled;     /* on_reply asked to cancel */
} gc_stream_result_t;

/* Runs one stream call to its end (deadline 300 s). */
void gc_stream_run(gc_conn_t *c, const gc_stream_t *s, gc_stream_result_t *r);

/* A bidirectional stream used in lock step: each gc_session_call sends one
 * message and waits for its one reply (SearchStream: one Search per
 * message on one call). */
typedef struct gc_session gc_session_t;

/* Starts a call of `method` on the conn (which then belongs to the session
 * until gc_session_close). 0, or -1 with err set. */
int gc_session_open(gc_session_t **out, gc_conn_t *c, const char *method, char *err,
                    size_t errlen);

/* Sends req[0..len) and waits for the reply: r->status 0 with the reply in
 * r->body (valid until the next call), or the status that ended the call
 * (the session then answers nothing more). */
void gc_session_call(gc_session_t *s, const uint8_t *req, size_t len, gc_result_t *r);

/* Half-closes, waits for the status and frees the session; NULL accepted. */
void gc_session_close(gc_session_t *s);

/* The name of a grpc_status_code ("UNIMPLEMENTED"). */
const char *gc_status_name(int status);

#endif /* AKIDB_BENCH_GRPC_CLIENT_H */
