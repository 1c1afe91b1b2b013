/*
 * peer_grpc.c — owns the gRPC transport of the server benchmark's closed
 * loop (peer_grpc.h): the per-row state (packed Search or Health/Check
 * requests from grpc_msgs.c), the choice of client, and the open/call/close
 * callbacks over grpc_client.h's connections. Without the gRPC build only
 * the stubs that say so are compiled. For bench/ only.
 */
#include "peer_grpc.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef SERVER_BENCH_HAVE_GRPC

#include "bench_util.h"
#include "grpc_client.h"
#include "grpc_msgs.h"
#include "server_load.h"

struct ag_peer {
  uint16_t port;
  const char *token;   /* NULL: none sent */
  const ds_set_t *set; /* NULL: Health/Check */
  uint32_t k;
  bool stream; /* SearchStream: one call per connection */
  gm_packed_t msgs;
};

/* One connection of a row: its channel, and its SearchStream call. */
typedef struct {
  gc_conn_t *c;
  gc_session_t *session; /* NULL: unary calls */
} ag_conn_t;

bool ag_available(void) { return true; }
void ag_init(void) { gc_init(); }
void ag_shutdown(void) { gc_shutdown(); }

void ag_use_client(bool lean) { gc_use(lean ? GC_CLIENT_H2 : GC_CLIENT_CORE); }

const char *ag_client_desc(void) {
  return gc_client() == GC_CLIENT_H2 ? "the lean gRPC client (bench/h2grpc.c: hand-written HTTP/2 and gRPC framing "
                  "over one blocking socket, `--grpc-client h2`)"
                : "the client on the gRPC C core (bench/grpc_client.c, `--grpc-client core`)";
}

ag_peer_t *ag_peer_search(uint16_t port, const char *token, const ds_set_t *set,
                          const char *tenant, const char *database, const char *collection,
                          uint32_t k, bool stream) {
  ag_peer_t *p = bench_xcalloc(1, sizeof *p);
  p->port = port;
  p->token = token;
  p->set = set;
  p->k = k;
  p->stream = stream;
  p->msgs = gm_pack_searches(set, tenant, database, collection, k, stream);
  return p;
}

ag_peer_t *ag_peer_health(uint16_t port) {
  ag_peer_t *p = bench_xcalloc(1, sizeof *p);
  p->port = port;
  p->msgs = gm_pack_health_check("");
  return p;
}

void ag_peer_free(ag_peer_t *p) {
  if (!p) return;
  gm_packed_free(&p->msgs);
  free(p);
}

void *ag_open(void *ctx, uint32_t i, char *err, size_t errlen) {
  (void)i;
  ag_peer_t *p = ctx;
  ag_conn_t *a = bench_xcalloc(1, sizeof *a);
  if (gc_open(&a->c, p->port, p->token, err, errlen) ||
      (p->stream && gc_session_open(&a->session, a->c, GM_SEARCH_STREAM, err, errlen))) {
    gc_close(a->c);
    free(a);
    return NULL;
  }
  return a;
}

int ag_call(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen) {
  ag_peer_t *p = ctx;
  *found = 0;
  size_t m = p->set ? q % p->msgs.n : 0;
  ag_conn_t *a = conn;
  gc_result_t r;
  if (a->session) gc_session_call(a->session, p->msgs.msg[m], p->msgs.len[m], &r);
  else gc_unary(a->c, p->set ? GM_SEARCH : GM_HEALTH_CHECK, p->msgs.msg[m], p->msgs.len[m], &r);
  if (r.status != 0) {
    snprintf(err, errlen, "%s answered %s: %.300s",
             !p->set ? "Health/Check" : a->session ? "SearchStream" : "Search",
             gc_status_name(r.status), r.details);
    return -1;
  }
  if (!p->set) {
    if (gm_health_serving(r.body, r.len)) return 0;
    snprintf(err, errlen, "Health/Check: not SERVING");
    return -1;
  }
  long long labels[64];
  size_t n;
  if (gm_search_labels(r.body, r.len, labels, 64, &n)) {
    snprintf(err, errlen, "Search answer does not unpack");
    return -1;
  }
  sl_recall_t acc = {.set = p->set, .k = p->k};
  sl_recall_add_labels(&acc, m, labels, n);
  *found = (uint32_t)acc.found;
  return 0;
}

void ag_close(void *ctx, void *conn) {
  (void)ctx;
  ag_conn_t *a = conn;
  gc_session_close(a->session);
  gc_close(a->c);
  free(a);
}

#else /* !SERVER_BENCH_HAVE_GRPC */

bool ag_available(void) { return false; }
void ag_init(void) {}
void ag_shutdown(void) {}
void ag_use_client(bool lean) { (void)lean; }
const char *ag_client_desc(void) { return "none (built without gRPC)"; }

ag_peer_t *ag_peer_search(uint16_t port, const char *token, const ds_set_t *set,
                          const char *tenant, const char *database, const char *collection,
                          uint32_t k, bool stream) {
  (void)port, (void)token, (void)set, (void)tenant, (void)database, (void)collection, (void)k;
  (void)stream;
  return NULL;
}

ag_peer_t *ag_peer_health(uint16_t port) {
  (void)port;
  return NULL;
}

void ag_peer_free(ag_peer_t *p) { (void)p; }

void *ag_open(void *ctx, uint32_t i, char *err, size_t errlen) {
  (void)ctx, (void)i;
  snprintf(err, errlen, "built without gRPC (libgrpc-dev, protobuf-c)");
  return NULL;
}

int ag_call(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen) {
  (void)ctx, (void)conn, (void)q;
  *found = 0;
  snprintf(err, errlen, "built without gRPC");
  return -1;
}

void ag_close(void *ctx, void *conn) { (void)ctx, (void)conn; }

#endif
