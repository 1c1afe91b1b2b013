/*
 * peer_grpc.h — AkiDB over gRPC as a transport of the server benchmark's
 * closed loop (bench/closed.h callbacks): PointService/Search with
 * pre-packed requests (recall counted from the returned ids) or
 * grpc.health.v1.Health/Check (service ""), one gRPC connection per
 * closed-loop connection (bench/grpc_client.h: the lean client or the C-core
 * one, ag_use_client). Compiled when the build has gRPC
 * (SERVER_BENCH_HAVE_GRPC); otherwise ag_available() is false and every
 * call fails saying so. For bench/ only.
 */
#ifndef AKIDB_BENCH_PEER_GRPC_H
#define AKIDB_BENCH_PEER_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataset/dataset.h"

/* True when this driver was built with the gRPC client. */
bool ag_available(void);

/* The gRPC core, once per process around every other call (no-ops
 * without gRPC). */
void ag_init(void);
void ag_shutdown(void);

/* The client of the connections opened after it: lean (bench/h2grpc.c,
 * the default) or the gRPC C core (bench/grpc_client.c). */
void ag_use_client(bool lean);

/* That client, as the report names it. */
const char *ag_client_desc(void);

/* What the connections of one closed-loop row share: the port, the bearer
 * token and the packed requests. */
typedef struct ag_peer ag_peer_t;

/* Search peer: one SearchRequest per query of set to
 * tenant/database/collection, k hits, include_payload = false, the
 * collection's ef_search; unary Search calls, or (stream) one SearchStream
 * call per connection carrying every query of that connection in lock
 * step. NULL without gRPC. */
ag_peer_t *ag_peer_search(uint16_t port, const char *token, const ds_set_t *set,
                          const char *tenant, const char *database, const char *collection,
                          uint32_t k, bool stream);

/* Health peer: Health/Check with service "" (no token sent). */
ag_peer_t *ag_peer_health(uint16_t port);

void ag_peer_free(ag_peer_t *p);

/* cl_spec_t callbacks; ctx is the ag_peer_t. */
void *ag_open(void *ctx, uint32_t i, char *err, size_t errlen);
int ag_call(void *ctx, void *conn, size_t q, uint32_t *found, char *err, size_t errlen);
void ag_close(void *ctx, void *conn);

#endif /* AKIDB_BENCH_PEER_GRPC_H */
