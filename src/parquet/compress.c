/*
 * parquet/compress.c — page codecs: UNCOMPRESSED, SNAPPY (libsnappy's C
 * API), GZIP (zlib; reads gzip or zlib streams, writes gzip) and ZSTD
 * (libzstd, one reusable context each way). Decompression always targets
 * the exact size the page header declares and fails on any other result,
 * ZSTD pages carry zstd's frame checksum, which the reader verifies,
 * so a lying header cannot make it write past or allocate beyond that
 * size. LZO, BROTLI, LZ4 and LZ4_RAW are refused by the caller.
 * Locking: a pq_codec_ctx_t belongs to one writer or one column reader.
 * Durability: none.
 */
#include <snappy-c.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "parquet/pq_internal.h"

struct pq_codec_ctx {
  ZSTD_CCtx *cctx;
  ZSTD_DCtx *dctx;
};

pq_codec_ctx_t *pq_codec_ctx_new(void) { return calloc(1, sizeof(pq_codec_ctx_t)); }

void pq_codec_ctx_free(pq_codec_ctx_t *c) {
  if (!c) return;
  ZSTD_freeCCtx(c->cctx);
  ZSTD_freeDCtx(c->dctx);
  free(c);
}

const char *pq_codec_name(int codec) {
  static const char *names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
  if (codec >= 0 && codec < (int)(sizeof names / sizeof names[0]))
    return names[codec];
  return "unknown";
}

bool pq_codec_supported(int codec) {
  return codec == PQ_CODEC_UNCOMPRESSED || codec == PQ_CODEC_SNAPPY ||
         codec == PQ_CODEC_GZIP || codec == PQ_CODEC_ZSTD;
}

static int gzip_compress(const void *src, size_t n, pq_buf_t *out, int level,
                         char *err, size_t errlen) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, level > 0 && level <= 9 ? level : 6, Z_DEFLATED, 31, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK)
    return pq_fail(err, errlen, AKIDB_ENOMEM, "gzip: cannot initialise");
  uLong bound = deflateBound(&z, (uLong)n) + 32;
  if (!pq_buf_reserve(out, bound)) {
    deflateEnd(&z);
    return pq_fail(err, errlen, AKIDB_ENOMEM, "gzip: out of memory");
  }
  z.next_in = (Bytef *)(uintptr_t)src;
  z.avail_in = (uInt)n;
  z.next_out = out->data;
  z.avail_out = (uInt)bound;
  int rc = deflate(&z, Z_FINISH);
  out->len = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END)
    return pq_fail(err, errlen, AKIDB_EIO, "gzip: compression failed (%d)", rc);
  return 0;
}

int pq_compress(pq_codec_ctx_t *c, int codec, int level, const void *src,
                size_t n, pq_buf_t *out, char *err, size_t errlen) {
  out->len = 0;
  switch (codec) {
  case PQ_CODEC_UNCOMPRESSED:
    pq_buf_put(out, src, n);
    return out->oom ? pq_fail(err, errlen, AKIDB_ENOMEM, "out of memory") : 0;
  case PQ_CODEC_SNAPPY: {
    size_t cap = snappy_max_compressed_length(n);
    if (!pq_buf_reserve(out, cap))
      return pq_fail(err, errlen, AKIDB_ENOMEM, "snappy: out of memory");
    if (snappy_compress(src, n, (char *)out->data, &cap) != SNAPPY_OK)
      return pq_fail(err, errlen, AKIDB_EIO, "snappy: compression failed");
    out->len = cap;
    return 0;
  }
  case PQ_CODEC_GZIP:
    return gzip_compress(src, n, out, level, err, errlen);
  case PQ_CODEC_ZSTD: {
    if (!c->cctx && !(c->cctx = ZSTD_createCCtx()))
      return pq_fail(err, errlen, AKIDB_ENOMEM, "zstd: out of memory");
    size_t cap = ZSTD_compressBound(n);
    if (!pq_buf_reserve(out, cap))
      return pq_fail(err, errlen, AKIDB_ENOMEM, "zstd: out of memory");
    /* A checksum per page (xxhash64, far faster than the compression)
     * lets the reader tell a damaged page from a valid one. */
    ZSTD_CCtx_reset(c->cctx, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 1);
    size_t r = ZSTD_compress2(c->cctx, out->data, cap, src, n);
    if (ZSTD_isError(r))
      return pq_fail(err, errlen, AKIDB_EIO, "zstd: %s", ZSTD_getErrorName(r));
    out->len = r;
    return 0;
  }
  default:
    return pq_fail(err, errlen, AKIDB_ENOTSUP, "the writer cannot use codec %s",
                   pq_codec_name(codec));
  }
}

