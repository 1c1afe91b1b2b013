/*
 * test_auth.c — identity (akidb/auth.h): Argon2id hashing, verification,
 * rejection and parameter upgrade at login; logins (sessions, one message
 * for every wrong credential, disabled users and inactive tenants, rate
 * limits per user and per source with their window); API keys and session
 * tokens through their lifecycles (shown once, stored hashed, expired and
 * revoked refused even when cached, logout); the principal cache following
 * role changes, disabling and tenant suspension; bootstrap of the first
 * system admin; malformed credentials; the Bearer scheme in any case. Time comes from a fake clock.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "akidb/auth.h"
#include "test_catalog_util.h"

#define ERR_LEN 512
#define PASSWORD "correct horse battery staple"

static int64_t fake_now = 1700000000000ll;
static int64_t fake_clock(void *ctx) {
  (void)ctx;
  return fake_now;
}

static const akidb_argon2_params_t CHEAP = {1, 64, 1};

static akidb_auth_t *open_auth(akidb_catalog_t *cat, const akidb_argon2_params_t *p) {
  akidb_auth_options_t o;
  akidb_auth_options_default(&o);
  o.argon2 = p ? *p : CHEAP;
  o.clock_ms = fake_clock;
  akidb_auth_t *a = NULL;
  char err[ERR_LEN] = "";
  int rc = akidb_auth_open(cat, &o, &a, err, sizeof err);
  if (rc) CHECK_FAIL("akidb_auth_open: %d %s", rc, err);
  return a;
}

static akidb_user_t make_user(akidb_auth_t *a, const akidb_tenant_t *t, const char *name,
                              akidb_role_t role) {
  akidb_user_t in, out;
  memset(&in, 0, sizeof in);
  if (t) {
    in.has_tenant = true;
    in.tenant_id = t->id;
  }
  snprintf(in.username, sizeof in.username, "%s", name);
  in.role = role;
  char err[ERR_LEN] = "";
  int rc = akidb_auth_user_create(a, &in, PASSWORD, NULL, &out, err, sizeof err);
  if (rc) CHECK_FAIL("user_create(%s): %d %s", name, rc, err);
  return out;
}

/* The stored hash of a user, read with plain SQL. */
static void stored_hash(const char *path, const char *username, char *out, size_t len) {
  sqlite3 *db;
  sqlite3_stmt *s;
  ASSERT_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  ASSERT_EQ_INT(
      sqlite3_prepare_v2(db, "SELECT password_hash FROM users WHERE username = ?1", -1, &s, NULL),
      SQLITE_OK);
  sqlite3_bind_text(s, 1, username, -1, SQLITE_STATIC);
  ASSERT_EQ_INT(sqlite3_step(s), SQLITE_ROW);
  snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
}

/* ----------------------------------------------------------- passwords -- */

