#!/usr/bin/env bash
# gateway_ab.sh — two builds of the gateway engine compared by alternating
# runs, for a change meant to make it faster.
#
#   bench/gateway_ab.sh BUILD_A BUILD_B [ITEMS] [PAIRS]
#                                   (defaults: 100000 items, 6 pairs)
#
# gateway_e2e.sh's ratio brackets each gateway run with client runs
# minutes apart, and a shared host drifts by more than most changes within
# that time: two sets of the same build an hour apart can differ by 10 %.
# Here the two builds' bench_gateway_e2e engines run one after the other
# with nothing in between (A B, then B A, ...), each on a fresh
# redis-server with the same gateway.conf as gateway_e2e.sh, so both see
# the same drift. Printed per run: items/s, the gateway's CPU µs per item,
# redis-server's CPU µs per item; then the medians, B's rate over A's, and
# in how many pairs B was the faster.
#
# First, the two builds run ITEMS / 5 items each and what they leave in
# Redis is compared (stream records without their receive times, keys,
# report counts, review queue): a change that alters what is written is
# not compared like for like, and the differences are shown.
#
# IG_BENCH_AOF=yes runs Redis with appendonly (appendfsync everysec);
# IG_BENCH_TCP=PORT connects over TCP, as in gateway_e2e.sh.
set -euo pipefail
if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
    sed -n '2,/^set -/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
fi
if [ $# -lt 2 ]; then
    echo "usage: bench/gateway_ab.sh BUILD_A BUILD_B [ITEMS] [PAIRS]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
binA="$(cd "$1" && pwd)/bench/bench_gateway_e2e"
binB="$(cd "$2" && pwd)/bench/bench_gateway_e2e"
n="${3:-100000}"
pairs="${4:-6}"
aof="${IG_BENCH_AOF:-no}"
for b in "$binA" "$binB"; do
    [ -x "$b" ] || {
        echo "gateway_ab: no $b (build the bench_gateway_e2e target)" >&2
        exit 2
    }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ig-bench-ab.XXXXXX")
. "$here/bench/redis_server.sh"
write_gateway_conf
echo "== A: $binA"
echo "== B: $binB"
echo "== $n items, $pairs pairs, appendonly=$aof, transport $target"

# snapshot BIN ITEMS DIR: what one run leaves in Redis, in files under DIR.
snapshot() {
    local rc=(redis-cli -s "$tmp/redis.sock") k
    start_redis no
    rm -rf "$tmp/state"
    (cd "$tmp" && "$1" gw -c "$tmp/gateway.conf" -n "$2" -b 256 -w 5 >/dev/null)
    mkdir -p "$3"
    "${rc[@]}" --raw XRANGE bench:candidates - + | grep '^{' |
        sed 's/"received":"[^"]*"//; s/"first_received":"[^"]*"//g' |
        sort >"$3/stream"
    "${rc[@]}" --scan | sort >"$3/keys"
    for k in $("${rc[@]}" --scan --pattern 'bench:cand:*' | sort); do
        echo "$k $("${rc[@]}" HGETALL "$k" | tr '\n' ' ')"
    done >"$3/counts"
    "${rc[@]}" --raw ZRANGE bench:review 0 -1 | sort >"$3/review"
    stop_redis
}

m=$((n / 5 > 256 ? n / 5 : 256))
snapshot "$binA" "$m" "$tmp/snapA"
snapshot "$binB" "$m" "$tmp/snapB"
same=yes
for f in stream keys counts review; do
    if cmp -s "$tmp/snapA/$f" "$tmp/snapB/$f"; then
        echo "   outputs, $f: identical ($(wc -l <"$tmp/snapA/$f") lines)"
    else
        same=no
        echo "   outputs, $f: DIFFERENT (first lines of the diff, A <, B >):"
        diff "$tmp/snapA/$f" "$tmp/snapB/$f" | head -4 | cut -c1-160 || true
    fi
done

# one BIN: one timed run; prints "items/s gateway-us redis-us".
one() {
    local c0 c1 out
    start_redis "$aof"
    rm -rf "$tmp/state"
    c0=$(redis_cpu)
    out=$(cd "$tmp" && "$1" gw -c "$tmp/gateway.conf" -n "$n" -b 256 -w 5)
    c1=$(redis_cpu)
    stop_redis
    awk -v a="$c0" -v b="$c1" -v n="$n" '
        / items in / { for (i = 1; i <= NF; i++) if ($i == "=") { r = $(i + 1); break } }
        / CPU s = / { for (i = 1; i <= NF; i++) if ($i == "=") { g = $(i + 1); break } }
        END { printf "%d %.1f %.1f\n", r, g, (b - a) * 1e6 / n }' <<<"$out"
}

: >"$tmp/A"
: >"$tmp/B"
for i in $(seq 1 "$pairs"); do
    if [ $((i % 2)) = 1 ]; then
        one "$binA" >>"$tmp/A"
        one "$binB" >>"$tmp/B"
    else
        one "$binB" >>"$tmp/B"
        one "$binA" >>"$tmp/A"
    fi
    echo "pair $i: A $(tail -1 "$tmp/A") | B $(tail -1 "$tmp/B")" \
        "(items/s, gateway us/item, redis us/item)"
done
med() { # med FILE COLUMN
    awk -v k="$2" '{ print $k }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ra=$(med "$tmp/A" 1)
rb=$(med "$tmp/B" 1)
wins=$(paste -d' ' "$tmp/A" "$tmp/B" | awk '$4 > $1 { w++ } END { print w + 0 }')
echo "== A median: $ra items/s, gateway $(med "$tmp/A" 2) us/item, redis $(med "$tmp/A" 3) us/item"
echo "== B median: $rb items/s, gateway $(med "$tmp/B" 2) us/item, redis $(med "$tmp/B" 3) us/item"
awk -v a="$ra" -v b="$rb" -v w="$wins" -v p="$pairs" -v s="$same" 'BEGIN {
    printf "== B / A: %.3f (B faster in %d of %d pairs; outputs %s)\n",
        (a > 0 ? b / a : 0), w, p, (s == "yes" ? "identical" : "DIFFERENT") }'
