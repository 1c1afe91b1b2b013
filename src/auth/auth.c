/*
 * auth.c — owns the identity context: options, password users, logins
 * (rate limiting, Argon2id verification, parameter upgrade, session
 * creation, audit of both outcomes), logout, API key creation and
 * revocation, bootstrap of the first system admin, and the resolution of a
 * bearer credential to a principal through the principal cache.
 *
 * Locking: no lock of its own — the cache and limiter lock themselves, the
 * catalog serialises writes. Durability: sessions, keys and users are
 * catalog rows (committed before a call returns); the cache and the rate
 * limiter are memory only.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_internal.h"

#define KEY_TOUCH_INTERVAL_MS 60000 /* last_used_ms is refreshed at most this often */

int64_t auth_now(const akidb_auth_t *a) {
  return a->opt.clock_ms ? a->opt.clock_ms(a->opt.clock_ctx) : cat_now_ms();
}

void akidb_auth_options_default(akidb_auth_options_t *o) {
  memset(o, 0, sizeof *o);
  akidb_argon2_params_default(&o->argon2);
  o->session_ttl_ms = 12ll * 3600 * 1000;
  o->cache_ttl_ms = 60 * 1000;
  o->cache_entries = 4096;
  o->user_fail_limit = 5;
  o->source_fail_limit = 20;
  o->fail_window_ms = 15ll * 60 * 1000;
}

static int check_options(const akidb_auth_options_t *o, char *err, size_t errlen) {
  int rc = auth_argon2_check(&o->argon2, err, errlen);
  if (rc) return rc;
  if (o->session_ttl_ms < 1000)
    return cat_fail(err, errlen, AKIDB_EINVAL, "session_ttl_ms must be at least 1000");
  if (o->cache_ttl_ms < 0)
    return cat_fail(err, errlen, AKIDB_EINVAL, "cache_ttl_ms must not be negative");
  if (o->cache_entries < 1 || o->cache_entries > (1u << 24))
    return cat_fail(err, errlen, AKIDB_EINVAL, "cache_entries must be 1..16777216");
  if (o->user_fail_limit < 1 || o->source_fail_limit < 1)
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "user_fail_limit and source_fail_limit must be >= 1");
  if (o->fail_window_ms < 1000)
    return cat_fail(err, errlen, AKIDB_EINVAL, "fail_window_ms must be at least 1000");
  return AKIDB_OK;
}

/* A hash of a random password, for logins of unknown users. */
static int make_dummy_hash(akidb_auth_t *a, char *err, size_t errlen) {
  uint8_t raw[16];
  char pw[33];
  if (auth_random(raw, sizeof raw)) return cat_fail(err, errlen, AKIDB_EIO, "no randomness");
  auth_hex(raw, sizeof raw, pw);
  return akidb_password_hash(pw, &a->opt.argon2, a->dummy_hash, sizeof a->dummy_hash, err, errlen);
}

int akidb_auth_open(akidb_catalog_t *cat, const akidb_auth_options_t *opt, akidb_auth_t **out,
                    char *err, size_t errlen) {
  akidb_auth_options_t o;
  if (opt)
    o = *opt;
  else
    akidb_auth_options_default(&o);
  if (!cat || !out) return cat_fail(err, errlen, AKIDB_EINVAL, "catalog is NULL");
  int rc = check_options(&o, err, errlen);
  if (rc) return rc;
  akidb_auth_t *a = calloc(1, sizeof *a);
  if (!a) return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  a->cat = cat;
  a->opt = o;
  a->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (!a->sha256) {
    free(a);
    return cat_fail(err, errlen, AKIDB_ENOTSUP, "OpenSSL provides no SHA-256");
  }
  auth_limiter_init(&a->limiter, o.fail_window_ms);
  rc = auth_cache_init(&a->cache, o.cache_entries);
  if (rc) {
    cat_fail(err, errlen, rc, "out of memory for the principal cache");
    goto fail;
  }
  rc = make_dummy_hash(a, err, errlen);
  if (rc) goto fail;
  *out = a;
  return AKIDB_OK;
fail:
  akidb_auth_close(a);
  return rc;
}

