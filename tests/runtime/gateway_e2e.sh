#!/usr/bin/env bash
# gateway_e2e.sh — end-to-end tests of `intake run` against a real
# redis-server and real local HTTP servers (no mocks).
#
#   gateway_e2e.sh CASE
#
# Cases (one CTest entry each, see tests/gateway.cmake):
#   dedup          same item from two channels -> one candidate, two
#                  reports; a re-worded repost is linked, not forwarded
#   redis_restart  Redis stopped mid-run and restarted -> every item
#                  forwarded exactly once
#   redis_restart_near  the same with near-duplicate detection on
#   webhook_retry  webhook answering 500, then 200 -> delivered once
#   spool_replay   webhook down: candidates spooled, the run succeeds; the
#                  next --once run replays the spool before it exits
#   kill9          kill -9 of the gateway during a run, restart -> nothing
#                  lost, nothing twice
#   kill9_near     the same with near-duplicate detection on, where a
#                  pending candidate is held in memory and found again
#                  in P:index at the next start (docs/delivery.md)
#   malformed      malformed records among good ones: the good ones are
#                  forwarded once, each bad one is logged with its reason
#   drain          Redis down from the start, SIGTERM: the gateway exits
#                  promptly without committing; with Redis back, a --once
#                  run forwards every item exactly once
#   reload_api     push endpoint answers with classification; /metrics and
#                  /healthz; reload with a broken rule file keeps the old
#                  rules working; a fixed one bumps the generation
#   api_hostile    the API under hostile clients: methods other than the
#                  documented ones get 405 with Allow (404 off the
#                  endpoints)
#   api_fd_exhaustion  clients holding every descriptor the gateway may
#                  open: no busy loop, no log flood, the API answers
#                  again once they go
#   api_slow_clients  clients trickling a request byte by byte are cut at
#                  the request deadline; a push whose body came in time is
#                  answered however long the pipeline takes; connections
#                  over the cap are closed at once, and the API answers
#                  again once they go
#   push_source_labels  pushes naming many distinct sources: /metrics
#                  keeps the configured sources exact, takes a bounded
#                  number of pushed ones and counts the rest as "other"
#   priority       a red-line item without a code is forwarded with priority
#                  high, heads <prefix>:review and reaches the only = high
#                  target; repeated reports give updates (elevated, then
#                  high) and only the high one reaches that target
#
# Every server is started in a temporary directory and stopped by its PID.
set -euo pipefail

case_name="${1:?usage: gateway_e2e.sh CASE}"
src="${IG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
build="${IG_BUILD_DIR:-$src/build}"
intake="${IG_INTAKE:-$build/gateway/intake}"
fixture="$build/tests/fixture_http"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ig-e2e.XXXXXX")
pids=()
cleanup() {
    local rc=$?
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ $rc -ne 0 ]; then
        echo "--- gateway log (tail) ---" >&2
        tail -n 40 "$tmp"/gw*.log >&2 2>/dev/null || true
    fi
    # IG_E2E_KEEP=1 keeps the directory (logs, state, redis) for a look.
    if [ "${IG_E2E_KEEP:-0}" = 1 ]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL [$case_name]: $*" >&2
    exit 1
}

