/*
 * password.c — owns password hashing: Argon2id (libargon2) with a fresh
 * 16-byte salt from getrandom(2), the encoded form that records the cost
 * parameters, constant-time verification (libargon2 compares the digests
 * in constant time), and the "needs rehash" test used to raise costs
 * without a password reset. Stateless.
 */
#include <argon2.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_internal.h"

#define SALT_BYTES 16
#define HASH_BYTES 32

void akidb_argon2_params_default(akidb_argon2_params_t *p) {
  p->t_cost = AKIDB_ARGON2_T_COST_DEFAULT;
  p->m_cost_kib = AKIDB_ARGON2_M_COST_KIB_DEFAULT;
  p->parallelism = AKIDB_ARGON2_PARALLELISM_DEFAULT;
}

int auth_argon2_check(const akidb_argon2_params_t *p, char *err, size_t errlen) {
  if (p->t_cost < 1 || p->t_cost > 64)
    return cat_fail(err, errlen, AKIDB_EINVAL, "argon2 t_cost must be 1..64 (got %u)", p->t_cost);
  if (p->parallelism < 1 || p->parallelism > 16)
    return cat_fail(err, errlen, AKIDB_EINVAL, "argon2 parallelism must be 1..16 (got %u)",
                    p->parallelism);
  if (p->m_cost_kib < 8 * p->parallelism || p->m_cost_kib > 4194304)
    return cat_fail(err, errlen, AKIDB_EINVAL,
                    "argon2 m_cost_kib must be %u..4194304 (8 KiB per lane; got %u)",
                    8 * p->parallelism, p->m_cost_kib);
  return AKIDB_OK;
}

int akidb_password_hash(const char *password, const akidb_argon2_params_t *p, char *out,
                        size_t outlen, char *err, size_t errlen) {
  akidb_argon2_params_t def;
  if (!p) {
    akidb_argon2_params_default(&def);
    p = &def;
  }
  size_t n = password ? strlen(password) : 0;
  if (n < AKIDB_PASSWORD_MIN || n > AKIDB_PASSWORD_MAX)
    return cat_fail(err, errlen, AKIDB_EINVAL, "password must be %u..%u bytes (got %zu)",
                    AKIDB_PASSWORD_MIN, AKIDB_PASSWORD_MAX, n);
  int rc = auth_argon2_check(p, err, errlen);
  if (rc) return rc;
  size_t need = argon2_encodedlen(p->t_cost, p->m_cost_kib, p->parallelism, SALT_BYTES, HASH_BYTES,
                                  Argon2_id);
  if (!out || need > outlen || need > AKIDB_PASSWORD_HASH_MAX + 1)
    return cat_fail(err, errlen, AKIDB_EINVAL, "password hash buffer needs %zu bytes", need);
  uint8_t salt[SALT_BYTES];
  if (auth_random(salt, sizeof salt))
    return cat_fail(err, errlen, AKIDB_EIO, "no randomness for the password salt");
  int a = argon2id_hash_encoded(p->t_cost, p->m_cost_kib, p->parallelism, password, n, salt,
                                sizeof salt, HASH_BYTES, out, outlen);
  if (a == ARGON2_MEMORY_ALLOCATION_ERROR)
    return cat_fail(err, errlen, AKIDB_ENOMEM, "argon2: %s", argon2_error_message(a));
  if (a != ARGON2_OK)
    return cat_fail(err, errlen, AKIDB_EINVAL, "argon2: %s", argon2_error_message(a));
  return AKIDB_OK;
}

int akidb_password_params(const char *encoded, akidb_argon2_params_t *out) {
  unsigned v = 0, m = 0, t = 0, par = 0;
  int used = 0;
  if (!encoded ||
      sscanf(encoded, "$argon2id$v=%u$m=%u,t=%u,p=%u$%n", &v, &m, &t, &par, &used) != 4 ||
      used == 0 || v != ARGON2_VERSION_13)
    return AKIDB_EINVAL;
  out->m_cost_kib = m;
  out->t_cost = t;
  out->parallelism = par;
  return AKIDB_OK;
}

int akidb_password_verify(const char *encoded, const char *password) {
  akidb_argon2_params_t p;
  if (akidb_password_params(encoded, &p) || !password) return AKIDB_EINVAL;
  int a = argon2id_verify(encoded, password, strlen(password));
  if (a == ARGON2_OK) return AKIDB_OK;
  if (a == ARGON2_VERIFY_MISMATCH) return AKIDB_EUNAUTH;
  if (a == ARGON2_MEMORY_ALLOCATION_ERROR) return AKIDB_ENOMEM;
  return AKIDB_EINVAL;
}

bool akidb_password_needs_rehash(const char *encoded, const akidb_argon2_params_t *want) {
  akidb_argon2_params_t have;
  if (akidb_password_params(encoded, &have)) return true;
  return have.t_cost < want->t_cost || have.m_cost_kib < want->m_cost_kib ||
         have.parallelism < want->parallelism;
}
