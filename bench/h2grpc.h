/*
 * h2grpc.h — the lean gRPC client behind grpc_client.h (gc_use(GC_CLIENT_H2)):
 * hand-written HTTP/2 over cleartext TCP with prior knowledge (h2c), HPACK
 * and gRPC's length-prefixed messages, one blocking socket per connection,
 * one call at a time. The functions mirror grpc_client.h's gc_* ones, with
 * the same semantics; grpc_client.c dispatches to them.
 *
 * An h2_conn_t is used by one thread at a time. For bench/ only.
 */
#ifndef AKIDB_BENCH_H2GRPC_H
#define AKIDB_BENCH_H2GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "grpc_client.h"

typedef struct h2_conn h2_conn_t;
typedef struct h2_session h2_session_t;

/* Connects to 127.0.0.1:port, exchanges the connection preface and
 * SETTINGS (up to 10 s). 0, or -1 with err set. */
int h2_open(h2_conn_t **out, uint16_t port, const char *token, char *err, size_t errlen);
void h2_close(h2_conn_t *c);

void h2_unary(h2_conn_t *c, const char *method, const uint8_t *req, size_t len, gc_result_t *r);
void h2_stream_run(h2_conn_t *c, const gc_stream_t *s, gc_stream_result_t *r);

int h2_session_open(h2_session_t **out, h2_conn_t *c, const char *method, char *err,
                    size_t errlen);
void h2_session_call(h2_session_t *s, const uint8_t *req, size_t len, gc_result_t *r);
void h2_session_close(h2_session_t *s);

/* Self-checks of the HPACK code on the RFC 7541 examples (Huffman, integers,
 * the dynamic table): 0, or -1 with err set. */
int h2_selftest(char *err, size_t errlen);

#endif /* AKIDB_BENCH_H2GRPC_H */
