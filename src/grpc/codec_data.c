/*
 * grpc/codec_data.c — owns the gRPC codec of the data-moving services:
 * SnapshotService (list, list of a collection, create, get, delete,
 * restore), UploadService's unary methods (ListUploads, DeleteUpload),
 * PointService/Import and SystemService (object store, dead letters).
 * protobuf → typed arguments (rpc_args_t) and the request's path members,
 * typed results → protobuf; checks and messages as the REST codec's
 * (src/http/codec.c) where the field is the same. Conventions of the
 * contract: proto/akidb/v1/common.proto.
 *
 * Locking: none (stateless; the table is constant). Durability: none of
 * its own; a write is answered only after the service returned.
 */
#include <stdint.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "akidb/v1/points.pb-c.h"
#include "akidb/v1/snapshots.pb-c.h"
#include "akidb/v1/system.pb-c.h"
#include "akidb/v1/uploads.pb-c.h"
#include "grpc/rpc_internal.h"

/* the service's value → proto */
static const int SNAPSHOT_STATE_OUT[] = {
    [AKIDB_SNAPSHOT_CREATING] = AKIDB__V1__SNAPSHOT_STATE__SNAPSHOT_STATE_CREATING,
    [AKIDB_SNAPSHOT_READY] = AKIDB__V1__SNAPSHOT_STATE__SNAPSHOT_STATE_READY,
    [AKIDB_SNAPSHOT_FAILED] = AKIDB__V1__SNAPSHOT_STATE__SNAPSHOT_STATE_FAILED};
static const int BREAKER_OUT[] = {
    [AKIDB_OBJSTORE_BREAKER_CLOSED] = AKIDB__V1__BREAKER_STATE__BREAKER_STATE_CLOSED,
    [AKIDB_OBJSTORE_BREAKER_HALF_OPEN] = AKIDB__V1__BREAKER_STATE__BREAKER_STATE_HALF_OPEN,
    [AKIDB_OBJSTORE_BREAKER_OPEN] = AKIDB__V1__BREAKER_STATE__BREAKER_STATE_OPEN};
static const int DEAD_LETTER_OUT[] = {
    [AKIDB_DEAD_LETTER_COLD_UPLOAD] = AKIDB__V1__DEAD_LETTER_KIND__DEAD_LETTER_KIND_COLD_UPLOAD,
    [AKIDB_DEAD_LETTER_OBJECT_DELETE] =
        AKIDB__V1__DEAD_LETTER_KIND__DEAD_LETTER_KIND_OBJECT_DELETE};

#define OUT(map, v) rpc_out(map, RPC_N_OF(map), (int)(v))

/* ---------------------------------------------------------- snapshots -- */

static int decode_snapshot_list(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                                akidb_svc_error_t *e) {
  rpc_path_in(m, req);
  return rpc_page_in(((const Akidb__V1__ListSnapshotsRequest *)m)->page, &a->u.list.page, e);
}

static int decode_snapshot_list_collection(const ProtobufCMessage *m, rpc_args_t *a,
                                           akidb_request_t *req, akidb_svc_error_t *e) {
  rpc_path_in(m, req);
  return rpc_page_in(((const Akidb__V1__ListCollectionSnapshotsRequest *)m)->page, &a->u.list.page,
                     e);
}

static int decode_restore(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                          akidb_svc_error_t *e) {
  (void)e;
  const Akidb__V1__RestoreSnapshotRequest *r = (const void *)m;
  /* database and collection are the target (arguments), not a path */
  req->tenant = rpc_opt(r->tenant);
  req->snapshot = rpc_opt(r->snapshot);
  a->u.restore.database = rpc_opt(r->database);
  a->u.restore.collection = rpc_opt(r->collection);
  a->u.restore.replace = r->replace;
  return 0;
}

