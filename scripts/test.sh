#!/usr/bin/env bash
# test.sh — the whole test suite, as CI runs it.
#
# Installs what is missing (scripts/deps.sh), then builds and runs ctest
# twice: a warnings-as-errors build, and an ASan+UBSan build. Exits non-zero
# if anything fails. Set IG_TEST_FAST=1 to skip the sanitizer pass locally.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

bash scripts/deps.sh

JOBS="$(nproc)"
run_suite() {
  local dir="$1"; shift
  echo "== build $dir ($*)"
  cmake -S "$ROOT" -B "$dir" -DIG_WERROR=ON -DIG_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" --timeout 600
}

run_suite "$ROOT/build/ci-werror" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${IG_TEST_FAST:-0}" != 1 ]; then
  run_suite "$ROOT/build/ci-asan" -DCMAKE_BUILD_TYPE=Debug \
    -DIG_SANITIZE=address,undefined -DIG_BUILD_BENCH=OFF
fi