static void test_password_hash_verifies_and_rejects(void) {
  char h1[AKIDB_PASSWORD_HASH_MAX + 1], h2[AKIDB_PASSWORD_HASH_MAX + 1], err[ERR_LEN] = "";
  ASSERT_OK(akidb_password_hash(PASSWORD, &CHEAP, h1, sizeof h1, err, sizeof err));
  ASSERT_OK(akidb_password_hash(PASSWORD, &CHEAP, h2, sizeof h2, err, sizeof err));
  ASSERT_TRUE(strncmp(h1, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
  ASSERT_TRUE(strcmp(h1, h2) != 0); /* fresh salt each time */
  ASSERT_OK(akidb_password_verify(h1, PASSWORD));
  ASSERT_OK(akidb_password_verify(h2, PASSWORD));
  ASSERT_EQ_INT(akidb_password_verify(h1, "correct horse battery stapler"), AKIDB_EUNAUTH);
  ASSERT_EQ_INT(akidb_password_verify(h1, ""), AKIDB_EUNAUTH);
  ASSERT_EQ_INT(akidb_password_verify("$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA", PASSWORD),
                AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_password_verify("plaintext", PASSWORD), AKIDB_EINVAL);
  akidb_argon2_params_t p;
  ASSERT_OK(akidb_password_params(h1, &p));
  ASSERT_EQ_INT(p.m_cost_kib, 64);
  ASSERT_EQ_INT(p.t_cost, 1);
  ASSERT_EQ_INT(p.parallelism, 1);
  /* The defaults are OWASP's Argon2id minimum: 19 MiB, 2 passes, 1 lane. */
  ASSERT_OK(akidb_password_hash(PASSWORD, NULL, h1, sizeof h1, err, sizeof err));
  ASSERT_TRUE(strncmp(h1, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
  ASSERT_OK(akidb_password_verify(h1, PASSWORD));
  akidb_argon2_params_t def;
  akidb_argon2_params_default(&def);
  ASSERT_TRUE(!akidb_password_needs_rehash(h1, &def));
  ASSERT_TRUE(akidb_password_needs_rehash(h2, &def));
}

static void test_password_length_and_parameters_are_checked(void) {
  char h[AKIDB_PASSWORD_HASH_MAX + 1], err[ERR_LEN] = "";
  ASSERT_EQ_INT(akidb_password_hash("elevenchars", &CHEAP, h, sizeof h, err, sizeof err),
                AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "password must be 12..1024 bytes (got 11)");
  static char big[1026];
  memset(big, 'x', 1025);
  ASSERT_EQ_INT(akidb_password_hash(big, &CHEAP, h, sizeof h, err, sizeof err), AKIDB_EINVAL);
  big[1024] = '\0';
  ASSERT_OK(akidb_password_hash(big, &CHEAP, h, sizeof h, err, sizeof err));
  akidb_argon2_params_t bad = {0, 64, 1};
  ASSERT_EQ_INT(akidb_password_hash(PASSWORD, &bad, h, sizeof h, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "t_cost");
  bad = (akidb_argon2_params_t){1, 4, 1};
  ASSERT_EQ_INT(akidb_password_hash(PASSWORD, &bad, h, sizeof h, err, sizeof err), AKIDB_EINVAL);
  ASSERT_STR_CONTAINS(err, "m_cost_kib");
  ASSERT_EQ_INT(akidb_password_hash(PASSWORD, &CHEAP, h, 20, err, sizeof err), AKIDB_EINVAL);
}

static void test_login_upgrades_weaker_password_hashes(void) {
  akidb_catalog_t *cat = tcu_open_new("upgrade.db");
  const char *path = tcu_path("upgrade.db");
  char err[ERR_LEN] = "", hash[AKIDB_PASSWORD_HASH_MAX + 1];
  akidb_tenant_t t = tcu_tenant(cat, "upgrade", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *weak = open_auth(cat, &CHEAP);
  make_user(weak, &t, "olga", AKIDB_ROLE_VIEWER);
  akidb_auth_close(weak);
  stored_hash(path, "olga", hash, sizeof hash);
  ASSERT_TRUE(strncmp(hash, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
  akidb_argon2_params_t strong = {2, 256, 2};
  akidb_auth_t *a = open_auth(cat, &strong);
  akidb_session_t s;
  ASSERT_EQ_INT(
      akidb_auth_login(a, "upgrade", "olga", "wrong password!", NULL, NULL, &s, err, sizeof err),
      AKIDB_EUNAUTH);
  stored_hash(path, "olga", hash, sizeof hash); /* a failed login changes nothing */
  ASSERT_TRUE(strncmp(hash, "$argon2id$v=19$m=64,t=1,p=1$", 28) == 0);
  ASSERT_OK(akidb_auth_login(a, "upgrade", "olga", PASSWORD, NULL, NULL, &s, err, sizeof err));
  stored_hash(path, "olga", hash, sizeof hash);
  ASSERT_TRUE(strncmp(hash, "$argon2id$v=19$m=256,t=2,p=2$", 29) == 0);
  ASSERT_OK(akidb_password_verify(hash, PASSWORD));
  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, s.token, &p, err, sizeof err)); /* the session survived */
  ASSERT_OK(akidb_auth_login(a, "upgrade", "olga", PASSWORD, NULL, NULL, &s, err, sizeof err));
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

/* -------------------------------------------------------------- logins -- */

static void test_login_returns_a_session_for_the_user(void) {
  akidb_catalog_t *cat = tcu_open_new("login.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "login", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "dev", AKIDB_ROLE_DEVELOPER);
  akidb_session_t s;
  ASSERT_OK(
      akidb_auth_login(a, "login", "dev", PASSWORD, "192.0.2.7", "req-1", &s, err, sizeof err));
  ASSERT_EQ_INT(strlen(s.token), 84);
  ASSERT_TRUE(strncmp(s.token, "as_", 3) == 0);
  ASSERT_EQ_INT(s.expires_at_ms, fake_now + 12ll * 3600 * 1000);
  ASSERT_EQ_INT(akidb_uuid_compare(&s.principal.user_id, &u.id), 0);
  ASSERT_EQ_INT(s.principal.role, AKIDB_ROLE_DEVELOPER);
  ASSERT_TRUE(s.principal.has_tenant && akidb_uuid_compare(&s.principal.tenant_id, &t.id) == 0);
  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, s.token, &p, err, sizeof err));
  ASSERT_EQ_INT(p.kind, AKIDB_CRED_SESSION);
  ASSERT_EQ_INT(akidb_uuid_compare(&p.credential_id, &s.session_id), 0);
  ASSERT_TRUE(strcmp(p.username, "dev") == 0);
  char bearer[128];
  snprintf(bearer, sizeof bearer, "Bearer %s", s.token);
  ASSERT_OK(akidb_auth_resolve(a, bearer, &p, err, sizeof err));
  /* Only the hash of the token's secret is stored. */
  const char *path = tcu_path("login.db");
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM sessions WHERE prefix = '%.16s' AND hex(secret_hash) = "
           "upper(hex(secret_hash)) AND length(secret_hash) = 32 AND source = '192.0.2.7'",
           s.token + 3);
  ASSERT_EQ_INT(tcu_count(path, sql), 1);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM sessions WHERE instr(CAST(secret_hash AS TEXT), '%s') > 0",
           s.token + 20);
  ASSERT_EQ_INT(tcu_count(path, sql), 0);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_login_failures_share_one_message(void) {
  akidb_catalog_t *cat = tcu_open_new("login-fail.db");
  char err[ERR_LEN] = "", first[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "fail", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  make_user(a, &t, "ann", AKIDB_ROLE_ADMIN);
  akidb_user_t nopw, out;
  memset(&nopw, 0, sizeof nopw);
  nopw.has_tenant = true;
  nopw.tenant_id = t.id;
  strcpy(nopw.username, "nopass");
  nopw.role = AKIDB_ROLE_VIEWER;
  ASSERT_OK(akidb_auth_user_create(a, &nopw, NULL, NULL, &out, err, sizeof err));
  ASSERT_TRUE(!out.has_password);
  akidb_session_t s;
  struct {
    const char *tenant, *user, *password, *reason;
  } cases[] = {{"nope", "ann", PASSWORD, "unknown_user"},
               {"fail", "bob", PASSWORD, "unknown_user"},
               {"fail", "ann", "not the password", "bad_password"},
               {"fail", "nopass", PASSWORD, "no_password"},
               {NULL, "ann", PASSWORD, "unknown_user"}};
  for (size_t i = 0; i < 5; i++) {
    ASSERT_EQ_INT(akidb_auth_login(a, cases[i].tenant, cases[i].user, cases[i].password, NULL, NULL,
                                   &s, err, sizeof err),
                  AKIDB_EUNAUTH);
    if (i == 0) strcpy(first, err);
    ASSERT_TRUE(strcmp(err, first) == 0);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM audit_log WHERE action = 'login.failure' AND actor = '%s' AND "
             "json_extract(details, '$.reason') = '%s'",
             cases[i].user, cases[i].reason);
    ASSERT_GE(tcu_count(tcu_path("login-fail.db"), sql), 1);
  }
  ASSERT_STR_CONTAINS(first, "wrong tenant, username or password");
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_login_refuses_disabled_users_and_inactive_tenants(void) {
  akidb_catalog_t *cat = tcu_open_new("login-state.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "state", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "dora", AKIDB_ROLE_VIEWER);
  akidb_user_update_t off = {.set_status = true, .status = AKIDB_USER_DISABLED};
  ASSERT_OK(akidb_user_update(cat, &u.id, &off, NULL, NULL, err, sizeof err));
  akidb_session_t s;
  ASSERT_EQ_INT(akidb_auth_login(a, "state", "dora", PASSWORD, NULL, NULL, &s, err, sizeof err),
                AKIDB_EPERM);
  ASSERT_STR_CONTAINS(err, "disabled");
  akidb_user_update_t on = {.set_status = true, .status = AKIDB_USER_ACTIVE};
  ASSERT_OK(akidb_user_update(cat, &u.id, &on, NULL, NULL, err, sizeof err));
  akidb_tenant_update_t sus = {.set_status = true, .status = AKIDB_TENANT_SUSPENDED};
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &sus, NULL, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_auth_login(a, "state", "dora", PASSWORD, NULL, NULL, &s, err, sizeof err),
                AKIDB_EPERM);
  ASSERT_STR_CONTAINS(err, "tenant 'state' is suspended");
  akidb_tenant_update_t act = {.set_status = true, .status = AKIDB_TENANT_ACTIVE};
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &act, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_auth_login(a, "state", "dora", PASSWORD, NULL, NULL, &s, err, sizeof err));
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_login_rate_limit_per_user_and_window(void) {
  akidb_catalog_t *cat = tcu_open_new("limit-user.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "limit", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  make_user(a, &t, "lou", AKIDB_ROLE_VIEWER);
  make_user(a, &t, "max", AKIDB_ROLE_VIEWER);
  akidb_session_t s;
  for (int i = 0; i < 5; i++) /* the default limit: 5 per 15 minutes */
    ASSERT_EQ_INT(
        akidb_auth_login(a, "limit", "lou", "wrong password!", NULL, NULL, &s, err, sizeof err),
        AKIDB_EUNAUTH);
  ASSERT_EQ_INT(akidb_auth_login(a, "limit", "lou", PASSWORD, NULL, NULL, &s, err, sizeof err),
                AKIDB_ERATELIMIT);
  ASSERT_STR_CONTAINS(err, "too many failed logins");
  ASSERT_OK(akidb_auth_login(a, "limit", "max", PASSWORD, NULL, NULL, &s, err,
                             sizeof err)); /* others fine */
  fake_now += 15 * 60 * 1000 - 1;
  ASSERT_EQ_INT(akidb_auth_login(a, "limit", "lou", PASSWORD, NULL, NULL, &s, err, sizeof err),
                AKIDB_ERATELIMIT);
  fake_now += 1;
  ASSERT_OK(akidb_auth_login(a, "limit", "lou", PASSWORD, NULL, NULL, &s, err, sizeof err));
  /* A success clears the count: four more failures do not block. */
  for (int i = 0; i < 4; i++)
    ASSERT_EQ_INT(
        akidb_auth_login(a, "limit", "lou", "wrong password!", NULL, NULL, &s, err, sizeof err),
        AKIDB_EUNAUTH);
  ASSERT_OK(akidb_auth_login(a, "limit", "lou", PASSWORD, NULL, NULL, &s, err, sizeof err));
  ASSERT_EQ_INT(
      tcu_count(tcu_path("limit-user.db"),
                "SELECT count(*) FROM audit_log WHERE action = 'login.failure' AND outcome = "
                "'denied' AND json_extract(details, '$.reason') = 'rate_limited'"),
      2);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_login_rate_limit_per_source(void) {
  akidb_catalog_t *cat = tcu_open_new("limit-source.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "source", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  make_user(a, &t, "sam", AKIDB_ROLE_VIEWER);
  akidb_session_t s;
  for (int i = 0; i < 20; i++) { /* 20 different usernames: each under its own limit */
    char name[16];
    snprintf(name, sizeof name, "guess%d", i);
    ASSERT_EQ_INT(akidb_auth_login(a, "source", name, "whatever password", "203.0.113.9", NULL, &s,
                                   err, sizeof err),
                  AKIDB_EUNAUTH);
  }
  ASSERT_EQ_INT(
      akidb_auth_login(a, "source", "sam", PASSWORD, "203.0.113.9", NULL, &s, err, sizeof err),
      AKIDB_ERATELIMIT);
  ASSERT_OK(
      akidb_auth_login(a, "source", "sam", PASSWORD, "203.0.113.10", NULL, &s, err, sizeof err));
  fake_now += 15 * 60 * 1000;
  ASSERT_OK(
      akidb_auth_login(a, "source", "sam", PASSWORD, "203.0.113.9", NULL, &s, err, sizeof err));
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

/* ------------------------------------------------------------ API keys -- */

static void hex_sha256(const char *text, char out[65]) {
  unsigned char d[32];
  unsigned n;
  EVP_Digest(text, strlen(text), d, &n, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02X", d[i]);
}

static void test_api_key_lifecycle(void) {
  akidb_catalog_t *cat = tcu_open_new("keys.db");
  const char *path = tcu_path("keys.db");
  char err[ERR_LEN] = "", secret[AKIDB_TOKEN_MAX + 1];
  akidb_tenant_t t = tcu_tenant(cat, "keys", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "kim", AKIDB_ROLE_DEVELOPER);
  akidb_api_key_t k;
  ASSERT_OK(akidb_auth_key_create(a, &u.id, "ci pipeline", 0, NULL, &k, secret, sizeof secret, err,
                                  sizeof err));
  ASSERT_EQ_INT(strlen(secret), 84);
  ASSERT_TRUE(strncmp(secret, "ak_", 3) == 0);
  ASSERT_TRUE(strncmp(secret + 3, k.prefix, 16) == 0);
  ASSERT_EQ_INT(k.revoked_at_ms, 0);
  ASSERT_EQ_INT(k.expires_at_ms, 0);
  ASSERT_EQ_INT(k.created_at_ms, fake_now);
  ASSERT_TRUE(strcmp(k.name, "ci pipeline") == 0);
  /* Stored: the prefix and SHA-256 of the 256-bit secret, nothing else. */
  char want[65], sql[512];
  hex_sha256(secret + 20, want);
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM api_keys WHERE prefix = '%s' AND hex(secret_hash) = '%s'",
           k.prefix, want);
  ASSERT_EQ_INT(tcu_count(path, sql), 1);
  akidb_api_key_list_t l;
  ASSERT_OK(akidb_api_key_list(cat, &u.id, NULL, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 1);
  ASSERT_TRUE(strcmp(l.items[0].prefix, k.prefix) == 0);
  akidb_api_key_list_free(&l);
  ASSERT_OK(akidb_api_key_list(cat, NULL, &t.id, NULL, &l, err, sizeof err));
  ASSERT_EQ_INT(l.count, 1);
  akidb_api_key_list_free(&l);

  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(p.kind, AKIDB_CRED_API_KEY);
  ASSERT_EQ_INT(p.role, AKIDB_ROLE_DEVELOPER);
  ASSERT_EQ_INT(akidb_uuid_compare(&p.credential_id, &k.id), 0);
  ASSERT_OK(akidb_api_key_get(cat, &k.id, &k, err, sizeof err));
  ASSERT_EQ_INT(k.last_used_ms, fake_now);
  /* A wrong secret with the right prefix is refused. */
  char forged[AKIDB_TOKEN_MAX + 1];
  strcpy(forged, secret);
  forged[83] = forged[83] == '0' ? '1' : '0';
  ASSERT_EQ_INT(akidb_auth_resolve(a, forged, &p, err, sizeof err), AKIDB_EUNAUTH);
  /* Revocation is refused at once, although the key is cached. */
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_OK(akidb_auth_key_revoke(a, &k.id, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_auth_resolve(a, secret, &p, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_STR_CONTAINS(err, "revoked");
  ASSERT_EQ_INT(akidb_auth_key_revoke(a, &k.id, NULL, err, sizeof err), AKIDB_ECONFLICT);
  ASSERT_OK(akidb_api_key_get(cat, &k.id, &k, err, sizeof err));
  ASSERT_EQ_INT(k.revoked_at_ms, fake_now);
  akidb_uuid_t nobody;
  ASSERT_OK(akidb_uuid_v7(&nobody));
  ASSERT_EQ_INT(
      akidb_auth_key_create(a, &nobody, "x", 0, NULL, NULL, secret, sizeof secret, err, sizeof err),
      AKIDB_ENOTFOUND);
  ASSERT_EQ_INT(
      akidb_auth_key_create(a, &u.id, "", 0, NULL, NULL, secret, sizeof secret, err, sizeof err),
      AKIDB_EINVAL);
  ASSERT_EQ_INT(akidb_auth_key_create(a, &u.id, "past", fake_now, NULL, NULL, secret, sizeof secret,
                                      err, sizeof err),
                AKIDB_EINVAL);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_api_key_expiry_is_enforced_even_when_cached(void) {
  akidb_catalog_t *cat = tcu_open_new("key-expiry.db");
  char err[ERR_LEN] = "", secret[AKIDB_TOKEN_MAX + 1];
  akidb_tenant_t t = tcu_tenant(cat, "expiry", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "eli", AKIDB_ROLE_VIEWER);
  akidb_api_key_t k;
  ASSERT_OK(akidb_auth_key_create(a, &u.id, "short", fake_now + 1000, NULL, &k, secret,
                                  sizeof secret, err, sizeof err));
  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(p.expires_at_ms, fake_now + 1000);
  fake_now += 999;
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  fake_now += 1;
  ASSERT_EQ_INT(akidb_auth_resolve(a, secret, &p, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_STR_CONTAINS(err, "expired");
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_session_expiry_and_logout(void) {
  akidb_catalog_t *cat = tcu_open_new("sessions.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "sess", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  make_user(a, &t, "sid", AKIDB_ROLE_VIEWER);
  akidb_session_t s1, s2;
  ASSERT_OK(akidb_auth_login(a, "sess", "sid", PASSWORD, NULL, NULL, &s1, err, sizeof err));
  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, s1.token, &p, err, sizeof err));
  fake_now += 12ll * 3600 * 1000;
  ASSERT_EQ_INT(akidb_auth_resolve(a, s1.token, &p, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_STR_CONTAINS(err, "session expired");
  uint64_t purged = 0;
  ASSERT_OK(akidb_auth_purge_sessions(a, &purged, err, sizeof err));
  ASSERT_EQ_U64(purged, 1);
  ASSERT_OK(akidb_auth_login(a, "sess", "sid", PASSWORD, NULL, NULL, &s2, err, sizeof err));
  ASSERT_OK(akidb_auth_resolve(a, s2.token, &p, err, sizeof err));
  ASSERT_OK(akidb_auth_logout(a, s2.token, "req-out", err, sizeof err));
  ASSERT_EQ_INT(akidb_auth_resolve(a, s2.token, &p, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_EQ_INT(akidb_auth_logout(a, s2.token, NULL, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_EQ_INT(
      tcu_count(tcu_path("sessions.db"),
                "SELECT count(*) FROM audit_log WHERE action = 'logout' AND request_id = 'req-out' "
                "AND actor = 'sid'"),
      1);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_password_change_ends_sessions(void) {
  akidb_catalog_t *cat = tcu_open_new("pwchange.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "pwc", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "pat", AKIDB_ROLE_VIEWER);
  akidb_session_t s;
  ASSERT_OK(akidb_auth_login(a, "pwc", "pat", PASSWORD, NULL, NULL, &s, err, sizeof err));
  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, s.token, &p, err, sizeof err));
  ASSERT_OK(akidb_auth_set_password(a, &u.id, "a brand new password", NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_auth_resolve(a, s.token, &p, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_EQ_INT(akidb_auth_login(a, "pwc", "pat", PASSWORD, NULL, NULL, &s, err, sizeof err),
                AKIDB_EUNAUTH);
  ASSERT_OK(
      akidb_auth_login(a, "pwc", "pat", "a brand new password", NULL, NULL, &s, err, sizeof err));
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_cache_follows_role_status_and_tenant_changes(void) {
  akidb_catalog_t *cat = tcu_open_new("cache.db");
  char err[ERR_LEN] = "", secret[AKIDB_TOKEN_MAX + 1];
  akidb_tenant_t t = tcu_tenant(cat, "cache", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "cal", AKIDB_ROLE_VIEWER);
  ASSERT_OK(
      akidb_auth_key_create(a, &u.id, "k", 0, NULL, NULL, secret, sizeof secret, err, sizeof err));
  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(p.role, AKIDB_ROLE_VIEWER);
  akidb_user_update_t role = {.set_role = true, .role = AKIDB_ROLE_ADMIN};
  ASSERT_OK(akidb_user_update(cat, &u.id, &role, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(p.role, AKIDB_ROLE_ADMIN);
  akidb_tenant_update_t sus = {.set_status = true, .status = AKIDB_TENANT_SUSPENDED};
  ASSERT_OK(akidb_tenant_update(cat, &t.id, &sus, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(p.tenant_status, AKIDB_TENANT_SUSPENDED);
  akidb_resource_t r = {.tenant_id = &t.id};
  akidb_decision_t d;
  ASSERT_EQ_INT(akidb_authorize(&p, AKIDB_ACT_SEARCH, &r, &d), AKIDB_EPERM);
  ASSERT_STR_CONTAINS(d.reason, "suspended");
  akidb_user_update_t off = {.set_status = true, .status = AKIDB_USER_DISABLED};
  ASSERT_OK(akidb_user_update(cat, &u.id, &off, NULL, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_auth_resolve(a, secret, &p, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_STR_CONTAINS(err, "disabled");
  akidb_user_update_t on = {.set_status = true, .status = AKIDB_USER_ACTIVE};
  ASSERT_OK(akidb_user_update(cat, &u.id, &on, NULL, NULL, err, sizeof err));
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_OK(akidb_user_delete(cat, &u.id, NULL, err, sizeof err));
  ASSERT_EQ_INT(akidb_auth_resolve(a, secret, &p, err, sizeof err), AKIDB_EUNAUTH);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_cache_entries_are_reread_after_the_ttl(void) {
  /* A change made by another process (plain SQL here) is seen once the
   * cached entry is older than cache_ttl_ms. */
  akidb_catalog_t *cat = tcu_open_new("ttl.db");
  char err[ERR_LEN] = "", secret[AKIDB_TOKEN_MAX + 1];
  akidb_tenant_t t = tcu_tenant(cat, "ttl", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "tia", AKIDB_ROLE_VIEWER);
  ASSERT_OK(
      akidb_auth_key_create(a, &u.id, "k", 0, NULL, NULL, secret, sizeof secret, err, sizeof err));
  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(tcu_exec(tcu_path("ttl.db"), "UPDATE users SET role = 'auditor'", NULL, 0),
                SQLITE_OK);
  fake_now += 59999;
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(p.role, AKIDB_ROLE_VIEWER); /* still cached */
  fake_now += 1;
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(p.role, AKIDB_ROLE_AUDITOR);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

static void test_malformed_credentials_are_refused(void) {
  akidb_catalog_t *cat = tcu_open_new("malformed.db");
  char err[ERR_LEN] = "";
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_principal_t p;
  const char *bad[] = {
      "",
      "Bearer ",
      "ak_",
      "xx_0123456789abcdef_0000000000000000000000000000000000000000000000000000000000000000",
      "ak_0123456789ABCDEF_0000000000000000000000000000000000000000000000000000000000000000",
      "ak_0123456789abcdef-0000000000000000000000000000000000000000000000000000000000000000",
      "ak_0123456789abcdef_000000000000000000000000000000000000000000000000000000000000000",
      "ak_0123456789abcdef_0000000000000000000000000000000000000000000000000000000000000000",
      NULL};
  for (int i = 0; bad[i]; i++)
    ASSERT_EQ_INT(akidb_auth_resolve(a, bad[i], &p, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_EQ_INT(akidb_auth_resolve(a, NULL, &p, err, sizeof err), AKIDB_EUNAUTH);
  ASSERT_EQ_INT(akidb_auth_logout(a, "junk", NULL, err, sizeof err), AKIDB_EUNAUTH);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

/* RFC 9110 §11.1: the auth-scheme is case-insensitive; one or more spaces
 * separate it from the credential. */
static void expect_credential(const char *header, const char *want) {
  const char *got = akidb_auth_bearer_credential(header);
  if (!got || strcmp(got, want) != 0)
    CHECK_FAIL("credential of '%s' = '%s', expected '%s'", header, got ? got : "(null)", want);
}

static void test_bearer_scheme_is_case_insensitive(void) {
  const char *h = "BEARER tok";
  ASSERT_TRUE(akidb_auth_bearer_credential(h) == h + 7);
  expect_credential("bearer tok", "tok");
  expect_credential("bEaReR tok", "tok");
  expect_credential("Bearer   tok", "tok");
  expect_credential("Bearer ", "");
  const char *not_bearer[] = {"", "Bearer", "Bearertok", "Basic dXNlcjpwdw==", "Bear tok",
                              "tok", "\tBearer tok", NULL};
  for (int i = 0; not_bearer[i]; i++)
    if (akidb_auth_bearer_credential(not_bearer[i]) != NULL)
      CHECK_FAIL("'%s' was read as a Bearer credential", not_bearer[i]);
  ASSERT_TRUE(akidb_auth_bearer_credential(NULL) == NULL);

  akidb_catalog_t *cat = tcu_open_new("bearer.db");
  char err[ERR_LEN] = "";
  akidb_tenant_t t = tcu_tenant(cat, "case", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "cas", AKIDB_ROLE_AUDITOR);
  akidb_session_t s;
  ASSERT_OK(akidb_auth_login(a, "case", "cas", PASSWORD, NULL, NULL, &s, err, sizeof err));
  const char *schemes[] = {"Bearer ", "bearer ", "BEARER ", "BeArEr  ", NULL};
  for (int i = 0; schemes[i]; i++) {
    char header[512];
    snprintf(header, sizeof header, "%s%s", schemes[i], s.token);
    akidb_principal_t p;
    memset(&p, 0, sizeof p);
    int rc = akidb_auth_resolve(a, header, &p, err, sizeof err);
    if (rc) CHECK_FAIL("resolve('%s<token>') = %d %s", schemes[i], rc, err);
    ASSERT_EQ_INT(memcmp(p.user_id.bytes, u.id.bytes, 16), 0);
    ASSERT_EQ_INT(strcmp(p.username, "cas"), 0);
    ASSERT_EQ_INT(p.role, AKIDB_ROLE_AUDITOR);
  }
  char header[512];
  snprintf(header, sizeof header, "BEARER %s", s.token);
  ASSERT_OK(akidb_auth_logout(a, header, NULL, err, sizeof err));
  akidb_principal_t p;
  ASSERT_EQ_INT(akidb_auth_resolve(a, s.token, &p, err, sizeof err), AKIDB_EUNAUTH);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

/* ---------------------------------------------------------- concurrency -- */

typedef struct {
  akidb_auth_t *auth;
  const char *secret;
  int bad;
  int seen_admin, seen_viewer;
} resolver_t;

static void *resolver_main(void *arg) {
  resolver_t *r = arg;
  for (int i = 0; i < 3000; i++) {
    akidb_principal_t p;
    if (akidb_auth_resolve(r->auth, r->secret, &p, NULL, 0))
      r->bad++;
    else if (p.role == AKIDB_ROLE_ADMIN)
      r->seen_admin++;
    else if (p.role == AKIDB_ROLE_VIEWER)
      r->seen_viewer++;
    else
      r->bad++;
  }
  return NULL;
}

static void test_resolution_is_safe_while_roles_change(void) {
  akidb_catalog_t *cat = tcu_open_new("threads.db");
  char err[ERR_LEN] = "", secret[AKIDB_TOKEN_MAX + 1];
  akidb_tenant_t t = tcu_tenant(cat, "threads", AKIDB_TENANT_ACTIVE);
  akidb_auth_t *a = open_auth(cat, NULL);
  akidb_user_t u = make_user(a, &t, "tom", AKIDB_ROLE_VIEWER);
  ASSERT_OK(
      akidb_auth_key_create(a, &u.id, "k", 0, NULL, NULL, secret, sizeof secret, err, sizeof err));
  pthread_t th[3];
  resolver_t r[3];
  for (int i = 0; i < 3; i++) {
    r[i] = (resolver_t){a, secret, 0, 0, 0};
    ASSERT_OK(pthread_create(&th[i], NULL, resolver_main, &r[i]));
  }
  for (int i = 0; i < 20; i++) {
    akidb_user_update_t upd = {.set_role = true,
                               .role = i % 2 ? AKIDB_ROLE_VIEWER : AKIDB_ROLE_ADMIN};
    ASSERT_OK(akidb_user_update(cat, &u.id, &upd, NULL, NULL, err, sizeof err));
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    ASSERT_EQ_INT(r[i].bad, 0);
    ASSERT_EQ_INT(r[i].seen_admin + r[i].seen_viewer, 3000);
  }
  /* Once the writer is done, every thread sees the last role. */
  akidb_principal_t p;
  ASSERT_OK(akidb_auth_resolve(a, secret, &p, err, sizeof err));
  ASSERT_EQ_INT(p.role, AKIDB_ROLE_VIEWER);
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

/* ----------------------------------------------------------- bootstrap -- */

static void test_bootstrap_creates_one_system_admin(void) {
  akidb_catalog_t *cat = tcu_open_new("boot.db");
  char err[ERR_LEN] = "", generated[32];
  akidb_auth_t *a = open_auth(cat, NULL);
  bool created = false;
  ASSERT_OK(akidb_auth_bootstrap_admin(a, "admin", NULL, generated, sizeof generated, &created, err,
                                       sizeof err));
  ASSERT_TRUE(created);
  ASSERT_EQ_INT(strlen(generated), 24);
  akidb_session_t s;
  ASSERT_OK(akidb_auth_login(a, NULL, "admin", generated, NULL, NULL, &s, err, sizeof err));
  ASSERT_EQ_INT(s.principal.role, AKIDB_ROLE_SYSTEM_ADMIN);
  ASSERT_TRUE(!s.principal.has_tenant);
  ASSERT_OK(akidb_auth_bootstrap_admin(a, "admin2", "explicit password", generated,
                                       sizeof generated, &created, err, sizeof err));
  ASSERT_TRUE(!created);
  ASSERT_EQ_INT(generated[0], '\0');
  /* The last active system admin cannot be removed or disabled. */
  akidb_user_t root;
  ASSERT_OK(akidb_user_get_by_name(cat, NULL, "admin", &root, err, sizeof err));
  ASSERT_EQ_INT(akidb_user_delete(cat, &root.id, NULL, err, sizeof err), AKIDB_ECONFLICT);
  ASSERT_STR_CONTAINS(err, "last active system admin");
  akidb_user_update_t off = {.set_status = true, .status = AKIDB_USER_DISABLED};
  ASSERT_EQ_INT(akidb_user_update(cat, &root.id, &off, NULL, NULL, err, sizeof err),
                AKIDB_ECONFLICT);
  akidb_user_update_t promote = {.set_role = true, .role = AKIDB_ROLE_ADMIN};
  ASSERT_EQ_INT(akidb_user_update(cat, &root.id, &promote, NULL, NULL, err, sizeof err),
                AKIDB_EINVAL);
  make_user(a, NULL, "backup", AKIDB_ROLE_SYSTEM_ADMIN);
  ASSERT_OK(akidb_user_delete(cat, &root.id, NULL, err, sizeof err));
  akidb_auth_close(a);
  akidb_catalog_close(cat);
}

CHECK_MAIN(CHECK_CASE(test_password_hash_verifies_and_rejects),
           CHECK_CASE(test_password_length_and_parameters_are_checked),
           CHECK_CASE(test_login_upgrades_weaker_password_hashes),
           CHECK_CASE(test_login_returns_a_session_for_the_user),
           CHECK_CASE(test_login_failures_share_one_message),
           CHECK_CASE(test_login_refuses_disabled_users_and_inactive_tenants),
           CHECK_CASE(test_login_rate_limit_per_user_and_window),
           CHECK_CASE(test_login_rate_limit_per_source), CHECK_CASE(test_api_key_lifecycle),
           CHECK_CASE(test_api_key_expiry_is_enforced_even_when_cached),
           CHECK_CASE(test_session_expiry_and_logout),
           CHECK_CASE(test_password_change_ends_sessions),
           CHECK_CASE(test_cache_follows_role_status_and_tenant_changes),
           CHECK_CASE(test_cache_entries_are_reread_after_the_ttl),
           CHECK_CASE(test_malformed_credentials_are_refused),
           CHECK_CASE(test_bearer_scheme_is_case_insensitive),
           CHECK_CASE(test_resolution_is_safe_while_roles_change),
           CHECK_CASE(test_bootstrap_creates_one_system_admin))
