#!/usr/bin/env bash
# Runs every AkiDB test stage and ends with one summary line CI can read:
#   1. release build (-O3), all unit tests
#   2. ASan+UBSan build, all unit tests
#   3. ThreadSanitizer build, the tests labelled "concurrency" (in parallel): the
#      concurrency unit tests, test_service, and the integration files listed
#      in tests/integration/CMakeLists.txt against the TSan-built `akidb`
#      (a race aborts the server and fails the test with the report)
#   4. aarch64 cross build (static) under qemu-aarch64: the tests labelled
#      "arm", once on the default CPU (NEON) and once as a Cortex-A57, which
#      lacks the optional extensions (SVE, fp16, dot product)
# A stage that fails (its build, or any of its tests) stops the run; the
# summary is printed either way, the last line being
#   Total: N passed, M failed
# and the exit status is non-zero when M > 0.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
total_pass=0
total_fail=0
stages=()

# Prints the stages run so far and the totals, then exits with status $1.
finish() {
  echo "=== summary ==="
  for s in "${stages[@]}"; do echo "  $s"; done
  echo "Total: $total_pass passed, $total_fail failed"
  exit "$1"
}

configure_build() { # dir, cmake args...
  local dir=$1; shift
  local log; log=$(mktemp)
  echo "=== build $dir ==="
  if ! { cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j "$JOBS"; } >"$log" 2>&1; then
    cat "$log"
    rm -f "$log"
    echo "build of $dir failed"
    stages+=("build $dir: FAILED")
    total_fail=$(( total_fail + 1 ))
    finish 1
  fi
  rm -f "$log"
}

run_ctest() { # stage-name, dir, ctest args...
  local name=$1 dir=$2; shift 2
  local log; log=$(mktemp)
  echo "=== $name ==="
  set +e
  (cd "$dir" && ctest --output-on-failure --timeout 900 "$@") 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  set -e
  # ctest's own count: "NN% tests passed, F tests failed out of T".
  local line; line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1 || true)
  rm -f "$log"
  local failed=0 total=0
  if [ -n "$line" ]; then
    failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  fi
  # No count (ctest itself failed, or found no tests) or a non-zero exit
  # with no failed test counted: the stage still counts as one failure.
  if [ "$failed" -eq 0 ] && { [ -z "$line" ] || [ "$rc" -ne 0 ] || [ "$total" -eq 0 ]; }; then
    failed=1
    [ "$total" -eq 0 ] && total=1
  fi
  total_pass=$(( total_pass + total - failed ))
  total_fail=$(( total_fail + failed ))
  if [ "$failed" -ne 0 ]; then
    stages+=("$name: $(( total - failed ))/$total, FAILED ($failed failed, ctest exit $rc)")
    echo "stage '$name' failed"
    finish 1
  fi
  stages+=("$name: $total/$total")
}

configure_build build/release -DCMAKE_BUILD_TYPE=Release -DAKIDB_WERROR=ON
run_ctest "release" build/release -j "$JOBS"

configure_build build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAKIDB_SANITIZE=address -DAKIDB_SHARED=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest "asan+ubsan" build/asan -j "$JOBS"

# TSAN_OPTIONS reaches the unit tests and, through pytest, every `akidb
# serve` of the integration files (tests/integration/CMakeLists.txt sets the
# same for a ctest run by hand).
configure_build build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAKIDB_SANITIZE=thread -DAKIDB_SHARED=OFF
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp \
  run_ctest "tsan" build/tsan -L concurrency -j "$JOBS"

configure_build build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DAKIDB_SHARED=OFF -DAKIDB_TEST_SMALL=ON -DAKIDB_SERVER=OFF
QEMU_CPU=max run_ctest "aarch64 (qemu, neon)" build/aarch64 -L arm -j "$JOBS"
QEMU_CPU=cortex-a57 AKIDB_EXPECT_NO_SVE=1 \
  run_ctest "aarch64 (qemu, cortex-a57)" build/aarch64 -L arm -j "$JOBS"

finish 0
