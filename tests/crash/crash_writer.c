/*
 * crash_writer.c — owns the two processes of one crash-loop cycle:
 *
 *   crash_writer write --dir D --dim N --seed S
 *       opens D/collection (fsync durability, tiny checkpoint and segment
 *       limits, one background indexer) and writes batches forever, from the
 *       one after the last acknowledged batch; after each upsert/delete
 *       returns OK it appends "<batch> <kind>\n" to D/acked.log and
 *       fdatasyncs it — only then is the batch acknowledged. Every
 *       UNLOAD_EVERY batches it closes the collection (the final checkpoint
 *       of an unload to the warm tier) and opens it again (a load, with
 *       recovery), as the server's residency layer does, so a kill also
 *       lands inside unloads and loads. It expects to be killed (SIGKILL)
 *       at any moment.
 *
 *   crash_writer check --dir D --dim N --seed S [--cycle C] [--close]
 *       reopens the collection and checks it against the model of
 *       crash_batches.c: every point of every acknowledged batch present
 *       and intact (vector, payload, text), deleted ids absent, overwritten
 *       ids holding the newest acknowledged value; the one batch that may
 *       have been in flight either wholly there or wholly absent; the point
 *       count, a full scan, and exact and full-text (BM25) searches for a
 *       sample of points.
 *       Prints "FAIL ..." lines naming the cycle, batch and id, then one
 *       "CHECK ..." summary line for the driver; exits 1 on any problem.
 *       With --close it closes the collection (a final checkpoint), else it
 *       leaves as a crash would (_exit), so both paths feed the next cycle.
 *
 * The workload is deterministic (crash_batches.h): a batch redone after a
 * crash is identical to the one that was in flight, so acknowledged state
 * is always the prefix of batches named in acked.log.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "akidb/store.h"
#include "crash_batches.h"

#define MAX_FAILS_SHOWN 20
#define SEARCH_SAMPLE 16
#define VECTOR_TOLERANCE 1e-6f
#define UNLOAD_EVERY 5 /* batches between an unload (close) and a load (open) */

typedef struct {
  const char *mode, *dir;
  uint32_t dim;
  uint64_t seed;
  long cycle;
  bool close;
} args_t;

static void usage(void) {
  fprintf(stderr, "usage: crash_writer write|check --dir D --dim N --seed S [--cycle C] "
                  "[--close]\n");
  exit(2);
}

static void parse_args(int argc, char **argv, args_t *a) {
  memset(a, 0, sizeof *a);
  a->cycle = -1;
  if (argc < 2) usage();
  a->mode = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(argv[i], "--close") == 0) a->close = true;
    else if (!v) usage();
    else if (strcmp(argv[i], "--dir") == 0) a->dir = argv[++i];
    else if (strcmp(argv[i], "--dim") == 0) a->dim = (uint32_t)strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--seed") == 0) a->seed = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--cycle") == 0) a->cycle = strtol(argv[++i], NULL, 10);
    else usage();
  }
  if (!a->dir || a->dim < 1 || a->dim > 4096) usage();
}

/* The collection's options; writer and checker open it alike. */
static void collection_options(akidb_collection_options_t *o, uint32_t dim, bool background,
                               akidb_log_fn log, void *log_ctx) {
  akidb_collection_options_default(o, dim, AKIDB_METRIC_L2);
  o->index.m = 8;
  o->index.ef_construction = 64;
  o->index.seed = 7;
  o->durability = AKIDB_DURABILITY_FSYNC;
  o->wal_segment_bytes = 128u << 10;    /* a rollover every couple of batches */
  o->checkpoint_wal_bytes = 512u << 10; /* a checkpoint every few batches */
  o->checkpoint_interval_s = 1;
  o->index_threads = 1;
  o->text_index = true; /* the BM25 index is rebuilt from the recovered text */
  o->background = background;
  o->log = log;
  o->log_ctx = log_ctx;
}

static void collection_path(const args_t *a, char *out, size_t len) {
  snprintf(out, len, "%s/collection", a->dir);
}

static void side_path(const args_t *a, char *out, size_t len) {
  snprintf(out, len, "%s/acked.log", a->dir);
}

/* ------------------------------------------------------------ side file -- */

