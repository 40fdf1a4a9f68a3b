#!/usr/bin/env python3
"""Validates candidate records (JSON Lines) against docs/candidate.schema.json.

usage: check_candidate_schema.py SCHEMA RECORDS.jsonl
Exit 0 when every line is valid and there is at least one, 1 otherwise.
"""
import json
import sys

import jsonschema


def main():
    schema = json.load(open(sys.argv[1], encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    n = bad = 0
    for lineno, line in enumerate(open(sys.argv[2], encoding="utf-8"), 1):
        if not line.strip():
            continue
        n += 1
        for err in v.iter_errors(json.loads(line)):
            bad += 1
            path = "/".join(str(p) for p in err.absolute_path)
            print(f"{sys.argv[2]}:{lineno}: /{path}: {err.message}")
    if n == 0:
        print(f"{sys.argv[2]}: no records")
        return 1
    print(f"{n} records, {bad} errors")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
