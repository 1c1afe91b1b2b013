/*
 * tests/fuzz/fuzz_parquet.c — libFuzzer harness for the Parquet reader and
 * the import path (src/parquet/): the input is a whole file; it is opened
 * from memory, its schema and every column chunk's footer facts are read,
 * and rows are imported (dimension inferred from the first row) until the
 * end, an error, or MAX_ROWS. Any crash, leak, sanitizer report or hang is
 * a bug; errors are the expected outcome for most inputs.
 *
 * Limits are smaller than the defaults so a single input stays within
 * libFuzzer's memory limit: a tiny file can still describe a page of
 * max_page_bytes / 4 values (RLE runs), which is legitimate, and rows are
 * capped because a few kilobytes of dictionary runs can decode to millions
 * of them.
 */
#include <stdint.h>
#include <string.h>

#include "parquet/parquet.h"

#define MAX_ROWS 20000

typedef struct {
  const uint8_t *p;
  size_t len;
} src_t;

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len) {
  const src_t *s = ctx;
  if (off > s->len || len > s->len - off) return -1;
  memcpy(buf, s->p + off, len);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  src_t s = {data, size};
  pq_reader_limits_t lim = {.max_footer_bytes = 1u << 20,
                            .max_page_bytes = 4u << 20,
                            .max_columns = 1000};
  pq_reader_t *r;
  char err[512];
  if (pq_reader_open(mem_read, &s, size, &lim, &r, err, sizeof err)) return 0;
  size_t nf;
  const pq_field_t *f = pq_reader_fields(r, &nf);
  size_t names = 0;
  for (size_t i = 0; i < nf; i++) names += strlen(f[i].name) + strlen(f[i].logical);
  for (size_t g = 0; g < pq_reader_num_row_groups(r); g++)
    for (size_t c = 0; c < pq_reader_num_columns(r); c++) {
      pq_chunk_info_t ci;
      if (pq_reader_chunk_info(r, g, c, &ci) == 0 && ci.min_value && ci.min_len)
        names += ci.min_value[0];
    }
  pq_import_t *it;
  if (pq_import_open(r, NULL, &it, err, sizeof err) == 0) {
    pq_row_t row;
    for (int n = 0; n < MAX_ROWS && pq_import_next(it, &row, err, sizeof err) == 1; n++) {
      names += row.id_len + row.payload_len + row.text_len;
      if (row.dimension) names += row.vector[row.dimension - 1] > 0;
    }
    pq_import_free(it);
  }
  pq_reader_free(r);
  return names == (size_t)-1; /* keep the reads observable */
}
