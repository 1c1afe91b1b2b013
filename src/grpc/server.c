/*
 * grpc/server.c — the gRPC server on the C core (libgrpc): one completion
 * queue per network thread, calls asked for with
 * grpc_server_request_registered_call (RPC_SLOTS requests kept outstanding
 * per method and queue), and per call a small state machine (below,
 * "calls") with at most one batch in flight.
 *
 * Threads: one network thread per core (at most RPC_POLLERS_MAX), each
 * polling its own completion queue. On the core's "poll" engine
 * (agrpc_prepare) the core gives each new connection to one queue, polls
 * its socket only from that queue's thread and hands its calls to that
 * queue's requests, so a connection's reads, writes and calls stay on one
 * thread and the connections spread over the cores, as REST's thread per
 * connection does. (On the default epoll1 engine any polling thread reads
 * any socket: one thread did all of gRPC's I/O, about one core.) A network
 * thread runs quick calls (akidb_service_quick: probes, reads of a loaded
 * collection) itself, in turn, when no other event is ready, so a search
 * costs at most one wake-up, as on REST; when the calls queued on it add
 * up to long, the next goes to a worker (see defer). RPC_WORKERS worker
 * threads also run everything that may wait on the disk, the object store
 * or a password hash (writes, loads, logins, snapshots, stream steps), so
 * a slow call never holds up the quick ones. (Two threads polling one
 * queue hand the events of each call back and forth between them: four
 * context switches and twice the CPU per call.)
 *
 * Locking: a call's state is touched only by the thread that holds it: the
 * one that took its event, or the worker it was queued to (handed over
 * under `work_mu`); a network thread's queue of quick calls only by that
 * thread; `mu` guards the stop flags and the list of open Watch calls.
 * Durability: none of its own (the service answers writes once durable).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "akidb/catalog.h"
#include "grpc/agrpc.h"
#include "grpc/rpc_internal.h"
#include "http/http_internal.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "trace/trace.h"
#include "util/net.h"
#include "util/thread.h"

#define RPC_WORKERS 4
#define RPC_DEFER_EVENTS 8
#define RPC_INLINE_MAX 8      /* quick calls waiting on the network thread, at most */
#define RPC_HANDOFF_NS 1000000u /* run time of the quick calls a new one may wait behind */
#define RPC_TIME_EVERY 32      /* one quick call in this many is timed, per thread */
#define RPC_SPIN_NS 50000      /* a worker watches the queue this long before it sleeps */
#define RPC_IDLE_NS 20000      /* a network thread that waited this long for an event was idle */
#define RPC_LOOK_EVERY 8       /* a call alone on its thread looks for others once in this many */
#define RPC_POLLERS_MAX 4      /* network threads, at most (one per core) */
#define RPC_GATHER_KEEP (4u << 20) /* a thread's buffer for messages in several slices */
#define RPC_SLOTS 2 /* requests kept outstanding per method (and for other paths) */
#define RPC_WATCH_MAX 64

typedef enum { TAG_SLOT, TAG_CALL, TAG_SHUTDOWN } rpc_tag_kind_t;

/* The first member of every tag given to the core: its rpc_tag_kind_t,
 * handed over with release/acquire (tag_hand_over, tag_take) so that the
 * writes before a batch happen before the event that returns its tag, as
 * ThreadSanitizer can see (libgrpc's own synchronisation is invisible to
 * it: Debian does not build it instrumented). */
typedef _Atomic int rpc_tag_t;

static void tag_hand_over(rpc_tag_t *tag, rpc_tag_kind_t kind) {
  atomic_store_explicit(tag, (int)kind, memory_order_release);
}

static rpc_tag_kind_t tag_take(void *tag) {
  return (rpc_tag_kind_t)atomic_load_explicit((rpc_tag_t *)tag, memory_order_acquire);
}

/* An outstanding request for a call: of one registered method
 * (grpc_server_request_registered_call; a unary method's request message
 * comes with the call, so it needs no receive batch), or of any other path
 * (grpc_server_request_call: a method the server does not have). */
typedef struct {
  rpc_tag_t kind;
  grpc_completion_queue *cq;  /* its network thread's */
  const rpc_method_t *method; /* NULL: any path */
  void *registered;           /* grpc_server_register_method's handle */
  grpc_call *call;
  grpc_call_details details; /* any path: its method and deadline */
  gpr_timespec deadline;     /* a registered method's */
  grpc_metadata_array md;
  grpc_byte_buffer *payload; /* a registered unary method's request */
} rpc_slot_t;

/* Where a call is; the batch in flight (at most one) says what comes next:
 *   RECV      a request message (the first, or the next of a client stream)
 *   MSG       a stream message sent (server streaming: the next step)
 *   MSG_RECV  an acknowledgement sent and the next request received (bidi)
 *   SEND      the status sent and the close received: the call ends
 *   OPEN      a Watch answered, open until cancelled */
typedef enum { STAGE_RECV, STAGE_MSG, STAGE_MSG_RECV, STAGE_SEND, STAGE_OPEN } rpc_stage_t;

/* One call in flight. */
typedef struct rpc_call {
  rpc_tag_t kind;
  rpc_stage_t stage;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  grpc_byte_buffer *recv, *send;
  grpc_metadata initial[1], trailing[1];
  bool initial_pending; /* the initial metadata goes with the answer */
  gpr_timespec deadline;
  grpc_slice status_details;
  char request_id[129], retry_after[16], source[64], tenant[128];
  char *bearer;
  int cancelled;
  int final_code;   /* the status sent (-1 before) */
  int64_t start_ns; /* monotonic: when the call was taken */
  rpc_answer_t answer;
  const rpc_method_t *method;
  rpc_stream_t stream; /* the request's base; streaming: the codec's view */
  bool stream_started; /* the first step ran */
  rpc_unary_t unary;   /* a unary call between its decoding and its answer */
  /* Queued to a worker: what to do there (unary: run and answer; a stream:
   * its next step, with a message received or not). */
  bool work_unary, work_received;
  bool quick; /* akidb_service_quick said so: it may run on the network thread */
  struct rpc_call *work_next;
  trace_request_t trace; /* the call's SERVER span (trace/trace.h): begun at setup,
                            attached while a thread runs the call's service work,
                            ended with the call */
} rpc_call_t;

/* A network thread: its completion queue, and the quick calls waiting to
 * run on it (FIFO). */
typedef struct {
  struct agrpc_server *s;
  grpc_completion_queue *cq;
  pthread_t thread;
  bool started;
  rpc_call_t *inline_head, *inline_tail;
  unsigned inline_count;
  unsigned inline_age; /* events seen since the oldest was queued */
  bool draining;       /* a look found nothing more: run the queue out before polling */
  bool look_found;     /* the last look brought another call */
  unsigned unlooked;   /* calls run alone without a look since the last one */
} rpc_poller_t;

