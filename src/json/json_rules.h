/*
 * json/json_rules.h — the JSON conventions of AkiDB's REST requests and the
 * JSON form of its entities, for the REST codec (src/http/codec.c):
 * objects with unknown keys refused (naming the allowed ones), typed
 * optional fields with range messages, paging and boolean query
 * parameters, RFC 3339 times; points, tenants and users as REST shows them.
 * Each check returns 0 (or 1: present) or -1 with `e` set to
 * INVALID_ARGUMENT and a sentence saying what to fix.
 */
#ifndef AKIDB_JSON_RULES_H
#define AKIDB_JSON_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "akidb/auth.h"
#include "akidb/catalog.h"
#include "service/service.h"

/* Sets e (status and message); returns -1. */
int jr_fail(akidb_svc_error_t *e, akidb_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Every key of `obj` is in the NULL-terminated `allowed`; `what` names it. */
int jr_keys(const json_t *obj, const char *what, const char *const *allowed,
            akidb_svc_error_t *e);
/* `body` is an object (present) with only `allowed` keys. */
int jr_body_object(const json_t *body, const char *what, const char *const *allowed,
                   akidb_svc_error_t *e);
/* Optional fields: 1 present and well typed, 0 absent, -1 wrong type/range. */
int jr_string(const json_t *obj, const char *key, const char **out, akidb_svc_error_t *e);
int jr_bool(const json_t *obj, const char *key, bool *out, akidb_svc_error_t *e);
int jr_u64(const json_t *obj, const char *key, uint64_t min, uint64_t max, uint64_t *out,
           akidb_svc_error_t *e);
/* A query parameter's value ("" when given without one), or NULL. */
const char *jr_query(const akidb_param_t *q, size_t n, const char *key);
/* A boolean query parameter (true/1/empty, false/0): 1 present, 0 absent, -1 bad. */
int jr_query_bool(const akidb_param_t *q, size_t n, const char *key, bool *out,
                  akidb_svc_error_t *e);

/* A point as REST shows it: {"id", "payload" (parsed back into JSON, null
 * when none; with `with_payload`), "text" (when it has one, with
 * `with_payload`), "vector" (when read)}; NULL when out of memory. */
json_t *jr_point(const akidb_point_out_t *p, uint32_t dim, bool with_payload);

/* Paging from the query ("limit" 1..AKIDB_LIST_LIMIT_MAX, "after" cursor). */
int jr_query_page(const akidb_param_t *q, size_t n, akidb_page_t *page, akidb_svc_error_t *e);

/* RFC 3339 UTC with milliseconds; a JSON string (or null for 0 when
 * zero_is_null). */
json_t *jr_time(int64_t ms, bool zero_is_null);
json_t *jr_uuid(const akidb_uuid_t *id);
/* {"items": items, "next": the cursor or null}; takes `items` (NULL: NULL). */
json_t *jr_list(json_t *items, bool has_more, const akidb_uuid_t *next);
/* RFC 3339 text (Z or an offset, optional fraction) into Unix ms; -1 when
 * malformed. */
int jr_parse_time(const char *s, int64_t *ms);
/* A user as REST shows it (tenant: its slug, or null for system admins). */
json_t *jr_user(const akidb_user_t *u, const char *tenant_slug);
/* A tenant as REST shows it. */
json_t *jr_tenant(const akidb_tenant_t *t);

#endif /* AKIDB_JSON_RULES_H */