void akidb_auth_close(akidb_auth_t *a) {
  if (!a) return;
  auth_cache_free(&a->cache);
  auth_limiter_free(&a->limiter);
  EVP_MD_free(a->sha256);
  free(a);
}

/* ---------------------------------------------------------------- users -- */

int akidb_auth_user_create(akidb_auth_t *a, const akidb_user_t *in, const char *password,
                           const akidb_audit_ctx_t *audit, akidb_user_t *out, char *err,
                           size_t errlen) {
  char hash[AKIDB_PASSWORD_HASH_MAX + 1];
  if (password) {
    int rc = akidb_password_hash(password, &a->opt.argon2, hash, sizeof hash, err, errlen);
    if (rc) return rc;
  }
  int rc = akidb_user_create(a->cat, in, password ? hash : NULL, audit, out, err, errlen);
  OPENSSL_cleanse(hash, sizeof hash);
  return rc;
}

int akidb_auth_set_password(akidb_auth_t *a, const akidb_uuid_t *user_id, const char *password,
                            const akidb_audit_ctx_t *audit, char *err, size_t errlen) {
  char hash[AKIDB_PASSWORD_HASH_MAX + 1];
  int rc = akidb_password_hash(password, &a->opt.argon2, hash, sizeof hash, err, errlen);
  if (rc) return rc;
  akidb_user_update_t upd = {.password_hash = hash};
  rc = akidb_user_update(a->cat, user_id, &upd, audit, NULL, err, errlen);
  OPENSSL_cleanse(hash, sizeof hash);
  return rc;
}

/* 24 characters from a 64-symbol alphabet: 144 random bits. */
static int generate_password(char *out, size_t len) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t raw[24];
  if (len < sizeof raw + 1 || auth_random(raw, sizeof raw)) return AKIDB_EIO;
  for (size_t i = 0; i < sizeof raw; i++) out[i] = alphabet[raw[i] & 63];
  out[sizeof raw] = '\0';
  OPENSSL_cleanse(raw, sizeof raw);
  return AKIDB_OK;
}

int akidb_auth_bootstrap_admin(akidb_auth_t *a, const char *username, const char *password,
                               char *generated, size_t generated_len, bool *created, char *err,
                               size_t errlen) {
  *created = false;
  if (generated && generated_len) generated[0] = '\0';
  akidb_page_t page = {.limit = 1};
  akidb_user_list_t admins;
  int rc = akidb_user_list(a->cat, NULL, &page, &admins, err, errlen);
  if (rc) return rc;
  bool exists = admins.count > 0;
  akidb_user_list_free(&admins);
  if (exists) return AKIDB_OK;
  if (!password) {
    if (!generated || generate_password(generated, generated_len))
      return cat_fail(err, errlen, AKIDB_EINVAL, "a generated password needs a 25-byte buffer");
    password = generated;
  }
  akidb_user_t u = {
      .has_tenant = false, .role = AKIDB_ROLE_SYSTEM_ADMIN, .status = AKIDB_USER_ACTIVE};
  snprintf(u.username, sizeof u.username, "%s", username ? username : "");
  static const akidb_audit_ctx_t boot = {NULL, "bootstrap", ""};
  rc = akidb_auth_user_create(a, &u, password, &boot, NULL, err, errlen);
  if (!rc)
    *created = true;
  else if (generated && generated_len)
    OPENSSL_cleanse(generated, generated_len);
  return rc;
}

/* -------------------------------------------------------------- logins -- */

typedef struct {
  const char *tenant_slug;
  const char *username;
  const char *source;
  const char *request_id;
  uint64_t user_key, source_key;
} login_t;

