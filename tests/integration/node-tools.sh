#!/usr/bin/env bash
# tests/integration/node-tools.sh — the Node tools of the tests, pinned by
# package.json and package-lock.json next to this script: @redocly/cli (the
# OpenAPI lint), s3rver (an S3 server on loopback), @duckdb/node-api and
# hyparquet (independent Parquet readers). The first run, and any run after
# the pins changed, installs them with npm into build/npm (or
# $AKIDB_NPM_DIR); nothing is installed in the source tree. A lock file
# serialises concurrent installs.
#
#   tests/integration/node-tools.sh redocly lint docs/openapi.yaml
#                         runs node_modules/.bin/<tool> from the repository root
#   tests/integration/node-tools.sh --dir
#                         installs, then prints the directory holding
#                         node_modules (for NODE_PATH or `node -e`)
#
# Exit status: the tool's; 127 when npm is missing; 3 when the install fails;
# 2 for a tool that is not installed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${AKIDB_NPM_DIR:-$root/build/npm}
stamp_file="$dir/.stamp"

mkdir -p "$dir"
pins=("$here/package.json")
[ -f "$here/package-lock.json" ] && pins+=("$here/package-lock.json")
stamp=$(cat "${pins[@]}" | sha256sum | cut -d' ' -f1)

install_tools() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "node-tools.sh: npm is not installed; install Node.js >= 20.19 with npm" \
      "(scripts/install-deps.sh) and run again" >&2
    exit 127
  fi
  cp "$here/package.json" "$dir/package.json"
  local cmd=install
  if [ -f "$here/package-lock.json" ]; then
    cp "$here/package-lock.json" "$dir/package-lock.json"
    cmd=ci
  fi
  if ! npm "$cmd" --prefix "$dir" --no-audit --no-fund --loglevel=error >&2; then
    echo "node-tools.sh: 'npm $cmd' could not install the test tools into $dir;" \
      "check that the npm registry is reachable (proxy settings, network) and run again" >&2
    exit 3
  fi
  echo "$stamp" >"$stamp_file"
}

(
  flock 9
  if [ "$(cat "$stamp_file" 2>/dev/null)" != "$stamp" ]; then
    install_tools
  fi
) 9>"$dir/.lock"

if [ "${1:-}" = "--dir" ]; then
  echo "$dir"
  exit 0
fi
tool=${1:?usage: node-tools.sh TOOL [ARGS...] | --dir}
shift
bin="$dir/node_modules/.bin/$tool"
if [ ! -x "$bin" ]; then
  echo "node-tools.sh: no tool '$tool' in $dir/node_modules/.bin (see package.json)" >&2
  exit 2
fi
cd "$root"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
exec "$bin" "$@"
