/*
 * digest.c — SHA-256, HMAC-SHA256, MD5 and Base64 for the object store,
 * thin wrappers over OpenSSL's EVP interface (libcrypto).
 *
 * Locking: none (OpenSSL's one-shot calls are thread-safe).
 * Durability: none.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "objstore/digest.h"
#include "objstore/objstore_internal.h"

void digest_sha256(const void *data, size_t len, uint8_t out[DIGEST_SHA256_LEN]) {
  unsigned int n = 0;
  EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

void digest_sha256_hex(const void *data, size_t len, char out[65]) {
  uint8_t h[DIGEST_SHA256_LEN];
  digest_sha256(data, len, h);
  objstore_hex(h, sizeof h, out);
}

void digest_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                        uint8_t out[DIGEST_SHA256_LEN]) {
  unsigned int n = 0;
  HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n);
}

void digest_md5(const void *data, size_t len, uint8_t out[DIGEST_MD5_LEN]) {
  unsigned int n = 0;
  EVP_Digest(data, len, out, &n, EVP_md5(), NULL);
}

void digest_base64(const uint8_t *in, size_t len, char *out) {
  EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

/* digest_md5_ctx_t is OpenSSL's EVP_MD_CTX under an opaque name. */
digest_md5_ctx_t *digest_md5_new(void) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md) return NULL;
  if (EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1) {
    EVP_MD_CTX_free(md);
    return NULL;
  }
  return (digest_md5_ctx_t *)md;
}

void digest_md5_update(digest_md5_ctx_t *c, const void *data, size_t len) {
  EVP_DigestUpdate((EVP_MD_CTX *)c, data, len);
}

void digest_md5_final(digest_md5_ctx_t *c, uint8_t out[DIGEST_MD5_LEN]) {
  unsigned int n = 0;
  EVP_DigestFinal_ex((EVP_MD_CTX *)c, out, &n);
  EVP_MD_CTX_free((EVP_MD_CTX *)c);
}

void digest_md5_free(digest_md5_ctx_t *c) {
  if (c) EVP_MD_CTX_free((EVP_MD_CTX *)c);
}
