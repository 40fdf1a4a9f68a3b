#!/usr/bin/env bash
# demo.sh — the quick start: run the gateway once on the bundled samples.
#
#   scripts/demo.sh [--build DIR] [--keep] [PATH/TO/intake]
#
# What it does, all inside one temporary directory that is removed at the
# end (--keep leaves it for a look):
#   1. starts a throwaway redis-server on a unix socket (no TCP port, no
#      snapshots) and a local HTTP server on 127.0.0.1 serving
#      samples/feeds/ (tests/lib/fixture_http, or python3 -m http.server);
#   2. writes a gateway.conf and a sources.d from samples/sources.d: two
#      JSON Lines exports (hotline, letters) and one RSS feed over HTTP;
#   3. runs `intake run --once`: every source is polled once, each item is
#      classified, deduplicated in Redis and forwarded to a Redis Stream;
#   4. reads the stream back with XRANGE and prints the candidates, then
#      stops both servers by PID.
# The sample data shows the dedup rules at work: a letter repeating a
# hotline call word for word becomes one candidate with two reports, and a
# news item re-wording another call is linked to it instead of forwarded.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${IG_BUILD_DIR:-$here/build}"
keep=0
build_given=0
while (($#)); do
    case "$1" in
    --build) build="$2"; build_given=1; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "demo: unknown option $1" >&2; exit 2 ;;
    *) IG_INTAKE="$1"; shift ;;
    esac
done

# A given binary names its build tree too (for tests/fixture_http).
if [ -n "${IG_INTAKE:-}" ] && [ "$build_given" = 0 ]; then
    build=$(cd "$(dirname "$IG_INTAKE")/.." && pwd)
fi
intake="${IG_INTAKE:-$build/gateway/intake}"
if [ ! -x "$intake" ]; then
    echo "demo: building intake in $build ..." >&2
    cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$build" -j2 --target intake fixture_http >/dev/null
fi
for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null || {
        echo "demo: $tool not found (run scripts/deps.sh)" >&2
        exit 3
    }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/intake-demo.XXXXXX")
redis_pid=""
http_pid=""
cleanup() {
    # Stop what this script started, by PID only.
    if [ -n "$http_pid" ]; then
        kill "$http_pid" 2>/dev/null || true
        wait "$http_pid" 2>/dev/null || true
    fi
    if [ -n "$redis_pid" ]; then
        kill "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    if [ "$keep" = 1 ]; then
        echo "demo: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

# 1. Redis: unix socket only, nothing written to disk but the socket.
sock="$tmp/redis.sock"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
    --dir "$tmp" --save "" --appendonly no --daemonize no \
    --logfile "$tmp/redis.log" &
redis_pid=$!
for _ in $(seq 1 100); do
    if redis-cli -s "$sock" ping 2>/dev/null | grep -q PONG; then
        break
    fi
    sleep 0.1
done
redis-cli -s "$sock" ping 2>/dev/null | grep -q PONG || {
    echo "demo: redis-server did not start (see $tmp/redis.log)" >&2
    exit 3
}

# 1b. HTTP: the project's fixture server, or Python's as a fallback.
feeds="$here/samples/feeds"
fixture="$build/tests/fixture_http"
if [ -x "$fixture" ]; then
    "$fixture" --root "$feeds" --port-file "$tmp/http.port" \
        >"$tmp/http.log" 2>&1 &
    http_pid=$!
else
    port=$(python3 -c 'import socket; s=socket.socket(); \
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    (cd "$feeds" && exec python3 -m http.server --bind 127.0.0.1 "$port") \
        >"$tmp/http.log" 2>&1 &
    http_pid=$!
    echo "$port" >"$tmp/http.port.py"
fi
port=""
for _ in $(seq 1 100); do
    for f in "$tmp/http.port" "$tmp/http.port.py"; do
        if [ -s "$f" ]; then
            port=$(cat "$f")
        fi
    done
    if [ -n "$port" ] &&
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        break
    fi
    sleep 0.1
done
[ -n "$port" ] || { echo "demo: HTTP server did not start" >&2; exit 3; }

# 2. Config: sources from the samples with the paths filled in.
mkdir -p "$tmp/sources.d"
for f in "$here"/samples/sources.d/*.conf; do
    sed -e "s|@FEEDS@|$feeds|g" -e "s|@HTTP@|http://127.0.0.1:$port|g" \
        "$f" >"$tmp/sources.d/$(basename "$f")"
done
cat >"$tmp/gateway.conf" <<EOF
[gateway]
rules = $here/rules
sources = sources.d
state_dir = state
log_format = text
log_level = ${IG_DEMO_LOG:-warn}

[redis]
socket = $sock
prefix = demo

[forward platform]
kind = stream
stream = demo:candidates

[api]
listen = ""
EOF

# 3. One pass over every source.
echo "== intake run --once (sources: $(ls "$tmp/sources.d" | tr '\n' ' '))"
rc=0
"$intake" run -c "$tmp/gateway.conf" --once || rc=$?

# 4. What the district platform would read from the stream.
n=$(redis-cli -s "$sock" XLEN demo:candidates)
echo "== $n records in stream demo:candidates (XRANGE - +): candidates, and updates when a later report joined one"
redis-cli -s "$sock" --raw XRANGE demo:candidates - + >"$tmp/xrange.txt"
python3 - "$tmp/xrange.txt" "$sock" <<'EOF'
import json, subprocess, sys

lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
for line in lines:
    line = line.strip()
    if not line.startswith("{"):
        continue
    try:
        c = json.loads(line)
    except ValueError:
        continue
    # The report count may have grown after the record was forwarded: ask
    # Redis for the live count and channels of the candidate.
    live = subprocess.run(
        ["redis-cli", "-s", sys.argv[2], "--raw", "HGET",
         "demo:cand:" + c.get("id", ""), "reports"],
        capture_output=True, text=True).stdout.strip()
    chans = subprocess.run(
        ["redis-cli", "-s", sys.argv[2], "--raw", "HGET",
         "demo:cand:" + c.get("id", ""), "chans"],
        capture_output=True, text=True).stdout.strip().split(",")
    if c.get("type") == "update":
        # A later report of a candidate above: its new count and channels.
        d = c.get("duplicate") or {}
        print("%s  update: report %s of this candidate (%s, %s duplicate "
              "from %s)" % (c.get("id"), c.get("reports"),
                            ",".join(c.get("channels") or []),
                            d.get("dedup"), d.get("source")))
        print("    priority: %s  %s" % (
            (c.get("priority") or {}).get("level") or "normal",
            "; ".join((c.get("priority") or {}).get("reasons") or [])))
        continue
    code = c.get("code") or "-"
    prio = (c.get("priority") or {}).get("level") or "normal"
    towns = ",".join(c.get("town") or []) or "-"
    units = [u.get("unit") for u in (c.get("units") or []) if u.get("unit")]
    print("%s  %s %s (%s)" % (c.get("id"), code, c.get("name") or
                               "unclassified", c.get("major") or "-"))
    print("    title:    %s" % (c.get("title") or "")[:60])
    print("    from:     %s (%s)  confidence %.2f  priority %s" % (
        c.get("source"), c.get("channel"), c.get("confidence") or 0, prio))
    print("    reports:  %s  channels %s" % (
        live or c.get("reports"),
        ",".join(sorted(x for x in chans if x)) or
        ",".join(c.get("channels") or [])))
    print("    town:     %s  units %s" % (towns, ", ".join(units[:3]) or "-"))
EOF
exit "$rc"
