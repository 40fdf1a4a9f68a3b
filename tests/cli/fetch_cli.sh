#!/usr/bin/env bash
# fetch_cli.sh — `intake sources check|status|kinds` and `intake poll` as an
# administrator runs them, against the standalone fixture HTTP server.
#
#   fetch_cli.sh INTAKE FIXTURE_HTTP SOURCE_DIR SHARED_DIR
set -euo pipefail
intake=$1 fixture=$2 src=$3 shared=$4
tmp=$(mktemp -d)
fx_pid=
cleanup() {
  if [ -n "$fx_pid" ]; then kill "$fx_pid" 2>/dev/null || true; wait "$fx_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. The shipped examples are valid.
"$intake" sources check -c "$src/examples/sources.d" > "$tmp/out" 2> "$tmp/err" \
  || fail "examples do not check: $(cat "$tmp/err")"
grep -q "sources OK" "$tmp/out" || fail "no summary"

# 2. Every mistake at once, as file:line:col; exit 1; secrets not echoed.
cat > "$tmp/bad.conf" <<'CONF'
[source ok]
kind = file
url = /tmp

[source typo]
kind = hotline
url = https://h.example/api
id = /gdbh
intervall = 5m
auth = my-secret-token

[source ok]
kind = rsss
url = https://n.example/feed
CONF
set +e
"$intake" sources check -c "$tmp/bad.conf" > "$tmp/out" 2> "$tmp/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "sources check exit $rc, want 1"
grep -q "bad.conf:9:1: error: unknown key 'intervall'.*did you mean 'interval'" "$tmp/err" || fail "no typo error: $(cat "$tmp/err")"
grep -q "bad.conf:10:8: error: auth:" "$tmp/err" || fail "no auth error"
grep -q "bad.conf:13:8: error: kind: unknown kind 'rsss'" "$tmp/err" || fail "no kind error"
grep -q "bad.conf:12: error: duplicate source id 'ok'" "$tmp/err" || fail "no duplicate error"
if grep -q "my-secret-token" "$tmp/err" "$tmp/out"; then fail "secret echoed"; fi
set +e
"$intake" sources check -c "$tmp/missing.d" > /dev/null 2>&1
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "missing path exit $rc, want 2"

# 3. intake poll against the fixture server (paging via routes.txt).
mkdir -p "$tmp/root"
cp "$shared/feeds/zh/hotline_page1.json" "$shared/feeds/zh/hotline_page2_last.json" "$tmp/root/"
printf '/api/orders - hotline_page1.json\n/api/orders cursor=eyJvZmZzZXQiOjJ9 hotline_page2_last.json\n' > "$tmp/root/routes.txt"
"$fixture" --root "$tmp/root" --port-file "$tmp/port" &
fx_pid=$!
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
cat > "$tmp/poll.conf" <<CONF
[source rx]
kind = hotline
url = http://127.0.0.1:$port/api/orders
enabled = false
auth = env:IG_CLI_TOKEN
id = /gdbh
time = /slsj
title = /title
text = /sqnr
link = /url
ok_pointer = /code
ok_value = 200
CONF
IG_CLI_TOKEN=t0k "$intake" poll rx -s "$tmp/poll.conf" --dry-run --json --no-classify > "$tmp/items" 2> "$tmp/err" \
  || fail "poll failed: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/items")" -eq 4 ] || fail "want 4 items, got $(wc -l < "$tmp/items")"
grep -q '"ext_id":"QP12345-20220924-0098"' "$tmp/items" || fail "last item missing"
if grep -q "t0k" "$tmp/err"; then fail "token logged"; fi
"$intake" poll rx -s "$tmp/poll.conf" --max 1 > "$tmp/text" 2>&1 && fail "poll without the token must fail"
grep -q "environment variable is not set" "$tmp/text" || fail "no auth reason: $(cat "$tmp/text")"
"$intake" poll nosuch -s "$tmp/poll.conf" > /dev/null 2>&1 && fail "unknown id must fail"

# 4. Hostile redirects: no connect() to the 127.0.0.1:1 tripwire, no
#    open of /etc/passwd (checked with strace when it can trace).
cp "$shared/hostile/http_redirect_to_loopback.http" "$shared/hostile/http_redirect_to_file.http" "$tmp/root/"
cat > "$tmp/hostile.conf" <<CONF
[source loopback]
kind = hotline
url = http://127.0.0.1:$port/http_redirect_to_loopback.http
id = /gdbh

[source tofile]
kind = hotline
url = http://127.0.0.1:$port/http_redirect_to_file.http
id = /gdbh
CONF
for id in loopback tofile; do
  if strace -f -o /dev/null true 2>/dev/null; then
    set +e
    # LeakSanitizer cannot run under ptrace: leaks are checked elsewhere.
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
    strace -f -e trace=connect,openat -o "$tmp/trace.$id" \
      "$intake" poll "$id" -s "$tmp/hostile.conf" --no-classify > /dev/null 2> "$tmp/err"
    rc=$?
    set -e
    if grep -q 'sin_port=htons(1)' "$tmp/trace.$id"; then fail "$id: connected to the tripwire"; fi
    if grep -q '/etc/passwd' "$tmp/trace.$id"; then fail "$id: opened /etc/passwd"; fi
  else
    set +e
    "$intake" poll "$id" -s "$tmp/hostile.conf" --no-classify > /dev/null 2> "$tmp/err"
    rc=$?
    set -e
  fi
  [ "$rc" -eq 3 ] || fail "$id: poll exit $rc, want 3"
  grep -q "refused" "$tmp/err" || fail "$id: no refusal: $(cat "$tmp/err")"
done

# 5. status reads a state dir; kinds lists the schema.
mkdir -p "$tmp/state/sources"
printf 'version\t1\nid\trx\nkind\thotline\npolls\t3\nconsecutive_failures\t2\nlast_error\tHTTP status 500\nlast_error_ts\t1700000000\n' > "$tmp/state/sources/rx.state"
"$intake" sources status -d "$tmp/state" > "$tmp/out"
grep -q "FAILING" "$tmp/out" || fail "status: $(cat "$tmp/out")"
grep -q "HTTP status 500" "$tmp/out" || fail "status lacks the reason"
"$intake" sources status -d "$tmp/state" --json > "$tmp/out"
grep -q '"consecutive_failures":2' "$tmp/out" || fail "status --json"
"$intake" sources kinds > "$tmp/out"
grep -q "max_backoff" "$tmp/out" || fail "kinds"
echo "fetch_cli: ok"