struct agrpc_server {
  akidb_service_t *svc;
  grpc_server *server;
  rpc_poller_t pollers[RPC_POLLERS_MAX];
  unsigned n_pollers;
  pthread_t workers[RPC_WORKERS];
  int n_workers;
  pthread_mutex_t work_mu; /* the work queue and workers_stop */
  pthread_cond_t work_cv;
  rpc_call_t *work_head, *work_tail;
  bool workers_stop;
  _Atomic unsigned spinning;    /* workers watching the queue before they sleep (drops
                                   under work_mu; the network thread peeks without it) */
  _Atomic unsigned work_queued; /* calls in the queue (read without work_mu while spinning) */
  _Atomic uint32_t quick_ns;    /* moving average of a quick call's CPU time */
  uint16_t port;
  rpc_slot_t *slots;
  size_t n_slots;
  rpc_tag_t shutdown_tag;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  _Atomic bool stopping; /* written under mu; read without it on the call path */
  bool shut_down;
  grpc_call *watches[RPC_WATCH_MAX];
};

/* ------------------------------------------------------------- slots -- */

static void slot_arm(agrpc_server_t *s, rpc_slot_t *slot) {
  slot->call = NULL;
  slot->payload = NULL;
  grpc_call_details_init(&slot->details);
  grpc_metadata_array_init(&slot->md);
  tag_hand_over(&slot->kind, TAG_SLOT);
  if (!slot->method) {
    grpc_server_request_call(s->server, &slot->call, &slot->details, &slot->md, slot->cq,
                             slot->cq, slot);
    return;
  }
  grpc_byte_buffer **payload = slot->method->shape == RPC_UNARY ? &slot->payload : NULL;
  grpc_server_request_registered_call(s->server, slot->registered, &slot->call, &slot->deadline,
                                      &slot->md, payload, slot->cq, slot->cq, slot);
}

static void slot_release(rpc_slot_t *slot) {
  grpc_call_details_destroy(&slot->details);
  grpc_metadata_array_destroy(&slot->md);
  if (slot->payload) grpc_byte_buffer_destroy(slot->payload);
  slot->payload = NULL;
}

/* ---------------------------------------------------------- metadata -- */

/* The value of metadata `key` as a new string, or NULL. */
static char *md_find(const grpc_metadata_array *md, const char *key) {
  for (size_t i = 0; i < md->count; i++) {
    if (grpc_slice_str_cmp(md->metadata[i].key, key) != 0) continue;
    const grpc_slice v = md->metadata[i].value;
    size_t n = GRPC_SLICE_LENGTH(v);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    memcpy(out, GRPC_SLICE_START_PTR(v), n);
    out[n] = '\0';
    return out;
  }
  return NULL;
}

static void take_request_id(rpc_call_t *c) {
  char *rid = md_find(&c->md, "x-request-id");
  if (rid && http_request_id_valid(rid)) {
    snprintf(c->request_id, sizeof c->request_id, "%s", rid);
  } else {
    akidb_uuid_t id;
    if (akidb_uuid_v7_fast(&id) == AKIDB_OK) akidb_uuid_format(&id, c->request_id);
    else snprintf(c->request_id, sizeof c->request_id, "unknown");
  }
  free(rid);
}

/* "ipv4:127.0.0.1:5000" → "127.0.0.1"; "ipv6:[::1]:5000" → "::1". */
static void take_source(rpc_call_t *c) {
  char *peer = grpc_call_get_peer(c->call);
  const char *p = peer ? strchr(peer, ':') : NULL;
  p = p ? p + 1 : "";
  if (*p == '[') p++;
  snprintf(c->source, sizeof c->source, "%s", p);
  char *end = strrchr(c->source, ']');
  if (!end) end = strrchr(c->source, ':');
  if (end) *end = '\0';
  gpr_free(peer);
}

/* ------------------------------------------------------------- calls -- */

static const char *const CODE_NAMES[] = {
    "OK",           "CANCELLED",         "UNKNOWN",        "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED", "NOT_FOUND",    "ALREADY_EXISTS", "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
    "UNIMPLEMENTED", "INTERNAL",         "UNAVAILABLE",    "DATA_LOSS",
    "UNAUTHENTICATED"};

static const char *code_name(int code) {
  return code >= 0 && code < (int)(sizeof CODE_NAMES / sizeof CODE_NAMES[0]) ? CODE_NAMES[code]
                                                                             : "UNKNOWN";
}

/* The access log line and the metrics of a call that ended with `code`. */
static void call_record(const rpc_call_t *c, int code) {
  double ms = (double)(akidb_monotonic_ns() - c->start_ns) / 1e6;
  const char *path = c->method ? c->method->path : NULL;
  obs_grpc_observe(path, code_name(code), ms / 1e3);
  if (path) {
    obs_log_rpc(c->request_id, path, code_name(code), code, ms, c->tenant);
    return;
  }
  char raw[201];
  size_t n = GRPC_SLICE_LENGTH(c->details.method);
  snprintf(raw, sizeof raw, "%.*s", (int)(n > 200 ? 200 : n),
           (const char *)GRPC_SLICE_START_PTR(c->details.method));
  obs_log_rpc(c->request_id, raw, code_name(code), code, ms, c->tenant);
}

static void call_free(rpc_call_t *c) {
  if (c->method && c->method->stream_free) c->method->stream_free(c->stream.state);
  if (c->recv) grpc_byte_buffer_destroy(c->recv);
  if (c->send) grpc_byte_buffer_destroy(c->send);
  grpc_slice_unref(c->status_details);
  grpc_slice_unref(c->initial[0].value);
  grpc_call_details_destroy(&c->details);
  grpc_metadata_array_destroy(&c->md);
  if (c->call) grpc_call_unref(c->call);
  if (c->bearer) {
    memset(c->bearer, 0, strlen(c->bearer));
    free(c->bearer);
  }
  free(c->answer.body);
  free(c);
}

/* Ends the call's span with its status code (an error status for the
 * codes that mean the server failed, as OpenTelemetry's RPC conventions). */
static void trace_end(rpc_call_t *c, int code) {
  trace_span_t *sp = c->trace.span;
  if (sp) {
    trace_span_set_int(sp, "rpc.grpc.status_code", code);
    if (c->tenant[0]) trace_span_set_str(sp, "akidb.tenant", c->tenant);
    if (code == GRPC_STATUS_UNKNOWN || code == GRPC_STATUS_DEADLINE_EXCEEDED ||
        code == GRPC_STATUS_UNIMPLEMENTED || code == GRPC_STATUS_INTERNAL ||
        code == GRPC_STATUS_UNAVAILABLE || code == GRPC_STATUS_DATA_LOSS)
      trace_span_set_status(sp, TRACE_STATUS_ERROR, code_name(code));
  }
  trace_request_end(&c->trace);
}