/* What acked.log says: the last acknowledged batch (-1: none), the bytes of
 * its complete lines, and whether a torn (partial) line followed them. */
typedef struct {
  int64_t last;
  size_t good_bytes;
  bool torn;
} side_t;

/* Parses the side file's text; -1 (with a message) when a complete line is
 * not the next batch in order. */
static int side_parse(const char *text, size_t len, side_t *s, char *msg, size_t msglen) {
  memset(s, 0, sizeof *s);
  s->last = -1;
  size_t start = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] != '\n') continue;
    char line[64];
    size_t n = i - start < sizeof line - 1 ? i - start : sizeof line - 1;
    memcpy(line, text + start, n);
    line[n] = 0;
    unsigned long long b;
    char kind, extra;
    if (sscanf(line, "%llu %c%c", &b, &kind, &extra) != 2 || (int64_t)b != s->last + 1 ||
        kind != (char)cb_kind(b)) {
      snprintf(msg, msglen, "acked.log line %lld is \"%s\", expected batch %lld (%c)",
               (long long)s->last + 2, line, (long long)s->last + 1,
               (char)cb_kind((uint64_t)(s->last + 1)));
      return -1;
    }
    s->last = (int64_t)b;
    start = i + 1;
  }
  s->good_bytes = start;
  s->torn = start < len;
  return 0;
}

/* Reads and parses the whole side file from fd. */
static int side_load(int fd, side_t *s, char *msg, size_t msglen) {
  struct stat st;
  if (fstat(fd, &st)) {
    snprintf(msg, msglen, "cannot stat acked.log: %s", strerror(errno));
    return -1;
  }
  size_t len = (size_t)st.st_size;
  char *text = malloc(len + 1);
  if (!text) {
    snprintf(msg, msglen, "out of memory");
    return -1;
  }
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, text + got, len - got, (off_t)got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  int rc = side_parse(text, got, s, msg, msglen);
  free(text);
  return rc;
}

/* ------------------------------------------------------------- writer -- */

static const char *level_name(akidb_log_level_t level) {
  static const char *const names[] = {"debug", "info", "warn", "error"};
  return (unsigned)level < 4 ? names[level] : "?";
}

static void writer_log(void *ctx, akidb_log_level_t level, const char *msg) {
  (void)ctx;
  if (level >= AKIDB_LOG_WARN) fprintf(stderr, "crash_writer: store %s: %s\n", level_name(level), msg);
}

/* Fills points for an upsert batch; buffers sized for bt->n points. */
static void fill_points(const args_t *a, const cb_batch_t *bt, akidb_point_t *pts, float *vecs,
                        char *ids, char *payloads, char *texts) {
  for (size_t i = 0; i < bt->n; i++) {
    cb_key_t k = bt->keys[i];
    akidb_point_t *p = &pts[i];
    char *id = ids + i * CB_ID_MAX, *payload = payloads + i * CB_PAYLOAD_MAX,
         *text = texts + i * CB_TEXT_MAX;
    float *v = vecs + i * a->dim;
    cb_vector(a->seed, k, bt->id, a->dim, v);
    size_t text_len = cb_text(a->seed, k, bt->id, text, CB_TEXT_MAX);
    *p = (akidb_point_t){.id = id, .id_len = cb_id(k, id, CB_ID_MAX), .vector = v,
                         .payload = payload,
                         .payload_len = cb_payload(k, bt->id, payload, CB_PAYLOAD_MAX),
                         .text = text_len ? text : NULL, .text_len = text_len};
  }
}

