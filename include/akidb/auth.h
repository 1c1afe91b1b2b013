/*
 * akidb/auth.h — identity and authorisation: passwords (Argon2id), API keys,
 * session tokens, bearer-credential → principal resolution, login rate
 * limiting, and the (principal, action, resource) → allow/deny decision.
 *
 * Conventions as in akidb/catalog.h (0 or a negative akidb_err_t; optional
 * `char *err, size_t errlen` message buffer). Identity-specific errors:
 * AKIDB_EUNAUTH (unknown user, wrong password, bad/expired/revoked credential;
 * for logins the message is the same whether the tenant, the user or the
 * password was wrong, so it cannot be used to probe usernames),
 * AKIDB_ERATELIMIT (too many failed logins), AKIDB_EPERM (denied).
 *
 * Thread safety: every function may be called from any number of threads on
 * one akidb_auth_t at once.
 */
#ifndef AKIDB_AUTH_H
#define AKIDB_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "akidb/catalog.h"
#include "akidb/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------- passwords -- */

/* Argon2id cost parameters. The defaults are OWASP's minimum for Argon2id
 * (19 MiB, 2 passes, 1 lane). The encoded hash records them, so raising them
 * later upgrades each user's hash at their next successful login. */
typedef struct {
  uint32_t t_cost;      /* passes, 1..64 */
  uint32_t m_cost_kib;  /* memory in KiB, 8..4194304 (4 GiB) */
  uint32_t parallelism; /* lanes, 1..16 */
} akidb_argon2_params_t;

#define AKIDB_ARGON2_T_COST_DEFAULT 2u
#define AKIDB_ARGON2_M_COST_KIB_DEFAULT 19456u
#define AKIDB_ARGON2_PARALLELISM_DEFAULT 1u
#define AKIDB_PASSWORD_MIN 12u   /* bytes */
#define AKIDB_PASSWORD_MAX 1024u /* bytes */

void akidb_argon2_params_default(akidb_argon2_params_t *p);

/*
 * Hashes `password` (AKIDB_PASSWORD_MIN..MAX bytes) with a fresh 16-byte
 * salt into the encoded form "$argon2id$v=19$m=..,t=..,p=..$salt$hash",
 * written with its NUL into `out` (`outlen` >= AKIDB_PASSWORD_HASH_MAX + 1).
 * `p` NULL → defaults. Errors: AKIDB_EINVAL (length, parameters), AKIDB_EIO
 * (no randomness), AKIDB_ENOMEM.
 */
int akidb_password_hash(const char *password, const akidb_argon2_params_t *p, char *out,
                        size_t outlen, char *err, size_t errlen);

/* Checks `password` against an encoded Argon2id hash in constant time.
 * AKIDB_OK on a match, AKIDB_EUNAUTH on a mismatch, AKIDB_EINVAL when
 * `encoded` is not an Argon2id hash. */
int akidb_password_verify(const char *encoded, const char *password);

/* Parses the parameters recorded in an encoded Argon2id hash. AKIDB_EINVAL
 * if it is not one. */
int akidb_password_params(const char *encoded, akidb_argon2_params_t *out);

/* True when `encoded` was made with a cost below `want` in any parameter
 * (or is unparsable), i.e. it should be re-hashed after the next login. */
bool akidb_password_needs_rehash(const char *encoded, const akidb_argon2_params_t *want);

/* ------------------------------------------------------------- context -- */

typedef struct akidb_auth akidb_auth_t;

