/*
 * resolve.c — owns the steps every operation shares after validation:
 * authenticate the bearer credential, apply the tenant's QPS token bucket,
 * authorise with akidb_authorize (recording refusals in the audit log), and
 * resolve the tenant / database / collection named in the path. Tenant
 * isolation lives here: a principal naming another tenant gets exactly the
 * answer it would get for a tenant that does not exist.
 *
 * Locking: none of its own; the buckets have one mutex.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs/metrics.h"
#include "service/svc_internal.h"
#include "trace/trace.h"

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* --------------------------------------------------------- QPS buckets -- */

static svc_bucket_t *bucket_for(svc_buckets_t *b, const akidb_uuid_t *tenant, uint32_t rate) {
  for (size_t i = 0; i < b->count; i++)
    if (akidb_uuid_compare(&b->items[i].tenant, tenant) == 0) return &b->items[i];
  if (b->count == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 16;
    svc_bucket_t *p = realloc(b->items, cap * sizeof *p);
    if (!p) return NULL;
    b->items = p;
    b->cap = cap;
  }
  svc_bucket_t *k = &b->items[b->count++];
  *k = (svc_bucket_t){.tenant = *tenant, .tokens = rate, .rate = rate, .last_ns = mono_ns()};
  return k;
}

uint32_t svc_buckets_take(svc_buckets_t *b, const akidb_uuid_t *tenant, uint32_t max_qps) {
  if (max_qps == 0) return 0;
  pthread_mutex_lock(&b->lock);
  svc_bucket_t *k = bucket_for(b, tenant, max_qps);
  uint32_t wait = 0;
  if (k) {
    int64_t now = mono_ns();
    k->rate = max_qps; /* a quota change applies at once */
    k->tokens = fmin((double)max_qps, k->tokens + (double)(now - k->last_ns) * 1e-9 * k->rate);
    k->last_ns = now;
    if (k->tokens >= 1.0)
      k->tokens -= 1.0;
    else
      wait = (uint32_t)ceil((1.0 - k->tokens) / k->rate);
  }
  pthread_mutex_unlock(&b->lock);
  return wait;
}

/* ----------------------------------------------------- authentication -- */

static int authenticate(svc_call_t *c);

/* Authentication, as the span "auth" of the request's trace. */
int svc_authenticate(svc_call_t *c) {
  trace_span_t *sp = trace_child_begin("auth");
  int rc = authenticate(c);
  if (sp && rc == 0) trace_span_set_str(sp, "akidb.principal", c->who.username);
  if (rc) trace_span_set_status(sp, TRACE_STATUS_ERROR, c->res->error.message);
  trace_span_end(sp);
  return rc;
}

static int authenticate(svc_call_t *c) {
  const char *bearer = c->req->bearer;
  if (!bearer || !*bearer)
    return svc_fail(c, AKIDB_ST_UNAUTHENTICATED,
                    "missing credentials: send 'Authorization: Bearer <token or API key>'");
  if (!akidb_auth_bearer_credential(bearer)) /* the scheme is case-insensitive */
    return svc_fail(c, AKIDB_ST_UNAUTHENTICATED,
                    "the Authorization header must be 'Bearer <token or API key>'");
  char err[256] = "";
  if (akidb_auth_resolve(c->svc->auth, bearer, &c->who, err, sizeof err))
    return svc_fail(c, AKIDB_ST_UNAUTHENTICATED,
                    "the credential is invalid, expired or revoked: log in again or use a valid "
                    "API key");
  c->authed = true;
  c->audit.actor_id = &c->who.user_id;
  c->audit.actor = c->who.username;
  if (!c->who.has_tenant || c->who.tenant_status != AKIDB_TENANT_ACTIVE) return 0;
  /* The tenant's QPS quota (read through the catalog's reader pool). */
  akidb_tenant_t t;
  if (svc_cached_tenant_by_id(c->svc, &c->who.tenant_id, &t)) return 0;
  uint32_t wait = svc_buckets_take(&c->svc->buckets, &t.id, t.quotas.max_qps);
  if (wait) {
    obs_quota_rejection("qps");
    c->res->error.retry_after_s = wait;
    return svc_fail(c, AKIDB_ST_RATE_LIMITED,
                    "quota max_qps exceeded: limit %u requests per second for tenant '%s'; retry "
                    "after %u s",
                    t.quotas.max_qps, t.slug, wait);
  }
  return 0;
}

/* ------------------------------------------------------ authorisation -- */

static void audit_denial(svc_call_t *c, akidb_action_t action, const akidb_resource_t *res,
                         const char *reason) {
  akidb_audit_entry_t e = {0};
  e.actor_id = c->who.user_id;
  e.has_actor = true;
  snprintf(e.actor, sizeof e.actor, "%s", c->who.username);
  if (res && res->tenant_id) {
    e.tenant_id = *res->tenant_id;
    e.has_tenant = true;
  }
  e.action = AKIDB_AUDIT_ACCESS_DENIED;
  snprintf(e.target, sizeof e.target, "%s", akidb_action_name(action));
  e.outcome = AKIDB_AUDIT_DENIED;
  snprintf(e.request_id, sizeof e.request_id, "%s", c->req->request_id ? c->req->request_id : "");
  snprintf(e.details, sizeof e.details, "{\"reason\":\"%s\"}", reason);
  akidb_audit_append(c->svc->cat, &e, NULL, NULL, 0);
}

