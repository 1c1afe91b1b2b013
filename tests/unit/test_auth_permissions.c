/*
 * test_auth_permissions.c — the authorisation decision (akidb_authorize),
 * exhaustively: every action × every role × resource in the principal's own
 * tenant / in a foreign tenant / system-wide × owned by the principal or by
 * someone else, against an expected table written here independently of
 * the one in src/auth/authz.c. Also: tenant isolation answers "not found"
 * whatever the role, suspended and provisioning tenants are refused,
 * only system admins grant the system-admin role, and malformed principals
 * are refused.
 */
#include <string.h>

#include "akidb/auth.h"
#include "check.h"

/* Expected grants, one string per action, one letter per role in the order
 * system-admin, admin, developer, viewer, auditor: A = all, O = own, - = none. */
static const struct {
  akidb_action_t action;
  const char *name;
  const char *grants;
} EXPECTED[] = {
    {AKIDB_ACT_TENANT_CREATE, "tenant.create", "A----"},
    {AKIDB_ACT_TENANT_LIST, "tenant.list", "A----"},
    {AKIDB_ACT_TENANT_READ, "tenant.read", "AAAAA"},
    {AKIDB_ACT_TENANT_UPDATE, "tenant.update", "A----"},
    {AKIDB_ACT_TENANT_DELETE, "tenant.delete", "A----"},
    {AKIDB_ACT_TENANT_STATUS, "tenant.status", "A----"},
    {AKIDB_ACT_TENANT_QUOTA, "tenant.quota", "A----"},
    {AKIDB_ACT_DATABASE_CREATE, "database.create", "-AA--"},
    {AKIDB_ACT_DATABASE_READ, "database.read", "AAAA-"},
    {AKIDB_ACT_DATABASE_UPDATE, "database.update", "-AA--"},
    {AKIDB_ACT_DATABASE_DELETE, "database.delete", "-AA--"},
    {AKIDB_ACT_COLLECTION_CREATE, "collection.create", "-AA--"},
    {AKIDB_ACT_COLLECTION_READ, "collection.read", "AAAA-"},
    {AKIDB_ACT_COLLECTION_UPDATE, "collection.update", "-AA--"},
    {AKIDB_ACT_COLLECTION_DELETE, "collection.delete", "-AA--"},
    {AKIDB_ACT_COLLECTION_TIER, "collection.tier", "AAA--"},
    {AKIDB_ACT_POINT_WRITE, "point.write", "-AA--"},
    {AKIDB_ACT_POINT_READ, "point.read", "-AAA-"},
    {AKIDB_ACT_SEARCH, "search", "-AAA-"},
    {AKIDB_ACT_EMBED, "embed", "-AAA-"},
    {AKIDB_ACT_SNAPSHOT_CREATE, "snapshot.create", "AAA--"},
    {AKIDB_ACT_SNAPSHOT_READ, "snapshot.read", "AAAA-"},
    {AKIDB_ACT_SNAPSHOT_RESTORE, "snapshot.restore", "AAA--"},
    {AKIDB_ACT_USER_CREATE, "user.create", "AA---"},
    {AKIDB_ACT_USER_READ, "user.read", "AAOOO"},
    {AKIDB_ACT_USER_UPDATE, "user.update", "AAOOO"},
    {AKIDB_ACT_USER_DELETE, "user.delete", "AA---"},
    {AKIDB_ACT_USER_ROLE, "user.role", "AA---"},
    {AKIDB_ACT_APIKEY_CREATE, "apikey.create", "OAOOO"},
    {AKIDB_ACT_APIKEY_READ, "apikey.read", "AAOOO"},
    {AKIDB_ACT_APIKEY_REVOKE, "apikey.revoke", "AAOOO"},
    {AKIDB_ACT_AUDIT_READ, "audit.read", "AA--A"},
    {AKIDB_ACT_SYSTEM_READ, "system.read", "A----"},
};

static akidb_uuid_t TENANT_A, TENANT_B, ME, SOMEONE;

static void setup(void) {
  ASSERT_OK(akidb_uuid_v7(&TENANT_A));
  ASSERT_OK(akidb_uuid_v7(&TENANT_B));
  ASSERT_OK(akidb_uuid_v7(&ME));
  ASSERT_OK(akidb_uuid_v7(&SOMEONE));
}

static akidb_principal_t principal(akidb_role_t role, akidb_tenant_status_t status) {
  akidb_principal_t p;
  memset(&p, 0, sizeof p);
  p.user_id = ME;
  p.role = role;
  p.has_tenant = role != AKIDB_ROLE_SYSTEM_ADMIN;
  if (p.has_tenant) p.tenant_id = TENANT_A;
  p.tenant_status = status;
  strcpy(p.username, "me");
  return p;
}

