/*
 * http/router.c — matches a request's method and raw path against the route
 * table (routes.c), percent-decodes path parameters and query strings.
 *
 * The route table is split into segments once (pthread_once); after that
 * matching only reads it, so any number of threads match at once without
 * locks. A
 * match never allocates: decoded segments go into the caller's scratch
 * buffer. Calls nothing of the service layer.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "http/http_internal.h"

/* ------------------------------------------------------ compiled table -- */

/* Splits "/a/{b}/c" into segments; a pattern that does not fit is skipped
 * (the table is ours: a unit test pins every route). */
static void compile_route(http_router_t *rt, const http_route_t *r) {
  http_compiled_route_t *c = &rt->routes[rt->n];
  c->route = r;
  c->nseg = 0;
  const char *p = r->pattern;
  if (*p != '/') return;
  while (*p == '/') {
    p++;
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (c->nseg == HTTP_MAX_SEGMENTS) return;
    http_pattern_seg_t *s = &c->seg[c->nseg++];
    if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
      s->text = p + 1;
      s->len = len - 2;
      s->param = true;
    } else {
      s->text = p;
      s->len = len;
      s->param = false;
    }
    p += len;
  }
  rt->n++;
}

void http_router_init(http_router_t *rt, const http_route_t *routes, size_t n) {
  rt->n = 0;
  for (size_t i = 0; i < n && rt->n < HTTP_MAX_ROUTES; i++) compile_route(rt, &routes[i]);
}

static http_router_t default_router;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_router_init(void) {
  size_t n = 0;
  const http_route_t *r = http_routes(&n);
  http_router_init(&default_router, r, n);
}

/* ----------------------------------------------------- percent-decode -- */

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

long http_percent_decode(const char *src, size_t len, char *dst, bool plus_is_space) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = src[i];
    if (c == '%') {
      if (len - i < 3) return -1;
      int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = (char)(hi * 16 + lo);
      if (c == '\0') return -2;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    } else if (c == '\0') {
      return -2;
    }
    dst[o++] = c;
  }
  dst[o] = '\0';
  return (long)o;
}

/* -------------------------------------------------------------- match -- */

typedef struct {
  const char *text; /* decoded, NUL-terminated, in scratch */
  size_t len;
} path_seg_t;

static bool route_matches(const http_compiled_route_t *c, const path_seg_t *segs, size_t n) {
  if (c->nseg != n) return false;
  for (size_t i = 0; i < n; i++) {
    const http_pattern_seg_t *p = &c->seg[i];
    if (p->param) {
      if (segs[i].len == 0) return false;
    } else if (p->len != segs[i].len || memcmp(p->text, segs[i].text, p->len) != 0) {
      return false;
    }
  }
  return true;
}

/* True when `a` is more specific than `b`: at the first position where one
 * has a literal and the other a parameter, `a` has the literal. */
static bool more_specific(const http_compiled_route_t *a, const http_compiled_route_t *b) {
  for (size_t i = 0; i < a->nseg; i++)
    if (a->seg[i].param != b->seg[i].param) return !a->seg[i].param;
  return false;
}

/* Adds `method` to the "GET, POST" list unless already there. */
static void allow_add(char *allow, size_t cap, const char *method) {
  size_t mlen = strlen(method);
  for (const char *p = allow; (p = strstr(p, method)) != NULL; p += mlen) {
    bool starts = p == allow || p[-1] == ' ';
    bool ends = p[mlen] == '\0' || p[mlen] == ',';
    if (starts && ends) return;
  }
  size_t len = strlen(allow);
  snprintf(allow + len, cap - len, "%s%s", len ? ", " : "", method);
}

/* Splits the raw path on '/' and decodes each segment into scratch. Returns
 * the segment count, -1 when the path cannot match any route (no leading
 * '/', too many segments) and -2 for a bad escape or decoded NUL (message
 * written). */
static long split_path(const char *path, size_t path_len, char *scratch, path_seg_t *segs,
                       http_match_t *m) {
  if (path_len == 0 || path[0] != '/') return -1;
  size_t n = 0, pos = 1;
  char *out = scratch;
  for (;;) {
    const char *start = path + pos;
    const char *slash = memchr(start, '/', path_len - pos);
    size_t len = slash ? (size_t)(slash - start) : path_len - pos;
    if (n == HTTP_MAX_SEGMENTS) return -1;
    long dlen = http_percent_decode(start, len, out, false);
    if (dlen < 0) {
      snprintf(m->message, sizeof m->message,
               dlen == -2 ? "path segment %zu holds a NUL byte (%%00); remove it"
                          : "path segment %zu has a bad percent-escape: use %%HH with two hex "
                            "digits",
               n + 1);
      return -2;
    }
    segs[n].text = out;
    segs[n].len = (size_t)dlen;
    out += dlen + 1;
    n++;
    if (!slash) break;
    pos += len + 1;
  }
  return (long)n;
}