int svc_authorize(svc_call_t *c, akidb_action_t action, const akidb_resource_t *res) {
  akidb_decision_t d;
  if (akidb_authorize(&c->who, action, res, &d) == AKIDB_OK) return 0;
  if (d.code == AKIDB_ENOTFOUND) return -2; /* the caller answers its own 404 */
  audit_denial(c, action, res, d.reason);
  return svc_fail(c, AKIDB_ST_PERMISSION_DENIED, "permission denied for %s: %s",
                  akidb_action_name(action), d.reason);
}

int svc_require_system_admin(svc_call_t *c, akidb_action_t action) {
  if (svc_authenticate(c)) return -1;
  return svc_authorize(c, action, NULL) == 0 ? 0 : -1;
}

static int tenant_not_found(svc_call_t *c) {
  return svc_fail(c, AKIDB_ST_NOT_FOUND, "tenant '%s' not found", c->req->tenant);
}

int svc_resolve_tenant(svc_call_t *c, akidb_action_t action) {
  char err[256];
  const char *slug = c->req->tenant ? c->req->tenant : "";
  if (akidb_check_slug(slug, "tenant", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  if (svc_authenticate(c)) return -1;
  int rc = svc_cached_tenant_by_slug(c->svc, slug, &c->tenant, err, sizeof err);
  if (rc == AKIDB_ENOTFOUND) return tenant_not_found(c);
  if (rc) return svc_fail_code(c, rc, err);
  akidb_resource_t res = {.tenant_id = &c->tenant.id};
  rc = svc_authorize(c, action, &res);
  if (rc == -2) return tenant_not_found(c);
  return rc;
}

int svc_resolve_database(svc_call_t *c) {
  char err[256];
  const char *name = c->req->database ? c->req->database : "";
  if (akidb_check_object_name(name, "database", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  int rc = svc_cached_database(c->svc, &c->tenant.id, name, &c->db, err, sizeof err);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "database '%s' not found in tenant '%s'", name,
                    c->tenant.slug);
  return rc ? svc_fail_code(c, rc, err) : 0;
}

int svc_resolve_collection_meta(svc_call_t *c) {
  char err[256];
  const char *name = c->req->collection ? c->req->collection : "";
  if (akidb_check_object_name(name, "collection", err, sizeof err))
    return svc_fail(c, AKIDB_ST_INVALID_ARGUMENT, "%s", err);
  int rc = svc_cached_collection(c->svc, &c->db.id, name, &c->meta, err, sizeof err);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "collection '%s' not found in database '%s'", name,
                    c->db.name);
  return rc ? svc_fail_code(c, rc, err) : 0;
}

int svc_resolve_collection(svc_call_t *c) {
  if (svc_resolve_collection_meta(c)) return -1;
  const char *name = c->meta.name;
  char err[512];
  int rc = svc_registry_acquire(c->svc, &c->meta, c->tenant.slug, c->db.name, &c->coll, err,
                            sizeof err);
  if (rc == AKIDB_ENOTFOUND)
    return svc_fail(c, AKIDB_ST_NOT_FOUND, "collection '%s' not found in database '%s'", name,
                    c->db.name);
  if (rc)
    return svc_fail(c, AKIDB_ST_UNAVAILABLE,
                    "collection '%s' could not be loaded: %s; it is retried on the next "
                    "request (see the server log)", name, err);
  return 0;
}

/* -------------------------------------------------------------- quotas -- */

int svc_check_write_quota(svc_call_t *c, uint64_t disk_bytes, uint64_t mem_bytes) {
  const akidb_quotas_t *q = &c->tenant.quotas;
  if (!q->max_storage_bytes && !q->max_memory_bytes) return 0;
  uint64_t disk, mem;
  svc_registry_tenant_usage(&c->svc->reg, &c->tenant.id, &disk, &mem);
  if (q->max_storage_bytes && disk + disk_bytes > q->max_storage_bytes) {
    obs_quota_rejection("storage");
    return svc_fail(c, AKIDB_ST_QUOTA_EXCEEDED,
                    "quota max_storage_bytes exceeded: limit %llu bytes, %llu in use, this request "
                    "needs %llu more; delete data or ask for a higher quota",
                    (unsigned long long)q->max_storage_bytes, (unsigned long long)disk,
                    (unsigned long long)disk_bytes);
  }
  if (q->max_memory_bytes && mem + mem_bytes > q->max_memory_bytes) {
    obs_quota_rejection("memory");
    return svc_fail(c, AKIDB_ST_QUOTA_EXCEEDED,
                    "quota max_memory_bytes exceeded: limit %llu bytes, %llu in use, this request "
                    "needs %llu more; delete data or ask for a higher quota",
                    (unsigned long long)q->max_memory_bytes, (unsigned long long)mem,
                    (unsigned long long)mem_bytes);
  }
  return 0;
}