static Akidb__V1__Snapshot *snapshot_of(rpc_arena_t *ar, const akidb_snapshot_t *s,
                                        const char *tenant) {
  Akidb__V1__Snapshot *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__snapshot__init(o);
  o->state = OUT(SNAPSHOT_STATE_OUT, s->state);
  o->points = s->points;
  o->log_seq = s->log_seq;
  o->bytes = s->bytes;
  o->id = rpc_uuid_of(ar, &s->id);
  o->tenant = rpc_text(ar, tenant);
  o->database = rpc_text(ar, s->database_name);
  o->collection = rpc_text(ar, s->collection_name);
  o->collection_id = rpc_uuid_of(ar, &s->collection_id);
  o->error =
      s->state == AKIDB_SNAPSHOT_FAILED ? rpc_text(ar, s->error) : (char *)protobuf_c_empty_string;
  o->created_at = rpc_time_of(ar, s->created_at_ms);
  o->updated_at = rpc_time_of(ar, s->updated_at_ms);
  return o->id && o->tenant && o->database && o->collection && o->collection_id && o->error &&
                 o->created_at && o->updated_at
             ? o
             : NULL;
}

static ProtobufCMessage *encode_snapshot(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_snapshot_result_t *s = &r->result.snapshot;
  Akidb__V1__Snapshot *o = snapshot_of(ar, &s->snapshot, s->tenant);
  return o ? &o->base : NULL;
}

static ProtobufCMessage *encode_snapshots(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_snapshots_result_t *s = &r->result.snapshots;
  Akidb__V1__ListSnapshotsResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__Snapshot **items = rpc_items(ar, s->list.count);
  if (!o || !items) return NULL;
  akidb__v1__list_snapshots_response__init(o);
  for (size_t i = 0; i < s->list.count; i++)
    if (!(items[i] = snapshot_of(ar, &s->list.items[i], s->tenant))) return NULL;
  o->items = items;
  o->n_items = s->list.count;
  o->next = rpc_next_of(ar, s->list.has_more, &s->list.next);
  return o->next ? &o->base : NULL;
}

static ProtobufCMessage *encode_snapshot_deleted(const akidb_response_t *r, rpc_arena_t *ar) {
  (void)r;
  return rpc_empty(ar, &akidb__v1__delete_snapshot_response__descriptor);
}

static ProtobufCMessage *encode_restore(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_restore_result_t *x = &r->result.restore;
  Akidb__V1__RestoreSnapshotResponse *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__restore_snapshot_response__init(o);
  o->points = x->points;
  o->replaced = x->replaced;
  o->snapshot = rpc_uuid_of(ar, &x->snapshot);
  o->database = rpc_text(ar, x->database);
  o->collection = rpc_text(ar, x->collection);
  return o->snapshot && o->database && o->collection ? &o->base : NULL;
}

/* ------------------------------------------------------------ uploads -- */

static ProtobufCMessage *encode_uploads(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_uploads_result_t *u = &r->result.uploads;
  Akidb__V1__ListUploadsResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__Upload **items = rpc_items(ar, u->count);
  if (!o || !items) return NULL;
  akidb__v1__list_uploads_response__init(o);
  for (size_t i = 0; i < u->count; i++) {
    Akidb__V1__Upload *x = items[i] = rpc_alloc(ar, sizeof *x);
    if (!x) return NULL;
    akidb__v1__upload__init(x);
    x->bytes = u->items[i].bytes;
    x->name = rpc_text(ar, u->items[i].name);
    x->modified_at = rpc_time_of(ar, u->items[i].modified_at_ms);
    if (!x->name || !x->modified_at) return NULL;
  }
  o->items = items;
  o->n_items = u->count;
  return &o->base;
}

static ProtobufCMessage *encode_upload_deleted(const akidb_response_t *r, rpc_arena_t *ar) {
  (void)r;
  return rpc_empty(ar, &akidb__v1__delete_upload_response__descriptor);
}

/* ------------------------------------------------------------- import -- */

