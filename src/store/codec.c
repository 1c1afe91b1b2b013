/*
 * codec.c — the bodies of a collection's log records (little-endian):
 *
 *   REC_UPSERT  u32 count, then per point:
 *               u32 id_len, u32 payload_len | flag, u32 text_len | flag,
 *               id bytes, payload bytes, text bytes, dim × f32 (as given)
 *               (flag = bit 31: the field is present; absent and empty differ)
 *   REC_DELETE  u32 count, then per id: u32 id_len, id bytes
 *
 * One batch is one record, so the log's record framing makes it atomic.
 * An upsert is handed to the log as pieces (codec_gather_upsert): the
 * count and each point's lengths, id, payload and text packed into one
 * small block, each vector taken from the caller's array, so the batch's
 * floats are never copied before the log's write. Stateless.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define PRESENT 0x80000000u

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
  return p + 4;
}

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t n) {
  if (n) memcpy(p, src, n);
  return p + n;
}

/* The bytes of point i's fields before its vector: three lengths, id,
 * payload, text. */
static size_t meta_bytes(const akidb_point_t *pt) {
  return 12 + pt->id_len + (pt->payload ? pt->payload_len : 0) + (pt->text ? pt->text_len : 0);
}

int codec_gather_upsert(const akidb_point_t *pts, size_t n, uint32_t dim, codec_pieces_t *out) {
  size_t meta = 4;
  for (size_t i = 0; i < n; i++) meta += meta_bytes(&pts[i]);
  *out = (codec_pieces_t){.meta = malloc(meta), .iov = malloc((n ? 2 * n : 1) * sizeof *out->iov)};
  if (!out->meta || !out->iov) {
    codec_pieces_free(out);
    return AKIDB_ENOMEM;
  }
  uint8_t *p = put_u32(out->meta, (uint32_t)n), *from = out->meta;
  for (size_t i = 0; i < n; i++) {
    const akidb_point_t *pt = &pts[i];
    size_t plen = pt->payload ? pt->payload_len : 0, tlen = pt->text ? pt->text_len : 0;
    p = put_u32(p, (uint32_t)pt->id_len);
    p = put_u32(p, (uint32_t)plen | (pt->payload ? PRESENT : 0));
    p = put_u32(p, (uint32_t)tlen | (pt->text ? PRESENT : 0));
    p = put_bytes(p, pt->id, pt->id_len);
    p = put_bytes(p, pt->payload, plen);
    p = put_bytes(p, pt->text, tlen);
    out->iov[out->iovcnt++] = (struct iovec){from, (size_t)(p - from)};
    out->iov[out->iovcnt++] = (struct iovec){(void *)pt->vector, (size_t)dim * 4};
    from = p;
  }
  out->len = meta + n * (size_t)dim * 4;
  return AKIDB_OK;
}

void codec_pieces_free(codec_pieces_t *p) {
  free(p->meta);
  free(p->iov);
  *p = (codec_pieces_t){0};
}

int codec_encode_delete(const char *const *ids, const size_t *lens, size_t n, void **out,
                        size_t *len) {
  size_t total = 4;
  for (size_t i = 0; i < n; i++) total += 4 + lens[i];
  uint8_t *buf = malloc(total), *p = buf;
  if (!buf) return AKIDB_ENOMEM;
  p = put_u32(p, (uint32_t)n);
  for (size_t i = 0; i < n; i++) {
    p = put_u32(p, (uint32_t)lens[i]);
    p = put_bytes(p, ids[i], lens[i]);
  }
  *out = buf;
  *len = total;
  return AKIDB_OK;
}

static int get_u32(codec_reader_t *r, uint32_t *v) {
  if (r->end - r->p < 4) return AKIDB_ECORRUPT;
  memcpy(v, r->p, 4);
  r->p += 4;
  return AKIDB_OK;
}

/* Takes n bytes as a view; ECORRUPT if the record is shorter. */
static int get_view(codec_reader_t *r, size_t n, const uint8_t **out) {
  if ((size_t)(r->end - r->p) < n) return AKIDB_ECORRUPT;
  *out = r->p;
  r->p += n;
  return AKIDB_OK;
}

int codec_begin(codec_reader_t *r, const void *data, size_t len, uint32_t dim) {
  r->p = data;
  r->end = r->p + len;
  r->index = 0;
  r->dim = dim;
  return get_u32(r, &r->count);
}

int codec_next_upsert(codec_reader_t *r, akidb_point_t *pt, const uint8_t **vec) {
  if (r->index == r->count) return r->p == r->end ? 0 : AKIDB_ECORRUPT;
  uint32_t id_len, plen, tlen;
  const uint8_t *id, *payload, *text;
  if (get_u32(r, &id_len) || get_u32(r, &plen) || get_u32(r, &tlen)) return AKIDB_ECORRUPT;
  if (id_len == 0 || id_len > AKIDB_POINT_ID_MAX || (plen & ~PRESENT) > AKIDB_PAYLOAD_MAX ||
      (tlen & ~PRESENT) > AKIDB_TEXT_MAX)
    return AKIDB_ECORRUPT;
  if (get_view(r, id_len, &id) || get_view(r, plen & ~PRESENT, &payload) ||
      get_view(r, tlen & ~PRESENT, &text) || get_view(r, (size_t)r->dim * 4, vec))
    return AKIDB_ECORRUPT;
  pt->id = (const char *)id;
  pt->id_len = id_len;
  pt->payload = (plen & PRESENT) ? (const char *)payload : NULL;
  pt->payload_len = plen & ~PRESENT;
  pt->text = (tlen & PRESENT) ? (const char *)text : NULL;
  pt->text_len = tlen & ~PRESENT;
  pt->vector = NULL;
  r->index++;
  return 1;
}

int codec_next_delete(codec_reader_t *r, const char **id, size_t *len) {
  if (r->index == r->count) return r->p == r->end ? 0 : AKIDB_ECORRUPT;
  uint32_t id_len;
  const uint8_t *p;
  if (get_u32(r, &id_len) || id_len == 0 || id_len > AKIDB_POINT_ID_MAX ||
      get_view(r, id_len, &p))
    return AKIDB_ECORRUPT;
  *id = (const char *)p;
  *len = id_len;
  r->index++;
  return 1;
}