/* The call ended: the status sent (final_code), or the client gone. */
static void call_end(rpc_call_t *c) {
  int code = c->final_code >= 0 ? c->final_code : GRPC_STATUS_CANCELLED;
  call_record(c, code);
  trace_end(c, code);
  call_free(c);
}

static void watch_remove(agrpc_server_t *s, grpc_call *call);
static void call_answer(agrpc_server_t *s, rpc_call_t *c);

/* The deadline on the monotonic clock of akidb_request_t (0: none). */
static int64_t deadline_ns(const rpc_call_t *c) {
  gpr_timespec d = c->deadline;
  if (gpr_time_cmp(d, gpr_inf_future(d.clock_type)) == 0) return 0;
  gpr_timespec left = gpr_time_sub(d, gpr_now(d.clock_type));
  int64_t ns = left.tv_sec * 1000000000 + left.tv_nsec;
  return akidb_monotonic_ns() + (ns > 0 ? ns : 0);
}

static bool deadline_passed(const rpc_call_t *c) {
  return c->stream.req.deadline_ns && akidb_monotonic_ns() >= c->stream.req.deadline_ns;
}

/* Starts a batch of `n` ops on the call; the call belongs to the event's
 * thread from then on. Frees it when the core refuses the batch. */
static void call_start(agrpc_server_t *s, rpc_call_t *c, grpc_op *ops, size_t n,
                       rpc_stage_t stage) {
  c->stage = stage;
  grpc_call *call = c->call; /* once handed over, c belongs to the event's thread */
  tag_hand_over(&c->kind, TAG_CALL);
  if (grpc_call_start_batch(call, ops, n, c, NULL) != GRPC_CALL_OK) {
    if (stage == STAGE_OPEN) watch_remove(s, call);
    call_end(c);
  }
}

/* Begins the call's span, "akidb.v1.PointService/Search", continuing the
 * client's traceparent metadata. Not for the health service. */
static void trace_begin(rpc_call_t *c) {
  if (!trace_enabled() || !c->method || strncmp(c->method->path, "/grpc.health.", 13) == 0)
    return;
  char *tp = md_find(&c->md, "traceparent"), *ts = md_find(&c->md, "tracestate");
  trace_request_begin(&c->trace, c->method->path + 1, tp, ts);
  free(tp);
  free(ts);
  trace_span_t *sp = c->trace.span;
  if (!sp) return;
  trace_span_set_str(sp, "rpc.system", "grpc");
  trace_span_set_str(sp, "rpc.method", c->method->path);
  trace_span_set_str(sp, "akidb.request_id", c->request_id);
}

/* The credentials, request id, source, method and deadline of a new call. */
static void call_setup(agrpc_server_t *s, rpc_call_t *c) {
  take_request_id(c);
  take_source(c);
  c->bearer = md_find(&c->md, "authorization");
  if (!c->method) /* a path no method was registered for: none of ours */
    c->method = rpc_method_find((const char *)GRPC_SLICE_START_PTR(c->details.method),
                                GRPC_SLICE_LENGTH(c->details.method));
  c->stream = (rpc_stream_t){.svc = s->svc,
                             .req = {.bearer = c->bearer,
                                     .request_id = c->request_id,
                                     .source = c->source,
                                     .deadline_ns = deadline_ns(c)}};
  trace_begin(c);
}

static void call_received(rpc_poller_t *p, rpc_call_t *c);

/* A new call: a unary one has its request already and runs at once (its
 * initial metadata goes with the answer); the others start with batch 1:
 * initial metadata with the request id, and the first request. */
static void call_begin(rpc_poller_t *p, rpc_call_t *c) {
  agrpc_server_t *s = p->s;
  call_setup(s, c);
  c->initial[0].key = grpc_slice_from_static_string("x-request-id");
  c->initial[0].value = grpc_slice_from_copied_string(c->request_id);
  if (c->method && c->method->shape == RPC_UNARY && c->initial_pending) {
    c->stage = STAGE_RECV;
    call_received(p, c);
    return;
  }
  c->initial_pending = false;
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = 1;
  ops[0].data.send_initial_metadata.metadata = c->initial;
  ops[1].op = GRPC_OP_RECV_MESSAGE;
  ops[1].data.recv_message.recv_message = &c->recv;
  call_start(s, c, ops, 2, STAGE_RECV);
}

static void answer_status(rpc_answer_t *a, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void answer_status(rpc_answer_t *a, int code, const char *fmt, ...) {
  a->code = code;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->message, sizeof a->message, fmt, ap);
  va_end(ap);
}

/* Why the call cannot run, into c->answer; false when it can. */
static bool call_refused(rpc_call_t *c) {
  rpc_answer_t *a = &c->answer;
  size_t n = GRPC_SLICE_LENGTH(c->details.method);
  if (!c->method)
    answer_status(a, GRPC_STATUS_UNIMPLEMENTED,
                  "%.*s is not a method of this server; the services are in proto/akidb/v1",
                  (int)(n > 200 ? 200 : n), (const char *)GRPC_SLICE_START_PTR(c->details.method));
  else if (deadline_passed(c))
    answer_status(a, GRPC_STATUS_DEADLINE_EXCEEDED, "the deadline passed before the call ran");
  else
    return false;
  return true;
}

/* The calling thread's buffer for a message that came in several slices
 * (kept while at most RPC_GATHER_KEEP bytes; freed by gather_release when
 * the thread ends). A batch of 1,000 768-d points is ~3 MiB: gathered into
 * a fresh malloc'd block each time (glibc maps blocks of 1 MiB and more,
 * see serve.c), it cost a mapping and ~800 page faults per batch. */
static _Thread_local uint8_t *gather_buf;
static _Thread_local size_t gather_cap;

static void gather_release(void) {
  free(gather_buf);
  gather_buf = NULL;
  gather_cap = 0;
}

/* The slices of `sb` (n bytes in all) copied into the thread's buffer, as
 * a slice that does not own it (*out); false when out of memory. */
