/*
 * digest.h — the hashes of the object store, from OpenSSL's libcrypto:
 * SHA-256 (SigV4 payload hashes), HMAC-SHA256 (SigV4 signing keys and
 * signatures) and MD5 (S3 ETags, Content-MD5). Thread-safe; the streaming
 * context belongs to one thread at a time.
 */
#ifndef AKIDB_OBJSTORE_DIGEST_H
#define AKIDB_OBJSTORE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_SHA256_LEN 32
#define DIGEST_MD5_LEN 16

/* SHA-256 of `len` bytes into out[32]. */
void digest_sha256(const void *data, size_t len, uint8_t out[DIGEST_SHA256_LEN]);
/* SHA-256 as 64 lower-case hex digits + NUL. */
void digest_sha256_hex(const void *data, size_t len, char out[65]);
/* HMAC-SHA256 of `data` under `key` into out[32]. */
void digest_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                        uint8_t out[DIGEST_SHA256_LEN]);
/* MD5 of `len` bytes into out[16]. */
void digest_md5(const void *data, size_t len, uint8_t out[DIGEST_MD5_LEN]);
/* Base64 (standard alphabet, padded) of `len` bytes; out needs 4⌈len/3⌉+1. */
void digest_base64(const uint8_t *in, size_t len, char *out);

/* Streaming MD5. new returns NULL when out of memory. */
typedef struct digest_md5_ctx digest_md5_ctx_t;
digest_md5_ctx_t *digest_md5_new(void);
void digest_md5_update(digest_md5_ctx_t *c, const void *data, size_t len);
/* Writes the digest and frees the context. */
void digest_md5_final(digest_md5_ctx_t *c, uint8_t out[DIGEST_MD5_LEN]);
void digest_md5_free(digest_md5_ctx_t *c);

#endif /* AKIDB_OBJSTORE_DIGEST_H */
