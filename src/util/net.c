/*
 * util/net.c — owns util_listen (util/net.h): resolving host:port and
 * opening a listening TCP socket on it, for the REST server and for the
 * gRPC server's check that its port is free. Locking: none (no state).
 * Durability: none.
 */
#include "util/net.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "akidb/errors.h"

int util_listen(const char *host, uint16_t port, int *fd, int *family, char *err,
                size_t errlen) {
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  char service[8];
  snprintf(service, sizeof service, "%u", (unsigned)port);
  int gai = getaddrinfo(host, service, &hints, &res);
  if (gai != 0) {
    snprintf(err, errlen, "cannot listen on %s:%u: %s", host, (unsigned)port, gai_strerror(gai));
    errno = 0;
    return AKIDB_EINVAL;
  }
  int rc = AKIDB_EIO, saved = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (s < 0) {
      saved = errno;
      continue;
    }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s, 511) == 0) {
      *fd = s;
      *family = ai->ai_family;
      rc = AKIDB_OK;
      break;
    }
    saved = errno;
    close(s);
  }
  freeaddrinfo(res);
  if (rc != AKIDB_OK) {
    snprintf(err, errlen, "cannot listen on %s:%u: %s", host, (unsigned)port, strerror(saved));
    errno = saved;
  }
  return rc;
}