static bool gather(const grpc_slice_buffer *sb, size_t n, grpc_slice *out) {
  if (n == 0) {
    *out = grpc_empty_slice();
    return true;
  }
  if (n > gather_cap) {
    uint8_t *p = malloc(n);
    if (!p) return false;
    free(gather_buf);
    gather_buf = p;
    gather_cap = n;
  }
  size_t at = 0;
  for (size_t i = 0; i < sb->count; i++) {
    size_t len = GRPC_SLICE_LENGTH(sb->slices[i]);
    memcpy(gather_buf + at, GRPC_SLICE_START_PTR(sb->slices[i]), len);
    at += len;
  }
  *out = grpc_slice_from_static_buffer(gather_buf, n);
  return true;
}

/* The received message's bytes (empty slice when none), valid until the
 * caller unrefs the slice and, when gathered, until the thread takes the
 * next message. A message that came in one slice is that slice (no copy);
 * one in several is gathered into the thread's buffer when it fits
 * RPC_GATHER_KEEP; a compressed or larger one is read whole by the core. */
static grpc_slice take_message(rpc_call_t *c) {
  grpc_byte_buffer *bb = c->recv;
  if (!bb) return grpc_empty_slice();
  c->recv = NULL;
  const grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;
  size_t n = bb->data.raw.compression == GRPC_COMPRESS_NONE ? sb->length : SIZE_MAX;
  grpc_slice in;
  if (n != SIZE_MAX && sb->count == 1) {
    in = grpc_slice_ref(sb->slices[0]);
  } else if (n > RPC_GATHER_KEEP || !gather(sb, n, &in)) {
    grpc_byte_buffer_reader r;
    grpc_byte_buffer_reader_init(&r, bb);
    in = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
  }
  grpc_byte_buffer_destroy(bb);
  return in;
}

/* Decodes a unary (or Watch) request into c->unary; false with the
 * answer set when it cannot run. */
static bool unary_decode(agrpc_server_t *s, rpc_call_t *c) {
  if (call_refused(c)) return false;
  if (!c->recv && c->method->shape == RPC_BIDI_EACH) { /* the client closed: OK, no message */
    free(c->answer.body);
    memset(&c->answer, 0, sizeof c->answer);
    return false;
  }
  if (!c->recv) {
    answer_status(&c->answer, GRPC_STATUS_INVALID_ARGUMENT, "the call carried no request message");
    return false;
  }
  grpc_slice in = take_message(c); /* protobuf-c copies what it keeps */
  c->unary.req = c->stream.req;
  int rc = rpc_unary_decode(s->svc, c->method, GRPC_SLICE_START_PTR(in), GRPC_SLICE_LENGTH(in),
                            &c->unary, &c->answer);
  grpc_slice_unref(in);
  if (rc) rpc_unary_free(&c->unary, &c->answer);
  return rc == 0;
}

/* The calling thread's CPU time in ns. */
static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Folds one quick call's CPU time into the moving average (1/8 weight; a
 * lost update between threads does not matter). CPU time, not wall time:
 * on a busy machine a call's wall time grows, but handing calls off would
 * not make them faster. */
static void quick_time_add(agrpc_server_t *s, int64_t ns) {
  uint32_t avg = atomic_load_explicit(&s->quick_ns, memory_order_relaxed);
  uint32_t x = ns > UINT32_MAX ? UINT32_MAX : ns < 0 ? 0 : (uint32_t)ns;
  avg = avg - avg / 8 + x / 8;
  atomic_store_explicit(&s->quick_ns, avg, memory_order_relaxed);
}

/* One quick call in RPC_TIME_EVERY run by this thread is timed (the
 * thread's CPU clock is a system call: ~3 µs on a VM). */
static bool quick_timed(void) {
  static _Thread_local unsigned seen;
  return seen++ % RPC_TIME_EVERY == 0;
}

/* Runs a decoded unary call and answers it (the network thread or a worker). */
static void unary_finish(agrpc_server_t *s, rpc_call_t *c) {
  trace_saved_t saved;
  bool traced = trace_request_attach(&c->trace, &saved);
  bool timed = c->quick && quick_timed();
  int64_t t0 = timed ? thread_cpu_ns() : 0;
  rpc_unary_run(s->svc, c->method, &c->unary, &c->answer);
  if (timed) quick_time_add(s, thread_cpu_ns() - t0);
  if (traced) trace_detach(&saved);
  rpc_unary_free(&c->unary, &c->answer);
  snprintf(c->tenant, sizeof c->tenant, "%s", c->answer.tenant);
  call_answer(s, c);
}

/* Remembers an open Watch call so that stop can cancel it; false when the
 * server is stopping or the list is full. */
static bool watch_add(agrpc_server_t *s, grpc_call *call) {
  bool ok = false;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; !atomic_load(&s->stopping) && !ok && i < RPC_WATCH_MAX; i++)
    if (!s->watches[i]) s->watches[i] = call, ok = true;
  pthread_mutex_unlock(&s->mu);
  return ok;
}

static void watch_remove(agrpc_server_t *s, grpc_call *call) {
  pthread_mutex_lock(&s->mu);
  for (int i = 0; i < RPC_WATCH_MAX; i++)
    if (s->watches[i] == call) s->watches[i] = NULL;
  pthread_mutex_unlock(&s->mu);
}

/* Sets op to send c->answer's body (replacing the last message sent). */
static void body_free(void *p, size_t len) {
  (void)len;
  free(p);
}

/* A session token or a key's secret leaves no copy behind. */
static void body_wipe_free(void *p, size_t len) {
  memset(p, 0, len);
  free(p);
}

static void op_send_message(rpc_call_t *c, grpc_op *op) {
  if (c->send) grpc_byte_buffer_destroy(c->send);
  bool secret =
      c->method && (c->method->op == AKIDB_OP_LOGIN || c->method->op == AKIDB_OP_KEY_CREATE);
  /* the slice takes the packed answer over: no copy */
  grpc_slice body = grpc_slice_new_with_len(c->answer.body, c->answer.len,
                                            secret ? body_wipe_free : body_free);
  c->answer.body = NULL;
  c->send = grpc_raw_byte_buffer_create(&body, 1);
  grpc_slice_unref(body);
  op->op = GRPC_OP_SEND_MESSAGE;
  op->data.send_message.send_message = c->send;
}

/* Sets op to send the status of c->answer (and retry-after). */
static void op_send_status(rpc_call_t *c, grpc_op *op) {
  rpc_answer_t *a = &c->answer;
  c->final_code = a->code;
  grpc_slice_unref(c->status_details);
  c->status_details = grpc_slice_from_copied_string(a->message);
  op->op = GRPC_OP_SEND_STATUS_FROM_SERVER;
  op->data.send_status_from_server.status = (grpc_status_code)a->code;
  op->data.send_status_from_server.status_details = a->code ? &c->status_details : NULL;
  if (a->retry_after_s) {
    snprintf(c->retry_after, sizeof c->retry_after, "%u", a->retry_after_s);
    c->trailing[0].key = grpc_slice_from_static_string("retry-after");
    c->trailing[0].value = grpc_slice_from_static_string(c->retry_after);
    op->data.send_status_from_server.trailing_metadata_count = 1;
    op->data.send_status_from_server.trailing_metadata = c->trailing;
  }
}