/* Audits one login attempt. */
static void audit_login(akidb_auth_t *a, const login_t *l, const cat_login_row_t *row, bool success,
                        const char *reason) {
  akidb_audit_entry_t *e = calloc(1, sizeof *e);
  if (!e) return;
  e->action = success ? AKIDB_AUDIT_LOGIN_SUCCESS : AKIDB_AUDIT_LOGIN_FAILURE;
  e->outcome = success                               ? AKIDB_AUDIT_SUCCESS
               : strcmp(reason, "rate_limited") == 0 ? AKIDB_AUDIT_DENIED
                                                     : AKIDB_AUDIT_FAILURE;
  snprintf(e->actor, sizeof e->actor, "%s", l->username ? l->username : "");
  if (row) {
    e->has_actor = true;
    e->actor_id = row->user.id;
    e->has_tenant = row->user.has_tenant;
    e->tenant_id = row->user.tenant_id;
  }
  snprintf(e->target, sizeof e->target, "user/%s/%s", l->tenant_slug ? l->tenant_slug : "system",
           l->username ? l->username : "");
  snprintf(e->request_id, sizeof e->request_id, "%s", l->request_id ? l->request_id : "");
  cat_json_t j;
  cat_json_begin(&j);
  if (reason) cat_json_str(&j, "reason", reason);
  if (l->source) cat_json_str(&j, "source", l->source);
  snprintf(e->details, sizeof e->details, "%s", cat_json_end(&j));
  akidb_audit_append(a->cat, e, NULL, NULL, 0);
  free(e);
}

static int login_failed(akidb_auth_t *a, const login_t *l, const cat_login_row_t *row,
                        const char *reason, char *err, size_t errlen) {
  int64_t now = auth_now(a);
  auth_limiter_fail(&a->limiter, l->user_key, now);
  if (l->source) auth_limiter_fail(&a->limiter, l->source_key, now);
  audit_login(a, l, row, false, reason);
  return cat_fail(err, errlen, AKIDB_EUNAUTH, "wrong tenant, username or password");
}

static bool login_blocked(akidb_auth_t *a, const login_t *l) {
  int64_t now = auth_now(a);
  return auth_limiter_blocked(&a->limiter, l->user_key, a->opt.user_fail_limit, now) ||
         (l->source &&
          auth_limiter_blocked(&a->limiter, l->source_key, a->opt.source_fail_limit, now));
}

/* Re-hashes a password made with weaker parameters than configured. */
static void upgrade_hash(akidb_auth_t *a, const cat_login_row_t *row, const char *password) {
  if (!akidb_password_needs_rehash(row->password_hash, &a->opt.argon2)) return;
  char hash[AKIDB_PASSWORD_HASH_MAX + 1];
  if (akidb_password_hash(password, &a->opt.argon2, hash, sizeof hash, NULL, 0) == AKIDB_OK)
    cat_user_rehash(a->cat, &row->user.id, hash, NULL, 0);
  OPENSSL_cleanse(hash, sizeof hash);
}

static void principal_from_user(const akidb_user_t *u, akidb_tenant_status_t tenant_status,
                                akidb_principal_t *p) {
  memset(p, 0, sizeof *p);
  p->user_id = u->id;
  p->has_tenant = u->has_tenant;
  p->tenant_id = u->tenant_id;
  p->role = u->role;
  p->tenant_status = tenant_status;
  snprintf(p->username, sizeof p->username, "%s", u->username);
}

static int start_session(akidb_auth_t *a, const login_t *l, const cat_login_row_t *row,
                         akidb_session_t *out, char *err, size_t errlen) {
  auth_token_t t;
  int64_t now = auth_now(a);
  memset(out, 0, sizeof *out);
  int rc = akidb_uuid_v7(&out->session_id);
  if (!rc) rc = auth_token_make(a->sha256, false, &t);
  if (rc) return cat_fail(err, errlen, AKIDB_EIO, "no randomness for the session token");
  out->expires_at_ms = now + a->opt.session_ttl_ms;
  rc = cat_session_insert(a->cat, &out->session_id, &row->user.id, t.prefix, t.secret_hash,
                          l->source, now, out->expires_at_ms, err, errlen);
  if (rc) return rc;
  memcpy(out->token, t.token, sizeof t.token);
  OPENSSL_cleanse(&t, sizeof t);
  principal_from_user(&row->user, row->tenant_status, &out->principal);
  out->principal.kind = AKIDB_CRED_SESSION;
  out->principal.credential_id = out->session_id;
  out->principal.expires_at_ms = out->expires_at_ms;
  return AKIDB_OK;
}