void http_route_match(const char *method, const char *path, size_t path_len, char *scratch,
                      http_match_t *m) {
  pthread_once(&default_once, default_router_init);
  http_router_match(&default_router, method, path, path_len, scratch, m);
}

void http_router_match(const http_router_t *rt, const char *method, const char *path,
                       size_t path_len, char *scratch, http_match_t *m) {
  m->status = HTTP_MATCH_NOT_FOUND;
  m->route = NULL;
  m->n_params = 0;
  m->allow[0] = '\0';
  m->message[0] = '\0';
  path_seg_t segs[HTTP_MAX_SEGMENTS];
  long n = split_path(path, path_len, scratch, segs, m);
  if (n == -2) {
    m->status = HTTP_MATCH_BAD_PATH;
    return;
  }
  const http_compiled_route_t *best = NULL;
  for (size_t i = 0; n > 0 && i < rt->n; i++) {
    const http_compiled_route_t *c = &rt->routes[i];
    if (!route_matches(c, segs, (size_t)n)) continue;
    if (strcmp(c->route->method, method) != 0)
      allow_add(m->allow, sizeof m->allow, c->route->method);
    else if (!best || more_specific(c, best))
      best = c;
  }
  if (best) {
    m->status = HTTP_MATCH_OK;
    m->route = best->route;
    m->allow[0] = '\0';
    for (size_t i = 0; i < best->nseg && m->n_params < HTTP_MAX_PARAMS; i++) {
      if (!best->seg[i].param) continue;
      http_path_param_t *p = &m->params[m->n_params++];
      p->name = best->seg[i].text; /* the pattern's "name}" — compare with len */
      p->value = segs[i].text;
      p->len = segs[i].len;
    }
  } else if (m->allow[0]) {
    m->status = HTTP_MATCH_NOT_ALLOWED;
    snprintf(m->message, sizeof m->message, "method %.16s is not allowed on %.*s; allowed: %s",
             method, (int)(path_len < 100 ? path_len : 100), path, m->allow);
  } else {
    snprintf(m->message, sizeof m->message, "no route matches %.16s %.*s", method,
             (int)(path_len < 100 ? path_len : 100), path);
  }
}

/* True when the parameter's name (pattern text up to '}') is `name`. */
static bool param_is(const http_path_param_t *p, const char *name) {
  size_t len = strlen(name);
  return strncmp(p->name, name, len) == 0 && p->name[len] == '}';
}

void http_match_apply(const http_match_t *m, akidb_request_t *req) {
  for (size_t i = 0; i < m->n_params; i++) {
    const http_path_param_t *p = &m->params[i];
    if (param_is(p, "tenant")) {
      req->tenant = p->value;
    } else if (param_is(p, "database")) {
      req->database = p->value;
    } else if (param_is(p, "collection")) {
      req->collection = p->value;
    } else if (param_is(p, "username")) {
      req->username = p->value;
    } else if (param_is(p, "key_id")) {
      req->key_id = p->value;
    } else if (param_is(p, "snapshot")) {
      req->snapshot = p->value;
    } else if (param_is(p, "upload")) {
      req->upload = p->value;
    } else if (param_is(p, "point_id")) {
      req->point_id = p->value;
      req->point_id_len = p->len;
    }
  }
}

/* -------------------------------------------------------- query string -- */

int http_query_parse(char *qs, akidb_param_t *out, size_t max, size_t *n, char *err,
                     size_t errlen) {
  *n = 0;
  char *p = qs;
  while (p && *p) {
    char *amp = strchr(p, '&');
    if (amp) *amp = '\0';
    if (*p) {
      if (*n == max) {
        snprintf(err, errlen, "the query string has more than %zu parameters", max);
        return -1;
      }
      char *eq = strchr(p, '=');
      char *value = eq ? eq + 1 : p + strlen(p);
      if (eq) *eq = '\0';
      long klen = http_percent_decode(p, strlen(p), p, true);
      long vlen = klen < 0 ? 0 : http_percent_decode(value, strlen(value), value, true);
      if (klen < 0 || vlen < 0) {
        long bad = klen < 0 ? klen : vlen;
        snprintf(err, errlen,
                 bad == -2 ? "query parameter %zu holds a NUL byte (%%00); remove it"
                           : "query parameter %zu has a bad percent-escape: use %%HH with two hex "
                             "digits",
                 *n + 1);
        return -1;
      }
      out[*n].key = p;
      out[*n].value = value;
      (*n)++;
    }
    p = amp ? amp + 1 : NULL;
  }
  return 0;
}
