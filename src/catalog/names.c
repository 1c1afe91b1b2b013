/*
 * names.c — owns the catalog's vocabulary: names of statuses, states,
 * tiers, roles and audit actions (as stored in the file), the status and
 * state transition tables, and the validators of slugs, names and
 * usernames. Stateless.
 */
#include <stdio.h>
#include <string.h>

#include "catalog/catalog_internal.h"

/* Index of `name` in `names[0..n)`, or -1. */
static int find_name(const char *const *names, int n, const char *name) {
  for (int i = 0; name && i < n; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

#define NAME_TABLE(fn_name, fn_parse, type, table)                                                 \
  const char *fn_name(type v) {                                                                    \
    int n = (int)(sizeof table / sizeof table[0]);                                                 \
    return (int)v >= 0 && (int)v < n ? table[v] : "?";                                             \
  }                                                                                                \
  int fn_parse(const char *name, type *out) {                                                      \
    int i = find_name(table, (int)(sizeof table / sizeof table[0]), name);                         \
    if (i < 0) return AKIDB_EINVAL;                                                                \
    *out = (type)i;                                                                                \
    return AKIDB_OK;                                                                               \
  }

static const char *const TENANT_STATUS[] = {"provisioning", "active", "suspended",
                                            "decommissioned"};
static const char *const DATABASE_STATE[] = {"provisioning", "ready", "migrating", "deleting"};
static const char *const TIER[] = {"hot", "warm", "cold"};
static const char *const ROLE[] = {"system-admin", "admin", "developer", "viewer", "auditor"};
static const char *const USER_STATUS[] = {"active", "disabled"};
static const char *const AUDIT_ACTION[] = {
    "login.success",        "login.failure",       "logout",
    "tenant.create",        "tenant.update",       "tenant.delete",
    "tenant.status_change", "tenant.quota_change", "database.create",
    "database.update",      "database.delete",     "collection.create",
    "collection.update",    "collection.delete",   "collection.tier_change",
    "user.create",          "user.update",         "user.delete",
    "user.role_change",     "apikey.create",       "apikey.revoke",
    "snapshot.create",      "snapshot.restore",    "snapshot.delete",
    "access.denied",        "audit.prune",         "catalog.import"};
static const char *const AUDIT_OUTCOME[] = {"success", "failure", "denied"};

_Static_assert(sizeof AUDIT_ACTION / sizeof AUDIT_ACTION[0] == AKIDB_AUDIT_ACTION_COUNT,
               "one name per audit action");
_Static_assert(sizeof ROLE / sizeof ROLE[0] == AKIDB_ROLE_COUNT, "one name per role");

NAME_TABLE(akidb_tenant_status_name, akidb_tenant_status_parse, akidb_tenant_status_t,
           TENANT_STATUS)
NAME_TABLE(akidb_database_state_name, akidb_database_state_parse, akidb_database_state_t,
           DATABASE_STATE)
NAME_TABLE(akidb_tier_name, akidb_tier_parse, akidb_tier_t, TIER)
NAME_TABLE(akidb_role_name, akidb_role_parse, akidb_role_t, ROLE)
NAME_TABLE(akidb_user_status_name, akidb_user_status_parse, akidb_user_status_t, USER_STATUS)
NAME_TABLE(akidb_audit_action_name, akidb_audit_action_parse, akidb_audit_action_t, AUDIT_ACTION)

const char *akidb_audit_outcome_name(akidb_audit_outcome_t o) {
  return (int)o >= 0 && (int)o < 3 ? AUDIT_OUTCOME[o] : "?";
}

/* ---------------------------------------------------------- transitions -- */

bool akidb_tenant_transition_allowed(akidb_tenant_status_t from, akidb_tenant_status_t to) {
  switch (from) {
  case AKIDB_TENANT_PROVISIONING:
    return to == AKIDB_TENANT_ACTIVE || to == AKIDB_TENANT_DECOMMISSIONED;
  case AKIDB_TENANT_ACTIVE:
    return to == AKIDB_TENANT_SUSPENDED;
  case AKIDB_TENANT_SUSPENDED:
    return to == AKIDB_TENANT_ACTIVE || to == AKIDB_TENANT_DECOMMISSIONED;
  case AKIDB_TENANT_DECOMMISSIONED:
    return false;
  }
  return false;
}

bool akidb_database_transition_allowed(akidb_database_state_t from, akidb_database_state_t to) {
  switch (from) {
  case AKIDB_DATABASE_PROVISIONING:
    return to == AKIDB_DATABASE_READY || to == AKIDB_DATABASE_DELETING;
  case AKIDB_DATABASE_READY:
    return to == AKIDB_DATABASE_MIGRATING || to == AKIDB_DATABASE_DELETING;
  case AKIDB_DATABASE_MIGRATING:
    return to == AKIDB_DATABASE_READY;
  case AKIDB_DATABASE_DELETING:
    return false;
  }
  return false;
}

/* ----------------------------------------------------------- validators -- */

static bool is_lower_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
static bool is_alnum(char c) { return is_lower_digit(c) || (c >= 'A' && c <= 'Z'); }

int akidb_check_slug(const char *slug, const char *field, char *err, size_t errlen) {
  size_t n = slug ? strlen(slug) : 0;
  if (n < AKIDB_SLUG_MIN || n > AKIDB_SLUG_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "%s must be %u..%u characters (got %zu)", field,
                    AKIDB_SLUG_MIN, AKIDB_SLUG_MAX, n);
  for (size_t i = 0; i < n; i++)
    if (!is_lower_digit(slug[i]) && slug[i] != '-')
      return cat_fail(err, errlen, AKIDB_EINVAL,
                      "%s '%s' may hold only a-z, 0-9 and '-' (character %zu is not allowed)",
                      field, slug, i + 1);
  return AKIDB_OK;
}

/* Bytes of UTF-8 that start a valid sequence of `len` bytes, or 0. */
static size_t utf8_seq(const unsigned char *s, size_t left) {
  unsigned c = s[0];
  size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (!len || len > left) return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  return len;
}

int akidb_check_tenant_name(const char *name, const char *field, char *err, size_t errlen) {
  size_t n = name ? strlen(name) : 0;
  if (n < 1 || n > AKIDB_TENANT_NAME_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "%s must be 1..%u bytes (got %zu)", field,
                    AKIDB_TENANT_NAME_MAX, n);
  const unsigned char *s = (const unsigned char *)name;
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x20 || s[i] == 0x7f)
      return cat_fail(err, errlen, AKIDB_EINVAL, "%s must not contain control characters", field);
    size_t k = utf8_seq(s + i, n - i);
    if (!k) return cat_fail(err, errlen, AKIDB_EINVAL, "%s is not valid UTF-8", field);
    i += k;
  }
  return AKIDB_OK;
}

