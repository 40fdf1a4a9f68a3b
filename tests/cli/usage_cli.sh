#!/bin/sh
# usage_cli.sh — the argv of every `intake` command as a user types it:
# an option without its value, a stray argument, a bad number, an option
# of another command, a typo in an id. Each gets one line on stderr that
# names the mistake, and exit 2; nothing is silently ignored.
# Needs IG_INTAKE and IG_SOURCE_DIR (set by CTest); no network, no Redis.
set -u
. "$(dirname "$0")/../lib/cli_check.sh"
# The file source of examples/sources.d reads examples/replay from here.
cd "$src" || exit 1
srcs=examples/sources.d

# run RC NAME CMD...: runs CMD (stdout to $tmp/out, stderr to $tmp/err)
# and checks its exit status.
run() {
    want=$1 name=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    got=$?
    check "$name: exit $want" test "$got" -eq "$want"
}
says() { # says NAME PATTERN: the last command's stderr matches PATTERN
    check "$1" grep -q -- "$2" "$tmp/err"
}

# sources and poll: an option at the end without its value is named as
# such, not called an unknown option.
run 2 "sources check -c" "$intake" sources check -c
says "sources check -c: needs a value" "intake sources: -c needs a value"
run 2 "sources status -d" "$intake" sources status -d
says "sources status -d: needs a value" "intake sources: -d needs a value"
run 2 "poll -s" "$intake" poll replay -s
says "poll -s: needs a value" "intake poll: -s needs a value"
run 2 "poll --max" "$intake" poll replay -s "$srcs" --max
says "poll --max: needs a value" "intake poll: --max needs a value"
run 2 "poll --rules" "$intake" poll replay -s "$srcs" --rules
says "poll --rules: needs a value" "intake poll: --rules needs a value"

# A stray argument is not reported as an unknown subcommand.
run 2 "sources check extra" "$intake" sources check -c "$srcs" extra
says "sources check extra: named" "unexpected argument 'extra'"

# --max takes a count; anything else was shown in full before.
run 2 "poll --max abc" "$intake" poll replay -s "$srcs" --max abc
says "poll --max abc: named" "intake poll: --max takes a count"
run 2 "poll --max -1" "$intake" poll replay -s "$srcs" --max -1
run 0 "poll --max 1" "$intake" poll replay -s "$srcs" --max 1 --no-classify
check "poll --max 1: one item shown" test "$(grep -c '^\[' "$tmp/out")" -eq 1
run 0 "poll --max 1 classified" "$intake" poll replay -s "$srcs" --max 1
says "poll --max 1: the summary says how many were shown" \
    "3 items (1 shown), 1 classified"

# A state dir that does not exist is a typo, not "start from nothing".
run 2 "poll --state missing" "$intake" poll replay -s "$srcs" \
    --state "$tmp/no-such-state"
says "poll --state missing: named" "no-such-state"

# An unknown source id suggests the closest one.
run 2 "poll typo" "$intake" poll replai -s "$srcs"
says "poll typo: did you mean" "did you mean 'replay'"

# rules: an option of another rules command is refused, not ignored
# ('rules diff --rules X' used to run with OLD_DIR/NEW_DIR and drop X).
printf '%s\n' '{"id":"a","text":"路灯不亮","acceptable":["B01-18"]}' \
    >"$tmp/c.jsonl"
run 2 "rules diff --rules" "$intake" rules diff "$rules" "$rules" \
    --corpus "$tmp/c.jsonl" --rules "$rules"
says "rules diff --rules: named" "not an option of 'rules diff'"
run 2 "rules diff --baseline" "$intake" rules diff "$rules" "$rules" \
    --corpus "$tmp/c.jsonl" --baseline "$tmp/c.jsonl"
run 2 "rules check --min-accuracy" "$intake" rules check --rules "$rules" \
    --min-accuracy 0.9
says "rules check --min-accuracy: named" "not an option of 'rules check'"
run 2 "rules check --errors" "$intake" rules check --rules "$rules" --errors
run 2 "rules test --verbose" "$intake" rules test --rules "$rules" \
    --corpus "$tmp/c.jsonl" --verbose
run 0 "rules test with its own options" "$intake" rules test \
    --rules "$rules" --corpus "$tmp/c.jsonl" --errors --all-codes --top 3 \
    --min-accuracy 0.5
run 0 "rules check with its own options" "$intake" rules check \
    --rules "$rules" --corpus "$tmp/c.jsonl" --verbose

# run: a bad --log-level fails --check-config (systemd's ExecStartPre)
# rather than only the start that follows it; getopt's messages name
# the command; --help says what exit 3 of --once means.
mkdir -p "$tmp/gw/sources.d" "$tmp/gw/import"
printf '[source imp]\nkind = file\nurl = %s\n' "$tmp/gw/import" \
    >"$tmp/gw/sources.d/imp.conf"
printf '[gateway]\nstate_dir = %s\n[redis]\nsocket = %s\n' \
    "$tmp/gw/state" "$tmp/gw/redis.sock" >"$tmp/gw/gateway.conf"
printf '[forward out]\nkind = file\npath = %s\n' "$tmp/gw/out.jsonl" \
    >>"$tmp/gw/gateway.conf"
run 0 "run --check-config" "$intake" run -c "$tmp/gw/gateway.conf" \
    --check-config
run 2 "run --check-config --log-level bogus" "$intake" run \
    -c "$tmp/gw/gateway.conf" --check-config --log-level bogus
says "run --log-level bogus: named" "intake run: bad --log-level 'bogus'"
run 2 "run -c" "$intake" run -c
says "run -c: names the command" "^intake run: option requires an argument"
run 2 "run --bogus" "$intake" run --bogus
says "run --bogus: names the command" "^intake run: unrecognized option"
run 0 "run --help" "$intake" run --help
check "run --help: --once exit 3" grep -q "fetched again" "$tmp/out"

# A sources file with a byte that is not UTF-8 (saved as GBK): where.
printf '[source a]\nkind = rss\nurl = http://x/\262\342\n' >"$tmp/gbk.conf"
run 1 "sources check GBK byte" "$intake" sources check -c "$tmp/gbk.conf"
says "sources check GBK byte: line and column" "gbk.conf:3:16: error: not valid UTF-8"

# A mistyped kind gets the closest one and the list.
run 2 "sources kinds rsss" "$intake" sources kinds rsss
says "sources kinds rsss: did you mean" "did you mean 'rss'"
says "sources kinds rsss: the list" "built-in: .*hotline"

# `intake help COMMAND` is that command's --help; an unknown one is named.
run 0 "help classify" "$intake" help classify
check "help classify: the command's usage" grep -q "^usage: intake classify" \
    "$tmp/out"
run 2 "help nope" "$intake" help nope
says "help nope: named" "unknown command 'nope'"
run 0 "--version" "$intake" --version
check "--version: prints it" grep -q "^intake " "$tmp/out"

echo "$fails failed"
test "$fails" -eq 0
