#!/bin/sh
# routing_cli.sh — `intake classify` records carry the routing fields:
# place, town, units (lead first), priority {level, reasons} and track
# {suggestion, reason} on every record, with the values the data files
# give; a broken routing file stops the rule set with file:line:col.
# Needs IG_INTAKE and IG_SOURCE_DIR (set by CTest), and python3.
set -u
. "$(dirname "$0")/lib/cli_check.sh"

cat >"$tmp/in.jsonl" <<'EOF'
{"id":"r1","title":"路灯不亮","text":"国家会展中心东门外一排路灯晚上都不亮"}
{"id":"r2","text":"赵巷镇一处工地门口聚集了五十多名工人讨薪，把大门堵住了"}
{"id":"r3","text":"今天天气很好"}
{"id":"r4","text":"淀山湖边有个井盖不见了，晚上很危险"}
{"id":"r5","text":"青浦这边的小区门口三四十人聚集在一起讨说法"}
EOF
"$intake" classify --rules "$rules" --format jsonl "$tmp/in.jsonl" \
    >"$tmp/out.jsonl" 2>"$tmp/err"
check "classify exits 0 or 1" test $? -le 1

cat >"$tmp/check.py" <<'EOF'
import json, sys
recs = {}
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    recs[r["id"]] = r
fails = []
def want(cond, what):
    if not cond:
        fails.append(what)
for rid, r in recs.items():
    for k in ("place", "town", "units", "priority", "track"):
        want(k in r, f"{rid}: no key {k}")
    want(isinstance(r.get("town"), list), f"{rid}: town is not a list")
    p = r.get("priority") or {}
    want(p.get("level") in ("high", "elevated", "normal"),
         f"{rid}: bad priority level")
    want(isinstance(p.get("reasons"), list), f"{rid}: no reasons list")
    if r.get("code"):
        units = r.get("units") or []
        want(len(units) >= 1, f"{rid}: classified but no units")
        if units:
            want(units[0]["role"] == "lead", f"{rid}: lead not first")
            want(units[0]["dept"] == r["departments"][0],
                 f"{rid}: lead unit is not the code's lead department")
        want(r.get("track") is not None, f"{rid}: classified but no track")
r1 = recs["r1"]
want(r1["place"] and r1["place"]["name"] == "国家会展中心", "r1: place")
want(r1["town"] == ["徐泾镇"], "r1: town")
want(any(u["unit"] == "徐泾镇人民政府" for u in r1["units"]) or
     not r1.get("code"), "r1: 属地管理 -> 徐泾镇人民政府")
r2 = recs["r2"]
want(r2["town"] == ["赵巷镇"], "r2: town")
want(r2["priority"]["level"] == "high", "r2: red line (五十多名)")
want("50人以上" in r2["priority"]["reasons"][0], "r2: reason")
want(r2["track"] and r2["track"]["suggestion"] == "挂牌治理", "r2: track")
r3 = recs["r3"]
want(r3["place"] is None and r3["town"] == [] and r3["units"] == []
     and r3["priority"]["level"] == "normal" and r3["track"] is None,
     "r3: nothing to route")
r4 = recs["r4"]
want(sorted(r4["town"]) == sorted(["朱家角镇", "金泽镇"]),
     "r4: ambiguous place gives both towns")
r5 = recs["r5"]
want(r5["place"] and r5["place"]["kind"] == "district" and r5["town"] == [],
     "r5: 青浦 alone is the district")
want(r5["priority"]["level"] == "normal", "r5: 三四十人 is below the line")
for f in fails:
    print("  " + f)
sys.exit(1 if fails else 0)
EOF
python3 "$tmp/check.py" "$tmp/out.jsonl"
check "records carry place/town/units/priority/track" test $? -eq 0

# A broken routing file: the rule set is refused with file:line:col.
mkdir "$tmp/rules"
cp -r "$rules"/. "$tmp/rules"/
printf '某路\tstreeet\t徐泾镇\n' >>"$tmp/rules/places.tsv"
n=$(wc -l <"$tmp/rules/places.tsv")
echo x | "$intake" classify --rules "$tmp/rules" >/dev/null 2>"$tmp/err2"
check "broken places.tsv exits 2" test $? -eq 2
check "broken places.tsv names file:line:col" \
    grep -q "places.tsv:$n:4: error: unknown kind" "$tmp/err2"

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
