/*
 * authz.c — owns authorisation: the one permission table (action × role →
 * none / all / own) and the one decision function
 * (principal, action, resource) → allow / deny with a reason, which also
 * enforces tenant isolation and refuses principals of tenants that are not
 * active. Stateless; never reads the catalog.
 */
#include <stddef.h>

#include "auth/auth_internal.h"

#define N AKIDB_GRANT_NONE
#define A AKIDB_GRANT_ALL
#define O AKIDB_GRANT_OWN

typedef struct {
  const char *name;
  akidb_grant_t grant[AKIDB_ROLE_COUNT]; /* system-admin, admin, developer, viewer, auditor */
} permission_t;

/* The permission table. Columns: system-admin, admin, developer, viewer,
 * auditor. Read with akidb_authorize's rules (isolation first). */
static const permission_t PERMISSIONS[AKIDB_ACTION_COUNT] = {
    [AKIDB_ACT_TENANT_CREATE] = {"tenant.create", {A, N, N, N, N}},
    [AKIDB_ACT_TENANT_LIST] = {"tenant.list", {A, N, N, N, N}},
    [AKIDB_ACT_TENANT_READ] = {"tenant.read", {A, A, A, A, A}},
    [AKIDB_ACT_TENANT_UPDATE] = {"tenant.update", {A, N, N, N, N}},
    [AKIDB_ACT_TENANT_DELETE] = {"tenant.delete", {A, N, N, N, N}},
    [AKIDB_ACT_TENANT_STATUS] = {"tenant.status", {A, N, N, N, N}},
    [AKIDB_ACT_TENANT_QUOTA] = {"tenant.quota", {A, N, N, N, N}},
    [AKIDB_ACT_DATABASE_CREATE] = {"database.create", {N, A, A, N, N}},
    [AKIDB_ACT_DATABASE_READ] = {"database.read", {A, A, A, A, N}},
    [AKIDB_ACT_DATABASE_UPDATE] = {"database.update", {N, A, A, N, N}},
    [AKIDB_ACT_DATABASE_DELETE] = {"database.delete", {N, A, A, N, N}},
    [AKIDB_ACT_COLLECTION_CREATE] = {"collection.create", {N, A, A, N, N}},
    [AKIDB_ACT_COLLECTION_READ] = {"collection.read", {A, A, A, A, N}},
    [AKIDB_ACT_COLLECTION_UPDATE] = {"collection.update", {N, A, A, N, N}},
    [AKIDB_ACT_COLLECTION_DELETE] = {"collection.delete", {N, A, A, N, N}},
    [AKIDB_ACT_COLLECTION_TIER] = {"collection.tier", {A, A, A, N, N}},
    [AKIDB_ACT_POINT_WRITE] = {"point.write", {N, A, A, N, N}},
    [AKIDB_ACT_POINT_READ] = {"point.read", {N, A, A, A, N}},
    [AKIDB_ACT_SEARCH] = {"search", {N, A, A, A, N}},
    [AKIDB_ACT_EMBED] = {"embed", {N, A, A, A, N}},
    [AKIDB_ACT_SNAPSHOT_CREATE] = {"snapshot.create", {A, A, A, N, N}},
    [AKIDB_ACT_SNAPSHOT_READ] = {"snapshot.read", {A, A, A, A, N}},
    [AKIDB_ACT_SNAPSHOT_RESTORE] = {"snapshot.restore", {A, A, A, N, N}},
    [AKIDB_ACT_USER_CREATE] = {"user.create", {A, A, N, N, N}},
    [AKIDB_ACT_USER_READ] = {"user.read", {A, A, O, O, O}},
    [AKIDB_ACT_USER_UPDATE] = {"user.update", {A, A, O, O, O}},
    [AKIDB_ACT_USER_DELETE] = {"user.delete", {A, A, N, N, N}},
    [AKIDB_ACT_USER_ROLE] = {"user.role", {A, A, N, N, N}},
    [AKIDB_ACT_APIKEY_CREATE] = {"apikey.create", {O, A, O, O, O}},
    [AKIDB_ACT_APIKEY_READ] = {"apikey.read", {A, A, O, O, O}},
    [AKIDB_ACT_APIKEY_REVOKE] = {"apikey.revoke", {A, A, O, O, O}},
    [AKIDB_ACT_AUDIT_READ] = {"audit.read", {A, A, N, N, A}},
    [AKIDB_ACT_SYSTEM_READ] = {"system.read", {A, N, N, N, N}},
};