/* Writes batch bt; AKIDB_OK once the collection acknowledged it. */
static int write_batch(const args_t *a, akidb_collection_t *c, const cb_batch_t *bt, char *err,
                       size_t errlen) {
  size_t n = bt->n;
  char *ids = malloc(n * CB_ID_MAX + 1);
  const char **id_ptrs = malloc(n * sizeof *id_ptrs + 1);
  size_t *id_lens = malloc(n * sizeof *id_lens + 1);
  akidb_point_t *pts = malloc(n * sizeof *pts + 1);
  float *vecs = malloc(n * a->dim * sizeof *vecs + 1);
  char *payloads = malloc(n * CB_PAYLOAD_MAX + 1), *texts = malloc(n * CB_TEXT_MAX + 1);
  int rc = AKIDB_ENOMEM;
  if (ids && id_ptrs && id_lens && pts && vecs && payloads && texts) {
    if (bt->kind == CB_DELETE) {
      for (size_t i = 0; i < n; i++) {
        id_ptrs[i] = ids + i * CB_ID_MAX;
        id_lens[i] = cb_id(bt->keys[i], ids + i * CB_ID_MAX, CB_ID_MAX);
      }
      rc = akidb_collection_delete(c, id_ptrs, id_lens, n, NULL, err, errlen);
    } else {
      fill_points(a, bt, pts, vecs, ids, payloads, texts);
      rc = akidb_collection_upsert(c, pts, n, err, errlen);
    }
  }
  free(ids);
  free(id_ptrs);
  free(id_lens);
  free(pts);
  free(vecs);
  free(payloads);
  free(texts);
  return rc;
}

/* Records batch b as acknowledged: one line, then fdatasync. */
static int acknowledge(int fd, uint64_t b) {
  char line[64];
  int n = snprintf(line, sizeof line, "%" PRIu64 " %c\n", b, (char)cb_kind(b));
  if (lseek(fd, 0, SEEK_END) < 0 || write(fd, line, (size_t)n) != n) return -1;
  return fdatasync(fd);
}

/* Closes the collection (final checkpoint) and opens it again. */
static int unload_and_load(const char *path, const akidb_collection_options_t *o,
                           akidb_collection_t **c, char *msg, size_t msglen) {
  int rc = akidb_collection_close(*c, msg, msglen);
  *c = NULL;
  if (rc) return rc;
  return akidb_collection_open(path, o, c, NULL, msg, msglen);
}

static int run_writer(const args_t *a) {
  char path[4096], msg[512] = "";
  side_path(a, path, sizeof path);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  side_t s;
  if (fd < 0 || side_load(fd, &s, msg, sizeof msg)) {
    fprintf(stderr, "crash_writer: %s: %s\n", path, fd < 0 ? strerror(errno) : msg);
    return 3;
  }
  if (s.torn && (ftruncate(fd, (off_t)s.good_bytes) || fdatasync(fd))) {
    fprintf(stderr, "crash_writer: cannot cut the torn line off %s: %s\n", path, strerror(errno));
    return 3;
  }
  akidb_collection_options_t o;
  collection_options(&o, a->dim, true, writer_log, NULL);
  akidb_collection_t *c;
  collection_path(a, path, sizeof path);
  int rc = akidb_collection_open(path, &o, &c, NULL, msg, sizeof msg);
  if (rc) {
    fprintf(stderr, "crash_writer: open failed: %s: %s\n", akidb_err_name(rc), msg);
    return 3;
  }
  for (uint64_t b = (uint64_t)(s.last + 1);; b++) {
    cb_batch_t bt;
    if (cb_batch_make(a->seed, b, &bt)) {
      fprintf(stderr, "crash_writer: out of memory\n");
      return 3;
    }
    rc = write_batch(a, c, &bt, msg, sizeof msg);
    cb_batch_free(&bt);
    if (rc) {
      fprintf(stderr, "crash_writer: batch %" PRIu64 " (%s) failed: %s: %s\n", b,
              cb_kind_name(cb_kind(b)), akidb_err_name(rc), msg);
      return 3;
    }
    if (acknowledge(fd, b)) {
      fprintf(stderr, "crash_writer: cannot record batch %" PRIu64 ": %s\n", b, strerror(errno));
      return 3;
    }
    if ((b + 1) % UNLOAD_EVERY == 0 && (rc = unload_and_load(path, &o, &c, msg, sizeof msg))) {
      fprintf(stderr, "crash_writer: unload/load after batch %" PRIu64 " failed: %s: %s\n", b,
              akidb_err_name(rc), msg);
      return 3;
    }
  }
}

/* ------------------------------------------------------------ checker -- */

