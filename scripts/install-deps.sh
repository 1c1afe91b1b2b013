#!/usr/bin/env bash
# Installs the Debian packages AkiDB needs. Idempotent: quiet and fast when
# everything is present; runs `apt-get update` once, only when something is
# missing.
#   install-deps.sh           everything: building, testing, benchmarking
#   install-deps.sh --server  only what building and running `akidb serve`
#                             needs (what `make run` uses), plus curl and jq
#                             for the README's quickstart and protoc-c for
#                             the gRPC contract's C code
set -euo pipefail

# Building the akidb program and running it.
PACKAGES=(
  build-essential cmake pkg-config
  libsqlite3-dev libargon2-dev libssl-dev libjansson-dev libmicrohttpd-dev
  libcurl4-openssl-dev libzstd-dev libsnappy-dev zlib1g-dev
  curl jq
  # The gRPC contract (proto/): protoc-c generates the C of akidb_proto.
  protobuf-c-compiler libprotobuf-c-dev
)
if [ "${1:-}" != "--server" ]; then
  # Tests (aarch64 cross build under qemu, pytest, promtool), benchmarks.
  PACKAGES+=(
    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
    libhnswlib-dev libfaiss-dev libopenblas-dev
    sqlite3 prometheus
    python3 python3-pytest python3-requests python3-jsonschema python3-hypothesis python3-yaml
    python3-numpy python3-boto3 clang
    # gRPC: the C core the transport will link, and the Python stubs of
    # tests/integration/grpc_stubs.py (protoc, grpc_python_plugin, grpcio).
    # libabsl-dev: src/grpc/absl_mode.cc sets an option of abseil, the C core's
    # C++ base library (libgrpc-dev pulls it in too).
    libgrpc-dev libabsl-dev protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
    # The offline checks of deploy/ (tests/deploy): YAML lint, `docker-compose
    # config` (Debian's compose 1.29, no engine needed).
    yamllint docker-compose
  )
  # ... and `kubectl kustomize`: Debian's kubectl (kubernetes-client) unless
  # a kubectl is already on PATH (its package would conflict with it).
  if ! command -v kubectl >/dev/null 2>&1; then
    PACKAGES+=(kubernetes-client)
  fi
  # The OpenAPI lint (@redocly/cli) runs under Node.js: use the node/npm on
  # PATH (this project's machines ship Node.js 20); Debian's when there is none.
  if ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