typedef struct {
  akidb_argon2_params_t argon2; /* for new hashes; default OWASP minimum */
  int64_t session_ttl_ms;       /* default 12 h */
  int64_t cache_ttl_ms;         /* a resolved credential is re-read from the
                                     catalog after this long; default 60 s */
  uint32_t cache_entries;       /* principal cache slots; default 4096 */
  /* Login rate limiting (in memory, per process), fixed windows: after
   * `user_fail_limit` failures for one tenant+username, or
   * `source_fail_limit` failures from one source address, within
   * `fail_window_ms` of the first of them, further logins for that user or
   * source are refused with AKIDB_ERATELIMIT — even with the right password
   * — until the window ends. A successful login clears the user's count. */
  uint32_t user_fail_limit;   /* default 5 */
  uint32_t source_fail_limit; /* default 20 */
  int64_t fail_window_ms;     /* default 15 min */
  /* Clock (Unix ms) for expiry and windows; NULL → CLOCK_REALTIME.
   * Tests pass a fake one. */
  int64_t (*clock_ms)(void *ctx);
  void *clock_ctx;
} akidb_auth_options_t;

void akidb_auth_options_default(akidb_auth_options_t *o);

/*
 * Creates the identity context over an open catalog, which must outlive it.
 * `opt` NULL → defaults. Errors: AKIDB_EINVAL (options, named), AKIDB_ENOMEM.
 */
int akidb_auth_open(akidb_catalog_t *cat, const akidb_auth_options_t *opt, akidb_auth_t **out,
                    char *err, size_t errlen);
void akidb_auth_close(akidb_auth_t *auth); /* NULL accepted */

/* ------------------------------------------------------- users, logins -- */

/*
 * akidb_user_create with `password` hashed under the context's parameters
 * (`password` NULL → a user without a password). Errors: as
 * akidb_user_create, plus AKIDB_EINVAL for the password length.
 */
int akidb_auth_user_create(akidb_auth_t *auth, const akidb_user_t *in, const char *password,
                           const akidb_audit_ctx_t *audit, akidb_user_t *out, char *err,
                           size_t errlen);

/* Sets a user's password (hashing it) and ends its sessions.
 * Errors: AKIDB_ENOTFOUND, AKIDB_EINVAL. Audit: user.update. */
int akidb_auth_set_password(akidb_auth_t *auth, const akidb_uuid_t *user_id, const char *password,
                            const akidb_audit_ctx_t *audit, char *err, size_t errlen);

/*
 * First start: when no system admin exists, creates one named `username`
 * with `password`, or with a generated 24-character password written to
 * `generated` (`generated_len` >= 25) when `password` is NULL — to be shown
 * once. *created says whether a user was made (false: one existed; nothing
 * changed and `generated` is "").
 */
int akidb_auth_bootstrap_admin(akidb_auth_t *auth, const char *username, const char *password,
                               char *generated, size_t generated_len, bool *created, char *err,
                               size_t errlen);

/* Longest token or API key, without the NUL. */
#define AKIDB_TOKEN_MAX 96u

typedef enum { AKIDB_CRED_SESSION = 0, AKIDB_CRED_API_KEY = 1 } akidb_cred_kind_t;

/* Who is asking: the result of resolving a bearer credential. */
typedef struct {
  akidb_uuid_t user_id;
  akidb_uuid_t tenant_id; /* when has_tenant */
  bool has_tenant;        /* false for system admins */
  akidb_role_t role;
  akidb_tenant_status_t tenant_status; /* the tenant's status when resolved */
  akidb_cred_kind_t kind;
  akidb_uuid_t credential_id; /* session or API key id */
  int64_t expires_at_ms;      /* 0 = never */
  char username[AKIDB_USERNAME_MAX + 1];
} akidb_principal_t;

typedef struct {
  char token[AKIDB_TOKEN_MAX + 1]; /* "as_<prefix>_<secret>", shown once */
  akidb_uuid_t session_id;
  int64_t expires_at_ms;
  akidb_principal_t principal;
} akidb_session_t;

/*
 * Password login. `tenant_slug` NULL or "" logs in a system admin. `source`
 * is the client address for rate limiting (NULL → not limited by source).
 * Both outcomes are audited (login.success / login.failure with the reason in
 * details; the caller's message stays the same for every failure).
 * A successful login re-hashes a password made with weaker parameters than
 * the context's. Errors: AKIDB_EUNAUTH (unknown tenant or user, wrong or no
 * password — one message for all, and an unknown user costs one Argon2id
 * verification like a known one), AKIDB_EPERM (right password, but the user
 * is disabled or the tenant is not active; the message says which),
 * AKIDB_ERATELIMIT (checked before the password; a refused attempt is
 * audited with outcome denied).
 */