/* A SearchStream answer: the message, and the next request asked for. */
static void each_answer(agrpc_server_t *s, rpc_call_t *c) {
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  op_send_message(c, &ops[0]);
  ops[1].op = GRPC_OP_RECV_MESSAGE;
  ops[1].data.recv_message.recv_message = &c->recv;
  call_start(s, c, ops, 2, STAGE_MSG_RECV);
}

/* The last batch: the answer (when OK and there is one), the status, and
 * the close. A Watch sends its answer and stays open (no status) until
 * cancelled; an answer of a BIDI_EACH call keeps the call going. */
static void call_answer(agrpc_server_t *s, rpc_call_t *c) {
  if (c->method && c->method->shape == RPC_BIDI_EACH && c->answer.code == 0 && c->answer.body) {
    each_answer(s, c);
    return;
  }
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (c->initial_pending) {
    c->initial_pending = false;
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].data.send_initial_metadata.count = 1;
    ops[n++].data.send_initial_metadata.metadata = c->initial;
  }
  if (c->answer.code == 0 && c->answer.body) op_send_message(c, &ops[n++]);
  bool open = c->answer.code == 0 && c->method && c->method->shape == RPC_WATCH &&
              watch_add(s, c->call);
  if (!open) op_send_status(c, &ops[n++]);
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
  call_start(s, c, ops, n, open ? STAGE_OPEN : STAGE_SEND);
}

/* One step of a streaming call with the message just received (if any),
 * then the batch that step asks for. */
static void stream_advance(agrpc_server_t *s, rpc_call_t *c, bool received) {
  rpc_answer_t *a = &c->answer;
  free(a->body);
  memset(a, 0, sizeof *a);
  rpc_step_t step = RPC_STEP_FINISH;
  bool server_stream = c->method->shape == RPC_SERVER_STREAM;
  if (deadline_passed(c)) {
    answer_status(a, GRPC_STATUS_DEADLINE_EXCEEDED, "the deadline passed during the stream");
  } else if (server_stream && received && !c->recv) {
    answer_status(a, GRPC_STATUS_INVALID_ARGUMENT, "the call carried no request message");
  } else {
    bool end = received && !c->recv && !server_stream;
    grpc_slice in = take_message(c);
    trace_saved_t saved;
    bool traced = trace_request_attach(&c->trace, &saved);
    step = c->method->step(&c->stream, received ? GRPC_SLICE_START_PTR(in) : NULL,
                           GRPC_SLICE_LENGTH(in), end, a);
    if (traced) trace_detach(&saved);
    grpc_slice_unref(in);
  }
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (step == RPC_STEP_FINISH) {
    call_answer(s, c);
    return;
  }
  if (step == RPC_STEP_SEND) op_send_message(c, &ops[n++]);
  if (!server_stream) {
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &c->recv;
  }
  call_start(s, c, ops, n,
             step == RPC_STEP_MORE ? STAGE_RECV : server_stream ? STAGE_MSG : STAGE_MSG_RECV);
}

/* ------------------------------------------------------------ workers -- */

/* Queues the call to a worker: a unary run, or a stream's next step. */
static void work_push(agrpc_server_t *s, rpc_call_t *c, bool unary, bool received) {
  c->work_unary = unary;
  c->work_received = received;
  c->work_next = NULL;
  pthread_mutex_lock(&s->work_mu);
  if (s->work_tail) s->work_tail->work_next = c;
  else s->work_head = c;
  s->work_tail = c;
  /* a spinning worker takes it, unless more calls wait than workers spin */
  unsigned queued = atomic_fetch_add_explicit(&s->work_queued, 1, memory_order_release) + 1;
  if (queued > s->spinning) pthread_cond_signal(&s->work_cv);
  pthread_mutex_unlock(&s->work_mu);
}

/* The head of the queue, or NULL (work_mu held). */
static rpc_call_t *work_take(agrpc_server_t *s) {
  rpc_call_t *c = s->work_head;
  if (c && !(s->work_head = c->work_next)) s->work_tail = NULL;
  if (c) atomic_fetch_sub_explicit(&s->work_queued, 1, memory_order_relaxed);
  return c;
}

/* The next queued call, or NULL when the workers stop. After a call a
 * worker first spins for RPC_SPIN_NS (yielding the core to any other runnable
 * thread) watching the queue, so that under a steady stream of calls a
 * hand-off needs no wake-up; then it sleeps. `spinning` drops under
 * work_mu, which work_push holds when it decides not to signal (it signals
 * whenever more calls wait than workers spin), and the worker looks at the
 * queue again under it before sleeping: no call is left unseen. */
static rpc_call_t *work_pop(agrpc_server_t *s, bool spin) {
  rpc_call_t *c = NULL;
  if (spin) {
    atomic_fetch_add(&s->spinning, 1); /* a push that misses it only signals once too often */
    int64_t until = akidb_monotonic_ns() + RPC_SPIN_NS;
    while (!c && akidb_monotonic_ns() < until) {
      if (atomic_load_explicit(&s->work_queued, memory_order_acquire) == 0) {
        sched_yield();
        continue;
      }
      pthread_mutex_lock(&s->work_mu);
      c = work_take(s);
      pthread_mutex_unlock(&s->work_mu);
    }
    pthread_mutex_lock(&s->work_mu);
    s->spinning--;
    if (c) {
      pthread_mutex_unlock(&s->work_mu);
      return c;
    }
  } else {
    pthread_mutex_lock(&s->work_mu);
  }
  while (!s->work_head && !s->workers_stop) pthread_cond_wait(&s->work_cv, &s->work_mu);
  c = work_take(s);
  pthread_mutex_unlock(&s->work_mu);
  return c;
}

static void *worker_main(void *arg) {
  agrpc_server_t *s = arg;
  util_thread_name("grpc-worker");
  rpc_call_t *c;
  bool spin = false;
  while ((c = work_pop(s, spin))) {
    if (c->work_unary) unary_finish(s, c);
    else stream_advance(s, c, c->work_received);
    spin = true;
  }
  gather_release();
  return NULL;
}

static void workers_stop(agrpc_server_t *s) {
  pthread_mutex_lock(&s->work_mu);
  s->workers_stop = true;
  pthread_cond_broadcast(&s->work_cv);
  pthread_mutex_unlock(&s->work_mu);
  for (int i = 0; i < s->n_workers; i++) pthread_join(s->workers[i], NULL);
  s->n_workers = 0;
}