int akidb_auth_login(akidb_auth_t *a, const char *tenant_slug, const char *username,
                     const char *password, const char *source, const char *request_id,
                     akidb_session_t *out, char *err, size_t errlen) {
  if (tenant_slug && !*tenant_slug) tenant_slug = NULL;
  if (!username || !password || !out)
    return cat_fail(err, errlen, AKIDB_EINVAL, "login needs a username and a password");
  login_t l = {tenant_slug, username, source, request_id, 0, 0};
  l.user_key = auth_limit_key(a->sha256, "user", tenant_slug, username);
  if (source) l.source_key = auth_limit_key(a->sha256, "source", source, NULL);
  if (login_blocked(a, &l)) {
    audit_login(a, &l, NULL, false, "rate_limited");
    return cat_fail(err, errlen, AKIDB_ERATELIMIT,
                    "too many failed logins for this user or address; retry in %lld s",
                    (long long)(a->opt.fail_window_ms / 1000));
  }
  if (strlen(password) > AKIDB_PASSWORD_MAX) /* no password is that long: do not hash it */
    return login_failed(a, &l, NULL, "bad_password", err, errlen);
  cat_login_row_t *row = calloc(1, sizeof *row);
  if (!row) return cat_fail(err, errlen, AKIDB_ENOMEM, "out of memory");
  int rc = cat_login_lookup(a->cat, tenant_slug, username, row, err, errlen);
  if (rc == AKIDB_ENOTFOUND) {
    akidb_password_verify(a->dummy_hash, password); /* same cost as a real user */
    rc = login_failed(a, &l, NULL, "unknown_user", err, errlen);
    goto out;
  }
  if (rc) goto out;
  const char *hash = row->password_hash[0] ? row->password_hash : a->dummy_hash;
  int v = akidb_password_verify(hash, password);
  if (v != AKIDB_OK || !row->password_hash[0]) {
    rc = login_failed(a, &l, row, row->password_hash[0] ? "bad_password" : "no_password", err,
                      errlen);
    goto out;
  }
  /* The password is right: from here on, saying why is no leak. */
  if (row->user.status != AKIDB_USER_ACTIVE) {
    audit_login(a, &l, row, false, "user_disabled");
    rc = cat_fail(err, errlen, AKIDB_EPERM, "user '%s' is disabled", username);
    goto out;
  }
  if (row->tenant_status != AKIDB_TENANT_ACTIVE) {
    audit_login(a, &l, row, false, "tenant_not_active");
    rc = cat_fail(err, errlen, AKIDB_EPERM, "tenant '%s' is %s", tenant_slug,
                  akidb_tenant_status_name(row->tenant_status));
    goto out;
  }
  auth_limiter_clear(&a->limiter, l.user_key);
  upgrade_hash(a, row, password);
  rc = start_session(a, &l, row, out, err, errlen);
  if (!rc) audit_login(a, &l, row, true, NULL);
out:
  OPENSSL_cleanse(row, sizeof *row);
  free(row);
  return rc;
}

const char *akidb_auth_bearer_credential(const char *authorization) {
  if (!authorization || strncasecmp(authorization, "Bearer", 6) != 0) return NULL;
  const char *p = authorization + 6;
  if (*p != ' ') return NULL; /* "Bearerx", "Bearer" alone, or another scheme */
  while (*p == ' ') p++;
  return p;
}

/* Strips an optional "Bearer" scheme (any case); a bare credential is kept. */
static const char *bare_token(const char *bearer) {
  const char *credential = akidb_auth_bearer_credential(bearer);
  return credential ? credential : bearer;
}

