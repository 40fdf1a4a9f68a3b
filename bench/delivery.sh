#!/usr/bin/env bash
# delivery.sh — the delivery path (dedup + stream forward, no classifying)
# against the same redis-server as a minimal hiredis client.
#
#   bench/delivery.sh [ITEMS] [BUILD_DIR] [RUNS]
#
# For Redis without persistence and then with AOF (appendfsync everysec),
# a fresh server for every run, prints items/s of:
#   baseline d=1    SET NX EX + XADD, one round trip at a time
#   baseline d=64   the same in 64-deep pipelines
#   path near=0     dedup (seen + exact) + XADD forwarder + done
#   path near=1     the same with near-duplicate detection
# and the path's ratio to the pipelined client (target: >= 0.5). After each
# run, redis_cpu_us_per_item: the server's user + system CPU per item (a
# steadier figure than items/s on a machine shared with other work). Each
# mode is run RUNS times (default 3) and closes with the medians of the
# runs' ratios.
set -euo pipefail
n="${1:-100000}"
here=$(cd "$(dirname "$0")/.." && pwd)
build="${2:-${IG_BUILD_DIR:-$here/build}}"
runs="${3:-3}"
bin="$build/bench/bench_delivery"
[ -x "$bin" ] || cmake --build "$build" -j2 --target bench_delivery

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ig-bench-delivery.XXXXXX")
. "$here/bench/redis_server.sh"

rate() { sed -n 's/.*items_per_s=\([0-9]*\).*/\1/p'; }

cpu() { # cpu OUTFILE: append Redis CPU per item to the run's line
    awk -v t="$(redis_cpu)" -v n="$n" \
        'BEGIN { printf "redis_cpu_us_per_item=%.1f\n", t * 1e6 / n }' |
        tee -a "$1"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

for aof in no yes; do
    echo "== redis appendonly=$aof (appendfsync everysec)"
    : >"$tmp/r0" && : >"$tmp/r1"
    for r in $(seq 1 "$runs"); do
        echo "-- run $r of $runs"
        start_redis "$aof"
        "$bin" baseline -s "$tmp/redis.sock" -n "$n" -d 1 | tee "$tmp/b1"
        cpu "$tmp/b1"
        start_redis "$aof"
        "$bin" baseline -s "$tmp/redis.sock" -n "$n" -d 64 | tee "$tmp/b64"
        cpu "$tmp/b64"
        start_redis "$aof"
        "$bin" path -s "$tmp/redis.sock" -n "$n" -N 0 | tee "$tmp/p0"
        cpu "$tmp/p0"
        start_redis "$aof"
        "$bin" path -s "$tmp/redis.sock" -n "$n" -N 1 | tee "$tmp/p1"
        cpu "$tmp/p1"
        b64=$(rate <"$tmp/b64")
        awk -v b1="$(rate <"$tmp/b1")" -v b64="$b64" \
            -v p0="$(rate <"$tmp/p0")" -v p1="$(rate <"$tmp/p1")" 'BEGIN {
            printf "ratios to pipelined client: d=1 %.2f, path near=0 %.2f, " \
                   "path near=1 %.2f (target >= 0.50)\n", b1/b64, p0/b64, p1/b64
        }'
        awk -v b="$b64" -v p="$(rate <"$tmp/p0")" \
            'BEGIN { printf "%.3f\n", p / b }' >>"$tmp/r0"
        awk -v b="$b64" -v p="$(rate <"$tmp/p1")" \
            'BEGIN { printf "%.3f\n", p / b }' >>"$tmp/r1"
        info=$(redis-cli -s "$tmp/redis.sock" info memory | tr -d '\r' |
            sed -n 's/^used_memory_human://p')
        echo "redis used_memory after the near=1 run: $info"
    done
    echo "== medians of $runs (appendonly=$aof): path near=0 $(median <"$tmp/r0")," \
        "path near=1 $(median <"$tmp/r1") of the pipelined client (target >= 0.50)"
done
