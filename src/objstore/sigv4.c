/*
 * sigv4.c — AWS Signature Version 4 for S3 (see sigv4.h). Steps, as AWS
 * documents them:
 *   1. canonical request = method \n encoded path \n canonical query \n
 *      canonical headers (lower-case name ':' trimmed value, sorted) \n \n
 *      signed header names (';') \n payload hash
 *   2. string to sign = "AWS4-HMAC-SHA256" \n amz date \n scope \n
 *      hex(SHA-256(canonical request)), scope = date/region/service/aws4_request
 *   3. signing key = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region),
 *      service), "aws4_request"); signature = hex(HMAC(key, string to sign))
 * S3 paths are not normalised ("a/./b" stays) and each segment is encoded
 * once. Header values are trimmed and inner runs of white space become one
 * space; repeated names are joined with ',' in their given order.
 *
 * Locking: none (pure functions). Durability: none. The secret key is only
 * ever an HMAC key here; it is never copied into any output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "akidb/errors.h"
#include "objstore/digest.h"
#include "objstore/objstore_internal.h"
#include "objstore/sigv4.h"

/* -------------------------------------------------------- string builder */

typedef struct {
  char *p;
  size_t n, cap;
  bool oom;
} sb_t;

static void sb_add(sb_t *b, const char *s, size_t len) {
  if (b->oom) return;
  if (b->n + len + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + len + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = true;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = '\0';
}

static void sb_str(sb_t *b, const char *s) { sb_add(b, s, strlen(s)); }
static void sb_chr(sb_t *b, char c) { sb_add(b, &c, 1); }

/* Appends the encoding of s (keep_slash as in sigv4_uri_encode). */
static void sb_enc(sb_t *b, const char *s, bool keep_slash) {
  char tmp[3 * 64 + 1];
  size_t len = strlen(s);
  for (size_t i = 0; i < len; i += 64) {
    size_t n = len - i < 64 ? len - i : 64;
    sb_add(b, tmp, sigv4_uri_encode(s + i, n, keep_slash, tmp));
  }
}

static int sb_finish(sb_t *b, char **out) {
  if (b->oom || !b->p) {
    free(b->p);
    *out = NULL;
    return b->oom ? AKIDB_ENOMEM : (*out = calloc(1, 1)) ? 0 : AKIDB_ENOMEM;
  }
  *out = b->p;
  return 0;
}

/* ------------------------------------------------------------- encoding */

size_t sigv4_uri_encode(const char *in, size_t len, bool keep_slash, char *out) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)in[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash)) {
      out[o++] = (char)c;
    } else {
      out[o++] = '%';
      out[o++] = hex[c >> 4];
      out[o++] = hex[c & 15];
    }
  }
  out[o] = '\0';
  return o;
}

/* ---------------------------------------------------------- canonical query */

typedef struct {
  char *name, *value;
} enc_pair_t;

static int cmp_enc_pair(const void *a, const void *b) {
  const enc_pair_t *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

static char *encode_dup(const char *s) {
  size_t n = strlen(s);
  char *o = malloc(3 * n + 1);
  if (o) sigv4_uri_encode(s, n, false, o);
  return o;
}

int sigv4_canonical_query(const sigv4_pair_t *q, size_t n, char **out) {
  *out = NULL;
  enc_pair_t *e = calloc(n ? n : 1, sizeof *e);
  if (!e) return AKIDB_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    e[i].name = encode_dup(q[i].name);
    e[i].value = encode_dup(q[i].value ? q[i].value : "");
    if (!e[i].name || !e[i].value) rc = AKIDB_ENOMEM;
  }
  sb_t b = {0};
  if (!rc) {
    qsort(e, n, sizeof *e, cmp_enc_pair);
    for (size_t i = 0; i < n; i++) {
      if (i) sb_chr(&b, '&');
      sb_str(&b, e[i].name);
      sb_chr(&b, '=');
      sb_str(&b, e[i].value);
    }
    rc = sb_finish(&b, out);
  }
  for (size_t i = 0; i < n; i++) free(e[i].name), free(e[i].value);
  free(e);
  return rc;
}

/* -------------------------------------------------------- canonical headers */

typedef struct {
  char *name;  /* lower-case */
  char *value; /* trimmed, inner white space collapsed */
  size_t order;
} canon_header_t;

