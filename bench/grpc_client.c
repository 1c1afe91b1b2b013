/*
 * grpc_client.c — owns grpc_client.h: the choice of client (gc_use), the
 * dispatch of every gc_* call to the implementation a connection was opened
 * with (h2grpc.c, the lean one, or the gRPC C core here), and the client on
 * the gRPC C core.
 *
 * The C-core client, per connection: one channel (a local subchannel pool,
 * so two connections never share a TCP connection; retries off, so the
 * core does not keep a copy of every message sent for a possible retry),
 * one completion queue polled with grpc_completion_queue_next by the thread
 * using the conn, and the methods registered once
 * (grpc_channel_register_call), as generated stubs do. Messages go out as
 * slices over the caller's bytes (no copy).
 *
 * A unary call is one batch: SEND_INITIAL_METADATA, SEND_MESSAGE,
 * SEND_CLOSE_FROM_CLIENT, RECV_INITIAL_METADATA, RECV_MESSAGE,
 * RECV_STATUS_ON_CLIENT. A stream keeps RECV_STATUS_ON_CLIENT and
 * RECV_INITIAL_METADATA pending from the start, at most one SEND_MESSAGE
 * batch and one RECV_MESSAGE batch in flight (the core's rule), and ends
 * when the status has arrived and every batch has completed.
 *
 * Threads: gc_use is an atomic read by gc_open; a connection and its
 * session are used by one thread at a time. For bench/ only.
 */
#include "grpc_client.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "h2grpc.h"

#define GC_DEADLINE_S 300
#define GC_METHODS 8

typedef struct core_conn core_conn_t;
typedef struct core_session core_session_t;

static void core_close(core_conn_t *c);

struct core_conn {
  grpc_channel *ch;
  grpc_completion_queue *cq;
  grpc_metadata md[1]; /* authorization */
  size_t n_md;
  struct {
    char *name;
    void *handle;
  } methods[GC_METHODS];
  grpc_slice last; /* the last unary answer (gc_result_t.body points into it) */
};

void gc_init(void) { grpc_init(); }
void gc_shutdown(void) { grpc_shutdown(); }

/* Tags: distinct addresses, compared by value. */
static char tag_unary, tag_status, tag_rimd, tag_send, tag_recv, tag_watch;

static gpr_timespec deadline_in(int seconds) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_seconds(seconds, GPR_TIMESPAN));
}

/* Waits for the event of `tag` (the only one in flight on the queue). */
static grpc_event wait_tag(core_conn_t *c, void *tag) {
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type == GRPC_OP_COMPLETE && ev.tag == tag) return ev;
    if (ev.type == GRPC_QUEUE_SHUTDOWN) return ev;
  }
}

static int core_open(core_conn_t **out, uint16_t port, const char *token, char *err,
                     size_t errlen) {
  *out = NULL;
  core_conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  c->last = grpc_empty_slice();
  grpc_arg args[3];
  memset(args, 0, sizeof args);
  args[0].type = GRPC_ARG_INTEGER;
  args[0].key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
  args[0].value.integer = 1;
  args[1].type = GRPC_ARG_INTEGER;
  args[1].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
  args[1].value.integer = -1;
  args[2].type = GRPC_ARG_INTEGER;
  args[2].key = (char *)GRPC_ARG_ENABLE_RETRIES;
  args[2].value.integer = 0;
  grpc_channel_args chargs = {3, args};
  char target[64];
  snprintf(target, sizeof target, "127.0.0.1:%u", (unsigned)port);
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  c->ch = grpc_channel_create(target, creds, &chargs);
  grpc_channel_credentials_release(creds);
  c->cq = grpc_completion_queue_create_for_next(NULL);
  if (token) {
    char value[600];
    snprintf(value, sizeof value, "Bearer %s", token);
    c->md[0].key = grpc_slice_from_static_string("authorization");
    c->md[0].value = grpc_slice_from_copied_string(value);
    c->n_md = 1;
  }
  /* Connect now, so that the first timed call does not pay for it. */
  gpr_timespec until = deadline_in(10);
  grpc_connectivity_state st = grpc_channel_check_connectivity_state(c->ch, 1);
  while (st != GRPC_CHANNEL_READY) {
    if (gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), until) >= 0) {
      snprintf(err, errlen, "gRPC channel to %s not ready after 10 s (state %d)", target, (int)st);
      core_close(c);
      return -1;
    }
    grpc_channel_watch_connectivity_state(c->ch, st, until, c->cq, &tag_watch);
    wait_tag(c, &tag_watch);
    st = grpc_channel_check_connectivity_state(c->ch, 1);
  }
  *out = c;
  return 0;
}