/* ------------------------------------------- quick calls on a poller -- */

/* Quick calls queue on their network thread (FIFO), which runs them in turn
 * when no event is ready: no hand-off, so a call costs one wake-up at most.
 * A hand-off to a sleeping worker costs two wake-ups (tens of µs of CPU on
 * a VM) and buys parallelism; it pays when a new call would otherwise wait
 * long. So a new quick call queues while the calls ahead of it add up to
 * less than RPC_HANDOFF_NS of CPU time (by the moving average of a quick
 * call's; at least one call, at most RPC_INLINE_MAX), and goes to a worker
 * otherwise, or at once when a worker is spinning (no wake-up then) and a
 * call is already queued. With a network thread per core the cores are
 * busy without hand-offs, so the bound is loose (1 ms): a hand-off then
 * only relieves a thread that holds more than its share of the busy
 * connections. (Measured on 2 vCPUs, 4 closed-loop clients, 768-d: with a
 * 200 µs bound the second concurrent call went to a worker, and p99 was
 * 1.57 ms against 0.90 ms with 1 ms; handing every concurrent call off
 * cost 1.7 context switches and ~20 µs more server CPU per 128-d search
 * than running them here.) */
static rpc_call_t *inline_pop(rpc_poller_t *p) {
  rpc_call_t *c = p->inline_head;
  if (c && !(p->inline_head = c->work_next)) p->inline_tail = NULL;
  if (c) p->inline_count--, p->inline_age = 0;
  return c;
}

/* How many quick calls may wait on a network thread. */
static unsigned inline_room(const agrpc_server_t *s) {
  uint32_t avg = atomic_load_explicit(&s->quick_ns, memory_order_relaxed);
  uint32_t room = avg ? RPC_HANDOFF_NS / avg : RPC_INLINE_MAX;
  return room < 1 ? 1 : room > RPC_INLINE_MAX ? RPC_INLINE_MAX : room;
}

static void defer(rpc_poller_t *p, rpc_call_t *c) {
  agrpc_server_t *s = p->s;
  bool cheap = p->inline_count > 0 && atomic_load_explicit(&s->spinning, memory_order_relaxed) > 0;
  if (cheap || p->inline_count >= inline_room(s)) {
    work_push(s, c, true, false);
    return;
  }
  c->work_next = NULL;
  if (p->inline_tail) p->inline_tail->work_next = c;
  else p->inline_head = c, p->inline_age = 0;
  p->inline_tail = c;
  p->inline_count++;
}

static void deferred_aged(rpc_poller_t *p) {
  if (p->inline_head && ++p->inline_age > RPC_DEFER_EVENTS)
    work_push(p->s, inline_pop(p), true, false);
}

/* No event is ready: run the oldest queued quick call here. */
static void run_deferred(rpc_poller_t *p) {
  rpc_call_t *c = inline_pop(p);
  if (c) unary_finish(p->s, c);
}

/* ------------------------------------------------------------- events -- */

/* A request (first or next) arrived: run it here when it is quick, else
 * on a worker. */
static void call_received(rpc_poller_t *p, rpc_call_t *c) {
  agrpc_server_t *s = p->s;
  bool stream = c->method && c->method->step;
  if (!stream) {
    if (!unary_decode(s, c)) call_answer(s, c);
    else if ((c->quick = akidb_service_quick(s->svc, c->unary.a.op, &c->unary.req))) defer(p, c);
    else work_push(s, c, true, false);
  } else if (!c->stream_started && call_refused(c)) {
    call_answer(s, c);
  } else {
    c->stream_started = true;
    work_push(s, c, false, true);
  }
}

static void call_event(rpc_poller_t *p, rpc_call_t *c, bool ok) {
  agrpc_server_t *s = p->s;
  switch (c->stage) {
  case STAGE_OPEN:
    watch_remove(s, c->call);
    call_end(c);
    return;
  case STAGE_SEND:
    call_end(c);
    return;
  case STAGE_MSG: /* a Scan page left: the next one */
    if (ok) work_push(s, c, false, false);
    else call_end(c); /* the client went away */
    return;
  case STAGE_RECV:
  case STAGE_MSG_RECV:
    if (ok) call_received(p, c);
    else call_end(c); /* cancelled, or too large (the core answered) */
    return;
  }
}

/* A request_call completed: take the call, ask for the next one. */
static void slot_event(rpc_poller_t *p, rpc_slot_t *slot, bool ok) {
  agrpc_server_t *s = p->s;
  rpc_call_t *c = ok && slot->call ? calloc(1, sizeof *c) : NULL;
  if (c) {
    atomic_init(&c->kind, TAG_CALL);
    c->call = slot->call;
    c->method = slot->method;
    c->details = slot->details;
    c->deadline = slot->method ? slot->deadline : slot->details.deadline;
    c->md = slot->md;
    c->recv = slot->payload; /* a registered unary method's request */
    c->initial_pending = slot->method && slot->method->shape == RPC_UNARY;
    slot->payload = NULL;
    c->status_details = grpc_empty_slice();
    c->initial[0].value = grpc_empty_slice();
    c->final_code = -1;
    c->start_ns = akidb_monotonic_ns();
  } else {
    if (ok && slot->call) grpc_call_unref(slot->call);
    slot_release(slot);
  }
  if (ok && !atomic_load(&s->stopping)) slot_arm(s, slot);
  if (c) call_begin(p, c);
}

static void event_take(rpc_poller_t *p, grpc_event ev) {
  agrpc_server_t *s = p->s;
  rpc_tag_kind_t kind = tag_take(ev.tag);
  if (kind == TAG_SLOT) {
    slot_event(p, ev.tag, ev.success);
  } else if (kind == TAG_CALL) {
    call_event(p, ev.tag, ev.success);
  } else {
    pthread_mutex_lock(&s->mu);
    s->shut_down = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
  }
}

/* Whether a quick call that is alone on its thread runs at once, without
 * the look for other ready events that deferring it costs (a poll system
 * call, ~3 µs on a VM). It does when its event ended a wait of RPC_IDLE_NS
 * or more (the thread was idle: nothing else was ready; on a connection of
 * sequential queries that is every query), and when the last look brought
 * no other call, but for one call in RPC_LOOK_EVERY, which looks again so
 * that calls arriving together are still seen and handed off (defer). */
static bool run_alone_now(rpc_poller_t *p, bool was_idle) {
  if (p->inline_count != 1) return false;
  if (was_idle) return true;
  if (!p->look_found && ++p->unlooked < RPC_LOOK_EVERY) return true;
  p->unlooked = 0;
  return false;
}

