#!/usr/bin/env bash
# Search latency on the embedded default: an index of 100,000 synthetic chunks (qdrant-edge,
# dense + BM25), 1,000 queries per search mode, each timed from the query text to the results
# of the product's search (query embedding with the real model included, results grouped by
# page as by default; `dense_ungrouped` is dense without grouping). Prints p50 / p99 / mean.
#
#   scripts/bench-search.sh                                   # 100k chunks, 1,000 queries
#   KB_BENCH_CHUNKS=20000 KB_BENCH_QUERIES=200 scripts/bench-search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

CHUNKS="${KB_BENCH_CHUNKS:-100000}"
QUERIES="${KB_BENCH_QUERIES:-1000}"
scripts/setup.sh
if [ -n "${KB_BENCH_BIN:-}" ]; then
    BENCH="$KB_BENCH_BIN"
else
    echo "==> building (release)" >&2
    cargo build --release --locked -p kb >&2
    BENCH="$CARGO_TARGET_DIR/release/kb-bench"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "==> indexing $CHUNKS chunks, then $QUERIES queries per mode" >&2
OUT="$("$BENCH" search --chunks "$CHUNKS" --queries "$QUERIES" --data-dir "$WORK")"
python3 - "$OUT" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"index: {r['chunks']} chunks (built and optimised in {r['build_s']:.0f} s), {r['queries']} queries per mode, top 10")
for mode, m in r["modes"].items():
    print(f"{mode:>15}: p50 {m['p50_ms']:6.2f} ms   p99 {m['p99_ms']:6.2f} ms   mean {m['mean_ms']:6.2f} ms")
PY