int akidb_check_object_name(const char *name, const char *field, char *err, size_t errlen) {
  size_t n = name ? strlen(name) : 0;
  if (n < 1 || n > AKIDB_OBJECT_NAME_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "%s must be 1..%u characters (got %zu)", field,
                    AKIDB_OBJECT_NAME_MAX, n);
  if (!is_alnum(name[0]))
    return cat_fail(err, errlen, AKIDB_EINVAL, "%s '%s' must start with a letter or a digit", field,
                    name);
  for (size_t i = 0; i < n; i++)
    if (!is_alnum(name[i]) && name[i] != '_' && name[i] != '-')
      return cat_fail(err, errlen, AKIDB_EINVAL, "%s '%s' may hold only A-Z, a-z, 0-9, '_' and '-'",
                      field, name);
  return AKIDB_OK;
}

int akidb_check_username(const char *name, const char *field, char *err, size_t errlen) {
  size_t n = name ? strlen(name) : 0;
  if (n < 1 || n > AKIDB_USERNAME_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "%s must be 1..%u characters (got %zu)", field,
                    AKIDB_USERNAME_MAX, n);
  if (!is_lower_digit(name[0]))
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "%s '%s' must start with a lower-case letter or a digit", field, name);
  for (size_t i = 0; i < n; i++)
    if (!is_lower_digit(name[i]) && !strchr("._@-", name[i]))
      return cat_fail(err, errlen, AKIDB_EINVAL,
                      "%s '%s' may hold only a-z, 0-9, '.', '_', '@' and '-'", field, name);
  return AKIDB_OK;
}
