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

echo "==> cargo test (target dir: $CARGO_TARGET_DIR)" >&2
cargo test --workspace --all-targets --locked -- --test-threads "${KB_TEST_THREADS:-4}"

echo "==> schemathesis against a live kb serve" >&2
scripts/schemathesis.sh "$CARGO_TARGET_DIR/debug/kb"

echo "==> the five Lambda functions in release mode" >&2
cargo build --release --locked -p draft-api -p finalize -p crawl-page -p chunk -p embed-batch
