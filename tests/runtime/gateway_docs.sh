#!/usr/bin/env bash
# gateway_docs.sh — the config reference in docs/gateway.md is the output of
# `intake run --help-config`, so it cannot drift from the schema tables.
#
#   tests/runtime/gateway_docs.sh            check (CTest)
#   tests/runtime/gateway_docs.sh --update   rewrite the block in the doc
set -euo pipefail
src="${IG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
intake="${IG_INTAKE:-$src/build/gateway/intake}"
doc="$src/docs/gateway.md"
[ -x "$intake" ] || { echo "gateway_docs: $intake not built" >&2; exit 1; }
begin='<!-- BEGIN CONFIG REFERENCE (intake run --help-config) -->'
end='<!-- END CONFIG REFERENCE -->'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    echo '```'
    "$intake" run --help-config
    echo '```'
} >"$tmp/ref"

# The doc with the block replaced by the current reference.
awk -v b="$begin" -v e="$end" -v ref="$tmp/ref" '
    $0 == b { print; while ((getline l < ref) > 0) print l; skip = 1; next }
    $0 == e { skip = 0 }
    !skip { print }
' "$doc" >"$tmp/doc"

if [ "${1:-}" = "--update" ]; then
    cp "$tmp/doc" "$doc"
    echo "updated $doc"
    exit 0
fi
if ! diff -u "$doc" "$tmp/doc"; then
    echo "docs/gateway.md: the config reference is stale;" \
        "run tests/runtime/gateway_docs.sh --update" >&2
    exit 1
fi
echo "docs/gateway.md config reference matches the schema tables"