/* Finds the credential row for `token` and checks its secret in constant
 * time. AKIDB_EUNAUTH for anything wrong. */
static int load_credential(akidb_auth_t *a, const char *token, bool *is_key, cat_credential_t *row,
                           char *err, size_t errlen) {
  char prefix[AKIDB_KEY_PREFIX_LEN + 1];
  const char *secret;
  if (auth_token_parse(token, is_key, prefix, &secret))
    return cat_fail(err, errlen, AKIDB_EUNAUTH, "malformed credential");
  int rc = cat_credential_lookup(a->cat, *is_key, prefix, row, err, errlen);
  if (rc == AKIDB_ENOTFOUND) return cat_fail(err, errlen, AKIDB_EUNAUTH, "unknown credential");
  if (rc) return rc;
  uint8_t h[32];
  if (auth_sha256(a->sha256, secret, AUTH_SECRET_HEX, h))
    return cat_fail(err, errlen, AKIDB_EIO, "SHA-256 failed");
  if (CRYPTO_memcmp(h, row->secret_hash, 32) != 0)
    return cat_fail(err, errlen, AKIDB_EUNAUTH, "unknown credential");
  return AKIDB_OK;
}

int akidb_auth_logout(akidb_auth_t *a, const char *token, const char *request_id, char *err,
                      size_t errlen) {
  token = bare_token(token);
  bool is_key = false;
  cat_credential_t row;
  int rc = load_credential(a, token, &is_key, &row, err, errlen);
  if (!rc && is_key)
    rc = cat_fail(err, errlen, AKIDB_EUNAUTH, "an API key is not a session; revoke it instead");
  if (rc) return rc;
  akidb_audit_ctx_t ac = {&row.user_id, row.username, request_id};
  rc =
      cat_session_delete(a->cat, &row.id, row.has_tenant ? &row.tenant_id : NULL, &ac, err, errlen);
  if (rc == AKIDB_ENOTFOUND) return cat_fail(err, errlen, AKIDB_EUNAUTH, "session already ended");
  uint8_t key[32];
  if (!rc && !auth_sha256(a->sha256, token, strlen(token), key)) auth_cache_drop(&a->cache, key);
  return rc;
}

int akidb_auth_purge_sessions(akidb_auth_t *a, uint64_t *n, char *err, size_t errlen) {
  return cat_sessions_purge(a->cat, auth_now(a), n, err, errlen);
}

/* ------------------------------------------------------------ API keys -- */

static int check_key_name(const char *name, char *err, size_t errlen) {
  size_t n = name ? strlen(name) : 0;
  if (n < 1 || n > AKIDB_KEY_NAME_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "API key name must be 1..%u characters",
                    AKIDB_KEY_NAME_MAX);
  for (size_t i = 0; i < n; i++)
    if (name[i] < 0x20 || name[i] > 0x7e)
      return cat_fail(err, errlen, AKIDB_EINVAL, "API key name must be printable ASCII");
  return AKIDB_OK;
}

int akidb_auth_key_create(akidb_auth_t *a, const akidb_uuid_t *user_id, const char *name,
                          int64_t expires_at_ms, const akidb_audit_ctx_t *audit,
                          akidb_api_key_t *out, char *secret, size_t secret_len, char *err,
                          size_t errlen) {
  if (!user_id || !secret || secret_len < AUTH_TOKEN_LEN + 1)
    return cat_fail(err, errlen, AKIDB_EINVAL, "API key secret buffer needs %d bytes",
                    AUTH_TOKEN_LEN + 1);
  int rc = check_key_name(name, err, errlen);
  if (rc) return rc;
  int64_t now = auth_now(a);
  if (expires_at_ms < 0 || (expires_at_ms && expires_at_ms <= now))
    return cat_fail(err, errlen, AKIDB_EINVAL, "expires_at_ms must be 0 (never) or in the future");
  akidb_api_key_t k;
  memset(&k, 0, sizeof k);
  k.user_id = *user_id;
  snprintf(k.name, sizeof k.name, "%s", name);
  k.created_at_ms = now;
  k.expires_at_ms = expires_at_ms;
  auth_token_t t;
  rc = AKIDB_EEXIST;
  for (int attempt = 0; rc == AKIDB_EEXIST && attempt < 3; attempt++) {
    if (akidb_uuid_v7(&k.id) || auth_token_make(a->sha256, true, &t))
      return cat_fail(err, errlen, AKIDB_EIO, "no randomness for the API key");
    memcpy(k.prefix, t.prefix, sizeof k.prefix);
    rc = cat_api_key_insert(a->cat, &k, t.secret_hash, audit, err, errlen);
  }
  if (!rc && out) rc = akidb_api_key_get(a->cat, &k.id, out, err, errlen);
  if (!rc) memcpy(secret, t.token, AUTH_TOKEN_LEN + 1);
  OPENSSL_cleanse(&t, sizeof t);
  return rc;
}

