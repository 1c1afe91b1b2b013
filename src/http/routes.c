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
    {"GET", "/health", AKIDB_OP_HEALTH, NULL, false},
    {"GET", "/ready", AKIDB_OP_READY, NULL, false},
    {"GET", "/metrics", AKIDB_OP_COUNT, NULL, false},
    {"POST", "/v1/auth/login", AKIDB_OP_LOGIN, NULL, false},
    {"POST", "/v1/auth/logout", AKIDB_OP_LOGOUT, NULL, false},
    {"GET", "/v1/auth/whoami", AKIDB_OP_WHOAMI, NULL, false},
    {"POST", "/v1/embeddings", AKIDB_OP_EMBEDDINGS, NULL, false},
    {"GET", "/v1/tenants", AKIDB_OP_TENANT_LIST, NULL, false},
    {"POST", "/v1/tenants", AKIDB_OP_TENANT_CREATE, NULL, false},
    {"GET", T, AKIDB_OP_TENANT_GET, NULL, false},
    {"PATCH", T, AKIDB_OP_TENANT_UPDATE, NULL, false},
    {"DELETE", T, AKIDB_OP_TENANT_DELETE, NULL, false},
    {"GET", T "/databases", AKIDB_OP_DATABASE_LIST, NULL, false},
    {"POST", T "/databases", AKIDB_OP_DATABASE_CREATE, NULL, false},
    {"GET", T "/databases/{database}", AKIDB_OP_DATABASE_GET, NULL, false},
    {"DELETE", T "/databases/{database}", AKIDB_OP_DATABASE_DELETE, NULL, false},
    {"GET", T "/databases/{database}/collections", AKIDB_OP_COLLECTION_LIST, NULL, false},
    {"POST", T "/databases/{database}/collections", AKIDB_OP_COLLECTION_CREATE, NULL, false},
    {"GET", C, AKIDB_OP_COLLECTION_GET, NULL, false},
    {"PATCH", C, AKIDB_OP_COLLECTION_UPDATE, NULL, false},
    {"DELETE", C, AKIDB_OP_COLLECTION_DELETE, NULL, false},
    {"GET", C "/count", AKIDB_OP_POINT_COUNT, NULL, false},
    {"POST", C "/points", AKIDB_OP_POINT_UPSERT, upsert_vectors, false},
    {"GET", C "/points", AKIDB_OP_POINT_SCAN, NULL, false},
    {"POST", C "/points/get", AKIDB_OP_POINT_GET_MANY, NULL, false},
    {"POST", C "/points/delete", AKIDB_OP_POINT_DELETE, NULL, false},
    {"GET", C "/points/{point_id}", AKIDB_OP_POINT_GET, NULL, false},
    {"POST", C "/search", AKIDB_OP_SEARCH, search_vectors, false},
    {"GET", C "/snapshots", AKIDB_OP_SNAPSHOT_LIST_COLLECTION, NULL, false},
    {"POST", C "/snapshots", AKIDB_OP_SNAPSHOT_CREATE, NULL, false},
    {"GET", T "/snapshots", AKIDB_OP_SNAPSHOT_LIST, NULL, false},
    {"GET", T "/snapshots/{snapshot}", AKIDB_OP_SNAPSHOT_GET, NULL, false},
    {"DELETE", T "/snapshots/{snapshot}", AKIDB_OP_SNAPSHOT_DELETE, NULL, false},
    {"POST", T "/snapshots/{snapshot}/restore", AKIDB_OP_SNAPSHOT_RESTORE, NULL, false},
    {"POST", C "/import", AKIDB_OP_POINT_IMPORT, NULL, false},
    {"GET", T "/uploads", AKIDB_OP_UPLOAD_LIST, NULL, false},
    {"PUT", T "/uploads/{upload}", AKIDB_OP_UPLOAD_PUT, NULL, true},
    {"DELETE", T "/uploads/{upload}", AKIDB_OP_UPLOAD_DELETE, NULL, false},
    {"GET", T "/users", AKIDB_OP_USER_LIST, NULL, false},
    {"POST", T "/users", AKIDB_OP_USER_CREATE, NULL, false},
    {"GET", T "/users/{username}", AKIDB_OP_USER_GET, NULL, false},
    {"PATCH", T "/users/{username}", AKIDB_OP_USER_UPDATE, NULL, false},
    {"DELETE", T "/users/{username}", AKIDB_OP_USER_DELETE, NULL, false},
    {"GET", T "/users/{username}/keys", AKIDB_OP_KEY_LIST, NULL, false},
    {"POST", T "/users/{username}/keys", AKIDB_OP_KEY_CREATE, NULL, false},
    {"DELETE", T "/users/{username}/keys/{key_id}", AKIDB_OP_KEY_REVOKE, NULL, false},
    {"GET", T "/audit", AKIDB_OP_AUDIT_TENANT, NULL, false},
    {"GET", "/v1/audit", AKIDB_OP_AUDIT_ALL, NULL, false},
    {"GET", "/v1/system/object-store", AKIDB_OP_SYSTEM_OBJECT_STORE, NULL, false},
    {"GET", "/v1/system/dead-letters", AKIDB_OP_SYSTEM_DEAD_LETTERS, NULL, false},
};

#undef C
#undef T

const http_route_t *http_routes(size_t *n) {
  if (n) *n = sizeof routes / sizeof routes[0];
  return routes;
}