/* The result of a look (a poll without waiting): the event it brought, if
 * any, is taken, and remembered when it queued another call. After a look
 * that found nothing the queued calls all run before the next poll (one
 * look per run of calls, not one per call). */
static void look_taken(rpc_poller_t *p, grpc_event ev) {
  if (ev.type == GRPC_QUEUE_TIMEOUT) {
    p->look_found = false;
    p->draining = true;
    return;
  }
  unsigned before = p->inline_count;
  event_take(p, ev);
  if (p->inline_count > before) p->look_found = true;
  deferred_aged(p);
}

/* A network thread: polls its queue, the events that are ready first, the
 * deferred calls when none is, until the queue shuts down. With no call
 * deferred it waits for the next event at once (a look without waiting
 * first would cost a system call per event for nothing); see run_alone_now
 * for a call that need not wait for a look. */
static void *poll_main(void *arg) {
  rpc_poller_t *p = arg;
  util_thread_name("grpc-net");
  for (;;) {
    if (p->draining && p->inline_head) {
      run_deferred(p);
      continue;
    }
    p->draining = false;
    bool wait = !p->inline_head;
    gpr_timespec until = wait ? gpr_inf_future(GPR_CLOCK_REALTIME)
                              : gpr_inf_past(GPR_CLOCK_MONOTONIC);
    int64_t t0 = wait ? akidb_monotonic_ns() : 0;
    grpc_event ev = grpc_completion_queue_next(p->cq, until, NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (!wait) {
      look_taken(p, ev);
      continue;
    }
    if (ev.type != GRPC_OP_COMPLETE) continue;
    bool was_idle = akidb_monotonic_ns() - t0 >= RPC_IDLE_NS;
    event_take(p, ev);
    if (run_alone_now(p, was_idle)) run_deferred(p);
    else deferred_aged(p);
  }
  gather_release();
  return NULL;
}

/* ------------------------------------------------------------ server -- */

/* RPC_SLOTS request slots of method m (NULL: any other path) on each
 * network thread's queue. */
static void slots_add(agrpc_server_t *s, const rpc_method_t *m, void *registered) {
  for (unsigned q = 0; q < s->n_pollers; q++)
    for (int j = 0; j < RPC_SLOTS; j++)
      s->slots[s->n_slots++] =
          (rpc_slot_t){.cq = s->pollers[q].cq, .method = m, .registered = registered};
}

/* Registers every method of the codec's tables (a unary one with its
 * request read before the call is handed over) and makes the request
 * slots of each network thread's queue: RPC_SLOTS per method and
 * RPC_SLOTS for any other path. */
static int methods_register(agrpc_server_t *s, char *err, size_t errlen) {
  size_t n = 0;
  while (rpc_method_at(n)) n++;
  s->slots = calloc((n + 1) * RPC_SLOTS * s->n_pollers, sizeof *s->slots);
  if (!s->slots) return AKIDB_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const rpc_method_t *m = rpc_method_at(i);
    void *h = grpc_server_register_method(s->server, m->path, NULL,
                                          m->shape == RPC_UNARY
                                              ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER
                                              : GRPC_SRM_PAYLOAD_NONE,
                                          0);
    if (!h) {
      snprintf(err, errlen, "the gRPC method %s cannot be registered (twice in the tables?)",
               m->path);
      return AKIDB_EINVAL;
    }
    slots_add(s, m, h);
  }
  slots_add(s, NULL, NULL); /* any other path */
  return AKIDB_OK;
}

/* One network thread per usable core (at most RPC_POLLERS_MAX), each with
 * its own completion queue. */
static unsigned pollers_wanted(void) {
  long n = util_cpus_usable();
  return n > RPC_POLLERS_MAX ? RPC_POLLERS_MAX : (unsigned)n;
}

/* Creates the network threads' queues and registers them with the server. */
static void pollers_create(agrpc_server_t *s) {
  s->n_pollers = pollers_wanted();
  for (unsigned q = 0; q < s->n_pollers; q++) {
    s->pollers[q] = (rpc_poller_t){.s = s, .cq = grpc_completion_queue_create_for_next(NULL)};
    grpc_server_register_completion_queue(s->server, s->pollers[q].cq, NULL);
  }
}

/* Shuts the queues down and waits for their threads (or drains a queue
 * no thread polls) until each reports its shutdown. */