wait_for() { # wait_for SECONDS CMD...
    local n=$(($1 * 10))
    shift
    for _ in $(seq 1 "$n"); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# --- Redis ---------------------------------------------------------------
sock="$tmp/redis.sock"
redis_pid=""
rcli() { redis-cli -s "$sock" "$@"; }
redis_start() { # redis_start [aof]
    local aof=no
    [ "${1:-}" = aof ] && aof=yes
    redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
        --dir "$tmp" --save "" --appendonly "$aof" \
        --appendfsync everysec --daemonize no \
        --logfile "$tmp/redis.log" &
    redis_pid=$!
    pids+=("$redis_pid")
    wait_for 10 sh -c "redis-cli -s '$sock' ping | grep -q PONG" ||
        fail "redis-server did not start"
}
redis_stop() {
    kill "$redis_pid"
    wait "$redis_pid" 2>/dev/null || true
}

# --- HTTP fixture server -------------------------------------------------
http_port=""
http_start() { # http_start ROOT
    rm -f "$tmp/http.port"
    "$fixture" --root "$1" --port-file "$tmp/http.port" \
        >"$tmp/http.log" 2>&1 &
    pids+=("$!")
    wait_for 10 test -s "$tmp/http.port" || fail "fixture_http did not start"
    http_port=$(cat "$tmp/http.port")
}

# --- the gateway ---------------------------------------------------------
feeds="$src/samples/feeds"
sources_from_samples() {
    mkdir -p "$tmp/sources.d"
    for f in "$src"/samples/sources.d/*.conf; do
        sed -e "s|@FEEDS@|$feeds|g" \
            -e "s|@HTTP@|http://127.0.0.1:$http_port|g" \
            "$f" >"$tmp/sources.d/$(basename "$f")"
    done
}

write_conf() { # write_conf EXTRA_SECTIONS
    # No HTTP listener unless a case asks for one: tests run in parallel
    # and must not fight over the default port.
    local api='[api]
listen = ""'
    case "$1" in *"[api]"*) api="" ;; esac
    cat >"$tmp/gateway.conf" <<EOF
[gateway]
rules = ${RULES_DIR:-$src/rules}
sources = sources.d
state_dir = state
log_format = json
log_level = info
drain_timeout = 20s
# A worker thread (not the default): these runs are also ThreadSanitizer's.
classify_threads = 1

[redis]
socket = $sock
prefix = t
retry = 200ms

[forward platform]
kind = stream
stream = t:candidates
$1
$api
EOF
}

gw_pid=""
gw_start() { # gw_start LOGNAME [args]
    local log="$1"
    shift
    "$intake" run -c "$tmp/gateway.conf" "$@" 2>>"$tmp/$log" &
    gw_pid=$!
    pids+=("$gw_pid")
}

# Candidate records in the stream: one JSON object per line.
stream_records() {
    rcli --raw XRANGE t:candidates - + | grep '^{' |
        grep -v '^{"schema":1,"type":"update"' || true
}
# Update records (a duplicate grew an original's report count).
stream_updates() {
    rcli --raw XRANGE t:candidates - + |
        grep '^{"schema":1,"type":"update"' || true
}
# The channels of a candidate, sorted, comma-separated.
chans_of() {
    rcli --raw HGET "t:cand:$1" chans | tr ',' '\n' | grep . | sort |
        paste -sd, -
}
# "source external_id" per record, sorted.
stream_keys() {
    stream_records | python3 -c '
import json, sys
for l in sys.stdin:
    c = json.loads(l)
    print(c["source"], c["external_id"])' | sort
}

# ------------------------------------------------------------------------
case_dedup() {
    redis_start
    http_start "$feeds"
    sources_from_samples
    write_conf ""
    "$intake" run -c "$tmp/gateway.conf" --once 2>"$tmp/gw.log" ||
        { cat "$tmp/gw.log" >&2; fail "intake run --once failed"; }
    local keys
    keys=$(stream_keys)
    echo "$keys"
    # WO-2026-0001 and the letter repeating it word for word are one
    # candidate; so are WO-2026-0002 and the news item re-wording it
    # (whichever arrived first is the original). The festival is
    # unclassified and not forwarded.
    [ "$(echo "$keys" | grep -cE ' (WO-2026-0001|XF-2026-0042)$')" = 1 ] ||
        fail "exact duplicate across channels forwarded twice (or never)"
    [ "$(echo "$keys" | grep -cE ' (WO-2026-0002|news-1001)$')" = 1 ] ||
        fail "re-worded repost forwarded twice (or never)"
    grep -q "news-1003" <<<"$keys" &&
        fail "an unclassified item was forwarded"
    [ "$(echo "$keys" | uniq -d | wc -l)" = 0 ] || fail "duplicates: $keys"
    local id1 id2
    id1=$(stream_records | python3 -c '
import json, sys
for l in sys.stdin:
    c = json.loads(l)
    if c["external_id"] in ("WO-2026-0001", "XF-2026-0042"): print(c["id"])')
    id2=$(stream_records | python3 -c '
import json, sys
for l in sys.stdin:
    c = json.loads(l)
    if c["external_id"] in ("WO-2026-0002", "news-1001"): print(c["id"])')
    [ "$(rcli HGET "t:cand:$id1" reports)" = 2 ] ||
        fail "exact duplicate: reports of $id1 is not 2"
    [ "$(chans_of "$id1")" = "hotline,letters" ] ||
        fail "exact duplicate: channels of $id1: $(chans_of "$id1")"
    [ "$(rcli HGET "t:cand:$id2" reports)" = 2 ] ||
        fail "near duplicate: reports of $id2 is not 2"
    [ "$(chans_of "$id2")" = "hotline,media" ] ||
        fail "near duplicate: channels of $id2: $(chans_of "$id2")"
    # Each link sent the platform an update of its original: 2 reports,
    # both channels, under the idempotency id "<original>-r2".
    local ups
    ups=$(stream_updates | python3 -c '
import json, sys
for l in sys.stdin:
    u = json.loads(l)
    print(u["id"], u["update_id"], u["reports"], ",".join(sorted(u["channels"])),
          u["duplicate"]["dedup"])' | sort)
    echo "$ups"
    grep -qx "$id1 $id1-r2 2 hotline,letters exact" <<<"$ups" ||
        fail "no update for the exact duplicate of $id1: $ups"
    grep -qx "$id2 $id2-r2 2 hotline,media near" <<<"$ups" ||
        fail "no update for the near duplicate of $id2: $ups"
    # A second run finds nothing new.
    local n1 n2
    n1=$(rcli XLEN t:candidates)
    "$intake" run -c "$tmp/gateway.conf" --once 2>>"$tmp/gw.log" ||
        fail "second run failed"
    n2=$(rcli XLEN t:candidates)
    [ "$n1" = "$n2" ] || fail "second run forwarded again ($n1 -> $n2)"
}

# A JSON Lines source of N distinct, classifiable items.
gen_items() { # gen_items FILE FROM TO
    python3 - "$@" <<'EOF'
import sys
path, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
streets = ["城中路", "公园路", "青安路", "华腾路", "崧泽大道", "天一路"]
with open(path, "a", encoding="utf-8") as f:
    for i in range(a, b):
        s = streets[i % len(streets)]
        f.write('{"id":"T-%06d","title":"雨水井盖缺失","text":"%s第%d号门口'
                '的雨水井盖缺失，路面有一个坑，编号%d，请尽快处理。"}\n'
                % (i, s, i, i * 7919 % 100003))
EOF
}

gen_distinct_items() { # gen_distinct_items FILE FROM TO
    # Each text: a manhole-cover report (so it is classified and
    # forwarded) around 24 characters drawn at random from 400 common
    # ones: no two are near duplicates.
    python3 - "$@" <<'EOF'
import random, sys
path, a, b = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pool = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
rnd = random.Random(20261129 + a)
with open(path, "a", encoding="utf-8") as f:
    for i in range(a, b):
        head = "".join(rnd.choice(pool) for _ in range(12))
        tail = "".join(rnd.choice(pool) for _ in range(12))
        f.write('{"id":"K-%06d","title":"井盖","text":"%s路边的雨水井盖缺失，%s"}\n'
                % (i, head, tail))
EOF
}

# The generated items differ only in numbers: near-duplicate detection
# would rightly link them, so the delivery tests turn it off.
NEAR_OFF="
[dedup]
near = false"

file_source() { # file_source PATH
    mkdir -p "$tmp/sources.d"
    cat >"$tmp/sources.d/items.conf" <<EOF
[source items]
kind = file
url = $1
channel = hotline
interval = 1s
EOF
}

expect_exactly_once() { # expect_exactly_once N
    local keys
    keys=$(stream_keys)
    [ "$(echo "$keys" | grep -c .)" = "$1" ] ||
        fail "expected $1 records, got $(echo "$keys" | grep -c .)"
    [ "$(echo "$keys" | uniq -d | wc -l)" = 0 ] ||
        fail "records forwarded twice: $(echo "$keys" | uniq -d | head)"
}

redis_restart_run() { # redis_restart_run GENERATOR CONF
    local gen="$1"
    redis_start aof
    "$gen" "$tmp/items.jsonl" 0 200
    file_source "$tmp/items.jsonl"
    write_conf "$2"
    gw_start gw.log
    wait_for 30 sh -c "[ \$(redis-cli -s '$sock' XLEN t:candidates) -ge 200 ]" ||
        fail "first 200 items not forwarded"
    redis_stop
    # While Redis is down, more items arrive.
    "$gen" "$tmp/items.jsonl" 200 400
    sleep 2
    redis_start aof
    wait_for 60 sh -c "[ \$(redis-cli -s '$sock' XLEN t:candidates) -ge 400 ]" ||
        fail "items after the restart not forwarded ($(rcli XLEN t:candidates))"
    sleep 1
    kill -TERM "$gw_pid"
    wait "$gw_pid" || fail "gateway did not exit cleanly on SIGTERM"
    expect_exactly_once 400
}

case_redis_restart() {
    redis_restart_run gen_items "$NEAR_OFF"
}

case_redis_restart_near() {
    redis_restart_run gen_distinct_items ""
}

# A webhook receiver answering 500 to the first FAILS requests, then 200;
# every request is recorded in $tmp/hook.log. hook_start FAILS [PORT]
hook_start() {
    cat >"$tmp/hook.py" <<'EOF'
import http.server, json, os, sys, time
state = {"n": 0}
fails = int(sys.argv[3])
delay = float(os.environ.get("HOOK_DELAY", "0"))  # seconds per POST
out = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(delay)
        state["n"] += 1
        code = 500 if state["n"] <= fails else 200
        out.write(json.dumps({"code": code,
                              "key": self.headers.get("Idempotency-Key"),
                              "body": body.decode()}) + "\n")
        out.flush()
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
port = int(sys.argv[4]) if len(sys.argv) > 4 else 0
s = http.server.HTTPServer(("127.0.0.1", port), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
    rm -f "$tmp/hook.port"
    python3 "$tmp/hook.py" "$tmp/hook.port" "$tmp/hook.log" "$1" ${2:-} &
    pids+=("$!")
    wait_for 10 test -s "$tmp/hook.port" || fail "webhook server"
}

# Candidate external ids the webhook acknowledged (200), sorted.
hook_delivered() {
    python3 - "$tmp/hook.log" <<'EOF'
import json, sys
ids = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["code"] != 200:
        continue
    b = json.loads(r["body"])
    items = b if isinstance(b, list) else b.get("candidates", b.get("items", [b]))
    ids += [c["external_id"] for c in items]
print("\n".join(sorted(ids)))
EOF
}

case_spool_replay() {
    redis_start
    gen_items "$tmp/items.jsonl" 0 20
    file_source "$tmp/items.jsonl"
    # A port nobody listens on: the webhook is down for the first run.
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); \
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    write_conf "$NEAR_OFF
[forward hook]
kind = webhook
url = http://127.0.0.1:$port/hook
retries = 1
backoff = 100ms"
    "$intake" run -c "$tmp/gateway.conf" --once 2>"$tmp/gw1.log" ||
        fail "first run (webhook down) failed: items spooled are safe"
    [ "$(find "$tmp/state/spool" -name '*.seg' -size +0 | wc -l)" -ge 1 ] ||
        fail "nothing spooled while the webhook was down"
    # The webhook is back: the next --once run replays the spool before
    # it exits, although no item is new.
    hook_start 0 "$port"
    "$intake" run -c "$tmp/gateway.conf" --once 2>"$tmp/gw2.log" ||
        fail "second run failed"
    local got
    got=$(hook_delivered)
    [ "$(echo "$got" | grep -c .)" = 20 ] ||
        fail "replayed $(echo "$got" | grep -c .) of 20"
    [ "$(echo "$got" | uniq -d | wc -l)" = 0 ] || fail "delivered twice"
}

case_webhook_retry() {
    redis_start
    hook_start 2
    gen_items "$tmp/items.jsonl" 0 5
    file_source "$tmp/items.jsonl"
    write_conf "$NEAR_OFF
[forward hook]
kind = webhook
url = http://127.0.0.1:$(cat "$tmp/hook.port")/hook
backoff = 100ms"
    "$intake" run -c "$tmp/gateway.conf" --once 2>"$tmp/gw.log" ||
        { cat "$tmp/gw.log" >&2; fail "intake run --once failed"; }
    python3 - "$tmp/hook.log" <<'EOF' || fail "webhook deliveries wrong"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in recs if r["code"] == 200]
assert len([r for r in recs if r["code"] == 500]) == 2, recs
ids = []
for r in ok:
    b = json.loads(r["body"])
    items = b if isinstance(b, list) else b.get("candidates", b.get("items", [b]))
    ids += [c["external_id"] for c in items]
assert sorted(ids) == ["T-%06d" % i for i in range(5)], ids
# Retries of one batch keep its Idempotency-Key.
keys = {r["key"] for r in recs}
assert None not in keys, keys
print("webhook: 2 x 500, then", len(ids), "candidates delivered once")
EOF
}

# kill -9 of a run of the 3000 items in items.jsonl (made by GENERATOR),
# conf EXTRA besides a stream and a second target, a webhook taking 50 ms
# per POST: the run is slowed to its pace (the in-flight bound), so the
# kill, once 300 are in the stream, lands mid-run — many candidates in the
# stream but not yet delivered to both targets, not marked done. Then the
# gateway runs again with --once (log gw2.log): every item forwarded
# exactly once. kill9_run GENERATOR EXTRA
kill9_run() {
    local n
    redis_start aof
    "$1" "$tmp/items.jsonl" 0 3000
    file_source "$tmp/items.jsonl"
    HOOK_DELAY=0.05 hook_start 0
    write_conf "$2
[forward hook]
kind = webhook
url = http://127.0.0.1:$(cat "$tmp/hook.port")/hook"
    gw_start gw1.log
    wait_for 30 sh -c "[ \$(redis-cli -s '$sock' XLEN t:candidates) -ge 300 ]" ||
        fail "gateway did not start forwarding"
    kill -9 "$gw_pid"
    wait "$gw_pid" 2>/dev/null || true
    n=$(rcli XLEN t:candidates)
    echo "killed with $n of 3000 forwarded"
    [ "$n" -lt 3000 ] || fail "the kill came after the run had ended"
    "$intake" run -c "$tmp/gateway.conf" --once 2>"$tmp/gw2.log" ||
        fail "restart run failed"
    expect_exactly_once 3000
}

case_kill9() {
    kill9_run gen_items "$NEAR_OFF"
}

case_kill9_near() {
    kill9_run gen_distinct_items ""
    grep -o '"msg":"[0-9]* candidates were made but not forwarded[^"]*' \
        "$tmp/gw2.log" || fail "the restart found no candidate cut off"
    # Those were set back to P, replayed and forwarded (F); the rest were
    # made N and marked done in P:index, and stay N.
    local states
    states=$(rcli --scan --pattern 't:rec:*' | sed 's/^/GETRANGE /; s/$/ 0 0/' |
        rcli | sort | uniq -c)
    echo "record states: $(echo $states)"
    echo "$states" | grep -q ' N$' || fail "no record in state N: $states"
    echo "$states" | grep -q ' F$' || fail "no replayed record (F): $states"
    ! echo "$states" | grep -q ' P$' || fail "records left pending: $states"
}

case_drain() {
    gen_items "$tmp/items.jsonl" 0 50
    file_source "$tmp/items.jsonl"
    write_conf "$NEAR_OFF"
    # No redis-server yet: the items wait for it, the poll stays open.
    gw_start gw.log
    sleep 2
    kill -TERM "$gw_pid"
    local t0=$SECONDS
    wait "$gw_pid" || fail "gateway did not exit cleanly on SIGTERM"
    [ $((SECONDS - t0)) -le 15 ] || fail "drain took $((SECONDS - t0)) s"
    # The state record (if any) holds no cursor: nothing was committed.
    if grep -q '^cursor' "$tmp/state/sources/items.state" 2>/dev/null; then
        fail "cursor committed although nothing was forwarded"
    fi
    redis_start
    "$intake" run -c "$tmp/gateway.conf" --once 2>>"$tmp/gw.log" ||
        fail "run after Redis came back failed"
    expect_exactly_once 50
}

# A poll with malformed records among good ones: the good ones are
# forwarded once, the cursor moves past the bad ones, and so each bad one
# is logged with its place and reason (a drop is never only counted).
case_malformed() {
    redis_start
    gen_items "$tmp/items.jsonl" 0 2
    echo '{"title":"雨水井盖缺失","text":"没有编号的记录"}' >>"$tmp/items.jsonl"
    echo '["not", "an", "object"]' >>"$tmp/items.jsonl"
    gen_items "$tmp/items.jsonl" 2 3
    file_source "$tmp/items.jsonl"
    write_conf "$NEAR_OFF
[api]
listen = 127.0.0.1:0"
    gw_start gw.log
    wait_for 20 grep -q 'listening on 127.0.0.1:[0-9]' "$tmp/gw.log" ||
        fail "API did not come up: $(cat "$tmp/gw.log")"
    api_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/gw.log" |
        head -1)
    wait_for 20 grep -q '^cursor' "$tmp/state/sources/items.state" ||
        fail "cursor not committed"
    local r
    r=$(http_call GET /metrics)
    grep -q '^intake_items_dropped_total{source="items",reason="malformed"} 2$' \
        <<<"$r" || fail "drops not counted: $(echo "$r" | grep dropped)"
    kill -TERM "$gw_pid"
    wait "$gw_pid" || fail "gateway did not exit cleanly"
    expect_exactly_once 3
    grep -q 'items.jsonl:3: no id' "$tmp/gw.log" ||
        fail "record without an id dropped without a log line"
    grep -q 'items.jsonl:4: not a JSON object' "$tmp/gw.log" ||
        fail "record that is no object dropped without a log line"
}

http_call() { # http_call METHOD PATH [TOKEN] [BODY] -> body; code in $tmp/code
    local args=(-s -o "$tmp/resp" -w '%{http_code}' -X "$1")
    [ -n "${3:-}" ] && args+=(-H "Authorization: Bearer $3")
    [ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json' \
        --data-binary "$4")
    curl "${args[@]}" "http://127.0.0.1:$api_port$2" >"$tmp/code"
    cat "$tmp/resp"
}

case_reload_api() {
    cp -r "$src/rules" "$tmp/rules"
    RULES_DIR="$tmp/rules"
    api_start
    local item='{"id":"P-1","title":"雨水井盖缺失","text":"城中路口的雨水井盖缺失，路面有一个大坑。"}'

    # Push: classification and dedup verdict in the answer.
    http_call POST /v1/items "" "$item" >/dev/null
    [ "$(cat "$tmp/code")" = 401 ] || fail "push without token not 401"
    local r code1
    r=$(http_call POST /v1/items push-secret "$item")
    [ "$(cat "$tmp/code")" = 200 ] || fail "push: $(cat "$tmp/code") $r"
    code1=$(echo "$r" | jq -r '.items[0].code')
    [ "$code1" != null ] || fail "push answer has no code: $r"
    [ "$(echo "$r" | jq -r '.items[0].dedup.verdict')" = new ] ||
        fail "push verdict: $r"
    r=$(http_call POST /v1/items push-secret "$item")
    [ "$(echo "$r" | jq -r '.items[0].dedup.verdict')" = seen ] ||
        fail "second push not seen: $r"
    r=$(http_call POST /v1/items push-secret '[{"id":"P-2"},{"nope":1}]')
    [ "$(echo "$r" | jq -r '.items[0].accepted')" = false ] ||
        fail "bad item accepted: $r"
    http_call POST /v1/items push-secret 'not json' >/dev/null
    [ "$(cat "$tmp/code")" = 400 ] || fail "bad JSON not 400"
    # Hostile JSON: duplicate keys are refused; a big numeric id keeps its
    # digits exactly.
    http_call POST /v1/items push-secret \
        '{"id":"A","id":"B","title":"雨水井盖缺失"}' >/dev/null
    [ "$(cat "$tmp/code")" = 400 ] || fail "duplicate keys not refused"
    r=$(http_call POST /v1/items push-secret \
        '{"id":12345678901234567890,"title":"雨水井盖缺失"}')
    [ "$(echo "$r" | jq -r '.items[0].external_id')" = \
        12345678901234567890 ] || fail "numeric id not exact: $r"

    # Health and metrics.
    r=$(http_call GET /healthz)
    [ "$(echo "$r" | jq -r .status)" = ok ] || fail "healthz: $r"
    [ "$(echo "$r" | jq -r .generation)" = 1 ] || fail "generation: $r"
    r=$(http_call GET /metrics)
    grep -q '^intake_items_in_total{source="push",channel="hotline"} 3$' <<<"$r" ||
        fail "metrics items_in: $(echo "$r" | grep items_in)"
    grep -q "^intake_code_hits_total{code=\"$code1\"} [1-9]" <<<"$r" ||
        fail "metrics code hits"
    grep -q '^intake_classify_seconds_count 3$' <<<"$r" ||
        fail "metrics latency histogram"
    grep -q '^intake_ruleset_generation 1$' <<<"$r" ||
        fail "metrics generation"
    grep -q '^intake_http_requests_total{path="/v1/items",code="401"} 1$' <<<"$r" ||
        fail "metrics http requests: $(echo "$r" | grep http_requests)"
    grep -q '^intake_redis_up 1$' <<<"$r" ||
        fail "metrics redis up: $(echo "$r" | grep -E '^intake_(redis|dedup)_')"
    grep -q '^intake_dedup_index_loaded 1$' <<<"$r" ||
        fail "metrics dedup index loaded"
    grep -Eq '^intake_dedup_index_entries [1-9]' <<<"$r" ||
        fail "metrics dedup index entries: $(echo "$r" | grep index_entries)"
    grep -q '^intake_dedup_index_unwritten 0$' <<<"$r" &&
        grep -q '^intake_dedup_index_dropped_total 0$' <<<"$r" ||
        fail "metrics dedup index writes: $(echo "$r" | grep index_)"
    http_call GET /v1/sources | jq -e 'type == "array"' >/dev/null ||
        fail "/v1/sources"

    # Reload with a broken rule file: rejected, old rules keep working.
    local f
    f=$(ls "$tmp"/rules/*.rules | head -1)
    cp "$f" "$tmp/good.rules"
    printf '\nthis is not a rule\n' >>"$f"
    http_call POST /v1/reload push-secret >/dev/null
    [ "$(cat "$tmp/code")" = 401 ] || fail "reload with the push token"
    r=$(http_call POST /v1/reload admin-secret)
    [ "$(cat "$tmp/code")" = 422 ] || fail "broken reload: $(cat "$tmp/code") $r"
    [ "$(echo "$r" | jq -r '.rules.errors | length')" -ge 1 ] ||
        fail "broken reload without errors: $r"
    [ "$(echo "$r" | jq -r .generation)" = 1 ] || fail "generation moved"
    local item3='{"id":"P-3","title":"雨水井盖缺失","text":"城中路口的雨水井盖缺失，路面有一个大坑。"}'
    r=$(http_call POST /v1/items push-secret "$item3")
    [ "$(echo "$r" | jq -r '.items[0].code')" = "$code1" ] ||
        fail "old rules stopped working: $r"
    # SIGHUP with the broken file: still generation 1.
    kill -HUP "$gw_pid"
    sleep 1.5
    [ "$(http_call GET /healthz | jq -r .generation)" = 1 ] ||
        fail "SIGHUP swapped in a broken rule set"
    # Fixed: the reload goes through.
    cp "$tmp/good.rules" "$f"
    r=$(http_call POST /v1/reload admin-secret)
    [ "$(cat "$tmp/code")" = 200 ] || fail "good reload: $r"
    [ "$(echo "$r" | jq -r .generation)" = 2 ] || fail "generation: $r"
    # The rules' examples, pushed under the new rule set: more codes and
    # rules than a small cache of counters holds. Each code's hit counter
    # grows by the items answered with that code, no more, no less.
    local before after want got i
    before=$(http_call GET /metrics | code_hits)
    : >"$tmp/answered"
    for i in 0 1; do
        r=$(grep -h '^example:' "$tmp"/rules/*.rules | sed 's/^example: *//' |
            jq -R -s --argjson i "$i" 'split("\n") | map(select(length > 0))
                | .[$i * 250:($i + 1) * 250] | to_entries
                | map({id: "EX-\($i)-\(.key)", title: .value, text: .value})')
        r=$(http_call POST /v1/items push-secret "$r")
        [ "$(cat "$tmp/code")" = 200 ] || fail "examples push: $r"
        echo "$r" | jq -r '.items[] | .code // ""' >>"$tmp/answered"
    done
    after=$(http_call GET /metrics | code_hits)
    want=$(awk 'NF' "$tmp/answered" | sort | uniq -c |
        awk '{ print $2 " " $1 }' | sort)
    got=$(join -a 2 -e 0 -o 0,1.2,2.2 <(echo "$before") <(echo "$after") |
        awk '$3 > $2 { print $1 " " $3 - $2 }' | sort)
    [ "$got" = "$want" ] || fail "code hits: $(diff <(echo "$want") \
        <(echo "$got") | head -5)"
    [ "$(wc -l <<<"$want")" -gt 64 ] || fail "too few codes: $want"
    kill -TERM "$gw_pid"
    wait "$gw_pid" || fail "gateway did not exit cleanly"
}

# "CODE COUNT" per intake_code_hits_total series of a /metrics page, by
# code (no code: "" is left out; sorted for join).
code_hits() {
    sed -n 's/^intake_code_hits_total{code="\([^"]\+\)"} \([0-9]*\)$/\1 \2/p' |
        sort
}

# The gateway with its API on a kernel-picked port; sets api_port. Extra
# arguments go before `intake run` (e.g. prlimit). Port 0: the kernel
# picks the port when the gateway binds, and the gateway logs it. (A port
# picked beforehand by a probe socket was free only at that moment: under
# parallel tests another server could take it before the gateway bound,
# and the test then talked to that one.)
api_start() { # api_start [WRAPPER...]
    redis_start
    mkdir -p "$tmp/sources.d"
    : >"$tmp/sources.d/none.conf"
    export IG_PUSH_TOKEN=push-secret IG_ADMIN_TOKEN=admin-secret
    write_conf "
[api]
listen = 127.0.0.1:0
push_token_ref = env:IG_PUSH_TOKEN
admin_token_ref = env:IG_ADMIN_TOKEN"
    "$@" "$intake" run -c "$tmp/gateway.conf" 2>>"$tmp/gw.log" &
    gw_pid=$!
    pids+=("$gw_pid")
    wait_for 20 grep -q 'listening on 127.0.0.1:[0-9]' "$tmp/gw.log" ||
        fail "API did not come up: $(cat "$tmp/gw.log")"
    api_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
        "$tmp/gw.log" | head -1)
    wait_for 10 curl -sf "http://127.0.0.1:$api_port/healthz" ||
        fail "API did not answer on port $api_port"
}

