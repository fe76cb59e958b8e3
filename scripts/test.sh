#!/usr/bin/env bash
# Sets up everything the tests need and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

scripts/setup.sh

echo "==> cargo test (target dir: $CARGO_TARGET_DIR)" >&2
cargo test --workspace --all-targets --locked -- --test-threads "${KB_TEST_THREADS:-4}"