static void test_table_covers_every_action_once(void) {
  ASSERT_EQ_INT(sizeof EXPECTED / sizeof EXPECTED[0], AKIDB_ACTION_COUNT);
  for (int i = 0; i < AKIDB_ACTION_COUNT; i++) {
    ASSERT_EQ_INT(EXPECTED[i].action, i);
    if (strcmp(akidb_action_name(EXPECTED[i].action), EXPECTED[i].name) != 0)
      CHECK_FAIL("action %d is named %s, expected %s", i, akidb_action_name(EXPECTED[i].action),
                 EXPECTED[i].name);
    for (int r = 0; r < AKIDB_ROLE_COUNT; r++) {
      char c = EXPECTED[i].grants[r];
      akidb_grant_t want = c == 'A'   ? AKIDB_GRANT_ALL
                           : c == 'O' ? AKIDB_GRANT_OWN
                                      : AKIDB_GRANT_NONE;
      if (akidb_role_grant((akidb_role_t)r, EXPECTED[i].action) != want)
        CHECK_FAIL("grant of %s for %s is %d, expected %c", EXPECTED[i].name,
                   akidb_role_name((akidb_role_t)r),
                   akidb_role_grant((akidb_role_t)r, EXPECTED[i].action), c);
    }
  }
}

enum { SCOPE_OWN_TENANT, SCOPE_FOREIGN_TENANT, SCOPE_SYSTEM };

/* What the decision must be, derived from the expected table and the rules. */
static int expected_code(akidb_role_t role, int action, int scope, bool owned) {
  char g = EXPECTED[action].grants[role];
  bool system_admin = role == AKIDB_ROLE_SYSTEM_ADMIN;
  if (!system_admin && scope == SCOPE_FOREIGN_TENANT) return AKIDB_ENOTFOUND;
  if (!system_admin && scope == SCOPE_SYSTEM) return AKIDB_EPERM;
  if (g == 'A') return AKIDB_OK;
  if (g == 'O') return owned ? AKIDB_OK : AKIDB_EPERM;
  return AKIDB_EPERM;
}

static void test_every_action_role_scope_and_owner(void) {
  int checked = 0, allowed = 0;
  for (int action = 0; action < AKIDB_ACTION_COUNT; action++)
    for (int role = 0; role < AKIDB_ROLE_COUNT; role++)
      for (int scope = 0; scope < 3; scope++)
        for (int owned = 0; owned < 2; owned++) {
          akidb_principal_t p = principal((akidb_role_t)role, AKIDB_TENANT_ACTIVE);
          akidb_resource_t r = {0};
          r.tenant_id = scope == SCOPE_OWN_TENANT       ? &TENANT_A
                        : scope == SCOPE_FOREIGN_TENANT ? &TENANT_B
                                                        : NULL;
          r.owner_user_id = owned ? &ME : &SOMEONE;
          akidb_decision_t d;
          int rc = akidb_authorize(&p, (akidb_action_t)action, &r, &d);
          int want = expected_code((akidb_role_t)role, action, scope, owned);
          if (rc != want || d.code != want || d.allowed != (want == AKIDB_OK) || !d.reason)
            CHECK_FAIL("%s by %s (scope %d, owned %d): got %d (%s), expected %d",
                       EXPECTED[action].name, akidb_role_name((akidb_role_t)role), scope, owned, rc,
                       d.reason ? d.reason : "-", want);
          checked++;
          allowed += want == AKIDB_OK;
        }
  ASSERT_EQ_INT(checked, AKIDB_ACTION_COUNT * AKIDB_ROLE_COUNT * 3 * 2);
  ASSERT_GE(allowed, 1);
}

static void test_foreign_tenant_is_not_found_for_every_role_and_action(void) {
  for (int role = AKIDB_ROLE_ADMIN; role < AKIDB_ROLE_COUNT; role++)
    for (int action = 0; action < AKIDB_ACTION_COUNT; action++) {
      akidb_principal_t p = principal((akidb_role_t)role, AKIDB_TENANT_ACTIVE);
      akidb_resource_t r = {.tenant_id = &TENANT_B, .owner_user_id = &ME};
      akidb_decision_t d;
      ASSERT_EQ_INT(akidb_authorize(&p, (akidb_action_t)action, &r, &d), AKIDB_ENOTFOUND);
      ASSERT_TRUE(strcmp(d.reason, "not found") == 0); /* no hint that it exists */
      /* Even a suspended principal learns nothing more. */
      p.tenant_status = AKIDB_TENANT_SUSPENDED;
      ASSERT_EQ_INT(akidb_authorize(&p, (akidb_action_t)action, &r, &d), AKIDB_ENOTFOUND);
    }
}

