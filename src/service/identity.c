/*
 * identity.c — owns the identity operations of the service: login, logout,
 * whoami, the users of a tenant (create, read, update role/status/password,
 * delete), their API keys (create, list, revoke) and the audit log query.
 * Catalog mutations carry the call's audit context, so each change and its
 * audit row commit together; logins are audited by the identity module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/metrics.h"
#include "json/json_rules.h"
#include "service/svc_internal.h"

/* ---------------------------------------------------------------- auth -- */

static json_t *principal_user(const akidb_principal_t *p, const char *tenant_slug) {
  return json_pack("{s:o,s:s,s:s,s:o}", "id", jr_uuid(&p->user_id), "username", p->username,
                   "role", akidb_role_name(p->role), "tenant",
                   tenant_slug && *tenant_slug ? json_string(tenant_slug) : json_null());
}

int svc_op_login(svc_call_t *c) {
  static const char *const keys[] = {"tenant", "username", "password", NULL};
  if (svc_body_object(c, "login", keys)) return -1;
  const char *tenant = "", *user = NULL, *password = NULL;
  if (svc_json_string(c, c->req->body, "tenant", &tenant) < 0 ||
      svc_json_string(c, c->req->body, "username", &user) < 0 ||
      svc_json_string(c, c->req->body, "password", &password) < 0)
    return -1;
  if (!user || !password)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "login needs 'username' and 'password' (and 'tenant' for tenant users)");
  akidb_session_t s;
  char err[256] = "";
  int rc = akidb_auth_login(c->svc->auth, tenant, user, password, c->req->source,
                            c->req->request_id, &s, err, sizeof err);
  if (rc == AKIDB_ERATELIMIT) {
    obs_login_observe("throttled");
    c->res->error.retry_after_s = 60;
    return svc_fail(c, AKIDB_ST_RATE_LIMITED,
                    "too many failed logins for this user or address; retry later");
  }
  if (rc == AKIDB_EUNAUTH) {
    obs_login_observe("failure");
    return svc_fail(c, AKIDB_ST_UNAUTHENTICATED, "wrong tenant, username or password");
  }
  if (rc) {
    obs_login_observe("failure");
    return svc_fail_code(c, rc, err);
  }
  obs_login_observe("success");
  json_t *body = json_pack("{s:s,s:o,s:o}", "token", s.token, "expires_at",
                           jr_time(s.expires_at_ms, true), "user",
                           principal_user(&s.principal, tenant));
  memset(&s.token, 0, sizeof s.token);
  return svc_ok(c, body);
}

int svc_op_logout(svc_call_t *c) {
  if (svc_authenticate(c)) return -1;
  if (c->who.kind != AKIDB_CRED_SESSION)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "logout ends a session; an API key is revoked with DELETE "
                    ".../users/{username}/keys/{key_id}");
  char err[256] = "";
  int rc = akidb_auth_logout(c->svc->auth, c->req->bearer, c->req->request_id, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_done(c);
}

/* The slug of the principal's tenant ("" for system admins). */
static void principal_slug(svc_call_t *c, char *out, size_t len) {
  akidb_tenant_t t;
  *out = '\0';
  if (c->who.has_tenant && svc_cached_tenant_by_id(c->svc, &c->who.tenant_id, &t) == 0)
    snprintf(out, len, "%s", t.slug);
}

int svc_op_whoami(svc_call_t *c) {
  if (svc_authenticate(c)) return -1;
  char slug[AKIDB_SLUG_MAX + 1];
  principal_slug(c, slug, sizeof slug);
  return svc_ok(c,
                json_pack("{s:o,s:s,s:o}", "user", principal_user(&c->who, slug), "credential",
                          c->who.kind == AKIDB_CRED_SESSION ? "session" : "api_key",
                          "expires_at", jr_time(c->who.expires_at_ms, true)));
}

/* --------------------------------------------------------------- users -- */

/* Resolves {username} in the tenant into `u`. Callers have authorised the
 * tenant already. */