static int decode_import(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                         akidb_svc_error_t *e) {
  (void)e;
  const Akidb__V1__ImportRequest *x = (const void *)m;
  akidb_import_args_t *i = &a->u.import;
  rpc_path3(req, x->tenant, x->database, x->collection); /* `upload` is an argument */
  i->upload = rpc_opt(x->upload);
  i->id_column = rpc_opt(x->id_column);
  i->vector_column = rpc_opt(x->vector_column);
  i->text_column = rpc_opt(x->text_column);
  i->payload_column = rpc_opt(x->payload_column);
  i->has_extra_columns =
      x->extra_columns_opt_case == AKIDB__V1__IMPORT_REQUEST__EXTRA_COLUMNS_OPT_EXTRA_COLUMNS;
  i->extra_columns = i->has_extra_columns && x->extra_columns;
  return 0;
}

static ProtobufCMessage *encode_import(const akidb_response_t *r, rpc_arena_t *ar) {
  Akidb__V1__ImportResponse *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__import_response__init(o);
  o->imported = r->result.import.imported;
  o->upload = rpc_text(ar, r->result.import.upload);
  return o->upload ? &o->base : NULL;
}

/* ------------------------------------------------------------- system -- */

static int decode_none(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                       akidb_svc_error_t *e) {
  (void)m, (void)a, (void)req, (void)e;
  return 0;
}

static int decode_dead_letters(const ProtobufCMessage *m, rpc_args_t *a, akidb_request_t *req,
                               akidb_svc_error_t *e) {
  (void)req;
  const Akidb__V1__ListDeadLettersRequest *d = (const void *)m;
  if (d->limit > AKIDB_LIST_LIMIT_MAX)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "field 'limit' must be 1..%u (0: the default, %u)",
                               AKIDB_LIST_LIMIT_MAX, AKIDB_LIST_LIMIT_DEFAULT);
  if (d->after > INT64_MAX)
    return akidb_svc_error_set(e, AKIDB_ST_INVALID_ARGUMENT,
                               "field 'after' must be the 'next' of the previous page");
  a->u.dead_letters.limit = d->limit;
  a->u.dead_letters.after = (int64_t)d->after;
  return 0;
}

static Akidb__V1__ObjectStoreKind kind_out(const char *kind) {
  if (strcmp(kind, "local") == 0) return AKIDB__V1__OBJECT_STORE_KIND__OBJECT_STORE_KIND_LOCAL;
  if (strcmp(kind, "s3") == 0) return AKIDB__V1__OBJECT_STORE_KIND__OBJECT_STORE_KIND_S3;
  return AKIDB__V1__OBJECT_STORE_KIND__OBJECT_STORE_KIND_UNSPECIFIED;
}

static ProtobufCMessage *encode_object_store(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_object_store_result_t *s = &r->result.object_store;
  Akidb__V1__ObjectStoreStatus *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__Breaker *b = rpc_alloc(ar, sizeof *b);
  if (!o || !b) return NULL;
  akidb__v1__object_store_status__init(o);
  akidb__v1__breaker__init(b);
  b->state = OUT(BREAKER_OUT, s->stats.breaker_state);
  b->consecutive_failures = s->stats.consecutive_failures;
  b->opens = s->stats.breaker_opens;
  b->probes = s->stats.breaker_probes;
  o->breaker = b;
  o->kind = kind_out(s->kind);
  o->dead_letters = s->dead_letters;
  o->endpoint = rpc_text(ar, s->endpoint);
  return o->endpoint ? &o->base : NULL;
}

