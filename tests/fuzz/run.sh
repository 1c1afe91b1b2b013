#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD_DIR SECONDS — runs every libFuzzer harness listed in
# BUILD_DIR/tests/fuzz/harnesses.txt (written by tests/fuzz/CMakeLists.txt
# with -DAKIDB_FUZZ=ON) for SECONDS each. New inputs go to
# BUILD_DIR/fuzz-corpus/<name>/ (the checked-in seeds in
# tests/fuzz/corpus/<name>/ are read, never written); a crash leaves its
# input in BUILD_DIR/fuzz-artifacts/<name>/ and fails the run.
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR SECONDS}
seconds=${2:-300}
list="$build/tests/fuzz/harnesses.txt"
[ -s "$list" ] || { echo "run.sh: no harnesses in $list (configure with -DAKIDB_FUZZ=ON)" >&2; exit 2; }
status=0
while read -r name bin seeds; do
  work="$build/fuzz-corpus/$name"
  art="$build/fuzz-artifacts/$name"
  mkdir -p "$work" "$art"
  echo "=== $name: $seconds s ==="
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds"; then
    echo "=== $name FAILED: see $art/" >&2
    status=1
  fi
done <"$list"
exit $status
