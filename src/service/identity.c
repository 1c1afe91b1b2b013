/*
 * identity.c — owns the identity operations of the service: login, logout,
 * whoami, the users of a tenant (create, read, update role/status/password,
 * delete), their API keys (create, list, revoke) and the audit log query.
 * Catalog mutations carry the call's audit context, so each change and its
 * audit row commit together; logins are audited by the identity module.
 * Typed (service.h): the REST codec reads and writes the JSON; secrets in a
 * result (a session token, a new key's secret) are wiped when the response
 * is cleared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/metrics.h"
#include "service/svc_internal.h"

/* ---------------------------------------------------------------- auth -- */

int svc_op_login(svc_call_t *c) {
  const akidb_login_args_t *a = c->req->args;
  const char *tenant = a->tenant ? a->tenant : "";
  if (!a->username || !a->password)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "login needs 'username' and 'password' (and 'tenant' for tenant users)");
  akidb_session_t s;
  char err[256] = "";
  int rc = akidb_auth_login(c->svc->auth, tenant, a->username, a->password, c->req->source,
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
  akidb_login_result_t *r = &c->res->result.login;
  memcpy(r->token, s.token, sizeof r->token);
  r->expires_at_ms = s.expires_at_ms;
  r->principal = s.principal;
  snprintf(r->tenant, sizeof r->tenant, "%s", tenant);
  memset(&s.token, 0, sizeof s.token);
  return svc_result(c);
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
  akidb_whoami_result_t *r = &c->res->result.whoami;
  r->who = c->who;
  principal_slug(c, r->tenant, sizeof r->tenant);
  return svc_result(c);
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
  const akidb_list_args_t *a = c->req->args;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ)) return -1;
  /* Listing every user needs user.read on all of them: admins and system
   * admins; others read only themselves (GET .../users/{username}). */
  if (akidb_role_grant(c->who.role, AKIDB_ACT_USER_READ) != AKIDB_GRANT_ALL) {
    akidb_resource_t res = {.tenant_id = &c->tenant.id};
    if (svc_authorize(c, AKIDB_ACT_USER_READ, &res)) return -1;
  }
  akidb_users_result_t *r = &c->res->result.users;
  snprintf(r->tenant, sizeof r->tenant, "%s", c->tenant.slug);
  char err[256];
  int rc = akidb_user_list(c->svc->cat, &c->tenant.id, &a->page, &r->list, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_result(c);
}

/* The user of the answer (with the tenant's slug). */
static int answer_user(svc_call_t *c, const akidb_user_t *u, bool created) {
  akidb_user_result_t *r = &c->res->result.user;
  r->user = *u;
  snprintf(r->tenant, sizeof r->tenant, "%s", c->tenant.slug);
  return created ? svc_created(c) : svc_result(c);
}

static int refuse_role(svc_call_t *c) {
  return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                  "field 'role' must be one of admin, developer, viewer, auditor");
}

int svc_op_user_create(svc_call_t *c) {
  const akidb_user_create_args_t *a = c->req->args;
  if (!a->username || !a->has_role)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "a user needs 'username' and 'role'");
  if (a->role == AKIDB_ROLE_SYSTEM_ADMIN) return refuse_role(c);
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ)) return -1;
  akidb_user_t in = {.tenant_id = c->tenant.id, .has_tenant = true, .role = a->role};
  snprintf(in.username, sizeof in.username, "%s", a->username);
  if (strlen(a->username) >= sizeof in.username)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "field 'username' is longer than %u bytes",
                    AKIDB_USERNAME_MAX);
  if (authorize_user(c, AKIDB_ACT_USER_CREATE, &in, true, a->role)) return -1;
  akidb_user_t out;
  char err[256] = "";
  int rc = akidb_auth_user_create(c->svc->auth, &in, a->password, &c->audit, &out, err,
                                  sizeof err);
  return rc ? svc_fail_code(c, rc, err) : answer_user(c, &out, true);
}

int svc_op_user_get(svc_call_t *c) {
  akidb_user_t u;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) || resolve_user(c, &u) ||
      authorize_user(c, AKIDB_ACT_USER_READ, &u, false, 0))
    return -1;
  return answer_user(c, &u, false);
}

