/*
 * http/routes.c — the REST route table, exactly the table of
 * docs/rest-api.md: method, path pattern ({name} is one path segment) and
 * the service operation. /metrics has AKIDB_OP_COUNT: the transport serves
 * it. Constant data; no locking.
 */
#include "http/http_internal.h"

#define T "/v1/tenants/{tenant}"
#define C T "/databases/{database}/collections/{collection}"

static const char *const upsert_vectors[] = {"points[].vector", NULL};
static const char *const search_vectors[] = {"vector", "vectors[]", NULL};

static const http_route_t routes[] = {
    {"GET", "/health", AKIDB_OP_HEALTH, NULL},
    {"GET", "/ready", AKIDB_OP_READY, NULL},
    {"GET", "/metrics", AKIDB_OP_COUNT, NULL},
    {"POST", "/v1/auth/login", AKIDB_OP_LOGIN, NULL},
    {"POST", "/v1/auth/logout", AKIDB_OP_LOGOUT, NULL},
    {"GET", "/v1/auth/whoami", AKIDB_OP_WHOAMI, NULL},
    {"GET", "/v1/tenants", AKIDB_OP_TENANT_LIST, NULL},
    {"POST", "/v1/tenants", AKIDB_OP_TENANT_CREATE, NULL},
    {"GET", T, AKIDB_OP_TENANT_GET, NULL},
    {"PATCH", T, AKIDB_OP_TENANT_UPDATE, NULL},
    {"DELETE", T, AKIDB_OP_TENANT_DELETE, NULL},
    {"GET", T "/databases", AKIDB_OP_DATABASE_LIST, NULL},
    {"POST", T "/databases", AKIDB_OP_DATABASE_CREATE, NULL},
    {"GET", T "/databases/{database}", AKIDB_OP_DATABASE_GET, NULL},
    {"DELETE", T "/databases/{database}", AKIDB_OP_DATABASE_DELETE, NULL},
    {"GET", T "/databases/{database}/collections", AKIDB_OP_COLLECTION_LIST, NULL},
    {"POST", T "/databases/{database}/collections", AKIDB_OP_COLLECTION_CREATE, NULL},
    {"GET", C, AKIDB_OP_COLLECTION_GET, NULL},
    {"PATCH", C, AKIDB_OP_COLLECTION_UPDATE, NULL},
    {"DELETE", C, AKIDB_OP_COLLECTION_DELETE, NULL},
    {"GET", C "/count", AKIDB_OP_POINT_COUNT, NULL},
    {"POST", C "/points", AKIDB_OP_POINT_UPSERT, upsert_vectors},
    {"POST", C "/points/get", AKIDB_OP_POINT_GET_MANY, NULL},
    {"POST", C "/points/delete", AKIDB_OP_POINT_DELETE, NULL},
    {"GET", C "/points/{point_id}", AKIDB_OP_POINT_GET, NULL},
    {"POST", C "/search", AKIDB_OP_SEARCH, search_vectors},
    {"GET", C "/snapshots", AKIDB_OP_SNAPSHOT_LIST_COLLECTION, NULL},
    {"POST", C "/snapshots", AKIDB_OP_SNAPSHOT_CREATE, NULL},
    {"GET", T "/snapshots", AKIDB_OP_SNAPSHOT_LIST, NULL},
    {"GET", T "/snapshots/{snapshot}", AKIDB_OP_SNAPSHOT_GET, NULL},
    {"DELETE", T "/snapshots/{snapshot}", AKIDB_OP_SNAPSHOT_DELETE, NULL},
    {"POST", T "/snapshots/{snapshot}/restore", AKIDB_OP_SNAPSHOT_RESTORE, NULL},
    {"GET", T "/users", AKIDB_OP_USER_LIST, NULL},
    {"POST", T "/users", AKIDB_OP_USER_CREATE, NULL},
    {"GET", T "/users/{username}", AKIDB_OP_USER_GET, NULL},
    {"PATCH", T "/users/{username}", AKIDB_OP_USER_UPDATE, NULL},
    {"DELETE", T "/users/{username}", AKIDB_OP_USER_DELETE, NULL},
    {"GET", T "/users/{username}/keys", AKIDB_OP_KEY_LIST, NULL},
    {"POST", T "/users/{username}/keys", AKIDB_OP_KEY_CREATE, NULL},
    {"DELETE", T "/users/{username}/keys/{key_id}", AKIDB_OP_KEY_REVOKE, NULL},
    {"GET", T "/audit", AKIDB_OP_AUDIT_TENANT, NULL},
    {"GET", "/v1/audit", AKIDB_OP_AUDIT_ALL, NULL},
    {"GET", "/v1/system/object-store", AKIDB_OP_SYSTEM_OBJECT_STORE, NULL},
    {"GET", "/v1/system/dead-letters", AKIDB_OP_SYSTEM_DEAD_LETTERS, NULL},
};

#undef C
#undef T

const http_route_t *http_routes(size_t *n) {
  if (n) *n = sizeof routes / sizeof routes[0];
  return routes;
}
