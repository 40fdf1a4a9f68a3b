#!/bin/sh
# rules_cli.sh — `intake rules test|check|diff` as a user runs them: help,
# exit codes, JSON output, a diff between two rule directories, a broken
# rule set, unreadable corpus lines. Uses a throwaway copy of rules/.
set -eu
src="${IG_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
intake="${IG_INTAKE:-$src/build/gateway/intake}"
[ -x "$intake" ] || { echo "rules_cli: $intake not built" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# expect RC CMD...: runs CMD, output to $tmp/out and $tmp/err.
expect() {
    want=$1
    shift
    set +e
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    set -e
    [ "$got" -eq "$want" ] || fail "exit $got, want $want: $*"
}
has() { grep -q -- "$1" "$tmp/$2" || fail "no '$1' in $2 of the last command"; }

# A tiny labelled corpus, and a copy of the rules to edit.
cat >"$tmp/c.jsonl" <<'JSON'
{"id":"a","title":"路灯坏了","text":"我们这条街的路灯坏了两个月，晚上黑灯瞎火","in_scope":true,"acceptable":["B01-18"]}
{"id":"b","title":"楼下饭店油烟扰民","text":"油烟直排进窗户","in_scope":true,"primary":"S05-01","acceptable":["S05-01"],"pinned":true}
{"id":"c","title":"拖欠工资","text":"公司拖欠工资三个月","in_scope":false,"acceptable":[]}
{"id":"d","title":"小区门口僵尸车","text":"停了三年没人动","in_scope":true,"acceptable":["S01-01"]}
JSON
cp -r "$src/rules" "$tmp/old"
cp -r "$src/rules" "$tmp/new"

# --help for every command: exit 0, describes the options.
expect 0 "$intake" rules --help
has "rules test" out
expect 0 "$intake" rules test --help
has "--min-accuracy" out
expect 0 "$intake" rules check --help
has "ambiguity" out
expect 0 "$intake" rules diff --help
has "OLD_DIR NEW_DIR" out
expect 2 "$intake" rules
expect 2 "$intake" rules frobnicate
expect 2 "$intake" rules test --rules "$tmp/old"
expect 2 "$intake" rules test --corpus "$tmp/c.jsonl" --min-accuracy 150
expect 2 "$intake" rules test --corpus "$tmp/c.jsonl" --min-accuracy abc
expect 2 "$intake" rules test --corpus "$tmp/c.jsonl" --bogus
expect 3 "$intake" rules test --rules "$tmp/old" --corpus "$tmp/missing.jsonl"

# test: the table, the bars, JSON.
expect 0 "$intake" rules test --rules "$tmp/old" --corpus "$tmp/c.jsonl" \
    --min-accuracy 0.9 --min-abstention 90%
has "top-1 accuracy in scope .*100.0%" out
has "correct abstention .*100.0%" out
has "Per major category" out
has "cooking-fumes" out
expect 0 "$intake" rules test --rules "$tmp/old" --corpus "$tmp/c.jsonl" \
    --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
assert d["accuracy"] == 1.0 and d["abstention"] == 1.0, d
assert d["in_scope"] == 3 and d["out_of_scope"] == 1
assert any(r["rule"] == "cooking-fumes" and r["hits"] == 1
           for r in d["rules_fired"])
assert len(d["codes"]) == 144' "$tmp/out" || fail "rules test --json"

# A baseline file sets the bars; a bar above what the rules reach fails.
printf 'min_accuracy = 0.5\nmin_abstention = 50\n' >"$tmp/base.conf"
expect 0 "$intake" rules test --rules "$tmp/old" --corpus "$tmp/c.jsonl" \
    --baseline "$tmp/base.conf"
printf 'min_accuracy = 0.5\nbogus_key = 1\n' >"$tmp/bad.conf"
expect 2 "$intake" rules test --rules "$tmp/old" --corpus "$tmp/c.jsonl" \
    --baseline "$tmp/bad.conf"

# Break the street-light rule in the copy: accuracy drops, bars fail, the
# pinned item still passes, and diff shows exactly the item that changed.
sed -i 's/^rule: streetlight-out$/rule: streetlight-out\nnot: 路灯/' \
    "$tmp/new/B01-public-facilities.rules"
sed -i '/^rule: dark-street$/,/^rule: /s/^any: 黑灯瞎火.*/any: 没有这个词/' \
    "$tmp/new/B01-public-facilities.rules"
expect 1 "$intake" rules test --rules "$tmp/new" --corpus "$tmp/c.jsonl" \
    --min-accuracy 0.9
has "below the bar" err
expect 1 "$intake" rules diff "$tmp/old" "$tmp/new" --corpus "$tmp/c.jsonl"
has "broken" out
has "1 of 4 items change verdict" out
has "1 broken" out
expect 0 "$intake" rules diff "$tmp/old" "$tmp/old" --corpus "$tmp/c.jsonl"
has "0 of 4 items change verdict" out
expect 1 "$intake" rules diff "$tmp/old" "$tmp/new" --corpus "$tmp/c.jsonl" \
    --json
python3 -c 'import json,sys
lines=[json.loads(l) for l in open(sys.argv[1])]
assert lines[0]["id"] == "a" and lines[0]["old"] == "B01-18", lines
assert lines[0]["new"] is None and lines[0]["status"] == "broken"
assert lines[-1]["changed"] == 1 and lines[-1]["broken"] == 1' "$tmp/out" \
    || fail "rules diff --json"
expect 2 "$intake" rules diff "$tmp/old" --corpus "$tmp/c.jsonl"

# A pinned item that goes wrong fails the run even without bars.
sed -i 's/^rule: cooking-fumes$/rule: cooking-fumes\nnot: 油烟/' \
    "$tmp/new/S05-market-supervision.rules"
sed -i 's/^rule: fumes-nuisance$/rule: fumes-nuisance\nnot: 油烟/' \
    "$tmp/new/S05-market-supervision.rules"
expect 1 "$intake" rules test --rules "$tmp/new" --corpus "$tmp/c.jsonl"
has "pinned" err

# check: the shipped rules are clean; the edited copy has failing examples
# (reported with file:line); a broken rule set is an error, not a crash.
expect 0 "$intake" rules check --rules "$tmp/old"
has "0 errors" out
expect 1 "$intake" rules check --rules "$tmp/new"
has "B01-public-facilities.rules:[0-9]*: error: \[selftest\]" out
expect 0 "$intake" rules check --rules "$tmp/old" --corpus "$tmp/c.jsonl"
has "never-fires" out
expect 0 "$intake" rules check --rules "$tmp/old" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["errors"] == 0 and d["rule_count"] > 144' "$tmp/out" \
    || fail "rules check --json"
printf 'rule: x\ncode: B01-99\nany: 井盖\nexample: 井盖\ncounter: 无\n' \
    >"$tmp/old/Z-broken.rules"
expect 1 "$intake" rules check --rules "$tmp/old"
has "Z-broken.rules:2:" out
has "B01-99" out
rm "$tmp/old/Z-broken.rules"

# A code without any rule is reported.
cp -r "$src/rules" "$tmp/gap"
sed -i 's/^code: S07-05$/code: S07-04/' "$tmp/gap/S07-rural.rules"
expect 1 "$intake" rules check --rules "$tmp/gap"
has "code S07-05 .* has no rule" out

# Unreadable corpus lines are reported and skipped; the rest is measured.
printf '%s\n' '{"id":"x","title":"井盖","text":' 'not json' \
    '{"id":"y","title":"拖欠工资","text":"老板跑了","in_scope":false}' \
    >"$tmp/bad.jsonl"
expect 0 "$intake" rules test --rules "$src/rules" --corpus "$tmp/bad.jsonl"
has "bad.jsonl:1:" err
has "2 unreadable lines skipped" out

# An empty corpus is not an error: nothing to measure, no bars to miss.
: >"$tmp/empty.jsonl"
expect 0 "$intake" rules test --rules "$src/rules" --corpus "$tmp/empty.jsonl"
has "0 items" out
expect 0 "$intake" rules diff "$src/rules" "$src/rules" --corpus "$tmp/empty.jsonl"

# A corpus that cannot be read says why.
expect 3 "$intake" rules test --rules "$src/rules" --corpus "$tmp/missing.jsonl"
has "missing.jsonl: No such file or directory" err
expect 3 "$intake" rules test --rules "$src/rules" --corpus "$tmp"
has "Is a directory" err

[ "$fails" -eq 0 ] || { echo "rules_cli: $fails failure(s)" >&2; exit 1; }
echo "rules_cli: ok"