# status and Allow header of METHOD PATH, as "CODE ALLOW"
status_allow() { # status_allow METHOD PATH
    local how=(-X "$1")
    # -X HEAD would make curl wait for a body that never comes.
    [ "$1" = HEAD ] && how=(-I)
    curl -s -m 10 -o /dev/null -D - "${how[@]}" "http://127.0.0.1:$api_port$2" |
        tr -d '\r' | awk 'NR == 1 { c = $2 } tolower($1) == "allow:" {
            sub(/^[^:]*: */, ""); a = $0 } END { print c " " a }'
}

case_api_hostile() {
    api_start
    local m got
    # Methods: a documented endpoint answers 405 and says what it takes.
    for m in PUT DELETE PATCH OPTIONS GET; do
        got=$(status_allow "$m" /v1/items)
        [ "$got" = "405 POST" ] || fail "$m /v1/items: '$got'"
    done
    for m in POST PUT DELETE; do
        got=$(status_allow "$m" /metrics)
        [ "$got" = "405 GET, HEAD" ] || fail "$m /metrics: '$got'"
    done
    got=$(status_allow GET /v1/reload)
    [ "$got" = "405 POST" ] || fail "GET /v1/reload: '$got'"
    got=$(status_allow HEAD /healthz)
    [ "$got" = "200 " ] || fail "HEAD /healthz: '$got'"
    for m in GET PUT DELETE; do
        got=$(status_allow "$m" /nope)
        [ "$got" = "404 " ] || fail "$m /nope: '$got'"
    done
    kill -TERM "$gw_pid"
    wait "$gw_pid" || fail "gateway did not exit cleanly"
}