static int resolve_user(svc_call_t *c, akidb_user_t *u) {
  char err[256];
  const char *name = c->req->username ? c->req->username : "";
  if (akidb_check_username(name, "username", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  int rc = akidb_user_get_by_name(c->svc->cat, &c->tenant.id, name, u, err, sizeof err);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "user '%s' not found in tenant '%s'", name,
                    c->tenant.slug);
  return rc ? svc_fail_code(c, rc, err) : 0;
}

/* Authorises an action on one user of the tenant (own-user grants). */
static int authorize_user(svc_call_t *c, akidb_action_t action, const akidb_user_t *u,
                          bool grants_role, akidb_role_t role) {
  akidb_resource_t res = {.tenant_id = &c->tenant.id,
                          .owner_user_id = &u->id,
                          .grants_role = grants_role,
                          .role = role};
  int rc = svc_authorize(c, action, &res);
  return rc == -2 ? svc_fail(c, AKIDB_ST_NOT_FOUND, "tenant '%s' not found", c->tenant.slug) : rc;
}

int svc_op_user_list(svc_call_t *c) {
  akidb_page_t page;
  if (svc_query_page(c, &page) || svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ)) return -1;
  /* Listing every user needs user.read on all of them: admins and system
   * admins; others read only themselves (GET .../users/{username}). */
  if (akidb_role_grant(c->who.role, AKIDB_ACT_USER_READ) != AKIDB_GRANT_ALL) {
    akidb_resource_t res = {.tenant_id = &c->tenant.id};
    if (svc_authorize(c, AKIDB_ACT_USER_READ, &res)) return -1;
  }
  akidb_user_list_t list;
  char err[256];
  int rc = akidb_user_list(c->svc->cat, &c->tenant.id, &page, &list, err, sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  json_t *items = json_array();
  for (size_t i = 0; i < list.count; i++)
    json_array_append_new(items, svc_user_json(&list.items[i], c->tenant.slug));
  json_t *body = jr_list(items, list.has_more, &list.next);
  akidb_user_list_free(&list);
  return svc_ok(c, body);
}

int svc_op_user_create(svc_call_t *c) {
  static const char *const keys[] = {"username", "role", "password", NULL};
  if (svc_body_object(c, "user", keys)) return -1;
  const char *name = NULL, *role_text = NULL, *password = NULL;
  if (svc_json_string(c, c->req->body, "username", &name) < 0 ||
      svc_json_string(c, c->req->body, "role", &role_text) < 0 ||
      svc_json_string(c, c->req->body, "password", &password) < 0)
    return -1;
  if (!name || !role_text)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "a user needs 'username' and 'role'");
  akidb_role_t role;
  if (akidb_role_parse(role_text, &role) || role == AKIDB_ROLE_SYSTEM_ADMIN)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "field 'role' must be one of admin, developer, viewer, auditor");
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ)) return -1;
  akidb_user_t in = {.tenant_id = c->tenant.id, .has_tenant = true, .role = role};
  snprintf(in.username, sizeof in.username, "%s", name);
  if (strlen(name) >= sizeof in.username)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'username' is longer than %u bytes",
                    AKIDB_USERNAME_MAX);
  if (authorize_user(c, AKIDB_ACT_USER_CREATE, &in, true, role)) return -1;
  akidb_user_t out;
  char err[256] = "";
  int rc = akidb_auth_user_create(c->svc->auth, &in, password, &c->audit, &out, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_created(c, svc_user_json(&out, c->tenant.slug));
}

int svc_op_user_get(svc_call_t *c) {
  akidb_user_t u;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) || resolve_user(c, &u) ||
      authorize_user(c, AKIDB_ACT_USER_READ, &u, false, 0))
    return -1;
  return svc_ok(c, svc_user_json(&u, c->tenant.slug));
}

/* Parses a user patch: role, status, password. */
typedef struct {
  bool set_role, set_status;
  akidb_role_t role;
  akidb_user_status_t status;
  const char *password;
} user_patch_t;

static int parse_user_patch(svc_call_t *c, user_patch_t *p) {
  static const char *const keys[] = {"role", "status", "password", NULL};
  memset(p, 0, sizeof *p);
  if (svc_body_object(c, "user update", keys)) return -1;
  const char *role = NULL, *status = NULL;
  if (svc_json_string(c, c->req->body, "role", &role) < 0 ||
      svc_json_string(c, c->req->body, "status", &status) < 0 ||
      svc_json_string(c, c->req->body, "password", &p->password) < 0)
    return -1;
  if (role && (akidb_role_parse(role, &p->role) || p->role == AKIDB_ROLE_SYSTEM_ADMIN))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "field 'role' must be one of admin, developer, viewer, auditor");
  if (status && akidb_user_status_parse(status, &p->status))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'status' must be active or disabled");
  p->set_role = role != NULL;
  p->set_status = status != NULL;
  if (!p->set_role && !p->set_status && !p->password)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "nothing to change: send 'role', 'status' or 'password'");
  return 0;
}