static int gzip_decompress(const void *src, size_t n, void *dst,
                           size_t dst_len, char *err, size_t errlen) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (inflateInit2(&z, 15 + 32) != Z_OK) /* gzip or zlib header */
    return pq_fail(err, errlen, AKIDB_ENOMEM, "gzip: cannot initialise");
  z.next_in = (Bytef *)(uintptr_t)src;
  z.avail_in = (uInt)n;
  z.next_out = dst;
  z.avail_out = (uInt)dst_len;
  int rc;
  /* Concatenated members: restart after each stream end while input remains. */
  for (;;) {
    rc = inflate(&z, Z_FINISH);
    if (rc == Z_STREAM_END && z.avail_in > 0 && z.avail_out > 0) {
      if (inflateReset(&z) != Z_OK) break;
      continue;
    }
    break;
  }
  const char *msg = z.msg;
  inflateEnd(&z);
  if (rc != Z_STREAM_END)
    return pq_fail(err, errlen, AKIDB_ECORRUPT, "gzip: %s",
                   msg ? msg : (rc == Z_BUF_ERROR ? "data longer than the page "
                                                    "header says or truncated"
                                                  : "corrupt data"));
  if (z.next_out != (Bytef *)dst + dst_len)
    return pq_fail(err, errlen, AKIDB_ECORRUPT,
                   "gzip: decompressed to fewer bytes than the page header's %zu",
                   dst_len);
  return 0;
}

int pq_decompress(pq_codec_ctx_t *c, int codec, const void *src, size_t n,
                  void *dst, size_t dst_len, char *err, size_t errlen) {
  switch (codec) {
  case PQ_CODEC_UNCOMPRESSED:
    if (n != dst_len)
      return pq_fail(err, errlen, AKIDB_ECORRUPT,
                     "uncompressed page of %zu bytes, the header says %zu", n,
                     dst_len);
    memcpy(dst, src, n);
    return 0;
  case PQ_CODEC_SNAPPY: {
    size_t want;
    if (snappy_uncompressed_length(src, n, &want) != SNAPPY_OK)
      return pq_fail(err, errlen, AKIDB_ECORRUPT, "snappy: corrupt data");
    if (want != dst_len)
      return pq_fail(err, errlen, AKIDB_ECORRUPT,
                     "snappy: data decompresses to %zu bytes, the page header "
                     "says %zu", want, dst_len);
    size_t got = dst_len;
    if (snappy_uncompress(src, n, dst, &got) != SNAPPY_OK || got != dst_len)
      return pq_fail(err, errlen, AKIDB_ECORRUPT, "snappy: corrupt data");
    return 0;
  }
  case PQ_CODEC_GZIP:
    return gzip_decompress(src, n, dst, dst_len, err, errlen);
  case PQ_CODEC_ZSTD: {
    if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
      return pq_fail(err, errlen, AKIDB_ENOMEM, "zstd: out of memory");
    size_t r = ZSTD_decompressDCtx(c->dctx, dst, dst_len, src, n);
    if (ZSTD_isError(r))
      return pq_fail(err, errlen, AKIDB_ECORRUPT, "zstd: %s",
                     ZSTD_getErrorName(r));
    if (r != dst_len)
      return pq_fail(err, errlen, AKIDB_ECORRUPT,
                     "zstd: data decompresses to %zu bytes, the page header "
                     "says %zu", r, dst_len);
    return 0;
  }
  default:
    return pq_fail(err, errlen, AKIDB_ENOTSUP,
                   "uses codec %s, which AkiDB cannot read; rewrite with zstd "
                   "or snappy", pq_codec_name(codec));
  }
}
