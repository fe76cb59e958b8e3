#!/usr/bin/env bash
# The main job in one command: set up, build `kb`, crawl a documentation site into a
# knowledge base on the embedded default (no service needed), and search it.
#
#   scripts/demo.sh                      # the PostgreSQL manual, served locally
#   scripts/demo.sh URL "a question"     # any site you can reach
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

scripts/setup.sh
echo "==> building kb (release)" >&2
cargo build --release --locked -p kb >&2
KB="$CARGO_TARGET_DIR/release/kb"
export KB_DATA_DIR="${KB_DATA_DIR:-$KB_CACHE/demo-data}"

URL="${1:-}"
QUERY="${2:-How do I build an index without locking writes to the table?}"
if [ -z "$URL" ]; then
    apt_install postgresql-doc-15
    DOCS=/usr/share/doc/postgresql-doc-15/html
    PORT="${KB_DEMO_PORT:-8089}"
    python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$DOCS" >/dev/null 2>&1 &
    SERVER=$!
    trap 'kill $SERVER 2>/dev/null || true' EXIT
    for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$PORT/index.html" >/dev/null 2>&1 && break; sleep 0.1; done
    URL="http://127.0.0.1:$PORT/index.html"
    set -- --max-pages "${KB_DEMO_MAX_PAGES:-150}" --max-depth 3
else
    set -- --max-pages "${KB_DEMO_MAX_PAGES:-150}"
fi

echo "==> kb ingest $URL $*" >&2
REPORT="$("$KB" ingest "$URL" "$@" --json)"
echo "$REPORT"
KB_ID="$(printf '%s' "$REPORT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["kb_id"])')"
echo "==> kb search --kb $KB_ID \"$QUERY\"" >&2
"$KB" search --kb "$KB_ID" --top-k 5 "$QUERY"
