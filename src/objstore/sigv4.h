/*
 * sigv4.h — AWS Signature Version 4 for S3 requests, computed by AkiDB
 * (HMAC-SHA256 and SHA-256 from libcrypto): canonical request, string to
 * sign, signing key, Authorization header. Also the URI encoding S3 expects
 * (each path segment encoded once, '/' kept; query names and values encoded
 * with '/' too), shared with the request builder so the URL sent and the
 * URL signed are the same bytes. Pure functions, thread-safe.
 */
#ifndef AKIDB_OBJSTORE_SIGV4_H
#define AKIDB_OBJSTORE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>

#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct {
  const char *name;
  const char *value;
} sigv4_pair_t;

typedef struct {
  const char *method;           /* "GET", "PUT", ... */
  const char *path;             /* raw absolute path: "/bucket/a key" (not encoded) */
  const sigv4_pair_t *query;    /* raw names and values (value "" for `?uploads`) */
  size_t nquery;
  const sigv4_pair_t *headers;  /* every header to sign, any case; must hold host,
                                   x-amz-date and x-amz-content-sha256 */
  size_t nheaders;
  const char *payload_hash;     /* hex SHA-256 of the body or "UNSIGNED-PAYLOAD" */
  const char *amz_date;         /* "YYYYMMDDTHHMMSSZ" (UTC), same as x-amz-date */
  const char *region;
  const char *service;          /* "s3" */
  const char *access_key;
  const char *secret_key;
} sigv4_request_t;

/* URI-encodes len bytes of `in` into `out` (room for 3·len + 1): every byte
 * but A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); '/' is kept when
 * keep_slash. Returns the encoded length. */
size_t sigv4_uri_encode(const char *in, size_t len, bool keep_slash, char *out);

/* The canonical query string (names and values encoded, sorted by name then
 * value, joined by '&'), malloc'd into *out; it is also a valid URL query.
 * Returns 0 or AKIDB_ENOMEM. */
int sigv4_canonical_query(const sigv4_pair_t *q, size_t n, char **out);

/* The canonical request (for tests and debugging), malloc'd. 0 or ENOMEM. */
int sigv4_canonical_request(const sigv4_request_t *r, char **out);

/* The Authorization header value ("AWS4-HMAC-SHA256 Credential=AK/date/
 * region/s3/aws4_request, SignedHeaders=a;b, Signature=hex"), malloc'd.
 * Returns 0, AKIDB_EINVAL (missing field, bad date) or AKIDB_ENOMEM. */
int sigv4_authorization(const sigv4_request_t *r, char **out);

#endif /* AKIDB_OBJSTORE_SIGV4_H */
