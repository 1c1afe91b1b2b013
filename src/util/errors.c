/*
 * errors.c — owns the text of AkiDB's error codes (generated from the
 * AKIDB_ERROR_MAP table in akidb/errors.h) and errf, the "fill err, return
 * the code" helper (util/errf.h). Stateless.
 */
#include <stdarg.h>
#include <stdio.h>

#include "akidb/errors.h"
#include "util/errf.h"

const char *akidb_strerror(int err) {
  switch (err) {
#define AKIDB_ERROR_TEXT(name, value, msg) \
  case value:                              \
    return msg;
    AKIDB_ERROR_MAP(AKIDB_ERROR_TEXT)
#undef AKIDB_ERROR_TEXT
  default:
    return "unknown error";
  }
}

const char *akidb_err_name(int err) {
  switch (err) {
#define AKIDB_ERROR_NAME(name, value, msg) \
  case value:                              \
    return "AKIDB_" #name;
    AKIDB_ERROR_MAP(AKIDB_ERROR_NAME)
#undef AKIDB_ERROR_NAME
  default:
    return "AKIDB_EUNKNOWN";
  }
}

int errf(char *err, size_t errlen, int code, const char *fmt, ...) {
  if (err && errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}
