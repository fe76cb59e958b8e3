#!/usr/bin/env python3
"""Embeds the texts of a JSONL file ({"text": ...} per line) with sentence-transformers and
prints chunks/s as one JSON object: the reference the candle embedder is measured against.

    python st_embed.py MODEL_DIR CHUNKS.jsonl [THREADS] [BATCH]
"""
import json
import sys
import time

import torch
from sentence_transformers import SentenceTransformer


def main() -> None:
    model_dir, path = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else torch.get_num_threads()
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 32
    torch.set_num_threads(threads)
    texts = [json.loads(line)["text"] for line in open(path, encoding="utf-8")]
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(texts[:8], batch_size=batch)
    started = time.perf_counter()
    model.encode(texts, batch_size=batch)
    seconds = time.perf_counter() - started
    print(json.dumps({"chunks": len(texts), "seconds": seconds, "chunks_per_s": len(texts) / seconds,
                      "threads": threads, "batch_size": batch}))


if __name__ == "__main__":
    main()
