#!/usr/bin/env bash
# gateway_e2e.sh — gateway end-to-end benchmark against a real redis-server.
#
#   bench/gateway_e2e.sh [ITEMS] [BUILD_DIR] [RUNS]
#
# For Redis without persistence and then with AOF (appendfsync everysec,
# the durable setting a district would run), prints:
#   - the minimal hiredis client: SET NX EX + XADD per item, one round trip
#     at a time and 64-deep pipelines (no classifying); the pipelined one
#     runs before and after the gateway (each on a fresh server) and the
#     ratio is to the mean of the two;
#   - the gateway engine: classify (full rule base) + dedup (near-duplicate
#     detection on) + forward (XADD to a stream), items/s and RSS samples.
#   - a second baseline, the replay client: the very Redis commands the
#     gateway sends (recorded once with MONITOR from a gateway run, before
#     the timed runs) sent again by a minimal hiredis client, 128 per
#     pipeline flush, on a fresh server, before and after the gateway:
#     "a minimal client doing the same Redis commands" taken literally. Its
#     ratio says how close the gateway comes to its own Redis work; the
#     first ratio adds what that work costs over SET + XADD.
# Target: the gateway at >= 50 % of the pipelined client, RSS flat.
# Wall-clock rates depend on what else runs on the machine; CPU per item
# (the gateway's and redis-server's) is printed beside them, and how many
# of the machine's cores the two kept busy ("cores busy": CPU seconds over
# wall-clock seconds; below nproc, they waited on each other). Per run it
# also sets the two sides' CPU per item (process + redis-server) side by
# side: the rate ratio is that CPU ratio times how many more cores the
# gateway keeps busy than the one-thread client. Each mode is run RUNS
# times (default 3, a fresh redis-server each time) and closes with the
# medians: pipelined client, gateway, and the runs' ratios.
#
# Transport: a unix socket; IG_BENCH_TCP=PORT runs every client and the
# gateway over TCP to 127.0.0.1:PORT instead (Redis on another host, as
# many districts would run it, talks TCP).
set -euo pipefail
n="${1:-200000}"
here=$(cd "$(dirname "$0")/.." && pwd)
build="${2:-${IG_BUILD_DIR:-$here/build}}"
runs="${3:-3}"
bin="$build/bench/bench_gateway_e2e"
[ -x "$bin" ] || cmake --build "$build" -j2 --target bench_gateway_e2e

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ig-bench.XXXXXX")
. "$here/bench/redis_server.sh"

# Runs a command and prints Redis CPU per item for it: run_measured N CMD..
run_measured() {
    local n=$1
    shift
    local c0 c1
    c0=$(redis_cpu)
    "$@"
    c1=$(redis_cpu)
    awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {
        printf "   redis-server CPU: %.2f s = %.1f us/item\n", b - a,
            (b - a) * 1e6 / n }'
}

write_gateway_conf
echo "== transport: $target"