int akidb_auth_key_revoke(akidb_auth_t *a, const akidb_uuid_t *key_id,
                          const akidb_audit_ctx_t *audit, char *err, size_t errlen) {
  if (!key_id) return cat_fail(err, errlen, AKIDB_EINVAL, "API key id is NULL");
  return cat_api_key_revoke(a->cat, key_id, auth_now(a), audit, err, errlen);
}

/* ---------------------------------------------------------- resolution -- */

/* Checks a loaded credential's state and builds its principal. */
static int credential_principal(bool is_key, const cat_credential_t *row, int64_t now,
                                akidb_principal_t *p, char *err, size_t errlen) {
  if (row->revoked_at_ms) return cat_fail(err, errlen, AKIDB_EUNAUTH, "API key revoked");
  if (row->expires_at_ms && now >= row->expires_at_ms)
    return cat_fail(err, errlen, AKIDB_EUNAUTH, "%s expired", is_key ? "API key" : "session");
  if (row->user_status != AKIDB_USER_ACTIVE)
    return cat_fail(err, errlen, AKIDB_EUNAUTH, "user is disabled");
  memset(p, 0, sizeof *p);
  p->user_id = row->user_id;
  p->tenant_id = row->tenant_id;
  p->has_tenant = row->has_tenant;
  p->role = row->role;
  p->tenant_status = row->tenant_status;
  p->kind = is_key ? AKIDB_CRED_API_KEY : AKIDB_CRED_SESSION;
  p->credential_id = row->id;
  p->expires_at_ms = row->expires_at_ms;
  snprintf(p->username, sizeof p->username, "%s", row->username);
  return AKIDB_OK;
}

int akidb_auth_resolve(akidb_auth_t *a, const char *bearer, akidb_principal_t *out, char *err,
                       size_t errlen) {
  const char *token = bare_token(bearer);
  if (!token || !out) return cat_fail(err, errlen, AKIDB_EUNAUTH, "no credential");
  size_t len = strlen(token);
  if (len != AUTH_TOKEN_LEN) return cat_fail(err, errlen, AKIDB_EUNAUTH, "malformed credential");
  uint8_t key[32];
  if (auth_sha256(a->sha256, token, len, key))
    return cat_fail(err, errlen, AKIDB_EIO, "SHA-256 failed");
  int64_t now = auth_now(a);
  uint64_t gen = cat_identity_generation(a->cat); /* read before the catalog */
  if (auth_cache_get(&a->cache, key, gen, now, a->opt.cache_ttl_ms, out)) return AKIDB_OK;
  bool is_key = false;
  cat_credential_t row;
  int rc = load_credential(a, token, &is_key, &row, err, errlen);
  if (!rc) rc = credential_principal(is_key, &row, now, out, err, errlen);
  if (rc) return rc;
  auth_cache_put(&a->cache, key, gen, now, out);
  if (is_key && now - row.last_used_ms >= KEY_TOUCH_INTERVAL_MS)
    cat_api_key_touch(a->cat, &row.id, now);
  return AKIDB_OK;
}
