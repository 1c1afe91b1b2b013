/*
 * grpc/agrpc.h — the gRPC transport: a server on the gRPC C core that
 * decodes akidb.v1 protobuf requests into the service's typed arguments,
 * calls the service and encodes the typed results (src/grpc/codec.c). The
 * prefix is agrpc_ because the C core owns grpc_.
 *
 * Started and stopped by `akidb serve` next to the REST server; one
 * server per process.
 */
#ifndef AKIDB_AGRPC_H
#define AKIDB_AGRPC_H

#include <stddef.h>
#include <stdint.h>

#include "service/service.h"

typedef struct agrpc_server agrpc_server_t;

typedef struct {
  const char *host;           /* listen address ("127.0.0.1") */
  uint16_t port;              /* must not be 0 (0 means "no gRPC server" to the caller) */
  uint64_t max_receive_bytes; /* larger request messages get RESOURCE_EXHAUSTED */
  const char *tls_cert_file;  /* PEM certificate chain and key: TLS (both or neither) */
  const char *tls_key_file;
} agrpc_options_t;

/* Chooses the C core's "poll" engine (GRPC_POLL_STRATEGY, unless the
 * environment already names one): it polls each completion queue's own
 * connections, so each network thread reads and writes its connections
 * itself. The default engine, epoll1, polls every socket of the process
 * from whichever thread polls, which leaves gRPC one core for its I/O.
 * Also turns off abseil's lock-order tracking (grpc/absl_mode.cc), which
 * Debian's abseil leaves on and which costs the core a global lock per
 * lock it takes. Call before any thread starts (it sets an environment
 * variable) and before agrpc_server_start. */
void agrpc_prepare(void);

/* Starts listening and serving (TLS when a certificate is given);
 * AKIDB_EIO (err says why) when the port cannot be bound, AKIDB_EINVAL
 * when the certificate or key cannot be read. */
int agrpc_server_start(const agrpc_options_t *o, akidb_service_t *svc, agrpc_server_t **out,
                       char *err, size_t errlen);

uint16_t agrpc_server_port(const agrpc_server_t *s);

/* Stops accepting new calls (calls in flight go on); returns at once. */
void agrpc_server_shutdown_begin(agrpc_server_t *s);

/* Waits up to drain_ms for calls in flight, cancels the rest, and frees
 * the server. NULL accepted. */
void agrpc_server_stop(agrpc_server_t *s, uint32_t drain_ms);

#endif /* AKIDB_AGRPC_H */