static int cmp_header(const void *a, const void *b) {
  const canon_header_t *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

static bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char *trim_all(const char *v) {
  char *o = malloc(strlen(v) + 1);
  if (!o) return NULL;
  size_t n = 0;
  bool gap = false;
  for (; *v; v++) {
    if (is_space(*v)) {
      gap = n > 0;
      continue;
    }
    if (gap) o[n++] = ' ';
    gap = false;
    o[n++] = *v;
  }
  o[n] = '\0';
  return o;
}

static char *lower_dup(const char *s) {
  /* botocore strips the name too (signed_headers); so do we */
  while (is_space(*s)) s++;
  size_t n = strlen(s);
  while (n && is_space(s[n - 1])) n--;
  char *o = malloc(n + 1);
  if (!o) return NULL;
  for (size_t i = 0; i < n; i++) o[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
  o[n] = '\0';
  return o;
}

/* Appends canonical headers + "\n" + signed headers to cr, and signed
 * headers alone to sh. */
static int add_headers(const sigv4_request_t *r, sb_t *cr, sb_t *sh) {
  size_t n = r->nheaders;
  canon_header_t *h = calloc(n ? n : 1, sizeof *h);
  if (!h) return AKIDB_ENOMEM;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    h[i].name = lower_dup(r->headers[i].name);
    h[i].value = trim_all(r->headers[i].value ? r->headers[i].value : "");
    h[i].order = i;
    if (!h[i].name || !h[i].value) rc = AKIDB_ENOMEM;
  }
  if (!rc) {
    qsort(h, n, sizeof *h, cmp_header);
    for (size_t i = 0; i < n; i++) {
      bool same = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;
      if (same) {
        sb_chr(cr, ',');
      } else {
        if (i) sb_chr(cr, '\n');
        sb_str(cr, h[i].name);
        sb_chr(cr, ':');
        if (sh->n) sb_chr(sh, ';');
        sb_str(sh, h[i].name);
      }
      sb_str(cr, h[i].value);
    }
    sb_str(cr, "\n\n");
    sb_str(cr, sh->p ? sh->p : "");
  }
  for (size_t i = 0; i < n; i++) free(h[i].name), free(h[i].value);
  free(h);
  return rc;
}

static int build_canonical(const sigv4_request_t *r, char **cr_out, char **sh_out) {
  *cr_out = *sh_out = NULL;
  sb_t cr = {0}, sh = {0};
  sb_str(&cr, r->method);
  sb_chr(&cr, '\n');
  sb_enc(&cr, r->path && *r->path ? r->path : "/", true);
  sb_chr(&cr, '\n');
  char *q = NULL;
  int rc = sigv4_canonical_query(r->query, r->nquery, &q);
  if (!rc) {
    sb_str(&cr, q);
    sb_chr(&cr, '\n');
    rc = add_headers(r, &cr, &sh);
  }
  free(q);
  sb_chr(&cr, '\n');
  sb_str(&cr, r->payload_hash);
  if (!rc) rc = sb_finish(&cr, cr_out);
  else free(cr.p);
  if (!rc) rc = sb_finish(&sh, sh_out);
  else free(sh.p);
  if (rc) {
    free(*cr_out);
    *cr_out = NULL;
  }
  return rc;
}

int sigv4_canonical_request(const sigv4_request_t *r, char **out) {
  char *sh;
  int rc = build_canonical(r, out, &sh);
  free(sh);
  return rc;
}

/* ------------------------------------------------------------- signature */

int sigv4_authorization(const sigv4_request_t *r, char **out) {
  *out = NULL;
  if (!r->method || !r->payload_hash || !r->amz_date || strlen(r->amz_date) != 16 ||
      !r->region || !r->service || !r->access_key || !r->secret_key)
    return AKIDB_EINVAL;
  char *cr, *sh;
  int rc = build_canonical(r, &cr, &sh);
  if (rc) return rc;
  char date[9];
  memcpy(date, r->amz_date, 8);
  date[8] = '\0';
  char cr_hash[65];
  digest_sha256_hex(cr, strlen(cr), cr_hash);
  free(cr);

  sb_t scope = {0}, sts = {0};
  sb_str(&scope, date);
  sb_chr(&scope, '/');
  sb_str(&scope, r->region);
  sb_chr(&scope, '/');
  sb_str(&scope, r->service);
  sb_str(&scope, "/aws4_request");
  sb_str(&sts, "AWS4-HMAC-SHA256\n");
  sb_str(&sts, r->amz_date);
  sb_chr(&sts, '\n');
  sb_str(&sts, scope.p ? scope.p : "");
  sb_chr(&sts, '\n');
  sb_str(&sts, cr_hash);

  /* Signing key: four chained HMACs, the first keyed by "AWS4" + secret. */
  size_t sl = strlen(r->secret_key);
  uint8_t *k0 = malloc(sl + 4);
  uint8_t k[DIGEST_SHA256_LEN], k2[DIGEST_SHA256_LEN], sig[DIGEST_SHA256_LEN];
  char sig_hex[65];
  sb_t auth = {0};
  if (!k0 || scope.oom || sts.oom) {
    rc = AKIDB_ENOMEM;
  } else {
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, r->secret_key, sl);
    digest_hmac_sha256(k0, sl + 4, date, 8, k);
    memset(k0, 0, sl + 4);
    digest_hmac_sha256(k, sizeof k, r->region, strlen(r->region), k2);
    digest_hmac_sha256(k2, sizeof k2, r->service, strlen(r->service), k);
    digest_hmac_sha256(k, sizeof k, "aws4_request", 12, k2);
    digest_hmac_sha256(k2, sizeof k2, sts.p, sts.n, sig);
    memset(k, 0, sizeof k);
    memset(k2, 0, sizeof k2);
    objstore_hex(sig, sizeof sig, sig_hex);
    sb_str(&auth, "AWS4-HMAC-SHA256 Credential=");
    sb_str(&auth, r->access_key);
    sb_chr(&auth, '/');
    sb_str(&auth, scope.p);
    sb_str(&auth, ", SignedHeaders=");
    sb_str(&auth, sh);
    sb_str(&auth, ", Signature=");
    sb_str(&auth, sig_hex);
    rc = sb_finish(&auth, out);
  }
  free(k0);
  free(scope.p), free(sts.p), free(sh);
  return rc;
}
