#!/usr/bin/env python3
"""Writes the embedder's reference vectors: sentence-transformers' output for a fixed set of
texts, which the candle embedder's test must match (cosine > 0.999).

Run once with the project's Python environment:
    ~/.cache/kb/venv/bin/python scripts/make_reference_vectors.py MODEL_DIR OUT.json
"""
import json
import sys

from sentence_transformers import SentenceTransformer

TEXTS = [
    "How do I install the command-line tool on Linux?",
    "Rust",
    "The knowledge base stores each page as markdown, cuts it into chunks and embeds them.",
    # Longer than 128 tokens and shorter than 256: a model truncated at 128 would differ.
    " ".join(["Chunks keep their heading path so that a chatbot can cite the right section."] * 12),
    # Longer than 256 tokens: truncated at the model's limit.
    " ".join(["Every handler is idempotent, and a message delivered twice changes nothing."] * 30),
    "```rust\nfn main() {\n    println!(\"hello\");\n}\n```",
    "| Option | Default |\n| --- | --- |\n| threads | 4 |",
    "知识库把网页转换成可搜索的文本。",
    "Café, naïve, Zürich: accents and ümlauts.",
    "",
]


def main() -> None:
    model_dir, out = sys.argv[1], sys.argv[2]
    model = SentenceTransformer(model_dir, device="cpu")
    vectors = model.encode(TEXTS, normalize_embeddings=False, convert_to_numpy=True)
    lengths = [len(model.tokenizer(t, truncation=True, max_length=model.max_seq_length)["input_ids"]) for t in TEXTS]
    with open(out, "w", encoding="utf-8") as f:
        json.dump(
            {
                "model": "all-MiniLM-L6-v2",
                "max_seq_length": model.max_seq_length,
                "texts": TEXTS,
                "token_counts": lengths,
                "vectors": [[round(float(x), 7) for x in v] for v in vectors],
            },
            f,
        )
        f.write("\n")


if __name__ == "__main__":
    main()
