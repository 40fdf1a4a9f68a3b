#!/usr/bin/env bash
# quickstart.sh — install what is missing, build, and run the main job on
# the bundled samples: the gateway polls the sample sources once (a local
# HTTP fixture and local files), classifies, deduplicates in a throwaway
# redis-server and shows the forwarded hazard candidates.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
bash scripts/deps.sh
bash scripts/build.sh "$ROOT/build/release" -DIG_BUILD_TESTS=OFF \
  -DIG_BUILD_BENCH=OFF
if [ -x scripts/demo.sh ]; then
  exec bash scripts/demo.sh "$ROOT/build/release/gateway/intake"
fi
exec "$ROOT/build/release/gateway/intake" classify --format text \
  samples/messages.jsonl
