#!/usr/bin/env bash
# bench_smoke.sh BUILD_DIR — the gateway benchmarks' machinery, not their
# speed: bench/gateway_e2e.sh on 2 000 items, one run per mode, must
# finish, record the gateway's Redis commands, replay them without an
# error reply, get every push batch accepted and print both sets of
# medians; bench/gateway_ab.sh with the same build as A and B must find
# their Redis outputs identical and print the medians and B / A. No rate
# is checked (speed is measured in bench/, never here).
set -euo pipefail
build="${1:?usage: bench_smoke.sh BUILD_DIR}"
here=$(cd "$(dirname "$0")/../.." && pwd)
out=$(bash "$here/bench/gateway_e2e.sh" 2000 "$build" 1 2>&1) || {
    echo "$out" >&2
    echo "FAIL: the benchmark exited with an error" >&2
    exit 1
}
fail() {
    echo "$out" >&2
    echo "FAIL: $*" >&2
    exit 1
}
grep -q "recorded the gateway's Redis commands for 2000 items: [1-9]" <<<"$out" ||
    fail "no commands recorded"
[ "$(grep -c '^replay client: .* 0 error replies, 0 unreadable lines' <<<"$out")" = 4 ] ||
    fail "replays with error replies or unreadable lines"
! grep -q 'SOME BATCHES NOT OK' <<<"$out" || fail "push batches refused"
for aof in no yes; do
    grep -q "^== medians of 1 (appendonly=$aof): pipelined client [0-9]* items/s, gateway [1-9][0-9]* items/s" <<<"$out" ||
        fail "no medians (appendonly=$aof)"
    grep -q "^== medians of 1 (appendonly=$aof): replay client [1-9][0-9]* items/s" <<<"$out" ||
        fail "no replay medians (appendonly=$aof)"
done
echo "ok: bench/gateway_e2e.sh ran end to end"

out=$(bash "$here/bench/gateway_ab.sh" "$build" "$build" 2000 1 2>&1) || {
    echo "$out" >&2
    echo "FAIL: bench/gateway_ab.sh exited with an error" >&2
    exit 1
}
for f in stream keys counts review; do
    grep -q "^   outputs, $f: identical ([0-9]* lines)" <<<"$out" ||
        fail "gateway_ab.sh: $f of one build against itself not identical"
done
grep -q "^   outputs, stream: identical ([1-9][0-9]* lines)" <<<"$out" ||
    fail "gateway_ab.sh: compared empty streams"
grep -q '^== B median: [1-9][0-9]* items/s, gateway [0-9.]* us/item' <<<"$out" ||
    fail "gateway_ab.sh: no medians"
grep -q '^== B / A: [0-9.]* (B faster in [01] of 1 pairs; outputs identical)' <<<"$out" ||
    fail "gateway_ab.sh: no B / A line"
echo "ok: bench/gateway_ab.sh ran end to end"