static void core_close(core_conn_t *c) {
  if (!c) return;
  grpc_slice_unref(c->last);
  if (c->n_md) grpc_slice_unref(c->md[0].value);
  for (int i = 0; i < GC_METHODS; i++) free(c->methods[i].name);
  grpc_channel_destroy(c->ch);
  grpc_completion_queue_shutdown(c->cq);
  while (grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(c->cq);
  free(c);
}

/* A call of `method` on the conn's queue (the method registered once). */
static grpc_call *new_call(core_conn_t *c, const char *method) {
  void *handle = NULL;
  for (int i = 0; i < GC_METHODS && !handle; i++) {
    if (!c->methods[i].name) {
      c->methods[i].name = strdup(method);
      if (!c->methods[i].name) break;
      c->methods[i].handle = grpc_channel_register_call(c->ch, c->methods[i].name, NULL, NULL);
    }
    if (strcmp(c->methods[i].name, method) == 0) handle = c->methods[i].handle;
  }
  if (handle)
    return grpc_channel_create_registered_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, handle,
                                               deadline_in(GC_DEADLINE_S), NULL);
  grpc_slice m = grpc_slice_from_copied_string(method);
  grpc_call *call = grpc_channel_create_call(c->ch, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq, m, NULL,
                                             deadline_in(GC_DEADLINE_S), NULL);
  grpc_slice_unref(m);
  return call;
}

/* The status details and the retry-after trailer. */
static void take_status(grpc_slice details, const grpc_metadata_array *trailing, char *out,
                        size_t outlen, long *retry_after_s) {
  size_t n = GRPC_SLICE_LENGTH(details);
  if (n >= outlen) n = outlen - 1;
  memcpy(out, GRPC_SLICE_START_PTR(details), n);
  out[n] = '\0';
  *retry_after_s = -1;
  for (size_t i = 0; i < trailing->count; i++)
    if (grpc_slice_str_cmp(trailing->metadata[i].key, "retry-after") == 0) {
      char v[32];
      size_t vn = GRPC_SLICE_LENGTH(trailing->metadata[i].value);
      if (vn >= sizeof v) vn = sizeof v - 1;
      memcpy(v, GRPC_SLICE_START_PTR(trailing->metadata[i].value), vn);
      v[vn] = '\0';
      *retry_after_s = strtol(v, NULL, 10);
    }
}

/* The whole message of a received byte buffer (destroyed here). */
static grpc_slice take_message(grpc_byte_buffer *bb) {
  grpc_byte_buffer_reader r;
  grpc_slice s = grpc_empty_slice();
  if (grpc_byte_buffer_reader_init(&r, bb)) {
    s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
  }
  grpc_byte_buffer_destroy(bb);
  return s;
}

static void core_unary(core_conn_t *c, const char *method, const uint8_t *req, size_t len,
                       gc_result_t *r) {
  memset(r, 0, sizeof *r);
  r->retry_after_s = -1;
  grpc_slice_unref(c->last);
  c->last = grpc_empty_slice();
  grpc_call *call = new_call(c, method);
  if (!call) {
    r->status = GRPC_STATUS_INTERNAL;
    snprintf(r->details, sizeof r->details, "grpc_channel_create_call failed");
    return;
  }
  grpc_slice body = grpc_slice_from_static_buffer(req, len);
  grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1);
  grpc_byte_buffer *recv = NULL;
  grpc_metadata_array initial, trailing;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailing);
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[0].data.send_initial_metadata.count = c->n_md;
  ops[0].data.send_initial_metadata.metadata = c->md;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &recv;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &details;
  if (grpc_call_start_batch(call, ops, 6, &tag_unary, NULL) != GRPC_CALL_OK) {
    r->status = GRPC_STATUS_INTERNAL;
    snprintf(r->details, sizeof r->details, "grpc_call_start_batch failed");
  } else {
    wait_tag(c, &tag_unary);
    r->status = (int)status;
    take_status(details, &trailing, r->details, sizeof r->details, &r->retry_after_s);
    if (recv) {
      c->last = take_message(recv);
      recv = NULL;
      r->body = GRPC_SLICE_START_PTR(c->last);
      r->len = GRPC_SLICE_LENGTH(c->last);
    }
  }
  if (recv) grpc_byte_buffer_destroy(recv);
  grpc_byte_buffer_destroy(send);
  grpc_slice_unref(body);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailing);
  grpc_call_unref(call);
}