int svc_op_user_update(svc_call_t *c) {
  const akidb_user_update_args_t *p = c->req->args;
  if (p->has_role && p->role == AKIDB_ROLE_SYSTEM_ADMIN) return refuse_role(c);
  if (!p->has_role && !p->has_status && !p->password)
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT,
                    "nothing to change: send 'role', 'status' or 'password'");
  akidb_user_t u;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) || resolve_user(c, &u)) return -1;
  if (p->has_role && authorize_user(c, AKIDB_ACT_USER_ROLE, &u, true, p->role)) return -1;
  if ((p->has_status || p->password) && authorize_user(c, AKIDB_ACT_USER_UPDATE, &u, false, 0))
    return -1;
  char err[256] = "";
  int rc = AKIDB_OK;
  if (p->password)
    rc = akidb_auth_set_password(c->svc->auth, &u.id, p->password, &c->audit, err, sizeof err);
  if (!rc && (p->has_role || p->has_status)) {
    akidb_user_update_t upd = {.set_role = p->has_role,
                               .role = p->role,
                               .set_status = p->has_status,
                               .status = p->status};
    rc = akidb_user_update(c->svc->cat, &u.id, &upd, &c->audit, &u, err, sizeof err);
  } else if (!rc) {
    rc = akidb_user_get(c->svc->cat, &u.id, &u, err, sizeof err);
  }
  return rc ? svc_fail_code(c, rc, err) : answer_user(c, &u, false);
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

int svc_op_key_list(svc_call_t *c) {
  const akidb_list_args_t *a = c->req->args;
  akidb_user_t u;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) || resolve_user(c, &u) ||
      authorize_user(c, AKIDB_ACT_APIKEY_READ, &u, false, 0))
    return -1;
  akidb_keys_result_t *r = &c->res->result.keys;
  snprintf(r->username, sizeof r->username, "%s", u.username);
  char err[256];
  int rc = akidb_api_key_list(c->svc->cat, &u.id, NULL, &a->page, &r->list, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_result(c);
}

int svc_op_key_create(svc_call_t *c) {
  const akidb_key_create_args_t *a = c->req->args;
  if (!a->name) return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "an API key needs a 'name'");
  akidb_user_t u;
  if (svc_resolve_tenant(c, AKIDB_ACT_TENANT_READ) || resolve_user(c, &u) ||
      authorize_user(c, AKIDB_ACT_APIKEY_CREATE, &u, false, 0))
    return -1;
  akidb_key_result_t *r = &c->res->result.key;
  snprintf(r->username, sizeof r->username, "%s", u.username);
  char err[256] = "";
  int rc = akidb_auth_key_create(c->svc->auth, &u.id, a->name, a->expires_at_ms, &c->audit,
                                 &r->key, r->secret, sizeof r->secret, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_created(c);
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

/* Runs the query into the result (`slug`: the tenant's, or NULL for all). */
static int audit_answer(svc_call_t *c, akidb_audit_query_t *q, const char *slug) {
  akidb_audit_result_t *r = &c->res->result.audit;
  snprintf(r->tenant, sizeof r->tenant, "%s", slug ? slug : "");
  char err[256];
  int rc = akidb_audit_query(c->svc->cat, q, &r->list, err, sizeof err);
  return rc ? svc_fail_code(c, rc, err) : svc_result(c);
}

int svc_op_audit_tenant(svc_call_t *c) {
  akidb_audit_query_t q = ((const akidb_audit_args_t *)c->req->args)->query;
  if (svc_resolve_tenant(c, AKIDB_ACT_AUDIT_READ)) return -1;
  q.tenant_id = &c->tenant.id;
  return audit_answer(c, &q, c->tenant.slug);
}

int svc_op_audit_all(svc_call_t *c) {
  akidb_audit_query_t q = ((const akidb_audit_args_t *)c->req->args)->query;
  if (svc_require_system_admin(c, AKIDB_ACT_AUDIT_READ)) return -1;
  q.tenant_id = NULL;
  return audit_answer(c, &q, NULL);
}