typedef struct {
  const args_t *a;
  akidb_collection_t *c;
  side_t side;
  cb_model_t model;
  cb_batch_t inflight; /* batch side.last + 1 */
  int landed;          /* the in-flight batch: -1 undecided, 0 absent, 1 landed */
  uint64_t problems, verified, expected_live;
  float *want;
  char text[CB_TEXT_MAX], payload[CB_PAYLOAD_MAX];
} checker_t;

/* Reports one problem (the first MAX_FAILS_SHOWN are printed). */
static void fail(checker_t *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(checker_t *k, const char *fmt, ...) {
  k->problems++;
  if (k->problems > MAX_FAILS_SHOWN) return;
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL cycle %ld: ", k->a->cycle);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

static void checker_log(void *ctx, akidb_log_level_t level, const char *msg) {
  checker_t *k = ctx;
  if (level == AKIDB_LOG_ERROR)
    fail(k, "the store logged an error: %s", msg);
  else if (level == AKIDB_LOG_WARN && !strstr(msg, "torn"))
    printf("NOTE cycle %ld: store warning: %s\n", k->a->cycle, msg);
}

/* Describes batch v for messages: "batch 12 (overwrite, acknowledged)". */
static const char *describe(const checker_t *k, int64_t v, char *buf, size_t len) {
  if (v < 0) snprintf(buf, len, "no batch (absent)");
  else
    snprintf(buf, len, "batch %lld (%s, %s)", (long long)v, cb_kind_name(cb_kind((uint64_t)v)),
             v <= k->side.last       ? "acknowledged"
             : v == k->side.last + 1 ? "in flight"
                                     : "never written");
  return buf;
}

/* Whether a point copy holds exactly what batch v wrote for key. */
static bool content_matches(checker_t *k, cb_key_t key, int64_t v, const akidb_point_out_t *p,
                            char *why, size_t whylen) {
  size_t plen = cb_payload(key, (uint64_t)v, k->payload, sizeof k->payload);
  if (!p->payload || p->payload_len != plen || memcmp(p->payload, k->payload, plen) != 0) {
    snprintf(why, whylen, "payload is %.*s, expected %s", p->payload ? (int)p->payload_len : 6,
             p->payload ? p->payload : "absent", k->payload);
    return false;
  }
  size_t tlen = cb_text(k->a->seed, key, (uint64_t)v, k->text, sizeof k->text);
  bool text_ok = tlen ? p->text && p->text_len == tlen && memcmp(p->text, k->text, tlen) == 0
                      : p->text == NULL;
  if (!text_ok) {
    snprintf(why, whylen, "text is \"%.*s\", expected \"%s\"", p->text ? (int)p->text_len : 6,
             p->text ? p->text : "absent", tlen ? k->text : "absent");
    return false;
  }
  if (!p->vector) {
    snprintf(why, whylen, "no vector returned");
    return false;
  }
  cb_vector(k->a->seed, key, (uint64_t)v, k->a->dim, k->want);
  for (uint32_t d = 0; d < k->a->dim; d++)
    if (!(fabsf(p->vector[d] - k->want[d]) <= VECTOR_TOLERANCE)) {
      snprintf(why, whylen, "vector[%u] is %.9g, expected %.9g", d, p->vector[d], k->want[d]);
      return false;
    }
  return true;
}

/* What the collection holds for key: -1 absent, else the batch its payload
 * names (-2 when the content matches no batch: corrupt, reported). */
static int64_t observe(checker_t *k, cb_key_t key) {
  char id[CB_ID_MAX], why[512], what[96];
  size_t id_len = cb_id(key, id, sizeof id);
  akidb_point_out_t p;
  int rc = akidb_collection_get(k->c, id, id_len, true, &p);
  if (rc == AKIDB_ENOTFOUND) return -1;
  if (rc) {
    fail(k, "get of id %s failed: %s", id, akidb_err_name(rc));
    return -2;
  }
  int64_t v = cb_payload_batch(p.payload, p.payload_len);
  if (v < 0 || !content_matches(k, key, v, &p, why, sizeof why)) {
    fail(k, "id %s is corrupt (it claims %s): %s", id, describe(k, v, what, sizeof what), why);
    v = -2;
  }
  akidb_point_out_clear(&p);
  return v;
}

/* Decides whether the in-flight batch landed, and that it landed whole. */
static void check_inflight(checker_t *k) {
  const cb_batch_t *bt = &k->inflight;
  int64_t after = bt->kind == CB_DELETE ? -1 : (int64_t)bt->id;
  char id[CB_ID_MAX], first_id[CB_ID_MAX] = "", was[96], now[96];
  for (size_t i = 0; i < bt->n; i++) {
    const cb_slot_t *s = cb_model_slot(&k->model, bt->keys[i]);
    int64_t before = s ? s->version : -1;
    if (before == after) continue; /* the batch changes nothing here */
    int64_t got = observe(k, bt->keys[i]);
    cb_id(bt->keys[i], id, sizeof id);
    int vote = got == after ? 1 : got == before ? 0 : -1;
    if (got == -2) continue;
    if (vote < 0) {
      fail(k, "id %s holds the value of %s; expected that of %s, or %s if in-flight batch %" PRIu64
              " (%s) landed", id, describe(k, got, now, sizeof now),
           describe(k, before, was, sizeof was), after < 0 ? "absent" : "its value", bt->id,
           cb_kind_name(bt->kind));
    } else if (k->landed < 0) {
      k->landed = vote;
      snprintf(first_id, sizeof first_id, "%s", id);
    } else if (k->landed != vote) {
      fail(k, "in-flight batch %" PRIu64 " (%s) landed partially: id %s %s it, id %s %s it",
           bt->id, cb_kind_name(bt->kind), first_id, k->landed ? "has" : "lacks", id,
           vote ? "has" : "lacks");
    }
  }
  if (k->landed == 1) cb_model_apply(&k->model, bt);
}

/* Checks one id against the model (after the in-flight decision). */
static void check_key(checker_t *k, cb_key_t key, const cb_slot_t *s) {
  char id[CB_ID_MAX], what[96], last[96];
  cb_id(key, id, sizeof id);
  int64_t got = observe(k, key);
  k->verified++;
  if (got == -2 || got == s->version) return;
  if (s->version < 0)
    fail(k, "id %s should be absent (deleted by %s) but holds the value of %s", id,
         describe(k, s->last, last, sizeof last), describe(k, got, what, sizeof what));
  else if (got < 0)
    fail(k, "LOST: id %s written by %s is missing", id, describe(k, s->version, what, sizeof what));
  else
    fail(k, "id %s holds the value of %s; expected the newer %s", id,
         describe(k, got, last, sizeof last), describe(k, s->version, what, sizeof what));
}

/* Every id the model knows (groups g0..g1). */
static void check_all_keys(checker_t *k) {
  const cb_model_t *m = &k->model;
  for (uint64_t g = m->g0; g <= m->g1; g++)
    for (uint32_t half = 0; half < 2; half++) {
      uint32_t n = cb_insert_count(k->a->seed, g, half);
      for (uint32_t i = 0; i < n; i++) {
        cb_key_t key = {.group = g, .half = half, .index = i};
        const cb_slot_t *s = cb_model_slot(m, key);
        if (s->version >= 0) k->expected_live++;
        if (s->version >= 0 || s->last >= 0) check_key(k, key, s);
      }
    }
}

typedef struct {
  checker_t *k;
  uint64_t seen;
} scan_ctx_t;

/* A scanned point must be one the model expects, with the expected value. */
static int scan_visit(void *ctx, const akidb_point_out_t *p) {
  scan_ctx_t *sc = ctx;
  checker_t *k = sc->k;
  cb_key_t key;
  sc->seen++;
  if (cb_parse_id(p->id, p->id_len, &key)) {
    fail(k, "scan returned an id that was never written: \"%.*s\"", (int)p->id_len, p->id);
    return 0;
  }
  const cb_slot_t *s = cb_model_slot(&k->model, key);
  int64_t got = cb_payload_batch(p->payload, p->payload_len);
  if (!s || s->version < 0)
    fail(k, "scan returned id %s (value of batch %lld), which should be absent%s", p->id,
         (long long)got, s ? "" : " (its whole group was deleted)");
  else if (got != s->version)
    fail(k, "scan returned id %s with the value of batch %lld; expected batch %lld", p->id,
         (long long)got, (long long)s->version);
  return 0;
}

static void check_count_and_scan(checker_t *k) {
  uint64_t count = akidb_collection_count(k->c);
  if (count != k->expected_live)
    fail(k, "the collection counts %" PRIu64 " points; expected %" PRIu64, count,
         k->expected_live);
  scan_ctx_t sc = {.k = k};
  int rc = akidb_collection_scan(k->c, false, scan_visit, &sc);
  if (rc) fail(k, "scan failed: %s", akidb_err_name(rc));
  else if (sc.seen != k->expected_live)
    fail(k, "a scan visits %" PRIu64 " points; expected %" PRIu64, sc.seen, k->expected_live);
}

/* Every hit of a search must be a live point holding its newest value:
 * nothing deleted or replaced reappears from the buffer or the graph. */
static void check_hits(checker_t *k, const akidb_search_result_t *r, const char *what) {
  for (uint32_t i = 0; i < r->n; i++) {
    cb_key_t key;
    const cb_slot_t *s = cb_parse_id(r->hits[i].id, r->hits[i].id_len, &key)
                             ? NULL : cb_model_slot(&k->model, key);
    int64_t got = cb_payload_batch(r->hits[i].payload, r->hits[i].payload_len);
    if (!s || s->version < 0 || got != s->version)
      fail(k, "%s returned id %s with the value of batch %lld, which %s", what, r->hits[i].id,
           (long long)got, !s || s->version < 0 ? "should be absent" : "is not its newest");
  }
}

/* The default (graph + buffer) search for a live point's vector: its hits
 * must all be current; recall is not asserted. */
static void search_graph(checker_t *k) {
  akidb_search_options_t so = {.k = 10, .include_payload = true};
  akidb_search_result_t r;
  char err[256] = "";
  int rc = akidb_collection_search(k->c, k->want, k->a->dim, &so, &r, err, sizeof err);
  if (rc) {
    fail(k, "search failed: %s: %s", akidb_err_name(rc), err);
    return;
  }
  check_hits(k, &r, "a search");
  akidb_search_result_free(&r);
}

/* A full-text search for a live point's own text (unique: its id and
 * batch) must return it first, from the BM25 index rebuilt at open. */
static void search_text(checker_t *k, cb_key_t key, int64_t version, const char *id,
                        size_t id_len) {
  char text[CB_TEXT_MAX];
  size_t len = cb_text(k->a->seed, key, (uint64_t)version, text, sizeof text);
  if (len == 0) return; /* this version has no text */
  akidb_search_options_t so = {.k = 3, .include_payload = true};
  akidb_search_result_t r;
  char err[256] = "";
  int rc = akidb_collection_text_search(k->c, text, len, &so, &r, err, sizeof err);
  if (rc) {
    fail(k, "text search for id %s failed: %s: %s", id, akidb_err_name(rc), err);
    return;
  }
  if (r.n == 0 || r.hits[0].id_len != id_len || memcmp(r.hits[0].id, id, id_len) != 0)
    fail(k, "text search for id %s (batch %lld) returned %s first", id, (long long)version,
         r.n ? r.hits[0].id : "nothing");
  check_hits(k, &r, "a text search");
  akidb_search_result_free(&r);
}

/* Exact search for one live point's own vector must return it first. */
static void search_one(checker_t *k, cb_key_t key, int64_t version) {
  char id[CB_ID_MAX];
  size_t id_len = cb_id(key, id, sizeof id);
  cb_vector(k->a->seed, key, (uint64_t)version, k->a->dim, k->want);
  akidb_search_options_t so = {.k = 3, .exact = true, .include_payload = true};
  akidb_search_result_t r;
  char err[256] = "";
  int rc = akidb_collection_search(k->c, k->want, k->a->dim, &so, &r, err, sizeof err);
  if (rc) {
    fail(k, "exact search for id %s failed: %s: %s", id, akidb_err_name(rc), err);
    return;
  }
  if (r.n == 0 || r.hits[0].id_len != id_len || memcmp(r.hits[0].id, id, id_len) != 0 ||
      !(r.hits[0].distance <= 1e-6f))
    fail(k, "exact search for id %s (batch %lld) returned %s at distance %g first", id,
         (long long)version, r.n ? r.hits[0].id : "nothing", r.n ? r.hits[0].distance : 0.0);
  check_hits(k, &r, "an exact search");
  akidb_search_result_free(&r);
  search_graph(k);
  search_text(k, key, version, id, id_len);
}

/* Up to SEARCH_SAMPLE live points, spread over the model, offset by cycle. */
static void check_searches(checker_t *k) {
  if (k->expected_live == 0) return;
  uint64_t step = k->expected_live / SEARCH_SAMPLE + 1, nth = 0;
  uint64_t offset = (uint64_t)(k->a->cycle < 0 ? 0 : k->a->cycle) % step;
  const cb_model_t *m = &k->model;
  for (uint64_t g = m->g0; g <= m->g1; g++)
    for (uint32_t half = 0; half < 2; half++)
      for (uint32_t i = 0; i < CB_MAX_POINTS; i++) {
        cb_key_t key = {.group = g, .half = half, .index = i};
        const cb_slot_t *s = cb_model_slot(m, key);
        if (s->version < 0) continue;
        if (nth++ % step == offset) search_one(k, key, s->version);
      }
}

static int checker_open(checker_t *k, akidb_open_report_t *rep) {
  char path[4096], err[512] = "";
  akidb_collection_options_t o;
  collection_options(&o, k->a->dim, false, checker_log, k);
  collection_path(k->a, path, sizeof path);
  int rc = akidb_collection_open(path, &o, &k->c, rep, err, sizeof err);
  if (rc) fail(k, "open reports %s: %s", akidb_err_name(rc), err);
  return rc;
}

static int load_side(checker_t *k) {
  char path[4096], msg[512] = "";
  side_path(k->a, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    k->side.last = -1; /* killed before its first acknowledgement */
    return 0;
  }
  int rc = fd < 0 ? -1 : side_load(fd, &k->side, msg, sizeof msg);
  if (fd >= 0) close(fd);
  if (rc) fail(k, "%s: %s", path, fd < 0 ? strerror(errno) : msg);
  return rc;
}

static int run_checker(const args_t *a) {
  checker_t k = {.a = a, .landed = -1};
  akidb_open_report_t rep;
  memset(&rep, 0, sizeof rep);
  k.want = malloc(a->dim * sizeof(float));
  if (!k.want || load_side(&k)) {
    free(k.want);
    return 1;
  }
  if (cb_model_build(a->seed, k.side.last, &k.model) ||
      cb_batch_make(a->seed, (uint64_t)(k.side.last + 1), &k.inflight)) {
    printf("FAIL cycle %ld: out of memory\n", a->cycle);
    cb_model_free(&k.model);
    free(k.want);
    return 1;
  }
  if (checker_open(&k, &rep) == AKIDB_OK) {
    check_inflight(&k);
    check_all_keys(&k);
    check_count_and_scan(&k);
    check_searches(&k);
  }
  int rc = 0;
  if (k.c && a->close && (rc = akidb_collection_close(k.c, NULL, 0)))
    fail(&k, "close (final checkpoint) failed: %s", akidb_err_name(rc));
  printf("CHECK %s last_acked=%lld inflight=%s points=%" PRIu64 " verified=%" PRIu64
         " replayed=%" PRIu64 " torn_log_bytes=%" PRIu64 " side_torn=%d open_s=%.3f problems=%" PRIu64
         "\n",
         k.problems ? "failed" : "ok", (long long)k.side.last,
         k.landed < 0 ? "none" : k.landed ? "landed" : "absent", k.expected_live, k.verified,
         rep.replayed_records, rep.truncated_bytes, k.side.torn ? 1 : 0, rep.seconds, k.problems);
  fflush(stdout);
  int status = k.problems ? 1 : 0;
  if (k.c && !a->close) _exit(status); /* leave the files as a crash would */
  cb_model_free(&k.model);
  cb_batch_free(&k.inflight);
  free(k.want);
  return status;
}

int main(int argc, char **argv) {
  args_t a;
  parse_args(argc, argv, &a);
  if (strcmp(a.mode, "write") == 0) return run_writer(&a);
  if (strcmp(a.mode, "check") == 0) return run_checker(&a);
  usage();
  return 2;
}
