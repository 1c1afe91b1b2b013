/*
 * token.c — owns secrets: randomness (getrandom(2)), SHA-256 (OpenSSL
 * libcrypto), and the credential formats shared by API keys and session
 * tokens: "ak_<prefix>_<secret>" / "as_<prefix>_<secret>", where <prefix> is
 * 16 hex characters (64 random bits, stored in clear for lookup and shown
 * in listings) and <secret> is 64 hex characters (256 random bits, stored
 * only as its SHA-256 — a fast hash is right for high-entropy secrets).
 * Stateless.
 */
#include <string.h>

#include "auth/auth_internal.h"

int auth_random(uint8_t *buf, size_t n) { return akidb_random_bytes(buf, n); }

void auth_hex(const uint8_t *in, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[in[i] >> 4];
    out[2 * i + 1] = hex[in[i] & 15];
  }
  out[2 * n] = '\0';
}

int auth_sha256(const EVP_MD *md, const void *data, size_t len, uint8_t out[32]) {
  unsigned int n = 0;
  if (!EVP_Digest(data, len, out, &n, md, NULL) || n != 32) return AKIDB_EIO;
  return AKIDB_OK;
}

int auth_token_make(const EVP_MD *md, bool is_key, auth_token_t *out) {
  uint8_t raw[AUTH_PREFIX_BYTES + AUTH_SECRET_BYTES];
  if (auth_random(raw, sizeof raw)) return AKIDB_EIO;
  char secret[AUTH_SECRET_HEX + 1];
  auth_hex(raw, AUTH_PREFIX_BYTES, out->prefix);
  auth_hex(raw + AUTH_PREFIX_BYTES, AUTH_SECRET_BYTES, secret);
  memcpy(out->token, is_key ? "ak_" : "as_", 3);
  memcpy(out->token + 3, out->prefix, AKIDB_KEY_PREFIX_LEN);
  out->token[3 + AKIDB_KEY_PREFIX_LEN] = '_';
  memcpy(out->token + 4 + AKIDB_KEY_PREFIX_LEN, secret, AUTH_SECRET_HEX + 1);
  int rc = auth_sha256(md, secret, AUTH_SECRET_HEX, out->secret_hash);
  memset(raw, 0, sizeof raw);
  memset(secret, 0, sizeof secret);
  return rc;
}

static bool all_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

int auth_token_parse(const char *token, bool *is_key, char prefix[AKIDB_KEY_PREFIX_LEN + 1],
                     const char **secret) {
  if (!token || strlen(token) != AUTH_TOKEN_LEN) return AKIDB_EUNAUTH;
  if (token[0] != 'a' || (token[1] != 'k' && token[1] != 's') || token[2] != '_' ||
      token[3 + AKIDB_KEY_PREFIX_LEN] != '_')
    return AKIDB_EUNAUTH;
  if (!all_hex(token + 3, AKIDB_KEY_PREFIX_LEN) ||
      !all_hex(token + 4 + AKIDB_KEY_PREFIX_LEN, AUTH_SECRET_HEX))
    return AKIDB_EUNAUTH;
  *is_key = token[1] == 'k';
  memcpy(prefix, token + 3, AKIDB_KEY_PREFIX_LEN);
  prefix[AKIDB_KEY_PREFIX_LEN] = '\0';
  *secret = token + 4 + AKIDB_KEY_PREFIX_LEN;
  return AKIDB_OK;
}
