#!/usr/bin/env bash
# Benchmarks the one-process pipeline on a generated local site (default 100 pages):
#   - crawl + extract pages/s (crawl stage only), over HTTP and rendered in headless Chromium,
#   - embedding chunks/s, next to sentence-transformers on the same chunks and machine,
#   - total time to a ready knowledge base and peak RSS of `kb ingest`.
# Figures are printed at the end; README.md keeps the last ones.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

PAGES="${KB_BENCH_PAGES:-100}"
THREADS="$(nproc)"
scripts/setup.sh
apt_install time
VENV="$(venv_install sentence-transformers)"
echo "==> building (release)" >&2
# Separate invocations keep each package's feature set (and its cached build) stable.
cargo build --release --locked -p kb >&2
cargo build --release --locked -p kb-e2e --bin kb-fixture >&2
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d)"
trap 'kill $FIXTURE 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BIN/kb-fixture" bench "$PAGES" > "$WORK/fixture.url" &
FIXTURE=$!
for _ in $(seq 100); do [ -s "$WORK/fixture.url" ] && break; sleep 0.05; done
URL="$(head -n1 "$WORK/fixture.url")"
echo "==> site: $PAGES pages at $URL" >&2

echo "==> crawl + extract" >&2
CRAWL="$("$BIN/kb-bench" crawl "$URL" --max-pages "$PAGES" --data-dir "$WORK/crawl")"
echo "==> crawl + extract, every page rendered in Chromium" >&2
BROWSER="$("$BIN/kb-bench" crawl "$URL" --max-pages "$PAGES" --render browser --data-dir "$WORK/crawl-browser")"

echo "==> kb ingest (whole pipeline)" >&2
/usr/bin/time -v -o "$WORK/time.txt" "$BIN/kb" ingest "$URL" --max-pages "$PAGES" --data-dir "$WORK/ingest" --json > "$WORK/ingest.json"
KB_ID="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["kb_id"])' "$WORK/ingest.json")"
RSS_KB="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")"

echo "==> embedding: candle vs sentence-transformers on the same chunks" >&2
"$BIN/kb-bench" export --kb "$KB_ID" --data-dir "$WORK/ingest" "$WORK/chunks.jsonl" > /dev/null
CANDLE="$("$BIN/kb-bench" embed "$WORK/chunks.jsonl")"
ST="$("$VENV/bin/python" scripts/st_embed.py "$KB_MODEL_DIR" "$WORK/chunks.jsonl" "$THREADS" 32 2>/dev/null)"

python3 - "$CRAWL" "$WORK/ingest.json" "$RSS_KB" "$CANDLE" "$ST" "$PAGES" "$THREADS" "$BROWSER" <<'PY'
import json, sys
crawl, ingest, rss_kb, candle, st, pages, threads, browser = sys.argv[1:]
crawl, candle, st, browser = json.loads(crawl), json.loads(candle), json.loads(st), json.loads(browser)
ingest = json.load(open(ingest))
print(f"site: {pages} pages, {ingest['stats']['chunks_created']} chunks, {threads} threads")
print(f"crawl + extract (HTTP):     {crawl['pages_per_s']:8.1f} pages/s ({crawl['pages']} pages in {crawl['seconds']:.2f} s)")
print(f"crawl + extract (Chromium): {browser['pages_per_s']:8.1f} pages/s ({browser['pages']} pages in {browser['seconds']:.2f} s)")
print(f"embedding, kb (candle):     {candle['chunks_per_s']:8.1f} chunks/s")
print(f"embedding, sentence-transformers: {st['chunks_per_s']:8.1f} chunks/s (batch {st['batch_size']})")
print(f"embedding ratio kb / s-t:   {candle['chunks_per_s'] / st['chunks_per_s']:8.2f}")
print(f"time to a ready KB:         {ingest['duration_ms'] / 1000:8.1f} s (status {ingest['status']})")
print(f"peak RSS of kb ingest:      {int(rss_kb) / 1024:8.0f} MiB")
PY