static void core_stream_run(core_conn_t *c, const gc_stream_t *s, gc_stream_result_t *r) {
  memset(r, 0, sizeof *r);
  r->retry_after_s = -1;
  r->status = GRPC_STATUS_INTERNAL;
  grpc_call *call = new_call(c, s->method);
  if (!call) {
    snprintf(r->details, sizeof r->details, "grpc_channel_create_call failed");
    return;
  }
  grpc_metadata_array initial, trailing;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailing);
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice details = grpc_empty_slice();
  grpc_byte_buffer *send = NULL, *recv = NULL;
  grpc_slice send_slice = grpc_empty_slice();
  int outstanding = 0;
  bool sending = false, receiving = false, ended = false, got_status = false, send_failed = false;
  bool closed = false, initial_sent = false;
  grpc_op ops[3];

  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[0].data.recv_status_on_client.trailing_metadata = &trailing;
  ops[0].data.recv_status_on_client.status = &status;
  ops[0].data.recv_status_on_client.status_details = &details;
  if (grpc_call_start_batch(call, ops, 1, &tag_status, NULL) != GRPC_CALL_OK) goto start_failed;
  outstanding++;
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[0].data.recv_initial_metadata.recv_initial_metadata = &initial;
  if (grpc_call_start_batch(call, ops, 1, &tag_rimd, NULL) != GRPC_CALL_OK) goto start_failed;
  outstanding++;

  while (!got_status || outstanding > 0) {
    /* The next message, when the window allows; the half-close after the last. */
    if (!sending && !closed && !send_failed && !got_status && !r->cancelled &&
        r->sent - r->replies < s->window) {
      size_t n = 0;
      memset(ops, 0, sizeof ops);
      if (!initial_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = c->n_md;
        ops[n++].data.send_initial_metadata.metadata = c->md;
      }
      const uint8_t *msg;
      size_t len;
      bool more = s->next(s->ctx, r->sent, &msg, &len);
      if (more) {
        grpc_slice_unref(send_slice);
        send_slice = grpc_slice_from_static_buffer(msg, len);
        send = grpc_raw_byte_buffer_create(&send_slice, 1);
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = send;
      } else {
        ops[n++].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        closed = true;
      }
      if (grpc_call_start_batch(call, ops, n, &tag_send, NULL) != GRPC_CALL_OK) {
        if (send) grpc_byte_buffer_destroy(send);
        send = NULL;
        send_failed = true;
        grpc_call_cancel(call, NULL);
      } else {
        initial_sent = true;
        sending = true;
        outstanding++;
        if (more) r->sent++;
      }
    }
    if (!receiving && !ended && !got_status) {
      memset(ops, 0, sizeof ops);
      ops[0].op = GRPC_OP_RECV_MESSAGE;
      ops[0].data.recv_message.recv_message = &recv;
      if (grpc_call_start_batch(call, ops, 1, &tag_recv, NULL) != GRPC_CALL_OK) ended = true;
      else receiving = true, outstanding++;
    }
    grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type != GRPC_OP_COMPLETE) continue;
    outstanding--;
    if (ev.tag == &tag_send) {
      sending = false;
      if (send) grpc_byte_buffer_destroy(send);
      send = NULL;
      if (!ev.success) send_failed = true;
    } else if (ev.tag == &tag_recv) {
      receiving = false;
      if (!recv) {
        ended = true;
        continue;
      }
      grpc_slice m = take_message(recv);
      recv = NULL;
      size_t index = r->replies++;
      if (!r->cancelled && s->on_reply(s->ctx, index, GRPC_SLICE_START_PTR(m),
                                       GRPC_SLICE_LENGTH(m)) != 0) {
        r->cancelled = true;
        grpc_call_cancel(call, NULL);
      }
      grpc_slice_unref(m);
    } else if (ev.tag == &tag_status) {
      got_status = true;
    }
  }
  r->status = (int)status;
  take_status(details, &trailing, r->details, sizeof r->details, &r->retry_after_s);
  goto done;

