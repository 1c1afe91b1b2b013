#!/usr/bin/env bash
# Runs every AkiDB test stage and ends with one summary line CI can read:
#   1. release build (-O3), all unit tests
#   2. ASan+UBSan build, all unit tests
#   3. ThreadSanitizer build, the tests labelled "concurrency"
#   4. aarch64 cross build (static) under qemu-aarch64: the tests labelled
#      "arm", once on the default CPU (NEON) and once as a Cortex-A57, which
#      lacks the optional extensions (SVE, fp16, dot product)
# A stage that fails stops the run with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
total_pass=0
total_fail=0
stages=()

configure_build() { # dir, cmake args...
  local dir=$1; shift
  local log; log=$(mktemp)
  echo "=== build $dir ==="
  if ! { cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j "$JOBS"; } >"$log" 2>&1; then
    cat "$log"
    echo "build of $dir failed"
    echo "0 passed, 1 failed"
    exit 1
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
  local line; line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
  rm -f "$log"
  local failed total
  failed=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  if [ -z "$line" ] || [ "$rc" -ne 0 ]; then
    echo "stage '$name' failed"
    echo "${total_pass:-0} passed, $(( total_fail + ${failed:-1} )) failed"
    exit 1
  fi
  total_pass=$(( total_pass + total - failed ))
  stages+=("$name: $(( total - failed ))/$total")
}

configure_build build/release -DCMAKE_BUILD_TYPE=Release -DAKIDB_WERROR=ON
run_ctest "release" build/release -j "$JOBS"

configure_build build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAKIDB_SANITIZE=address -DAKIDB_SHARED=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest "asan+ubsan" build/asan -j "$JOBS"

configure_build build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAKIDB_SANITIZE=thread -DAKIDB_SHARED=OFF
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  run_ctest "tsan" build/tsan -L concurrency

configure_build build/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DAKIDB_SHARED=OFF -DAKIDB_TEST_SMALL=ON -DAKIDB_SERVER=OFF
QEMU_CPU=max run_ctest "aarch64 (qemu, neon)" build/aarch64 -L arm -j "$JOBS"
QEMU_CPU=cortex-a57 AKIDB_EXPECT_NO_SVE=1 \
  run_ctest "aarch64 (qemu, cortex-a57)" build/aarch64 -L arm -j "$JOBS"

echo "=== summary ==="
for s in "${stages[@]}"; do echo "  $s"; done
echo "Total: $total_pass passed, $total_fail failed"
