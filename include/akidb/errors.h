/*
 * akidb/errors.h — error codes shared by every AkiDB module.
 *
 * Every fallible call returns 0 (AKIDB_OK) or one of the negative codes below.
 * There is no global error state. Calls that can fail for a reason the caller
 * must fix (bad parameters, a foreign file) also take an optional
 * `char *err, size_t errlen` buffer that receives one sentence saying what
 * to fix; the buffer may be NULL.
 */
#ifndef AKIDB_ERRORS_H
#define AKIDB_ERRORS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message): one table generates the enum, strerror and name. */
#define AKIDB_ERROR_MAP(X)                                                     \
  X(OK, 0, "success")                                                          \
  X(EINVAL, -1, "invalid argument")                                            \
  X(ENOMEM, -2, "out of memory")                                               \
  X(EIO, -3, "input/output error")                                             \
  X(ECORRUPT, -4, "data is corrupt (checksum mismatch or truncated)")          \
  X(EFORMAT, -5, "not a file of the expected AkiDB kind")                      \
  X(EVERSION, -6, "file format version is not supported by this build")        \
  X(ENOTFOUND, -7, "not found")                                                \
  X(EEXIST, -8, "already exists")                                              \
  X(EDIM, -9, "vector dimension does not match")                               \
  X(EVALUE, -10, "vector holds NaN, Inf or an unusable value")                 \
  X(ENOTSUP, -11, "not supported on this CPU or build")                        \
  X(ELIMIT, -12, "size limit exceeded")                                        \
  X(EPERM, -13, "permission denied")                                           \
  X(EUNAUTH, -14, "not authenticated (credentials missing, wrong or expired)") \
  X(ETRANSITION, -15, "invalid state transition")                              \
  X(EQUOTA, -16, "quota exceeded")                                             \
  X(ERATELIMIT, -17, "rate limited: too many attempts, retry later")           \
  X(ECONFLICT, -18, "conflicts with the resource's current state")             \
  X(EBUSY, -19, "busy: too much work is pending, retry later")                 \
  X(EUNAVAILABLE, -20, "a remote service is unavailable or failing")           \
  X(ETIMEDOUT, -21, "timed out")

typedef enum {
#define AKIDB_ERROR_ENUM(name, value, msg) AKIDB_##name = (value),
  AKIDB_ERROR_MAP(AKIDB_ERROR_ENUM)
#undef AKIDB_ERROR_ENUM
} akidb_err_t;

/* Human-readable description of an error code; never NULL. */
const char *akidb_strerror(int err);

/* Symbolic name of an error code ("AKIDB_EINVAL"); never NULL. */
const char *akidb_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* AKIDB_ERRORS_H */