start_failed:
  snprintf(r->details, sizeof r->details, "grpc_call_start_batch failed");
  grpc_call_cancel(call, NULL);
  while (outstanding > 0) {
    grpc_event ev = grpc_completion_queue_next(c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type == GRPC_OP_COMPLETE) outstanding--;
  }
done:
  if (send) grpc_byte_buffer_destroy(send);
  if (recv) grpc_byte_buffer_destroy(recv);
  grpc_slice_unref(send_slice);
  grpc_slice_unref(details);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailing);
  grpc_call_unref(call);
}

/* ----------------------------------------------------------- sessions -- */

struct core_session {
  core_conn_t *c;
  grpc_call *call;
  grpc_metadata_array initial, trailing;
  grpc_status_code status;
  grpc_slice details;
  bool initial_sent, got_status, ended;
};

static char tag_session;

static int core_session_open(core_session_t **out, core_conn_t *c, const char *method, char *err,
                    size_t errlen) {
  core_session_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  s->c = c;
  s->details = grpc_empty_slice();
  s->status = GRPC_STATUS_UNKNOWN;
  grpc_metadata_array_init(&s->initial);
  grpc_metadata_array_init(&s->trailing);
  s->call = new_call(c, method);
  grpc_op op;
  memset(&op, 0, sizeof op);
  op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  op.data.recv_status_on_client.trailing_metadata = &s->trailing;
  op.data.recv_status_on_client.status = &s->status;
  op.data.recv_status_on_client.status_details = &s->details;
  if (!s->call || grpc_call_start_batch(s->call, &op, 1, &tag_status, NULL) != GRPC_CALL_OK) {
    snprintf(err, errlen, "cannot start a %s call", method);
    if (s->call) grpc_call_unref(s->call);
    grpc_metadata_array_destroy(&s->initial);
    grpc_metadata_array_destroy(&s->trailing);
    free(s);
    return -1;
  }
  *out = s;
  return 0;
}

/* Waits for tag_session; the status event, when it comes first, is noted. */
static void session_wait(core_session_t *s) {
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(s->c->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    if (ev.type == GRPC_QUEUE_SHUTDOWN) return;
    if (ev.type != GRPC_OP_COMPLETE) continue;
    if (ev.tag == &tag_status) s->got_status = true;
    if (ev.tag == &tag_session) return;
  }
}

static void session_ended(core_session_t *s, gc_result_t *r) {
  s->ended = true;
  if (!s->got_status) wait_tag(s->c, &tag_status);
  s->got_status = true;
  r->status = s->status == GRPC_STATUS_OK ? GRPC_STATUS_UNKNOWN : (int)s->status;
  take_status(s->details, &s->trailing, r->details, sizeof r->details, &r->retry_after_s);
  if (s->status == GRPC_STATUS_OK)
    snprintf(r->details, sizeof r->details, "the stream ended without a reply");
}