static Akidb__V1__DeadLetter *dead_letter_of(rpc_arena_t *ar, const akidb_dead_letter_t *d) {
  Akidb__V1__DeadLetter *o = rpc_alloc(ar, sizeof *o);
  if (!o) return NULL;
  akidb__v1__dead_letter__init(o);
  o->seq = (uint64_t)d->seq;
  o->kind = OUT(DEAD_LETTER_OUT, d->kind);
  o->attempts = d->attempts;
  o->collection_id =
      d->has_collection ? rpc_uuid_of(ar, &d->collection_id) : (char *)protobuf_c_empty_string;
  o->object_key = rpc_text(ar, d->object_key);
  o->last_error = rpc_text(ar, d->last_error);
  o->created_at = rpc_time_of(ar, d->created_at_ms);
  o->next_attempt_at = rpc_time_of(ar, d->next_attempt_at_ms);
  return o->collection_id && o->object_key && o->last_error && o->created_at && o->next_attempt_at
             ? o
             : NULL;
}

static ProtobufCMessage *encode_dead_letters(const akidb_response_t *r, rpc_arena_t *ar) {
  const akidb_dead_letter_list_t *l = &r->result.dead_letters.list;
  Akidb__V1__ListDeadLettersResponse *o = rpc_alloc(ar, sizeof *o);
  Akidb__V1__DeadLetter **items = rpc_items(ar, l->count);
  if (!o || !items) return NULL;
  akidb__v1__list_dead_letters_response__init(o);
  for (size_t i = 0; i < l->count; i++)
    if (!(items[i] = dead_letter_of(ar, &l->items[i]))) return NULL;
  o->items = items;
  o->n_items = l->count;
  o->next = l->has_more ? (uint64_t)l->next_seq : 0;
  return &o->base;
}

/* -------------------------------------------------------------- table -- */

#define SNAPSHOTS "/akidb.v1.SnapshotService/"
#define UPLOADS "/akidb.v1.UploadService/"
#define POINTS "/akidb.v1.PointService/"
#define SYSTEM "/akidb.v1.SystemService/"

const rpc_method_t rpc_data_methods[] = {
    RPC_UNARY_METHOD(SNAPSHOTS "ListCollectionSnapshots", SNAPSHOT_LIST_COLLECTION,
          list_collection_snapshots_request, decode_snapshot_list_collection, encode_snapshots),
    RPC_UNARY_METHOD(SNAPSHOTS "CreateSnapshot", SNAPSHOT_CREATE, create_snapshot_request, rpc_decode_path,
          encode_snapshot),
    RPC_UNARY_METHOD(SNAPSHOTS "ListSnapshots", SNAPSHOT_LIST, list_snapshots_request, decode_snapshot_list,
          encode_snapshots),
    RPC_UNARY_METHOD(SNAPSHOTS "GetSnapshot", SNAPSHOT_GET, get_snapshot_request, rpc_decode_path,
          encode_snapshot),
    RPC_UNARY_METHOD(SNAPSHOTS "DeleteSnapshot", SNAPSHOT_DELETE, delete_snapshot_request, rpc_decode_path,
          encode_snapshot_deleted),
    RPC_UNARY_METHOD(SNAPSHOTS "RestoreSnapshot", SNAPSHOT_RESTORE, restore_snapshot_request, decode_restore,
          encode_restore),
    RPC_UNARY_METHOD(UPLOADS "ListUploads", UPLOAD_LIST, list_uploads_request, rpc_decode_path,
          encode_uploads),
    RPC_UNARY_METHOD(UPLOADS "DeleteUpload", UPLOAD_DELETE, delete_upload_request, rpc_decode_path,
          encode_upload_deleted),
    RPC_UNARY_METHOD(POINTS "Import", POINT_IMPORT, import_request, decode_import, encode_import),
    RPC_UNARY_METHOD(SYSTEM "GetObjectStoreStatus", SYSTEM_OBJECT_STORE, get_object_store_status_request,
          decode_none, encode_object_store),
    RPC_UNARY_METHOD(SYSTEM "ListDeadLetters", SYSTEM_DEAD_LETTERS, list_dead_letters_request,
          decode_dead_letters, encode_dead_letters),
    RPC_METHODS_END,
};
