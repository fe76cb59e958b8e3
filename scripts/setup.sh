#!/usr/bin/env bash
# Installs what building and running the project needs on a fresh Debian machine:
# the Rust toolchain (when missing), C build tools, Chromium (pages that need JavaScript)
# and the default embedding model.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

apt_install build-essential pkg-config python3 python3-venv unzip curl ca-certificates chromium

if ! command -v cargo >/dev/null 2>&1; then
    echo "==> installing the Rust toolchain (rustup)" >&2
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >&2
fi

scripts/install-model.sh
