/*
 * grpc/server.c — the gRPC server on the C core (libgrpc): one completion
 * queue polled by RPC_THREADS threads, calls asked for with
 * grpc_server_request_call (RPC_SLOTS requests kept outstanding), and per
 * unary call two batches: (1) initial metadata (x-request-id echoed) +
 * receive the request; (2) send the answer + status + receive close. The
 * service call runs on the polling thread between the two.
 *
 * Threads: two. The machine has 2 cores and the REST server already has
 * its own thread pool; two pollers let one slow call (an fsync'd upsert)
 * not hold up the next, without competing with REST for more cores.
 *
 * Locking: a call's state is touched only by the thread that took its
 * event (the core delivers one event per batch, and a call has one batch
 * in flight); `mu` guards the stop flags and the list of open Watch calls.
 * Durability: none of its own (the service answers writes once durable).
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#define RPC_THREADS 2
#define RPC_SLOTS 4
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

/* An outstanding grpc_server_request_call. */
typedef struct {
  rpc_tag_t kind;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
} rpc_slot_t;

typedef enum { STAGE_RECV, STAGE_SEND, STAGE_OPEN } rpc_stage_t;

/* One call in flight. */
typedef struct {
  rpc_tag_t kind;
  rpc_stage_t stage;
  grpc_call *call;
  grpc_call_details details;
  grpc_metadata_array md;
  grpc_byte_buffer *recv, *send;
  grpc_metadata initial[1], trailing[1];
  grpc_slice status_details;
  char request_id[129], retry_after[16], source[64];
  char *bearer;
  int cancelled;
  rpc_answer_t answer;
  const rpc_method_t *method;
} rpc_call_t;

struct agrpc_server {
  akidb_service_t *svc;
  grpc_server *server;
  grpc_completion_queue *cq;
  pthread_t threads[RPC_THREADS];
  int n_threads;
  uint16_t port;
  rpc_slot_t slots[RPC_SLOTS];
  rpc_tag_t shutdown_tag;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stopping, shut_down;
  grpc_call *watches[RPC_WATCH_MAX];
};

/* ------------------------------------------------------------- slots -- */

static void slot_arm(agrpc_server_t *s, rpc_slot_t *slot) {
  slot->call = NULL;
  grpc_call_details_init(&slot->details);
  grpc_metadata_array_init(&slot->md);
  tag_hand_over(&slot->kind, TAG_SLOT);
  grpc_server_request_call(s->server, &slot->call, &slot->details, &slot->md, s->cq, s->cq, slot);
}