int svc_op_user_update(svc_call_t *c) {
  user_patch_t p;
  akidb_user_t u;
  if (parse_user_patch(c, &p) || svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) ||
      resolve_user(c, &u))
    return -1;
  if (p.set_role && authorize_user(c, AKIDB_ACT_USER_ROLE, &u, true, p.role)) return -1;
  if ((p.set_status || p.password) && authorize_user(c, AKIDB_ACT_USER_UPDATE, &u, false, 0))
    return -1;
  char err[256] = "";
  int rc = AKIDB_OK;
  if (p.password) rc = akidb_auth_set_password(c->svc->auth, &u.id, p.password, &c->audit, err,
                                               sizeof err);
  if (!rc && (p.set_role || p.set_status)) {
    akidb_user_update_t upd = {.set_role = p.set_role,
                               .role = p.role,
                               .set_status = p.set_status,
                               .status = p.status};
    rc = akidb_user_update(c->svc->cat, &u.id, &upd, &c->audit, &u, err, sizeof err);
  } else if (!rc) {
    rc = akidb_user_get(c->svc->cat, &u.id, &u, err, sizeof err);
  }
  return rc ? svc_fail_code(c, rc, err) : svc_ok(c, svc_user_json(&u, c->tenant.slug));
}

int svc_op_user_delete(svc_call_t *c) {
  akidb_user_t u;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) || resolve_user(c, &u) ||
      authorize_user(c, AKIDB_ACT_USER_DELETE, &u, false, 0))
    return -1;
  char err[256] = "";
  int rc = akidb_user_delete(c->svc->cat, &u.id, &c->audit, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_done(c);
}

/* ------------------------------------------------------------ API keys -- */

static json_t *key_json(const akidb_api_key_t *k, const char *username) {
  return json_pack("{s:o,s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "id", jr_uuid(&k->id), "name", k->name,
                   "prefix", k->prefix, "user", username, "created_at",
                   jr_time(k->created_at_ms, false), "expires_at",
                   jr_time(k->expires_at_ms, true), "last_used_at",
                   jr_time(k->last_used_ms, true), "revoked_at",
                   jr_time(k->revoked_at_ms, true));
}

int svc_op_key_list(svc_call_t *c) {
  akidb_page_t page;
  akidb_user_t u;
  if (svc_query_page(c, &page) || svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) ||
      resolve_user(c, &u) || authorize_user(c, AKIDB_ACT_APIKEY_READ, &u, false, 0))
    return -1;
  akidb_api_key_list_t list;
  char err[256];
  int rc = akidb_api_key_list(c->svc->cat, &u.id, NULL, &page, &list, err, sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  json_t *items = json_array();
  for (size_t i = 0; i < list.count; i++)
    json_array_append_new(items, key_json(&list.items[i], u.username));
  json_t *body = jr_list(items, list.has_more, &list.next);
  akidb_api_key_list_free(&list);
  return svc_ok(c, body);
}

int svc_op_key_create(svc_call_t *c) {
  static const char *const keys[] = {"name", "expires_at", NULL};
  if (svc_body_object(c, "API key", keys)) return -1;
  const char *name = NULL, *expires = NULL;
  if (svc_json_string(c, c->req->body, "name", &name) < 0 ||
      svc_json_string(c, c->req->body, "expires_at", &expires) < 0)
    return -1;
  if (!name) return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "an API key needs a 'name'");
  int64_t expires_ms = 0;
  if (expires && svc_parse_time(expires, &expires_ms))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "field 'expires_at' must be an RFC 3339 time such as 2027-01-01T00:00:00Z");
  akidb_user_t u;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) || resolve_user(c, &u) ||
      authorize_user(c, AKIDB_ACT_APIKEY_CREATE, &u, false, 0))
    return -1;
  akidb_api_key_t k;
  char secret[AKIDB_TOKEN_MAX + 1], err[256] = "";
  int rc = akidb_auth_key_create(c->svc->auth, &u.id, name, expires_ms, &c->audit, &k, secret,
                                 sizeof secret, err, sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  json_t *body = json_pack("{s:o,s:s}", "key", key_json(&k, u.username), "secret", secret);
  memset(secret, 0, sizeof secret);
  return svc_created(c, body);
}