# CPU seconds (user + system) the process has used so far.
cpu_s() { # cpu_s PID
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' \
        "/proc/$1/stat"
}

case_api_fd_exhaustion() {
    # Few descriptors, so a handful of idle connections use them all up
    # (any limit can be reached by enough clients).
    api_start prlimit --nofile=64:64
    local fds=() fd i c0 c1 l0 l1
    for i in $(seq 1 120); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$api_port" || break
        fds+=("$fd")
    done
    sleep 1
    c0=$(cpu_s "$gw_pid")
    l0=$(wc -l <"$tmp/gw.log")
    sleep 3
    c1=$(cpu_s "$gw_pid")
    l1=$(wc -l <"$tmp/gw.log")
    echo "out of descriptors for 3 s: $c0 -> $c1 CPU s," \
        "$((l1 - l0)) log lines"
    awk -v a="$c0" -v b="$c1" 'BEGIN { exit !(b - a < 0.5) }' ||
        fail "busy loop while out of descriptors: $c0 -> $c1 CPU s"
    [ $((l1 - l0)) -lt 20 ] ||
        fail "log flood while out of descriptors: $((l1 - l0)) lines"
    for fd in "${fds[@]}"; do
        exec {fd}>&-
    done
    # The idle connections time out or are closed; the API comes back.
    wait_for 15 curl -sf -m 2 "http://127.0.0.1:$api_port/healthz" ||
        fail "API did not recover once the clients went away"
    kill -TERM "$gw_pid"
    wait "$gw_pid" || fail "gateway did not exit cleanly"
}