int akidb_auth_login(akidb_auth_t *auth, const char *tenant_slug, const char *username,
                     const char *password, const char *source, const char *request_id,
                     akidb_session_t *out, char *err, size_t errlen);

/* Ends the session of `token` (drops it from the cache at once).
 * Errors: AKIDB_EUNAUTH (not a live session token). Audit: logout. */
int akidb_auth_logout(akidb_auth_t *auth, const char *token, const char *request_id, char *err,
                      size_t errlen);

/* Deletes expired sessions; `n` (may be NULL) receives how many. */
int akidb_auth_purge_sessions(akidb_auth_t *auth, uint64_t *n, char *err, size_t errlen);

/* ------------------------------------------------------------ API keys -- */

/*
 * Creates an API key for `user_id`: 256 random bits, returned once in
 * `secret` as "ak_<16 hex prefix>_<64 hex secret>" (`secret_len` >=
 * AKIDB_TOKEN_MAX + 1). Only the prefix and SHA-256 of the secret are stored.
 * `name` labels the key (1..63 printable ASCII); `expires_at_ms` 0 = never.
 * Errors: AKIDB_ENOTFOUND (user), AKIDB_EINVAL. Audit: apikey.create.
 */
int akidb_auth_key_create(akidb_auth_t *auth, const akidb_uuid_t *user_id, const char *name,
                          int64_t expires_at_ms, const akidb_audit_ctx_t *audit,
                          akidb_api_key_t *out, char *secret, size_t secret_len, char *err,
                          size_t errlen);

/* Revokes a key (refused at once, also if cached). Errors: AKIDB_ENOTFOUND,
 * AKIDB_ECONFLICT (already revoked). Audit: apikey.revoke. */
int akidb_auth_key_revoke(akidb_auth_t *auth, const akidb_uuid_t *key_id,
                          const akidb_audit_ctx_t *audit, char *err, size_t errlen);

/* ---------------------------------------------------------- principals -- */

/*
 * The credential of an Authorization header value that uses the Bearer
 * scheme: the scheme name in any case (RFC 9110 §11.1: "Bearer", "bearer",
 * "BEARER"), then one or more spaces. Returns a pointer into `authorization`
 * (valid as long as it is), possibly to an empty string, or NULL when the
 * value is NULL or names no Bearer scheme.
 */
const char *akidb_auth_bearer_credential(const char *authorization);

/*
 * Resolves a bearer credential (session token or API key; a leading
 * Bearer scheme in any case, as akidb_auth_bearer_credential reads it, is
 * accepted) to a principal. Hits a cache keyed by the
 * credential's SHA-256; entries expire after cache_ttl_ms and are dropped at
 * once by any change to users, keys, sessions or tenant status made through
 * this process's catalog. Errors: AKIDB_EUNAUTH (malformed, unknown,
 * expired, revoked, user disabled).
 */
int akidb_auth_resolve(akidb_auth_t *auth, const char *bearer, akidb_principal_t *out, char *err,
                       size_t errlen);

/* --------------------------------------------------------- authorising -- */

