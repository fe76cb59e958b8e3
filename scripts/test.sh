#!/usr/bin/env bash
# Sets up everything the tests need and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
. scripts/services.sh

scripts/setup.sh
start_postgres
start_redis
start_moto
trap stop_services EXIT

echo "==> infra/validate.sh (template, compose, scripts)" >&2
infra/validate.sh >&2

echo "==> the evaluation's own tools (eval/test_*.py)" >&2
python3 -m unittest discover -s eval -p 'test_*.py' >&2

# The tests that need a Qdrant server are #[ignore]d: they show as "ignored", never as passed,
# unless QDRANT_URL names a server, in which case they run with the rest.
qdrant_tests=()
if [ -n "${QDRANT_URL:-}" ]; then
    qdrant_tests=(--include-ignored)
    echo "==> QDRANT_URL=$QDRANT_URL: the Qdrant tests run too" >&2
else
    echo "!!!!!! QDRANT_URL is not set: the 2 Qdrant tests (adapter, end to end) are SKIPPED (reported as ignored)" >&2
    echo "!!!!!! (no Qdrant server ships in the package registries; point QDRANT_URL at one to run them)" >&2
fi

echo "==> cargo test (target dir: $CARGO_TARGET_DIR)" >&2
cargo test --workspace --all-targets --locked -- --test-threads "${KB_TEST_THREADS:-4}" "${qdrant_tests[@]}"

echo "==> schemathesis against a live kb serve" >&2
scripts/schemathesis.sh "$CARGO_TARGET_DIR/debug/kb"

echo "==> the five Lambda functions in release mode" >&2
cargo build --release --locked -p draft-api -p finalize -p crawl-page -p chunk -p embed-batch
