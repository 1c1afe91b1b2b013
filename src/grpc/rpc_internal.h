/*
 * grpc/rpc_internal.h — what the gRPC server (server.c) and its codec
 * (codec.c) share: the method table, the per-call arena and the answer of
 * one unary call. Private to src/grpc/.
 */
#ifndef AKIDB_RPC_INTERNAL_H
#define AKIDB_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service/service.h"

/* Memory that lives as long as one call; freed at once. */
typedef struct rpc_block rpc_block_t;
typedef struct {
  rpc_block_t *head;
} rpc_arena_t;

void *rpc_alloc(rpc_arena_t *a, size_t n); /* zeroed; NULL when out of memory */
char *rpc_strndup(rpc_arena_t *a, const char *p, size_t n);
void rpc_arena_free(rpc_arena_t *a);

/* The outcome of one call. */
typedef struct {
  int code;               /* gRPC status code (0 = OK) */
  char message[512];      /* the status details when code != 0 */
  uint32_t retry_after_s; /* RATE_LIMITED: the trailing `retry-after` */
  uint8_t *body;          /* code 0: the packed response (malloc'd) */
  size_t len;
} rpc_answer_t;

typedef struct rpc_method rpc_method_t;

/* The method served at this path ("/akidb.v1.PointService/Upsert"), or
 * NULL (UNIMPLEMENTED). */
const rpc_method_t *rpc_method_find(const char *path, size_t len);

/* Whether the method's stream stays open after its first answer until the
 * client cancels or the server stops (grpc.health.v1.Health/Watch). */
bool rpc_method_keeps_open(const rpc_method_t *m);

/* Decodes the request message, calls the service with `req` (credentials
 * and source filled by the caller), encodes the answer into `out`. */
void rpc_codec_call(akidb_service_t *svc, const rpc_method_t *m, akidb_request_t *req,
                    const uint8_t *in, size_t len, rpc_answer_t *out);

#endif /* AKIDB_RPC_INTERNAL_H */