rate() { sed -n 's/.* = \([0-9]*\) items\/s.*/\1/p' | head -1; }
# Mean process and redis-server CPU µs per item over the runs in the
# input (lines "<who>: ... CPU s = X us/item" and "redis-server CPU: ... =
# Y us/item"): prints "X Y". cpu_per_item "redis client" | gateway
cpu_per_item() {
    awk -v k="$1" '
        index($0, k ": ") == 1 && / CPU s = / { for (i = 1; i <= NF; i++) if ($i == "=") { p += $(i + 1); np++; break } }
        $1 == "redis-server" && $2 == "CPU:" { r += $(NF - 1); nr++ }
        END { printf "%.2f %.2f\n", np ? p / np : 0, nr ? r / nr : 0 }'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# The gateway's own Redis commands, recorded once (MONITOR slows the run;
# the recording is not timed).
start_redis no
redis-cli -s "$tmp/redis.sock" MONITOR >"$tmp/monitor.txt" &
mpid=$!
sleep 0.3
"$bin" gw -c "$tmp/gateway.conf" -n "$n" -b 256 -w 5 >/dev/null
sleep 0.5
kill "$mpid" 2>/dev/null || true
wait "$mpid" 2>/dev/null || true
stop_redis
rm -rf "$tmp/state"
echo "== recorded the gateway's Redis commands for $n items:" \
    "$(grep -vc ' lua\]' "$tmp/monitor.txt") MONITOR lines"

for aof in no yes; do
    echo "== redis-server appendonly=$aof$([ $aof = yes ] && echo ' (appendfsync everysec)')"
    : >"$tmp/base" && : >"$tmp/gw" && : >"$tmp/ratio"
    : >"$tmp/rbase" && : >"$tmp/rratio"
    for r in $(seq 1 "$runs"); do
        echo "-- run $r of $runs"
        start_redis "$aof"
        run_measured "$n" "$bin" replay -s "$target" \
            -f "$tmp/monitor.txt" -n "$n" -d 64 | tee "$tmp/out"
        rp1=$(rate <"$tmp/out")
        redis-cli -s "$tmp/redis.sock" FLUSHALL >/dev/null
        run_measured "$((n / 10))" \
            "$bin" redis -s "$target" -n "$((n / 10))" -d 1 -p base1
        run_measured "$n" "$bin" redis -s "$target" -n "$n" -d 64 \
            -p base64 | tee "$tmp/out"
        b1=$(rate <"$tmp/out")
        cp "$tmp/out" "$tmp/out.c1"
        redis-cli -s "$tmp/redis.sock" FLUSHALL >/dev/null
        run_measured "$n" "$bin" gw -c "$tmp/gateway.conf" -n "$n" -b 256 -w 5 |
            tee "$tmp/out"
        g=$(rate <"$tmp/out")
        cp "$tmp/out" "$tmp/out.gw"
        # How much of the machine the run kept busy: gateway and Redis CPU
        # seconds over the wall-clock seconds (of nproc cores).
        awk -v c="$(nproc)" '
            / items in / { for (i = 1; i <= NF; i++) if ($i == "in") w = $(i + 1) }
            /^gateway: .* CPU s = / { g = $2 }
            /redis-server CPU:/ { r = $3 }
            END { if (w > 0) printf "   cores busy: gateway %.2f + redis %.2f = %.2f of %d\n", g / w, r / w, (g + r) / w, c }' "$tmp/out"
        echo "   stream length: $(redis-cli -s "$tmp/redis.sock" XLEN bench:candidates)"
        # The pipelined client once more, after the gateway, on a fresh
        # server: the ratio is to the mean of the two client runs, so a
        # machine that speeds up or slows down during a run (shared hosts
        # do, by ±20 % within minutes) moves both sides of it alike.
        start_redis "$aof"
        run_measured "$n" "$bin" redis -s "$target" -n "$n" -d 64 \
            -p base64 | tee "$tmp/out"
        b2=$(rate <"$tmp/out")
        b=$(((b1 + b2) / 2))
        echo "   pipelined client, mean of the runs before and after: $b items/s"
        redis-cli -s "$tmp/redis.sock" FLUSHALL >/dev/null
        run_measured "$n" "$bin" replay -s "$target" \
            -f "$tmp/monitor.txt" -n "$n" -d 64 | tee "$tmp/out.r2"
        rp2=$(rate <"$tmp/out.r2")
        rp=$(((rp1 + rp2) / 2))
        echo "   replay client, mean of the runs before and after: $rp items/s"
        # CPU per item of the two sides (process + redis-server), which the
        # host's load moves less than the rates: how much of the gap is
        # work, and how much is waiting (cores busy below nproc).
        cat "$tmp/out.c1" "$tmp/out" | cpu_per_item "redis client" >"$tmp/cpu.c"
        cpu_per_item gateway <"$tmp/out.gw" >"$tmp/cpu.g"
        awk -v c="$(cat "$tmp/cpu.c")" -v g="$(cat "$tmp/cpu.g")" \
            -v rc="$b" -v rg="$g" 'BEGIN {
            split(c, a, " "); split(g, b, " ")
            printf "   CPU per item, process + redis-server: client %.1f + %.1f = %.1f us, gateway %.1f + %.1f = %.1f us (client/gateway %.3f)\n",
                a[1], a[2], a[1] + a[2], b[1], b[2], b[1] + b[2],
                (a[1] + a[2]) / (b[1] + b[2])
            printf "   cores busy at those rates: client %.2f, gateway %.2f (rate ratio = CPU ratio x %.2f)\n",
                (a[1] + a[2]) * rc / 1e6, (b[1] + b[2]) * rg / 1e6,
                ((b[1] + b[2]) * rg) / ((a[1] + a[2]) * rc) }'
        stop_redis
        rm -rf "$tmp/state"
        echo "$b" >>"$tmp/base"
        echo "$g" >>"$tmp/gw"
        awk -v b="$b" -v g="$g" 'BEGIN { printf "%.3f\n", g / b }' >>"$tmp/ratio"
        echo "   ratio to the pipelined client: $(tail -1 "$tmp/ratio")"
        echo "$rp" >>"$tmp/rbase"
        awk -v b="$rp" -v g="$g" 'BEGIN { printf "%.3f\n", g / b }' >>"$tmp/rratio"
        echo "   ratio to the replay client (the gateway's own commands): $(tail -1 "$tmp/rratio")"
    done
    echo "== medians of $runs (appendonly=$aof): pipelined client" \
        "$(median <"$tmp/base") items/s, gateway $(median <"$tmp/gw") items/s," \
        "ratio $(median <"$tmp/ratio") (target >= 0.50)"
    echo "== medians of $runs (appendonly=$aof): replay client" \
        "$(median <"$tmp/rbase") items/s (the gateway's own Redis commands)," \
        "ratio $(median <"$tmp/rratio")"
done
