/*
 * check.h — the unit-test runner: named test functions, asserts that print
 * both operands, and a main() that runs all tests (or those named on the
 * command line) and exits non-zero on the first failure.
 */
#ifndef AKIDB_TEST_CHECK_H
#define AKIDB_TEST_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *name;
  void (*fn)(void);
} check_case_t;

#define CHECK_FAIL(...)                                                        \
  do {                                                                         \
    fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
    fprintf(stderr, __VA_ARGS__);                                              \
    fputc('\n', stderr);                                                       \
    exit(1);                                                                   \
  } while (0)

#define ASSERT_TRUE(c)                                                         \
  do {                                                                         \
    if (!(c)) CHECK_FAIL("expected true: %s", #c);                             \
  } while (0)

#define ASSERT_EQ_INT(a, b)                                                    \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_) CHECK_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);        \
  } while (0)

#define ASSERT_NE_INT(a, b)                                                    \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ == b_) CHECK_FAIL("%s != %s: both %lld", #a, #b, a_);               \
  } while (0)

#define ASSERT_EQ_U64(a, b)                                                    \
  do {                                                                         \
    uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                           \
    if (a_ != b_)                                                              \
      CHECK_FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_);         \
  } while (0)

#define ASSERT_OK(expr)                                                        \
  do {                                                                         \
    int rc_ = (expr);                                                          \
    if (rc_ != 0) CHECK_FAIL("%s returned %d, expected 0", #expr, rc_);        \
  } while (0)

/* a >= b, both printed as doubles. */
#define ASSERT_GE(a, b)                                                        \
  do {                                                                         \
    double a_ = (double)(a), b_ = (double)(b);                                 \
    if (!(a_ >= b_)) CHECK_FAIL("%s >= %s: %.6g < %.6g", #a, #b, a_, b_);      \
  } while (0)

#define ASSERT_LE(a, b)                                                        \
  do {                                                                         \
    double a_ = (double)(a), b_ = (double)(b);                                 \
    if (!(a_ <= b_)) CHECK_FAIL("%s <= %s: %.6g > %.6g", #a, #b, a_, b_);      \
  } while (0)

/* |a - b| <= tol */
#define ASSERT_NEAR(a, b, tol)                                                 \
  do {                                                                         \
    double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);             \
    if (!(fabs(a_ - b_) <= t_))                                                \
      CHECK_FAIL("%s ~= %s: %.9g vs %.9g (tolerance %.3g)", #a, #b, a_, b_,     \
                 t_);                                                          \
  } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                       \
  do {                                                                         \
    const char *h_ = (hay), *n_ = (needle);                                    \
    if (!h_ || !strstr(h_, n_))                                                \
      CHECK_FAIL("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_);    \
  } while (0)

#define ASSERT_STR_EQ(a, b)                                                    \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                     \
      CHECK_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",     \
                 b_ ? b_ : "(null)");                                          \
  } while (0)

#define CHECK_CASE(fn) {#fn, fn}

/* Runs the cases named in argv (all when none), printing one line each. */
static inline int check_main(int argc, char **argv, const check_case_t *cases,
                             size_t n) {
  int ran = 0;
  for (size_t i = 0; i < n; i++) {
    int wanted = argc < 2;
    for (int a = 1; a < argc; a++)
      if (strcmp(argv[a], cases[i].name) == 0) wanted = 1;
    if (!wanted) continue;
    fprintf(stderr, "run  %s\n", cases[i].name);
    cases[i].fn();
    fprintf(stderr, "ok   %s\n", cases[i].name);
    ran++;
  }
  if (ran == 0) {
    fprintf(stderr, "no test matched\n");
    return 1;
  }
  return 0;
}

#define CHECK_MAIN(...)                                                        \
  int main(int argc, char **argv) {                                            \
    static const check_case_t cases_[] = {__VA_ARGS__};                        \
    return check_main(argc, argv, cases_, sizeof cases_ / sizeof cases_[0]);   \
  }

#endif /* AKIDB_TEST_CHECK_H */