static void slot_release(rpc_slot_t *slot) {
  grpc_call_details_destroy(&slot->details);
  grpc_metadata_array_destroy(&slot->md);
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
    if (akidb_uuid_v7(&id) == AKIDB_OK) akidb_uuid_format(&id, c->request_id);
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

static void call_free(rpc_call_t *c) {
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

/* Batch 1: initial metadata with the request id, and the request. */
static void call_begin(rpc_call_t *c) {
  take_request_id(c);
  c->initial[0].key = grpc_slice_from_static_string("x-request-id");
  c->initial[0].value = grpc_slice_from_copied_string(c->request_id);
  grpc_op ops[2];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = 1;
  ops[0].data.send_initial_metadata.metadata = c->initial;
  ops[1].op = GRPC_OP_RECV_MESSAGE;
  ops[1].data.recv_message.recv_message = &c->recv;
  c->stage = STAGE_RECV;
  grpc_call *call = c->call; /* once handed over, c belongs to the event's thread */
  tag_hand_over(&c->kind, TAG_CALL);
  if (grpc_call_start_batch(call, ops, 2, c, NULL) != GRPC_CALL_OK) call_free(c);
}

static bool deadline_passed(const rpc_call_t *c) {
  gpr_timespec now = gpr_now(c->details.deadline.clock_type);
  return gpr_time_cmp(c->details.deadline, now) <= 0;
}

/* Runs the method (or answers why not) into c->answer. */
static void call_run(agrpc_server_t *s, rpc_call_t *c) {
  rpc_answer_t *a = &c->answer;
  c->method = rpc_method_find((const char *)GRPC_SLICE_START_PTR(c->details.method),
                              GRPC_SLICE_LENGTH(c->details.method));
  if (!c->method) {
    a->code = GRPC_STATUS_UNIMPLEMENTED;
    snprintf(a->message, sizeof a->message,
             "%.*s is not served over gRPC by this server (health, points and auth are); the "
             "same operation is in the REST API",
             (int)(GRPC_SLICE_LENGTH(c->details.method) > 200
                       ? 200
                       : GRPC_SLICE_LENGTH(c->details.method)),
             (const char *)GRPC_SLICE_START_PTR(c->details.method));
    return;
  }
  if (!c->recv) {
    a->code = GRPC_STATUS_INVALID_ARGUMENT;
    snprintf(a->message, sizeof a->message, "the call carried no request message");
    return;
  }
  if (deadline_passed(c)) {
    a->code = GRPC_STATUS_DEADLINE_EXCEEDED;
    snprintf(a->message, sizeof a->message, "the deadline passed before the call ran");
    return;
  }
  grpc_byte_buffer_reader r;
  grpc_byte_buffer_reader_init(&r, c->recv);
  grpc_slice in = grpc_byte_buffer_reader_readall(&r);
  grpc_byte_buffer_reader_destroy(&r);
  c->bearer = md_find(&c->md, "authorization");
  take_source(c);
  akidb_request_t req = {.bearer = c->bearer, .request_id = c->request_id, .source = c->source};
  rpc_codec_call(s->svc, c->method, &req, GRPC_SLICE_START_PTR(in), GRPC_SLICE_LENGTH(in), a);
  grpc_slice_unref(in);
}

/* Remembers an open Watch call so that stop can cancel it; false when the
 * server is stopping or the list is full. */
static bool watch_add(agrpc_server_t *s, grpc_call *call) {
  bool ok = false;
  pthread_mutex_lock(&s->mu);
  for (int i = 0; !s->stopping && !ok && i < RPC_WATCH_MAX; i++)
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

/* Batch 2: the answer (when OK), the status, and the close. A Watch
 * sends its answer and stays open (no status) until cancelled. */
static void call_answer(agrpc_server_t *s, rpc_call_t *c) {
  rpc_answer_t *a = &c->answer;
  grpc_op ops[3];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (a->code == 0) {
    grpc_slice body = grpc_slice_from_copied_buffer((const char *)a->body, a->len);
    c->send = grpc_raw_byte_buffer_create(&body, 1);
    grpc_slice_unref(body);
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n++].data.send_message.send_message = c->send;
  }
  bool open = a->code == 0 && c->method->shape == RPC_WATCH && watch_add(s, c->call);
  if (!open) {
    c->status_details = grpc_slice_from_copied_string(a->message);
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = (grpc_status_code)a->code;
    ops[n].data.send_status_from_server.status_details = a->code ? &c->status_details : NULL;
    if (a->retry_after_s) {
      snprintf(c->retry_after, sizeof c->retry_after, "%u", a->retry_after_s);
      c->trailing[0].key = grpc_slice_from_static_string("retry-after");
      c->trailing[0].value = grpc_slice_from_static_string(c->retry_after);
      ops[n].data.send_status_from_server.trailing_metadata_count = 1;
      ops[n].data.send_status_from_server.trailing_metadata = c->trailing;
    }
    n++;
  }
  ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
  ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
  c->stage = open ? STAGE_OPEN : STAGE_SEND;
  grpc_call *call = c->call; /* once handed over, c belongs to the event's thread */
  tag_hand_over(&c->kind, TAG_CALL);
  if (grpc_call_start_batch(call, ops, n, c, NULL) != GRPC_CALL_OK) {
    if (open) watch_remove(s, c->call);
    call_free(c);
  }
}

static void call_event(agrpc_server_t *s, rpc_call_t *c, bool ok) {
  if (c->stage != STAGE_RECV) {
    if (c->stage == STAGE_OPEN) watch_remove(s, c->call);
    call_free(c);
    return;
  }
  if (!ok) { /* the request never came (cancelled, too large: the core answered) */
    call_free(c);
    return;
  }
  call_run(s, c);
  call_answer(s, c);
}

/* A request_call completed: take the call, ask for the next one. */
static void slot_event(agrpc_server_t *s, rpc_slot_t *slot, bool ok) {
  rpc_call_t *c = ok && slot->call ? calloc(1, sizeof *c) : NULL;
  if (c) {
    atomic_init(&c->kind, TAG_CALL);
    c->call = slot->call;
    c->details = slot->details;
    c->md = slot->md;
    c->status_details = grpc_empty_slice();
    c->initial[0].value = grpc_empty_slice();
  } else {
    if (ok && slot->call) grpc_call_unref(slot->call);
    slot_release(slot);
  }
  pthread_mutex_lock(&s->mu);
  bool stopping = s->stopping;
  pthread_mutex_unlock(&s->mu);
  if (ok && !stopping) slot_arm(s, slot);
  if (c) call_begin(c);
}

static void *poll_main(void *arg) {
  agrpc_server_t *s = arg;
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
    if (ev.type != GRPC_OP_COMPLETE) continue;
    rpc_tag_kind_t kind = tag_take(ev.tag);
    if (kind == TAG_SLOT) slot_event(s, ev.tag, ev.success);
    else if (kind == TAG_CALL) call_event(s, ev.tag, ev.success);
    else {
      pthread_mutex_lock(&s->mu);
      s->shut_down = true;
      pthread_cond_broadcast(&s->cv);
      pthread_mutex_unlock(&s->mu);
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ server -- */

/* The core's options: the receive limit, and no SO_REUSEPORT (the core's
 * default on Linux would let a second server bind the same port and take
 * half of its connections, where a bind failure is the honest answer). */
static grpc_server *server_create(const agrpc_options_t *o) {
  grpc_arg arg[2];
  memset(arg, 0, sizeof arg);
  arg[0].type = GRPC_ARG_INTEGER;
  arg[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  arg[0].value.integer = o->max_receive_bytes > INT_MAX ? INT_MAX : (int)o->max_receive_bytes;
  arg[1].type = GRPC_ARG_INTEGER;
  arg[1].key = (char *)GRPC_ARG_ALLOW_REUSEPORT;
  arg[1].value.integer = 0;
  grpc_channel_args args = {2, arg};
  return grpc_server_create(&args, NULL);
}

static void server_free(agrpc_server_t *s) {
  for (int i = 0; i < s->n_threads; i++) pthread_join(s->threads[i], NULL);
  grpc_completion_queue_destroy(s->cq);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
  grpc_shutdown();
}

int agrpc_server_start(const agrpc_options_t *o, akidb_service_t *svc, agrpc_server_t **out,
                       char *err, size_t errlen) {
  *out = NULL;
  agrpc_server_t *s = calloc(1, sizeof *s);
  if (!s) return AKIDB_ENOMEM;
  grpc_init();
  s->svc = svc;
  atomic_init(&s->shutdown_tag, TAG_SHUTDOWN);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->server = server_create(o);
  s->cq = grpc_completion_queue_create_for_next(NULL);
  grpc_server_register_completion_queue(s->server, s->cq, NULL);
  char addr[300];
  snprintf(addr, sizeof addr, "%s:%u", o->host, (unsigned)o->port);
  grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
  int port = grpc_server_add_http2_port(s->server, addr, creds);
  grpc_server_credentials_release(creds);
  if (port <= 0) {
    snprintf(err, errlen, "cannot listen for gRPC on %s", addr);
    grpc_server_destroy(s->server);
    grpc_completion_queue_shutdown(s->cq);
    while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN) {
    }
    server_free(s);
    return AKIDB_EIO;
  }
  s->port = (uint16_t)port;
  grpc_server_start(s->server);
  for (int i = 0; i < RPC_SLOTS; i++) slot_arm(s, &s->slots[i]);
  for (int i = 0; i < RPC_THREADS; i++)
    if (pthread_create(&s->threads[i], NULL, poll_main, s) == 0) s->n_threads++;
  *out = s;
  return AKIDB_OK;
}

uint16_t agrpc_server_port(const agrpc_server_t *s) { return s->port; }

void agrpc_server_shutdown_begin(agrpc_server_t *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  bool first = !s->stopping;
  s->stopping = true;
  for (int i = 0; i < RPC_WATCH_MAX; i++)
    if (s->watches[i]) grpc_call_cancel(s->watches[i], NULL);
  pthread_mutex_unlock(&s->mu);
  if (first) {
    tag_hand_over(&s->shutdown_tag, TAG_SHUTDOWN);
    grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
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
  grpc_completion_queue_shutdown(s->cq);
  server_free(s); /* joins the pollers, which drain the queue to its shutdown */
}
