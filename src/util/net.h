/*
 * net.h — the listening TCP socket both servers open (REST in
 * http/server.c) or probe for (gRPC in grpc/server.c). Stateless.
 */
#ifndef AKIDB_UTIL_NET_H
#define AKIDB_UTIL_NET_H

#include <stddef.h>
#include <stdint.h>

/* Creates, binds (SO_REUSEADDR: connections in TIME_WAIT are no obstacle)
 * and listens on the first address of host:port that allows it; fills *fd
 * (close-on-exec) and *family. AKIDB_EINVAL when host does not resolve
 * (errno 0), AKIDB_EIO when no address could be bound (errno: the last
 * failure, EADDRINUSE when something listens there); err says which. */
int util_listen(const char *host, uint16_t port, int *fd, int *family, char *err,
                size_t errlen);

#endif /* AKIDB_UTIL_NET_H */
