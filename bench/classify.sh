#!/usr/bin/env bash
# classify.sh — the classifier benchmark: engine and `intake classify` next
# to naive PCRE2 loops and a Vectorscan scan, at 1x, 2x and 4x the rule
# base, with wall-clock rates and callgrind instruction counts.
#
#   bench/classify.sh [BUILD_DIR] [ITEMS]      (defaults: build, 20000)
#
# Needs the bench_classify and bench_classify_gen targets and `intake`
# built in BUILD_DIR, and valgrind for the instruction counts (skipped
# without it). Wall-clock figures on a shared machine are noisy: each rate
# is the median of 3 runs; instructions per byte (callgrind: two passes over
# the items minus one pass, so loading rules and items is not counted; for
# the process, a run on the items minus a run on empty input) are stable
# and are what docs/classifier.md compares.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$here/build}
n=${2:-20000}
bench=$build/bench/bench_classify
gen=$build/bench/bench_classify_gen
intake=$build/gateway/intake
rules=$here/rules
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$gen" "$n" 1 >"$tmp/items.jsonl"
bytes=$(wc -c <"$tmp/items.jsonl")
echo "items: $n generated (seed 1), $bytes bytes of JSON Lines"
echo

field() { sed -e 's/^/ /' | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

best() {   # the median run (by items/s) of 3 runs of bench_classify ARGS...
    local line r
    local -a runs=()
    for _ in 1 2 3; do
        line=$("$bench" --rules "$rules" --items "$tmp/items.jsonl" "$@")
        r=$(echo "$line" | field items_per_s)
        runs+=("${r%.*} $line")
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n '2p' | cut -d' ' -f2-
}

# callgrind Ir of a command, minus the same command on no items.
ir() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 \
        >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '| mode | scale | rules | literals | patterns | items/s | MB/s | vs naive |\n'
printf '|---|---|---|---|---|---|---|---|\n'
naive=$(best --mode naive --limit 1000 --repeat 1)
naive_rate=$(echo "$naive" | field items_per_s)
row() {
    local line=$1
    local rate
    rate=$(echo "$line" | field items_per_s)
    printf '| %s | %s | %s | %s | %s | %s | %s | %sx |\n' \
        "$(echo "$line" | field mode)" "$(echo "$line" | field scale)" \
        "$(echo "$line" | field rules)" "$(echo "$line" | field literals)" \
        "$(echo "$line" | field patterns)" "$rate" \
        "$(echo "$line" | field mb_per_s)" \
        "$(awk -v a="$rate" -v b="$naive_rate" 'BEGIN { printf (a / b < 10 ? "%.1f" : "%.0f"), a / b }')"
}
row "$naive"
row "$(best --mode naive-utf --limit 300 --repeat 1)"
row "$(best --mode percode --limit 2000 --repeat 1)"
for k in 1 2 4; do
    row "$(best --mode engine --scale $k)"
    row "$(best --mode scan --scale $k)"
    row "$(best --mode hs-lit --scale $k)"
    row "$(best --mode hs --scale $k)"
done
row "$(best --mode engine --scale 0)"
regex_rules=$here/bench/classify_regex.rules
for k in 1 4; do
    row "$(best --mode engine --scale $k --extra "$regex_rules")"
done

# The whole process: read JSON Lines, classify, route, write JSON Lines.
prates=()
for _ in 1 2 3; do
    s=$( { /usr/bin/env time -f '%e' "$intake" classify --rules "$rules" \
        "$tmp/items.jsonl" >/dev/null; } 2>&1 | tail -1)
    prates+=("$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.0f", n / (s > 0 ? s : 0.001) }')")
done
bestp=$(printf '%s\n' "${prates[@]}" | sort -n | sed -n '2p')
printf '| intake classify (process, wall) | 1 | | | | %s | %s | %sx |\n' \
    "$bestp" "$(awk -v r="$bestp" -v b="$bytes" -v n="$n" \
        'BEGIN { printf "%.1f", r * b / n / 1e6 }')" \
    "$(awk -v a="$bestp" -v b="$naive_rate" 'BEGIN { printf "%.0f", a / b }')"

if ! command -v valgrind >/dev/null 2>&1; then
    echo; echo "(valgrind not installed: no instruction counts)"; exit 0
fi
echo
printf '| what (callgrind) | items | instructions/item | instructions/byte |\n'
printf '|---|---|---|---|\n'
m=2000
head -n "$m" "$tmp/items.jsonl" >"$tmp/m.jsonl"
mbytes=$("$bench" --rules "$rules" --items "$tmp/m.jsonl" --mode scan \
    --repeat 1 | field bytes)
irow() {   # irow LABEL ITEMS BYTES IR_WITH IR_WITHOUT
    awk -v l="$1" -v n="$2" -v b="$3" -v a="$4" -v z="$5" 'BEGIN {
        printf "| %s | %d | %.0f | %.1f |\n", l, n, (a - z) / n, (a - z) / b }'
}
pass() {   # pass LABEL ITEMS ARGS...: Ir of one pass over the items
    local label=$1 items=$2
    shift 2
    local a z b
    a=$(ir "$bench" --rules "$rules" "$@" --repeat 2)
    z=$(ir "$bench" --rules "$rules" "$@" --repeat 1)
    b=$("$bench" --rules "$rules" "$@" --mode scan --repeat 1 | field bytes)
    irow "$label" "$items" "$b" "$a" "$z"
}
for k in 1 2 4; do
    pass "engine x$k" "$m" --items "$tmp/m.jsonl" --mode engine --scale $k
done
for k in 1 4; do
    pass "engine + 24 regex rules x$k" "$m" --items "$tmp/m.jsonl" \
        --mode engine --scale $k --extra "$regex_rules"
done
pass "engine + routing x1" "$m" --items "$tmp/m.jsonl" --mode engine \
    --scale 0
pass "prefilter only (normalise + automaton) x1" "$m" \
    --items "$tmp/m.jsonl" --mode scan
pass "prefilter only x4" "$m" --items "$tmp/m.jsonl" --mode scan --scale 4
pass "normalise + Vectorscan literals x1" "$m" --items "$tmp/m.jsonl" \
    --mode hs-lit
pass "Vectorscan, all patterns, raw text x1" "$m" --items "$tmp/m.jsonl" \
    --mode hs
pass "naive PCRE2 x1" 100 --items "$tmp/m.jsonl" --mode naive --limit 100
a=$(ir "$intake" classify --rules "$rules" "$tmp/m.jsonl")
z=$(ir "$intake" classify --rules "$rules" /dev/null)
irow "intake classify process x1" "$m" "$mbytes" "$a" "$z"
