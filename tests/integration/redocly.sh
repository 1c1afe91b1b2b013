#!/usr/bin/env bash
# tests/integration/redocly.sh — runs the @redocly/cli pinned by package.json
# (and package-lock.json) next to this script, from the repository root.
# The first run, and any run after the pin changed, installs it with npm into
# build/npm (or $AKIDB_NPM_DIR); nothing is installed in the source tree.
# A lock file serialises concurrent installs.
#
#   tests/integration/redocly.sh lint docs/openapi.yaml
#
# Exit status: redocly's; 127 when npm is missing; 3 when the install fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=${AKIDB_NPM_DIR:-$root/build/npm}
bin="$dir/node_modules/.bin/redocly"

mkdir -p "$dir"
pins=("$here/package.json")
[ -f "$here/package-lock.json" ] && pins+=("$here/package-lock.json")
stamp=$(cat "${pins[@]}" | sha256sum | cut -d' ' -f1)

install_tools() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "redocly.sh: npm is not installed; install Node.js >= 20.19 with npm" \
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
    echo "redocly.sh: 'npm $cmd' could not install @redocly/cli into $dir;" \
      "check that the npm registry is reachable (proxy settings, network) and run again" >&2
    exit 3
  fi
  echo "$stamp" >"$dir/.stamp"
}

(
  flock 9
  if [ ! -x "$bin" ] || [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
    install_tools
  fi
) 9>"$dir/.lock"

cd "$root"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
exec "$bin" "$@"