static void pollers_finish(agrpc_server_t *s) {
  for (unsigned q = 0; q < s->n_pollers; q++) grpc_completion_queue_shutdown(s->pollers[q].cq);
  for (unsigned q = 0; q < s->n_pollers; q++) {
    rpc_poller_t *p = &s->pollers[q];
    if (p->started) pthread_join(p->thread, NULL);
    else
      while (grpc_completion_queue_next(p->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
             GRPC_QUEUE_SHUTDOWN) {
      }
    p->started = false;
  }
}

/* The core's options: the receive limit; SO_REUSEPORT on, so that the
 * core gives each network thread's queue a listening socket of its own (a
 * clone bound to the same port; port_check_free keeps other servers off
 * it). Without it the core polls the one listening socket from every
 * network thread, and each time the thread holding it wakes for its own
 * connections it hands it over to another, kicking it out of its poll (an
 * eventfd write and read, and a lock both threads take): 0.7 eventfd writes
 * and 0.9 futex calls per query in a closed loop of 4 clients (strace).
 * No channelz (the core's debugging registry, which nothing here reads:
 * counters and a lock per call). GRPC_ARG_MINIMAL_STACK would save more,
 * but it drops the filter that enforces the receive limit. */
static grpc_server *server_create(const agrpc_options_t *o) {
  grpc_arg arg[3];
  memset(arg, 0, sizeof arg);
  arg[0].type = GRPC_ARG_INTEGER;
  arg[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  arg[0].value.integer = o->max_receive_bytes > INT_MAX ? INT_MAX : (int)o->max_receive_bytes;
  arg[1].type = GRPC_ARG_INTEGER;
  arg[1].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
  arg[1].value.integer = 1;
  arg[2].type = GRPC_ARG_INTEGER;
  arg[2].key = (char *)GRPC_ARG_ENABLE_CHANNELZ;
  arg[2].value.integer = 0;
  grpc_channel_args args = {3, arg};
  return grpc_server_create(&args, NULL);
}

/* AKIDB_OK when nothing listens on host:port (0: a free port is chosen).
 * The core binds its listening sockets with SO_REUSEPORT, which alone
 * would let a second server of the same user bind the port too and take
 * some of the connections; a listening socket without it (util_listen),
 * closed at once, fails with EADDRINUSE while anything listens there,
 * another AkiDB included. Other failures are left to the core to report. */
static int port_check_free(const char *host, uint16_t port, char *err, size_t errlen) {
  if (port == 0) return AKIDB_OK;
  int fd, family;
  char why[256];
  if (util_listen(host, port, &fd, &family, why, sizeof why) == AKIDB_OK) {
    close(fd);
    return AKIDB_OK;
  }
  if (errno != EADDRINUSE) return AKIDB_OK;
  snprintf(err, errlen,
           "cannot listen for gRPC on %s:%u: the port is in use (another server listens "
           "there); choose another with server.grpc_port, AKIDB_GRPC_PORT or --grpc-port",
           host, (unsigned)port);
  return AKIDB_EIO;
}

/* Plain, or TLS with the certificate chain and key of the REST server. */
static int server_credentials(const agrpc_options_t *o, grpc_server_credentials **out,
                              char *err, size_t errlen) {
  if (!o->tls_cert_file || !*o->tls_cert_file) {
    *out = grpc_insecure_server_credentials_create();
    return AKIDB_OK;
  }
  char *cert = NULL, *key = NULL;
  int rc = http_read_pem("certificate", o->tls_cert_file, &cert, err, errlen);
  if (!rc) rc = http_read_pem("key", o->tls_key_file, &key, err, errlen);
  if (!rc) {
    grpc_ssl_pem_key_cert_pair pair = {.private_key = key, .cert_chain = cert};
    *out = grpc_ssl_server_credentials_create(NULL, &pair, 1, 0, NULL);
    if (!*out) {
      snprintf(err, errlen, "the TLS certificate %s or key %s is not usable", o->tls_cert_file,
               o->tls_key_file);
      rc = AKIDB_EINVAL;
    }
  }
  if (key) memset(key, 0, strlen(key));
  free(key);
  free(cert);
  return rc;
}

/* Frees the server once its queues are shut down (pollers_finish). */
static void server_free(agrpc_server_t *s) {
  workers_stop(s); /* every call is over: the queue is empty */
  for (unsigned q = 0; q < s->n_pollers; q++) grpc_completion_queue_destroy(s->pollers[q].cq);
  free(s->slots);
  pthread_mutex_destroy(&s->work_mu);
  pthread_cond_destroy(&s->work_cv);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
  grpc_shutdown();
}

/* The network threads (each polling its queue, before the server starts)
 * and the workers; false when any of them cannot be started (the ones that
 * did end when the queues shut down, pollers_finish and server_free). */
static bool threads_start(agrpc_server_t *s) {
  bool ok = true;
  for (unsigned q = 0; q < s->n_pollers; q++) {
    rpc_poller_t *p = &s->pollers[q];
    p->started = pthread_create(&p->thread, NULL, poll_main, p) == 0;
    ok = ok && p->started;
  }
  for (int i = 0; i < RPC_WORKERS; i++)
    if (pthread_create(&s->workers[i], NULL, worker_main, s) == 0) s->n_workers++;
  return ok && s->n_workers == RPC_WORKERS;
}

void agrpc_prepare(void) {
  setenv("GRPC_POLL_STRATEGY", "poll", 0);
  agrpc_lock_tracking_off();
}

int agrpc_server_start(const agrpc_options_t *o, akidb_service_t *svc, agrpc_server_t **out,
                       char *err, size_t errlen) {
  *out = NULL;
  agrpc_server_t *s = calloc(1, sizeof *s);
  if (!s) return AKIDB_ENOMEM;
  grpc_init();
  s->svc = svc;
  atomic_init(&s->shutdown_tag, TAG_SHUTDOWN);
  atomic_init(&s->stopping, false);
  atomic_init(&s->spinning, 0);
  atomic_init(&s->work_queued, 0);
  atomic_init(&s->quick_ns, 0);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  pthread_mutex_init(&s->work_mu, NULL);
  pthread_cond_init(&s->work_cv, NULL);
  s->server = server_create(o);
  pollers_create(s);
  char addr[300];
  snprintf(addr, sizeof addr, "%s:%u", o->host, (unsigned)o->port);
  grpc_server_credentials *creds = NULL;
  int rc = methods_register(s, err, errlen);
  if (!rc) rc = port_check_free(o->host, o->port, err, errlen);
  if (!rc) rc = server_credentials(o, &creds, err, errlen);
  int port = rc ? 0 : grpc_server_add_http2_port(s->server, addr, creds);
  if (creds) grpc_server_credentials_release(creds);
  if (port <= 0 && !rc) {
    snprintf(err, errlen, "cannot listen for gRPC on %s", addr);
    rc = AKIDB_EIO;
  }
  if (!rc && !threads_start(s)) {
    snprintf(err, errlen, "cannot start the gRPC server's threads (out of memory or of threads)");
    rc = AKIDB_ENOMEM;
  }
  if (rc) {
    grpc_server_destroy(s->server); /* never started: no call to wait for */
    pollers_finish(s);
    server_free(s);
    return rc;
  }
  s->port = (uint16_t)port;
  grpc_server_start(s->server);
  for (size_t i = 0; i < s->n_slots; i++) slot_arm(s, &s->slots[i]);
  *out = s;
  return AKIDB_OK;
}

uint16_t agrpc_server_port(const agrpc_server_t *s) { return s->port; }

void agrpc_server_shutdown_begin(agrpc_server_t *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  bool first = !atomic_load(&s->stopping);
  atomic_store(&s->stopping, true);
  for (int i = 0; i < RPC_WATCH_MAX; i++)
    if (s->watches[i]) grpc_call_cancel(s->watches[i], NULL);
  pthread_mutex_unlock(&s->mu);
  if (first) {
    tag_hand_over(&s->shutdown_tag, TAG_SHUTDOWN);
    grpc_server_shutdown_and_notify(s->server, s->pollers[0].cq, &s->shutdown_tag);
  }
}

/* Waits until the shutdown tag arrived or `ms` passed; true if it did. */
static bool wait_shut_down(agrpc_server_t *s, uint32_t ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&s->mu);
  while (!s->shut_down)
    if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0) break;
  bool done = s->shut_down;
  pthread_mutex_unlock(&s->mu);
  return done;
}

void agrpc_server_stop(agrpc_server_t *s, uint32_t drain_ms) {
  if (!s) return;
  agrpc_server_shutdown_begin(s);
  if (!wait_shut_down(s, drain_ms)) {
    grpc_server_cancel_all_calls(s->server);
    while (!wait_shut_down(s, 1000)) {
    }
  }
  grpc_server_destroy(s->server);
  pollers_finish(s); /* the network threads drain their queues to the shutdown */
  server_free(s);
}