static void core_session_call(core_session_t *s, const uint8_t *req, size_t len, gc_result_t *r) {
  core_conn_t *c = s->c;
  memset(r, 0, sizeof *r);
  r->retry_after_s = -1;
  grpc_slice_unref(c->last);
  c->last = grpc_empty_slice();
  if (s->ended) {
    r->status = GRPC_STATUS_FAILED_PRECONDITION;
    snprintf(r->details, sizeof r->details, "the stream has ended");
    return;
  }
  grpc_slice body = grpc_slice_from_static_buffer(req, len);
  grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&body, 1), *recv = NULL;
  grpc_op ops[4];
  memset(ops, 0, sizeof ops);
  size_t n = 0;
  if (!s->initial_sent) {
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].data.send_initial_metadata.count = c->n_md;
    ops[n++].data.send_initial_metadata.metadata = c->md;
    ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->initial;
  }
  ops[n].op = GRPC_OP_SEND_MESSAGE;
  ops[n++].data.send_message.send_message = send;
  ops[n].op = GRPC_OP_RECV_MESSAGE;
  ops[n++].data.recv_message.recv_message = &recv;
  if (grpc_call_start_batch(s->call, ops, n, &tag_session, NULL) != GRPC_CALL_OK) {
    r->status = GRPC_STATUS_INTERNAL;
    snprintf(r->details, sizeof r->details, "grpc_call_start_batch failed");
  } else {
    s->initial_sent = true;
    session_wait(s);
    if (recv) {
      c->last = take_message(recv);
      recv = NULL;
      r->body = GRPC_SLICE_START_PTR(c->last);
      r->len = GRPC_SLICE_LENGTH(c->last);
    } else {
      session_ended(s, r);
    }
  }
  grpc_byte_buffer_destroy(send);
  grpc_slice_unref(body);
}

static void core_session_close(core_session_t *s) {
  if (!s) return;
  if (!s->ended) {
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    if (grpc_call_start_batch(s->call, &op, 1, &tag_session, NULL) == GRPC_CALL_OK)
      session_wait(s);
    if (!s->got_status) wait_tag(s->c, &tag_status);
  }
  grpc_slice_unref(s->details);
  grpc_metadata_array_destroy(&s->initial);
  grpc_metadata_array_destroy(&s->trailing);
  grpc_call_unref(s->call);
  free(s);
}

const char *gc_status_name(int status) {
  static const char *const names[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
      "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
      "UNAUTHENTICATED"};
  return status >= 0 && status < (int)(sizeof names / sizeof *names) ? names[status] : "?";
}

/* ----------------------------------------------------------- dispatch -- */

struct gc_conn {
  core_conn_t *core; /* exactly one of the two */
  h2_conn_t *h2;
};

struct gc_session {
  core_session_t *core; /* exactly one of the two */
  h2_session_t *h2;
};

static atomic_int g_client = GC_CLIENT_CORE;

void gc_use(gc_client_t client) { atomic_store(&g_client, (int)client); }

gc_client_t gc_client(void) { return (gc_client_t)atomic_load(&g_client); }

const char *gc_client_name(gc_client_t client) {
  return client == GC_CLIENT_H2 ? "h2" : "core";
}

int gc_open(gc_conn_t **out, uint16_t port, const char *token, char *err, size_t errlen) {
  *out = NULL;
  gc_conn_t *c = calloc(1, sizeof *c);
  if (!c) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = gc_client() == GC_CLIENT_H2 ? h2_open(&c->h2, port, token, err, errlen)
                                        : core_open(&c->core, port, token, err, errlen);
  if (rc) {
    free(c);
    return -1;
  }
  *out = c;
  return 0;
}

void gc_close(gc_conn_t *c) {
  if (!c) return;
  if (c->h2) h2_close(c->h2);
  else core_close(c->core);
  free(c);
}

void gc_unary(gc_conn_t *c, const char *method, const uint8_t *req, size_t len, gc_result_t *r) {
  if (c->h2) h2_unary(c->h2, method, req, len, r);
  else core_unary(c->core, method, req, len, r);
}

void gc_stream_run(gc_conn_t *c, const gc_stream_t *s, gc_stream_result_t *r) {
  if (c->h2) h2_stream_run(c->h2, s, r);
  else core_stream_run(c->core, s, r);
}

int gc_session_open(gc_session_t **out, gc_conn_t *c, const char *method, char *err,
                    size_t errlen) {
  *out = NULL;
  gc_session_t *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = c->h2 ? h2_session_open(&s->h2, c->h2, method, err, errlen)
                 : core_session_open(&s->core, c->core, method, err, errlen);
  if (rc) {
    free(s);
    return -1;
  }
  *out = s;
  return 0;
}

void gc_session_call(gc_session_t *s, const uint8_t *req, size_t len, gc_result_t *r) {
  if (s->h2) h2_session_call(s->h2, req, len, r);
  else core_session_call(s->core, req, len, r);
}

void gc_session_close(gc_session_t *s) {
  if (!s) return;
  if (s->h2) h2_session_close(s->h2);
  else core_session_close(s->core);
  free(s);
}
