#!/usr/bin/env python3
"""Extract rules/taxonomy.tsv from the plan's appendix (the seed text).

Cleans the seed's quirks: 、/，/, separators, stray spaces, the traditional
門 in S03-02, and shorthand like "水务、绿化市容部门" (= 水务部门, 绿化市容部门).
Department order (lead first) is kept as written. Run once when the plan
changes: scripts/taxonomy_from_seed.py SEED > rules/taxonomy.tsv
"""
import re
import sys

MAJORS = {}
rows = []
text = open(sys.argv[1], encoding="utf-8").read()
appendix = text[text.index("部件(B):"):]
major = None
for line in appendix.splitlines():
    cells = [c.strip() for c in line.split("\t")]
    if len(cells) < 4:
        continue
    m = re.match(r"^(\S+)\s*([BS]\d\d)$", cells[0])
    if m:
        major = (m.group(2), m.group(1))
    code = cells[1]
    if not re.match(r"^[BS]\d\d-\d\d$", code):
        continue
    name = re.sub(r"\s+", "", cells[2])
    depts_raw = re.sub(r"\s+", "", cells[3]).replace("門", "门")
    depts = [d for d in re.split(r"[、，,]", depts_raw) if d]
    # "水务、绿化市容部门": a bare prefix shares the next item's 部门 suffix.
    fixed = []
    for i, d in enumerate(depts):
        if d in ("水务",):
            d = d + "部门"
        fixed.append(d)
    assert major and code.startswith(major[0]), (code, major)
    rows.append((code, major[0], major[1], name, "|".join(fixed)))

print("# code\tmajor_code\tmajor\tname\tdepartments (lead first, | separated)")
for r in rows:
    print("\t".join(r))
