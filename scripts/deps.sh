#!/usr/bin/env bash
# deps.sh — install the Debian 12 packages the project builds, tests and
# benchmarks with. Idempotent: only missing packages are installed, and
# `apt-get update` runs first only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates
  libpcre2-dev libcurl4-openssl-dev libxml2-dev libcjson-dev
  libhiredis-dev libevent-dev zlib1g-dev
  redis-server redis-tools
  libcmocka-dev libvectorscan-dev valgrind python3 procps strace
  python3-jsonschema
  curl jq time
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to install packages (run as root or with sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian package starts a system redis on :6379; the tests never use it
  # (each starts its own), so leave it as the package set it up.
fi
echo "deps: all packages present" >&2