#undef N
#undef A
#undef O

static bool valid_action(akidb_action_t a) { return (int)a >= 0 && a < AKIDB_ACTION_COUNT; }
static bool valid_role(akidb_role_t r) { return (int)r >= 0 && (int)r < AKIDB_ROLE_COUNT; }

const char *akidb_action_name(akidb_action_t a) {
  return valid_action(a) && PERMISSIONS[a].name ? PERMISSIONS[a].name : "?";
}

akidb_grant_t akidb_role_grant(akidb_role_t role, akidb_action_t action) {
  if (!valid_action(action) || !valid_role(role)) return AKIDB_GRANT_NONE;
  return PERMISSIONS[action].grant[role];
}

static int decide(akidb_decision_t *out, int code, const char *reason) {
  if (out) {
    out->allowed = code == AKIDB_OK;
    out->code = code;
    out->reason = reason;
  }
  return code;
}

int akidb_authorize(const akidb_principal_t *p, akidb_action_t action, const akidb_resource_t *res,
                    akidb_decision_t *out) {
  static const akidb_resource_t none = {0};
  if (!res) res = &none;
  if (!p) return decide(out, AKIDB_EPERM, "no principal");
  if (!valid_action(action)) return decide(out, AKIDB_EPERM, "unknown action");
  if (!valid_role(p->role)) return decide(out, AKIDB_EPERM, "unknown role");
  bool system = p->role == AKIDB_ROLE_SYSTEM_ADMIN && !p->has_tenant;
  if (p->role == AKIDB_ROLE_SYSTEM_ADMIN && p->has_tenant)
    return decide(out, AKIDB_EPERM, "a system admin must not belong to a tenant");
  if (!system) {
    /* 1. Tenant isolation: foreign resources do not exist for this principal. */
    if (!res->tenant_id)
      return decide(out, AKIDB_EPERM, "this action is reserved to system admins");
    if (akidb_uuid_compare(res->tenant_id, &p->tenant_id) != 0)
      return decide(out, AKIDB_ENOTFOUND, "not found");
    /* 2. Only principals of active tenants act. */
    if (p->tenant_status == AKIDB_TENANT_SUSPENDED)
      return decide(out, AKIDB_EPERM, "tenant is suspended");
    if (p->tenant_status != AKIDB_TENANT_ACTIVE)
      return decide(out, AKIDB_EPERM, "tenant is not active");
  }
  /* 3. The role's grant. */
  akidb_grant_t g = PERMISSIONS[action].grant[p->role];
  if (g == AKIDB_GRANT_NONE) return decide(out, AKIDB_EPERM, "role does not permit this action");
  if (g == AKIDB_GRANT_OWN &&
      (!res->owner_user_id || akidb_uuid_compare(res->owner_user_id, &p->user_id) != 0))
    return decide(out, AKIDB_EPERM, "role permits this action on the principal's own user only");
  /* 4. Only a system admin makes system admins. */
  if (res->grants_role && res->role == AKIDB_ROLE_SYSTEM_ADMIN && !system)
    return decide(out, AKIDB_EPERM, "only a system admin may give the system-admin role");
  if (res->grants_role && !valid_role(res->role)) return decide(out, AKIDB_EPERM, "unknown role");
  return decide(out, AKIDB_OK, "allowed");
}
