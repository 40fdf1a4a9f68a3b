#!/bin/sh
# classify_cli.sh — `intake classify` end to end: help and usage errors,
# empty input, plain text and JSON Lines, a malformed line, a broken rule
# set, a missing file, a 1 MiB item, invalid UTF-8, the bundled sample.
# Needs IG_INTAKE and IG_SOURCE_DIR (set by CTest).
set -u
. "$(dirname "$0")/lib/cli_check.sh"

"$intake" classify --help >"$tmp/help" 2>&1
check "help exits 0" test $? -eq 0
check "help shows usage" grep -q "usage: intake classify" "$tmp/help"

"$intake" classify --bogus >/dev/null 2>&1
check "unknown option exits 2" test $? -eq 2
"$intake" classify --format xml </dev/null >/dev/null 2>&1
check "bad format exits 2" test $? -eq 2

: | "$intake" classify --rules "$rules" >"$tmp/empty" 2>&1
check "empty input exits 0" test $? -eq 0
check "empty input prints nothing" test ! -s "$tmp/empty"
printf '\n  \n\r\n' | "$intake" classify --rules "$rules" >"$tmp/blank"
check "blank lines are skipped" test ! -s "$tmp/blank"

printf '路边的路灯坏了一个星期都不亮\n今天天气很好\n' |
    "$intake" classify --rules "$rules" >"$tmp/plain"
check "plain text exits 0" test $? -eq 0
check "plain text: one object per line" test "$(wc -l <"$tmp/plain")" -eq 2
check "plain text: id is the line number" grep -q '^{"id":"2"' "$tmp/plain"
check "unclassified has null code" grep -q '"id":"2","code":null' \
    "$tmp/plain"

printf '{"id":"a","title":"井盖","text":"小区门口的窨井盖不见了","extra":[1,2]}\n{"id":\n{"id":"c","text":"路灯不亮"}\n' |
    "$intake" classify --rules "$rules" >"$tmp/mixed"
check "malformed line exits 1" test $? -eq 1
check "malformed line gives an error object" \
    grep -q '"line":2,"error":"invalid JSON' "$tmp/mixed"
check "the run goes on after it" grep -q '"id":"c"' "$tmp/mixed"
check "unknown fields pass through" grep -q '"extra":\[1,2\]' "$tmp/mixed"
check "rules_version present" grep -q '"rules_version":"rules-' "$tmp/mixed"

printf '\357\273\277{"id":"bom","text":"路灯不亮"}\n' |
    "$intake" classify --rules "$rules" >"$tmp/bom"
check "a byte order mark is skipped" grep -q '^{"id":"bom"' "$tmp/bom"

mkdir "$tmp/broken"
cp "$rules/taxonomy.tsv" "$tmp/broken/"
printf 'rule: x\ncode: B01-99\nany: 井盖\nexample: a\ncounter: b\n' \
    >"$tmp/broken/x.rules"
echo x | "$intake" classify --rules "$tmp/broken" >/dev/null 2>"$tmp/err"
check "broken rule set exits 2" test $? -eq 2
check "broken rule set: file:line:col" \
    grep -q "x.rules:2:7: error: unknown code 'B01-99'" "$tmp/err"

"$intake" classify --rules "$rules" "$tmp/nonexistent" >/dev/null 2>&1
check "missing file exits 3" test $? -eq 3

awk 'BEGIN { s = ""; for (i = 0; i < 1048576 / 6; i++) s = s "停水"; print s "井盖不见了" }' \
    >"$tmp/big"
"$intake" classify --rules "$rules" "$tmp/big" >"$tmp/bigout"
check "1 MiB item exits 0" test $? -eq 0
check "1 MiB item: one result" test "$(wc -l <"$tmp/bigout")" -eq 1

printf 'bad \377\376 bytes \300\274 井盖不见了\n' |
    "$intake" classify --rules "$rules" >"$tmp/utf"
check "invalid UTF-8 exits 0" test $? -eq 0
if command -v python3 >/dev/null 2>&1; then
    check "output is valid JSON" python3 -c '
import json, sys
for f in sys.argv[1:]:
    for line in open(f, encoding="utf-8"):
        json.loads(line)' "$tmp/plain" "$tmp/mixed" "$tmp/utf" "$tmp/bigout"
fi

"$intake" classify --format text --rules "$rules" \
    "$src/samples/messages.jsonl" >"$tmp/table"
check "sample table exits 0" test $? -eq 0
check "sample table has a header" grep -q "^ID .*CODE .*NAME" "$tmp/table"
check "sample table has a summary" grep -q "items: .* classified" "$tmp/table"
"$intake" classify --explain --format text --rules "$rules" \
    "$src/samples/messages.jsonl" >"$tmp/explain"
check "--explain says why" grep -q "verdict:" "$tmp/explain"

# A directory given as FILE says so (it was "read or write failed").
mkdir "$tmp/adir"
"$intake" classify --rules "$rules" "$tmp/adir" >/dev/null 2>"$tmp/err"
check "a directory exits 3" test $? -eq 3
check "a directory is named as one" grep -q "adir: Is a directory" "$tmp/err"

# A cell cut before a wide last character still ends in the cut mark.
printf '{"id":"abcdefghi\344\270\255","text":"x"}\n' |
    "$intake" classify --format text --rules "$rules" >"$tmp/cut"
check "a cut id ends in …" grep -q "^abcdefghi… " "$tmp/cut"

# After --, every argument is a file, even one whose name starts with -.
printf '路灯不亮\n' >"$tmp/a.txt"
printf '井盖不见了\n' >"$tmp/-dash.txt"
(cd "$tmp" && "$intake" classify --rules "$rules" -- a.txt -dash.txt) \
    >"$tmp/dd" 2>&1
check "-- then a file named -x exits 0" test $? -eq 0
check "-- then a file named -x: both read" test "$(wc -l <"$tmp/dd")" -eq 2

echo "$fails failed"
test "$fails" -eq 0