static void test_inactive_tenants_are_refused(void) {
  const akidb_tenant_status_t inactive[] = {AKIDB_TENANT_PROVISIONING, AKIDB_TENANT_SUSPENDED,
                                            AKIDB_TENANT_DECOMMISSIONED};
  for (int s = 0; s < 3; s++)
    for (int role = AKIDB_ROLE_ADMIN; role < AKIDB_ROLE_COUNT; role++)
      for (int action = 0; action < AKIDB_ACTION_COUNT; action++) {
        akidb_principal_t p = principal((akidb_role_t)role, inactive[s]);
        akidb_resource_t r = {.tenant_id = &TENANT_A, .owner_user_id = &ME};
        akidb_decision_t d;
        ASSERT_EQ_INT(akidb_authorize(&p, (akidb_action_t)action, &r, &d), AKIDB_EPERM);
        ASSERT_STR_CONTAINS(d.reason, s == 1 ? "suspended" : "not active");
      }
  /* System admins act on suspended tenants (to reactivate them). */
  akidb_principal_t sys = principal(AKIDB_ROLE_SYSTEM_ADMIN, AKIDB_TENANT_ACTIVE);
  akidb_resource_t r = {.tenant_id = &TENANT_B};
  ASSERT_OK(akidb_authorize(&sys, AKIDB_ACT_TENANT_STATUS, &r, NULL));
}

static void test_only_system_admins_grant_system_admin(void) {
  akidb_principal_t admin = principal(AKIDB_ROLE_ADMIN, AKIDB_TENANT_ACTIVE);
  akidb_principal_t sys = principal(AKIDB_ROLE_SYSTEM_ADMIN, AKIDB_TENANT_ACTIVE);
  akidb_decision_t d;
  for (int role = 0; role < AKIDB_ROLE_COUNT; role++) {
    akidb_resource_t r = {.tenant_id = &TENANT_A,
                          .owner_user_id = &SOMEONE,
                          .grants_role = true,
                          .role = (akidb_role_t)role};
    int want = role == AKIDB_ROLE_SYSTEM_ADMIN ? AKIDB_EPERM : AKIDB_OK;
    ASSERT_EQ_INT(akidb_authorize(&admin, AKIDB_ACT_USER_CREATE, &r, &d), want);
    ASSERT_EQ_INT(akidb_authorize(&admin, AKIDB_ACT_USER_ROLE, &r, &d), want);
    ASSERT_OK(akidb_authorize(&sys, AKIDB_ACT_USER_ROLE, &r, &d));
  }
  akidb_resource_t bad = {.tenant_id = &TENANT_A, .grants_role = true, .role = (akidb_role_t)9};
  ASSERT_EQ_INT(akidb_authorize(&admin, AKIDB_ACT_USER_ROLE, &bad, &d), AKIDB_EPERM);
}

static void test_malformed_principals_are_refused(void) {
  akidb_decision_t d;
  akidb_resource_t r = {.tenant_id = &TENANT_A};
  ASSERT_EQ_INT(akidb_authorize(NULL, AKIDB_ACT_TENANT_READ, &r, &d), AKIDB_EPERM);
  akidb_principal_t p = principal(AKIDB_ROLE_ADMIN, AKIDB_TENANT_ACTIVE);
  ASSERT_EQ_INT(akidb_authorize(&p, AKIDB_ACTION_COUNT, &r, &d), AKIDB_EPERM);
  p.role = (akidb_role_t)42;
  ASSERT_EQ_INT(akidb_authorize(&p, AKIDB_ACT_TENANT_READ, &r, &d), AKIDB_EPERM);
  /* A "system admin" bound to a tenant is a contradiction, not a superuser. */
  p = principal(AKIDB_ROLE_SYSTEM_ADMIN, AKIDB_TENANT_ACTIVE);
  p.has_tenant = true;
  p.tenant_id = TENANT_A;
  ASSERT_EQ_INT(akidb_authorize(&p, AKIDB_ACT_TENANT_READ, &r, &d), AKIDB_EPERM);
  /* No resource: only system-wide actions of system admins pass. */
  akidb_principal_t sys = principal(AKIDB_ROLE_SYSTEM_ADMIN, AKIDB_TENANT_ACTIVE);
  ASSERT_OK(akidb_authorize(&sys, AKIDB_ACT_TENANT_LIST, NULL, &d));
  akidb_principal_t v = principal(AKIDB_ROLE_VIEWER, AKIDB_TENANT_ACTIVE);
  ASSERT_EQ_INT(akidb_authorize(&v, AKIDB_ACT_TENANT_LIST, NULL, &d), AKIDB_EPERM);
}

int main(int argc, char **argv) {
  setup();
  static const check_case_t cases[] = {
      CHECK_CASE(test_table_covers_every_action_once),
      CHECK_CASE(test_every_action_role_scope_and_owner),
      CHECK_CASE(test_foreign_tenant_is_not_found_for_every_role_and_action),
      CHECK_CASE(test_inactive_tenants_are_refused),
      CHECK_CASE(test_only_system_admins_grant_system_admin),
      CHECK_CASE(test_malformed_principals_are_refused)};
  return check_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