typedef enum {
  AKIDB_ACT_TENANT_CREATE = 0,
  AKIDB_ACT_TENANT_LIST,
  AKIDB_ACT_TENANT_READ,
  AKIDB_ACT_TENANT_UPDATE,
  AKIDB_ACT_TENANT_DELETE,
  AKIDB_ACT_TENANT_STATUS, /* change a tenant's status */
  AKIDB_ACT_TENANT_QUOTA,  /* change a tenant's quotas */
  AKIDB_ACT_DATABASE_CREATE,
  AKIDB_ACT_DATABASE_READ, /* get and list */
  AKIDB_ACT_DATABASE_UPDATE,
  AKIDB_ACT_DATABASE_DELETE,
  AKIDB_ACT_COLLECTION_CREATE,
  AKIDB_ACT_COLLECTION_READ,
  AKIDB_ACT_COLLECTION_UPDATE,
  AKIDB_ACT_COLLECTION_DELETE,
  AKIDB_ACT_COLLECTION_TIER, /* move or pin a collection's tier */
  AKIDB_ACT_POINT_WRITE,     /* upsert and delete points */
  AKIDB_ACT_POINT_READ,      /* get points */
  AKIDB_ACT_SEARCH,          /* vector and text search */
  AKIDB_ACT_EMBED,           /* the batch embedding endpoint */
  AKIDB_ACT_SNAPSHOT_CREATE,
  AKIDB_ACT_SNAPSHOT_READ,
  AKIDB_ACT_SNAPSHOT_RESTORE,
  AKIDB_ACT_USER_CREATE,
  AKIDB_ACT_USER_READ,
  AKIDB_ACT_USER_UPDATE, /* status, password */
  AKIDB_ACT_USER_DELETE,
  AKIDB_ACT_USER_ROLE, /* change a role */
  AKIDB_ACT_APIKEY_CREATE,
  AKIDB_ACT_APIKEY_READ,
  AKIDB_ACT_APIKEY_REVOKE,
  AKIDB_ACT_AUDIT_READ,
  AKIDB_ACT_SYSTEM_READ, /* server status: the object store, the dead-letter queue */
  AKIDB_ACTION_COUNT
} akidb_action_t;

/* "tenant.create", ...; "?" out of range. */
const char *akidb_action_name(akidb_action_t a);

/* A role's grant for an action, straight from the permission table. */
typedef enum {
  AKIDB_GRANT_NONE = 0,
  AKIDB_GRANT_ALL = 1, /* any resource in the principal's scope */
  AKIDB_GRANT_OWN = 2  /* only resources owned by the principal (its own user
                          record and API keys) */
} akidb_grant_t;
akidb_grant_t akidb_role_grant(akidb_role_t role, akidb_action_t action);

/* What the action applies to. */
typedef struct {
  /* Tenant owning the resource; NULL for system-wide actions
   * (tenant.create, tenant.list). */
  const akidb_uuid_t *tenant_id;
  /* For user and API key actions: the user concerned (the key's owner);
   * NULL otherwise. */
  const akidb_uuid_t *owner_user_id;
  /* For user.create and user.role: the role being given. */
  bool grants_role;
  akidb_role_t role;
} akidb_resource_t;

typedef struct {
  bool allowed;
  int code;           /* 0, AKIDB_EPERM (HTTP 403) or AKIDB_ENOTFOUND (404) */
  const char *reason; /* static text, valid for the program's lifetime */
} akidb_decision_t;

/*
 * The one authorisation decision. Rules, in order:
 *  1. Tenant isolation: a tenant principal asking about a resource of
 *     another tenant is denied with AKIDB_ENOTFOUND ("not found"), whatever
 *     its role and whatever the action — so a principal of tenant A cannot
 *     learn whether a resource of tenant B exists. (Callers must answer the
 *     same 404 they give for a resource that does not exist.) A tenant
 *     principal asking for a system-wide action (resource tenant NULL) is
 *     denied AKIDB_EPERM: those actions exist for everyone.
 *  2. A tenant principal whose tenant is not active is denied AKIDB_EPERM
 *     ("tenant is suspended" / "... not active").
 *  3. The role's grant for the action (akidb_role_grant): NONE → AKIDB_EPERM;
 *     OWN → allowed only when resource->owner_user_id is the principal.
 *  4. Only a system admin may give the system-admin role.
 * System admins have no tenant and pass rule 1 for every tenant.
 * Returns out->code; `out` may be NULL. Never touches the catalog.
 */
int akidb_authorize(const akidb_principal_t *p, akidb_action_t action, const akidb_resource_t *res,
                    akidb_decision_t *out);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_AUTH_H */
