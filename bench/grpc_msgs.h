/*
 * grpc_msgs.h — the protobuf messages the gRPC-speaking bench drivers
 * (bench/grpc.c, the server bench's gRPC peer bench/peer_grpc.c) send and
 * read, packed with the generated protobuf-c code (akidb_proto) before any
 * timing: PointService/Search requests and answers, and the
 * grpc.health.v1.Health/Check request and answer. For bench/ only; needs
 * the gRPC build (akidb_proto).
 */
#ifndef AKIDB_BENCH_GRPC_MSGS_H
#define AKIDB_BENCH_GRPC_MSGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset/dataset.h"

#define GM_SEARCH "/akidb.v1.PointService/Search"
#define GM_SEARCH_STREAM "/akidb.v1.PointService/SearchStream"
#define GM_HEALTH_CHECK "/grpc.health.v1.Health/Check"

/* Packed messages, one per batch or per query. */
typedef struct {
  uint8_t **msg;
  size_t *len;
  size_t n;        /* messages */
  size_t n_points; /* points over all batches (upserts) */
  size_t bytes;
} gm_packed_t;

void gm_packed_free(gm_packed_t *p);

/* One SearchRequest per query of the set to tenant/database/collection:
 * vector, k, include_payload = false (as the REST requests), ef unset (the
 * collection's ef_search). stream: each wrapped in a SearchStreamRequest
 * (the messages of PointService/SearchStream). */
gm_packed_t gm_pack_searches(const ds_set_t *set, const char *tenant, const char *database,
                             const char *collection, uint32_t k, bool stream);

/* The hits' labels (ids parsed as row numbers) of a packed SearchResponse,
 * up to cap of them, in *n. 0, or -1 when it does not unpack. */
int gm_search_labels(const uint8_t *body, size_t len, long long *labels, size_t cap, size_t *n);

/* A packed HealthCheckRequest for `service` ("" = liveness). */
gm_packed_t gm_pack_health_check(const char *service);

/* True when the packed HealthCheckResponse says SERVING. */
bool gm_health_serving(const uint8_t *body, size_t len);

#endif /* AKIDB_BENCH_GRPC_MSGS_H */