# How many of PID's descriptors are sockets.
sockets_of() { # sockets_of PID
    find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l
}

case_api_slow_clients() {
    # The defaults are what is tested: request_timeout 30s,
    # max_connections 128.
    api_start
    local base r
    base=$(sockets_of "$gw_pid")
    # Over the cap: 160 idle connections. The gateway keeps at most 128
    # of them and closes the rest at once.
    r=$(python3 - "$api_port" "$gw_pid" <<'PY'
import os, select, socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(160)]
time.sleep(1.5)
closed = 0
for c in conns:
    r, _, _ = select.select([c], [], [], 0)
    if r:
        try:
            if c.recv(1) == b"":
                closed += 1
        except ConnectionError:
            closed += 1
fds = 0
for f in os.listdir("/proc/%s/fd" % pid):
    try:
        if os.readlink("/proc/%s/fd/%s" % (pid, f)).startswith("socket:"):
            fds += 1
    except OSError:
        pass
print(closed, fds)
for c in conns:
    c.close()
PY
    )
    echo "160 idle connections: closed at once, gateway sockets: $r" \
        "(before: $base)"
    local closed=${r% *} socks=${r#* }
    [ "$closed" -ge 32 ] ||
        fail "connections over the cap were not closed: $closed of 160"
    [ "$socks" -le $((base + 128)) ] ||
        fail "gateway holds $socks sockets (before: $base; cap 128)"
    # Once they go, the API answers at once.
    wait_for 5 curl -sf -m 1 "http://127.0.0.1:$api_port/healthz" ||
        fail "API did not answer once the idle connections went"

    # Slow clients, side by side: one trickling its request line and
    # headers, one its body (no token needed: the body is read before
    # the token is checked), each a byte a second; and a push whose body
    # is complete at 27 s, answered only at about 32 s (Redis stopped: the
    # dedup check times out after 5 s). The tricklers must be cut at the
    # 30 s deadline (they give up at 45 s); the push must get its
    # answer.
    r=$(python3 - "$api_port" "$redis_pid" <<'PY'
import os, signal, socket, sys, threading, time
port, redis = int(sys.argv[1]), int(sys.argv[2])
t0 = time.monotonic()
out = {}

def trickle(name, head, body):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head)
    s.settimeout(1.0)
    for b in body:
        if time.monotonic() - t0 > 45:
            break  # still connected: not cut
        try:
            s.send(bytes([b]))
            if s.recv(4096) == b"":
                break
        except socket.timeout:
            continue
        except OSError:
            break
    out[name] = time.monotonic() - t0

req = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 60 + b"\r\n\r\n"
post = (b"POST /v1/items HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n")

def slow_push():
    # Classified, so it goes on to the dedup check in Redis.
    item = ('{"id":"SLOW-1","title":"雨水井盖缺失",'
            '"text":"城中路口的雨水井盖缺失，路面有一个大坑。"}').encode()
    head = (b"POST /v1/items HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer push-secret\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(item))
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head)
    for i in range(len(item) - 1):
        time.sleep(26.0 / len(item))
        s.send(item[i:i + 1])
    time.sleep(max(0.0, 27.0 - (time.monotonic() - t0)))
    os.kill(redis, signal.SIGSTOP)
    s.send(item[-1:])
    s.settimeout(20)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            d = s.recv(4096)
            if not d:
                break
            data += d
    except OSError:
        pass
    os.kill(redis, signal.SIGCONT)
    status = "none"
    if data.startswith(b"HTTP/"):
        status = data.split(b" ", 2)[1].decode()
    out["push"] = "%.1f:%s" % (time.monotonic() - t0, status)

ts = [threading.Thread(target=trickle, args=("head", b"", req)),
      threading.Thread(target=trickle, args=("body", post, b"x" * 200)),
      threading.Thread(target=slow_push)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("%.1f %.1f %s" % (out["head"], out["body"], out["push"]))
PY
    )
    echo "slow headers cut at, slow body cut at, push answered at: $r"
    local th tb tp
    read -r th tb tp <<<"$r"
    awk -v t="$th" 'BEGIN { exit !(t >= 29 && t <= 36) }' ||
        fail "a client trickling its headers was not cut at 30 s: $th s"
    awk -v t="$tb" 'BEGIN { exit !(t >= 29 && t <= 36) }' ||
        fail "a client trickling its body was not cut at 30 s: $tb s"
    case "$tp" in
    *:none) fail "a push whose body came in time got no answer: $tp" ;;
    esac
    awk -v t="${tp%%:*}" 'BEGIN { exit !(t > 30) }' ||
        fail "the push was answered before the deadline (not tested): $tp"

    # Normal clients: a push, and two requests on one kept-alive
    # connection.
    wait_for 10 sh -c "redis-cli -s '$sock' ping | grep -q PONG" ||
        fail "redis did not come back"
    r=$(curl -s -m 10 -H 'Authorization: Bearer push-secret' \
        --data-binary '{"id":"N-1","title":"井盖","text":"城中路口雨水井盖缺失"}' \
        "http://127.0.0.1:$api_port/v1/items")
    [ "$(echo "$r" | jq -r '.items[0].accepted')" = true ] ||
        fail "normal push: $r"
    r=$(curl -s -m 10 -w '%{num_connects}\n' -o /dev/null -o /dev/null \
        "http://127.0.0.1:$api_port/healthz" \
        "http://127.0.0.1:$api_port/metrics" | paste -sd' ' -)
    [ "$r" = "1 0" ] || fail "keep-alive: connects per request: $r"
    # Both kinds of closing are counted.
    r=$(curl -s -m 5 "http://127.0.0.1:$api_port/metrics")
    grep -Eq '^intake_api_connections_closed_total\{reason="max_connections"\} ([3-9][0-9]|[1-9][0-9]{2})$' <<<"$r" ||
        fail "closed over the cap not counted: $(echo "$r" | grep closed_total)"
    grep -Eq '^intake_api_connections_closed_total\{reason="request_timeout"\} [2-9]$' <<<"$r" ||
        fail "closed at the deadline not counted: $(echo "$r" | grep closed_total)"
    kill -TERM "$gw_pid"
    wait "$gw_pid" || fail "gateway did not exit cleanly"
}

