#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking AkiDB
# needs. Idempotent: quiet and fast when everything is present; runs
# `apt-get update` once, only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  libhnswlib-dev libfaiss-dev libopenblas-dev
  libsqlite3-dev sqlite3 libargon2-dev libssl-dev libjansson-dev
)

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
