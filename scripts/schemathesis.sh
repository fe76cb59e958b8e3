#!/usr/bin/env bash
# Fuzzes the HTTP API with schemathesis (PyPI) against a live `kb serve`, driven by the
# OpenAPI document the server generates: fails on any 5xx and on any response that breaks
# the document. Usage: scripts/schemathesis.sh [PATH_TO_KB_BINARY] (default: the debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

kb="${1:-$CARGO_TARGET_DIR/debug/kb}"
[ -x "$kb" ] || cargo build --locked --bin kb
[ -x "$kb" ] || kb="$CARGO_TARGET_DIR/debug/kb"
venv="$(venv_install schemathesis)"

work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
export KB_JWT_SECRET="schemathesis-secret-$(date +%s%N)-with-32-plus-characters"
export KB_DATA_DIR="$work/data" KB_RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn
# Nothing configured but the secret: the embedded default, workers in-process.
unset DATABASE_URL REDIS_URL QDRANT_URL KB_BUCKET KB_CRAWL_QUEUE_URL KB_CHUNK_QUEUE_URL KB_EMBED_QUEUE_URL KB_VECTOR_INDEX

"$kb" serve --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { cat "$work/serve.log" >&2; echo "kb serve did not start" >&2; exit 1; }

token="$("$kb" token --user fuzzer --workspace default --workspace other --ttl 2h)"
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/openapi.json" -o "$work/openapi.json"

echo "==> schemathesis $("$venv/bin/st" --version | awk '{print $NF}') against kb serve on port $port" >&2
# Run from the scratch directory: schemathesis keeps its example database in ./.schemathesis.
cd "$work"
"$venv/bin/st" --no-color run "$work/openapi.json" \
    --url "http://127.0.0.1:$port" \
    -H "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "${KB_SCHEMATHESIS_EXAMPLES:-25}" \
    --seed 1 \
    --request-timeout 30 \
    --suppress-health-check all \
    --warnings off