int svc_op_key_revoke(svc_call_t *c) {
  akidb_user_t u;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) || resolve_user(c, &u) ||
      authorize_user(c, AKIDB_ACT_APIKEY_REVOKE, &u, false, 0))
    return -1;
  akidb_uuid_t id;
  akidb_api_key_t k;
  char err[256] = "";
  if (!c->req->key_id || akidb_uuid_parse(c->req->key_id, &id))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "the key id must be a UUID such as the 'id' of GET .../keys");
  if (akidb_api_key_get(c->svc->cat, &id, &k, err, sizeof err) ||
      akidb_uuid_compare(&k.user_id, &u.id) != 0)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "API key '%s' not found for user '%s'",
                    c->req->key_id ? c->req->key_id : "", u.username);
  int rc = akidb_auth_key_revoke(c->svc->auth, &id, &c->audit, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_done(c);
}

/* --------------------------------------------------------------- audit -- */

static int parse_audit_query(svc_call_t *c, akidb_audit_query_t *q) {
  memset(q, 0, sizeof *q);
  const char *v;
  if ((v = svc_query(c, "action")) && akidb_audit_action_parse(v, &q->action))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "query parameter 'action' is not an audit action (e.g. tenant.create, "
                    "login.failure)");
  q->by_action = v != NULL;
  q->actor = svc_query(c, "actor");
  if ((v = svc_query(c, "from")) && svc_parse_time(v, &q->from_ms))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "query parameter 'from' must be an RFC 3339 time");
  if ((v = svc_query(c, "to")) && svc_parse_time(v, &q->to_ms))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "query parameter 'to' must be an RFC 3339 time");
  if ((v = svc_query(c, "order"))) {
    if (strcmp(v, "newest") && strcmp(v, "oldest"))
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "query parameter 'order' must be newest or oldest");
    q->newest_first = strcmp(v, "newest") == 0;
  }
  const char *after = svc_query(c, "after");
  if ((v = svc_query(c, "limit"))) {
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || !*v || n < 1 || n > (long)AKIDB_LIST_LIMIT_MAX)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "query parameter 'limit' must be an integer in 1..%u", AKIDB_LIST_LIMIT_MAX);
    q->limit = (uint32_t)n;
  }
  if (after) {
    char *end;
    long long seq = strtoll(after, &end, 10);
    if (*end || seq < 1)
      return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                      "query parameter 'after' must be the 'next' cursor of a previous page");
    q->cursor = seq;
  }
  return 0;
}

static json_t *audit_json(const akidb_audit_entry_t *e, const char *slug) {
  json_t *details = json_loads(e->details, 0, NULL);
  return json_pack("{s:I,s:o,s:s,s:o,s:o,s:s,s:s,s:s,s:s,s:o}", "seq", (json_int_t)e->seq, "time",
                   jr_time(e->time_ms, false), "actor", e->actor, "actor_id",
                   e->has_actor ? jr_uuid(&e->actor_id) : json_null(), "tenant",
                   e->has_tenant ? (slug ? json_string(slug) : jr_uuid(&e->tenant_id))
                                 : json_null(),
                   "action", akidb_audit_action_name(e->action), "target", e->target, "outcome",
                   akidb_audit_outcome_name(e->outcome), "request_id", e->request_id, "details",
                   details ? details : json_object());
}

static int audit_answer(svc_call_t *c, akidb_audit_query_t *q, const char *slug) {
  akidb_audit_list_t list;
  char err[256];
  int rc = akidb_audit_query(c->svc->cat, q, &list, err, sizeof err);
  if (rc) return svc_fail_code(c, rc, err);
  json_t *items = json_array();
  for (size_t i = 0; i < list.count; i++)
    json_array_append_new(items, audit_json(&list.items[i], slug));
  char next[32];
  snprintf(next, sizeof next, "%lld", (long long)list.next_seq);
  json_t *body = json_pack("{s:o,s:o}", "items", items, "next",
                           list.has_more ? json_string(next) : json_null());
  akidb_audit_list_free(&list);
  return svc_ok(c, body);
}

int svc_op_audit_tenant(svc_call_t *c) {
  akidb_audit_query_t q;
  if (parse_audit_query(c, &q) || svc_resolve_tenant(c, AKIDB_ACT_AUDIT_READ)) return -1;
  q.tenant_id = &c->tenant.id;
  return audit_answer(c, &q, c->tenant.slug);
}

int svc_op_audit_all(svc_call_t *c) {
  akidb_audit_query_t q;
  if (parse_audit_query(c, &q) || svc_require_system_admin(c, AKIDB_ACT_AUDIT_READ)) return -1;
  return audit_answer(c, &q, NULL);
}
