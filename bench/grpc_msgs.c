/*
 * grpc_msgs.c — owns the protobuf packing and unpacking of grpc_msgs.h
 * (Search and Health/Check, protobuf-c), shared by bench/grpc.c and
 * bench/peer_grpc.c.
 */
#include "grpc_msgs.h"

#include <stdlib.h>
#include <string.h>

#include "akidb/v1/points.pb-c.h"
#include "bench_util.h"
#include "grpc/health/v1/health.pb-c.h"
#include "server_load.h"

void gm_packed_free(gm_packed_t *p) {
  for (size_t i = 0; i < p->n; i++) free(p->msg[i]);
  free(p->msg);
  free(p->len);
  memset(p, 0, sizeof *p);
}

gm_packed_t gm_pack_searches(const ds_set_t *set, const char *tenant, const char *database,
                             const char *collection, uint32_t k, bool stream) {
  gm_packed_t p = {.n = set->n_query};
  p.msg = bench_xcalloc(p.n, sizeof *p.msg);
  p.len = bench_xcalloc(p.n, sizeof *p.len);
  for (size_t i = 0; i < p.n; i++) {
    Akidb__V1__SearchRequest m = AKIDB__V1__SEARCH_REQUEST__INIT;
    m.tenant = (char *)tenant;
    m.database = (char *)database;
    m.collection = (char *)collection;
    m.n_vector = set->dim;
    m.vector = (float *)(set->queries + i * set->dim);
    m.k = k;
    m.include_payload_opt_case = AKIDB__V1__SEARCH_REQUEST__INCLUDE_PAYLOAD_OPT_INCLUDE_PAYLOAD;
    m.include_payload = 0;
    Akidb__V1__SearchStreamRequest w = AKIDB__V1__SEARCH_STREAM_REQUEST__INIT;
    w.search = &m;
    const ProtobufCMessage *out = stream ? &w.base : &m.base;
    p.len[i] = protobuf_c_message_get_packed_size(out);
    p.msg[i] = bench_xmalloc(p.len[i] ? p.len[i] : 1);
    protobuf_c_message_pack(out, p.msg[i]);
    p.bytes += p.len[i];
  }
  return p;
}

int gm_search_labels(const uint8_t *body, size_t len, long long *labels, size_t cap, size_t *n) {
  *n = 0;
  Akidb__V1__SearchResponse *sr = akidb__v1__search_response__unpack(NULL, len, body);
  if (!sr) return -1;
  for (size_t h = 0; h < sr->n_results && *n < cap; h++)
    labels[(*n)++] = sl_label_of(sr->results[h]->id, strlen(sr->results[h]->id));
  akidb__v1__search_response__free_unpacked(sr, NULL);
  return 0;
}

gm_packed_t gm_pack_health_check(const char *service) {
  gm_packed_t p = {.n = 1};
  p.msg = bench_xcalloc(1, sizeof *p.msg);
  p.len = bench_xcalloc(1, sizeof *p.len);
  Grpc__Health__V1__HealthCheckRequest m = GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  m.service = (char *)service;
  p.len[0] = grpc__health__v1__health_check_request__get_packed_size(&m);
  p.msg[0] = bench_xmalloc(p.len[0] ? p.len[0] : 1); /* "" packs to no bytes */
  grpc__health__v1__health_check_request__pack(&m, p.msg[0]);
  p.bytes = p.len[0];
  return p;
}

bool gm_health_serving(const uint8_t *body, size_t len) {
  Grpc__Health__V1__HealthCheckResponse *r =
      grpc__health__v1__health_check_response__unpack(NULL, len, body);
  if (!r) return false;
  bool serving = r->status == GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
  grpc__health__v1__health_check_response__free_unpacked(r, NULL);
  return serving;
}
