#!/usr/bin/env bash
# test.sh — the whole test suite, as CI runs it.
#
# Installs what is missing (scripts/deps.sh), then builds and runs ctest
# three times: a warnings-as-errors build (every test), an ASan+UBSan build
# (every test), and a ThreadSanitizer build running the tests that drive
# the gateway's classify threads (label `threads`). Exits non-zero if
# anything fails. Set IG_TEST_FAST=1 to skip the sanitizer passes locally.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

bash scripts/deps.sh

JOBS="$(nproc)"
# run_suite DIR [CTEST_ARGS --] CMAKE_ARGS...
run_suite() {
  local dir="$1"; shift
  local sel=()
  if [ "${1:-}" = "-L" ]; then
    sel=(-L "$2"); shift 3
  fi
  echo "== build $dir ($*)"
  cmake -S "$ROOT" -B "$dir" -DIG_WERROR=ON -DIG_BUILD_TESTS=ON "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
  echo "== test $dir ${sel[*]}"
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS" --timeout 600 \
    "${sel[@]}"
}

run_suite "$ROOT/build/ci-werror" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${IG_TEST_FAST:-0}" != 1 ]; then
  run_suite "$ROOT/build/ci-asan" -DCMAKE_BUILD_TYPE=Debug \
    -DIG_SANITIZE=address,undefined -DIG_BUILD_BENCH=OFF
  # Any data race reported fails the test (exit code 66).
  TSAN_OPTIONS="halt_on_error=1 exitcode=66 ${TSAN_OPTIONS:-}" \
    run_suite "$ROOT/build/ci-tsan" -L threads -- -DCMAKE_BUILD_TYPE=Debug \
    -DIG_SANITIZE=thread -DIG_BUILD_BENCH=OFF
fi
