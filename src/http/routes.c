/*
 * http/routes.c — the REST route table, exactly the table of
 * docs/rest-api.md: method, path pattern ({name} is one path segment) and
 * the service operation. /metrics has AKIDB_OP_COUNT: the transport serves
 * it. Constant data; no locking.
 */
#include "http/http_internal.h"

#define T "/v1/tenants/{tenant}"
#define C T "/databases/{database}/collections/{collection}"

static const http_route_t routes[] = {
    {"GET", "/health", AKIDB_OP_HEALTH},
    {"GET", "/ready", AKIDB_OP_READY},
    {"GET", "/metrics", AKIDB_OP_COUNT},
    {"POST", "/v1/auth/login", AKIDB_OP_LOGIN},
    {"POST", "/v1/auth/logout", AKIDB_OP_LOGOUT},
    {"GET", "/v1/auth/whoami", AKIDB_OP_WHOAMI},
    {"GET", "/v1/tenants", AKIDB_OP_TENANT_LIST},
    {"POST", "/v1/tenants", AKIDB_OP_TENANT_CREATE},
    {"GET", T, AKIDB_OP_TENANT_GET},
    {"PATCH", T, AKIDB_OP_TENANT_UPDATE},
    {"DELETE", T, AKIDB_OP_TENANT_DELETE},
    {"GET", T "/databases", AKIDB_OP_DATABASE_LIST},
    {"POST", T "/databases", AKIDB_OP_DATABASE_CREATE},
    {"GET", T "/databases/{database}", AKIDB_OP_DATABASE_GET},
    {"DELETE", T "/databases/{database}", AKIDB_OP_DATABASE_DELETE},
    {"GET", T "/databases/{database}/collections", AKIDB_OP_COLLECTION_LIST},
    {"POST", T "/databases/{database}/collections", AKIDB_OP_COLLECTION_CREATE},
    {"GET", C, AKIDB_OP_COLLECTION_GET},
    {"PATCH", C, AKIDB_OP_COLLECTION_UPDATE},
    {"DELETE", C, AKIDB_OP_COLLECTION_DELETE},
    {"GET", C "/count", AKIDB_OP_POINT_COUNT},
    {"POST", C "/points", AKIDB_OP_POINT_UPSERT},
    {"POST", C "/points/get", AKIDB_OP_POINT_GET_MANY},
    {"POST", C "/points/delete", AKIDB_OP_POINT_DELETE},
    {"GET", C "/points/{point_id}", AKIDB_OP_POINT_GET},
    {"POST", C "/search", AKIDB_OP_SEARCH},
    {"GET", T "/users", AKIDB_OP_USER_LIST},
    {"POST", T "/users", AKIDB_OP_USER_CREATE},
    {"GET", T "/users/{username}", AKIDB_OP_USER_GET},
    {"PATCH", T "/users/{username}", AKIDB_OP_USER_UPDATE},
    {"DELETE", T "/users/{username}", AKIDB_OP_USER_DELETE},
    {"GET", T "/users/{username}/keys", AKIDB_OP_KEY_LIST},
    {"POST", T "/users/{username}/keys", AKIDB_OP_KEY_CREATE},
    {"DELETE", T "/users/{username}/keys/{key_id}", AKIDB_OP_KEY_REVOKE},
    {"GET", T "/audit", AKIDB_OP_AUDIT_TENANT},
    {"GET", "/v1/audit", AKIDB_OP_AUDIT_ALL},
};

#undef C
#undef T

const http_route_t *http_routes(size_t *n) {
  if (n) *n = sizeof routes / sizeof routes[0];
  return routes;
}