case_push_source_labels() {
    # A configured source, polled: its series stay exact.
    cat >"$tmp/feed.jsonl" <<'EOF'
{"id":"F-1","title":"井盖","text":"城南新村东门外的雨水井盖不见了。"}
{"id":"F-2","title":"路灯","text":"华新镇新凤中路的路灯坏了一排。"}
EOF
    file_source "$tmp/feed.jsonl"
    api_start
    local m='^intake_items_in_total{source="items",channel="hotline"} 2$'
    wait_for 10 sh -c "curl -s 'http://127.0.0.1:$api_port/metrics' |
        grep -q '$m'" || fail "the configured source was not polled"
    # 200 items, each naming a source of its own; then one naming the
    # configured source.
    local body r
    body=$(python3 -c '
import json
print(json.dumps([{"id": "P-%d" % i, "title": "井盖", "text": "push %d" % i,
                   "source": "pushed-%03d" % i} for i in range(200)]))')
    r=$(curl -s -m 30 -H 'Authorization: Bearer push-secret' \
        --data-binary "$body" "http://127.0.0.1:$api_port/v1/items")
    [ "$(echo "$r" | jq '[.items[] | select(.accepted)] | length')" = 200 ] ||
        fail "pushes not accepted: $(echo "$r" | head -c 300)"
    r=$(curl -s -m 10 -H 'Authorization: Bearer push-secret' \
        --data-binary '{"id":"P-F","title":"井盖","text":"x","source":"items"}' \
        "http://127.0.0.1:$api_port/v1/items")
    [ "$(echo "$r" | jq -r '.items[0].accepted')" = true ] ||
        fail "push naming the configured source: $r"
    r=$(curl -s -m 10 "http://127.0.0.1:$api_port/metrics")
    local nsrc total other items
    nsrc=$(grep -o '^intake_items_in_total{source="[^"]*"' <<<"$r" |
        sort -u | wc -l)
    total=$(awk '/^intake_items_in_total\{/ { n += $2 } END { print n }' \
        <<<"$r")
    other=$(sed -n \
        's/^intake_items_in_total{source="other",channel="hotline"} //p' \
        <<<"$r")
    items=$(sed -n \
        's/^intake_items_in_total{source="items",channel="hotline"} //p' \
        <<<"$r")
    echo "items_in: $nsrc sources, $total items; other $other, items $items"
    # 64 pushed sources at most, plus "items" and "other".
    [ "$nsrc" -le 66 ] || fail "/metrics has $nsrc source labels"
    [ "$total" = 203 ] || fail "items counted: $total, not 203"
    [ "$items" = 3 ] || fail "the configured source's count: '$items'"
    [ "$other" = $((200 - 64)) ] || fail "source=\"other\": '$other'"
    [ "$(grep -c 'counted as source=\\"other\\"' "$tmp/gw.log")" = 1 ] ||
        fail "the cap was not logged once: $(grep -c other "$tmp/gw.log")"
    kill -TERM "$gw_pid"
    wait "$gw_pid" || fail "gateway did not exit cleanly"
}

# ------------------------------------------------------------------------
case_priority() {
    redis_start
    cat >"$tmp/items.jsonl" <<'EOF'
{"id":"R-1","title":"堵路","text":"上百名村民聚集在徐泾镇崧泽大道上，堵住了道路，车辆无法通行。"}
{"id":"N-1","title":"井盖","text":"城南新村东门外的雨水井盖不见了，留下一个黑洞洞的口子，傍晚放学的孩子差点踩进去。"}
{"id":"M-1","title":"窨井盖","text":"华新镇新凤中路有个窨井盖破损了，车开过去哐哐响。"}
{"id":"M-2","title":"窨井盖","text":"华新镇新凤中路有个窨井盖破损了，车开过去哐哐响。"}
{"id":"M-3","title":"窨井盖","text":"华新镇新凤中路有个窨井盖破损了，车开过去哐哐响。"}
EOF
    file_source "$tmp/items.jsonl"
    write_conf "
[forward duty]
kind = file
path = $tmp/hot.jsonl
only = high
batch_wait = 0
batch_max = 1"
    "$intake" run -c "$tmp/gateway.conf" --once 2>"$tmp/gw.log" ||
        { cat "$tmp/gw.log" >&2; fail "intake run --once failed"; }
    local rid n1 m1 top
    rid=$(stream_records | jq -r 'select(.external_id == "R-1") | .id')
    n1=$(stream_records | jq -r 'select(.external_id == "N-1") | .id')
    m1=$(stream_records | jq -r 'select(.external_id == "M-1") | .id')
    [ -n "$rid" ] && [ -n "$n1" ] && [ -n "$m1" ] ||
        fail "candidates missing: R-1 '$rid' N-1 '$n1' M-1 '$m1'"
    [ "$(stream_records | jq -r 'select(.id == "'"$rid"'") |
        .priority.level + " " + (.code | tostring)')" = "high null" ] ||
        fail "the red-line item is not forwarded as high priority"
    # Reports 2 (one channel: elevated) and 3 (high), for M-1.
    [ "$(stream_updates | jq -r '.update_id + " " + .priority.level' |
        LC_ALL=C sort | paste -sd, -)" = "$m1-r2 elevated,$m1-r3 high" ] ||
        fail "updates: $(stream_updates)"
    # The duty target: the red-line candidate and the update that made
    # M-1 high, nothing else.
    [ "$(jq -r '.update_id // .external_id' "$tmp/hot.jsonl" |
        LC_ALL=C sort | paste -sd, -)" = "R-1,$m1-r3" ] ||
        fail "only = high target got: $(cat "$tmp/hot.jsonl")"
    # The review queue: the red-line item first; the weak match is in it.
    top=$(rcli ZREVRANGE t:review 0 -1 | paste -sd, -)
    echo "review: $top"
    [ "${top%%,*}" = "$rid" ] || fail "review queue head: $top"
    case ",$top," in
    *",$n1,"*) ;;
    *) fail "weak match not queued: $top" ;;
    esac
    [ "$(rcli PTTL t:review)" -gt 0 ] || fail "review queue has no TTL"
}

"case_$case_name"
echo "PASS [$case_name]"
