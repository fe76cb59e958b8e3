#!/usr/bin/env python3
"""Pooled relevance judgments for a question set (standard library only).

A question's `pages` were written by someone reading the page that answers it; another page
of the manual may answer it as well and count as a miss. Pooling (as TREC does) judges every
page that any evaluated configuration put in its top DEPTH results, so that no configuration
is scored against answers only another configuration's pages could have missed.

    pool.py pending --depth 5 --qa Q.jsonl [--qa ...] --judgments J.jsonl RUN.json [RUN.json ...]
        prints, one JSON line each, the (question, page) pairs in the pool that neither the
        question's `pages` nor J.jsonl judge yet: {"question": ..., "page": ...}
    pool.py merge --qa Q.jsonl --judgments J.jsonl
        prints Q.jsonl with the pages J.jsonl judges relevant added to each question's `pages`

RUN.json is the output of `kb eval --json`. J.jsonl holds one judgment per line:
{"question": ..., "page": "<file>.html", "relevant": true|false, "why": "..."}.
"""

import argparse
import json
import sys
from urllib.parse import urlparse


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip() and not line.lstrip().startswith("#")]


def page_of(url):
    """The page file name of a result URL (its path's last segment, fragment dropped)."""
    return urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]


def key(question):
    return " ".join(question.lower().split())


def judged(judgments_path):
    try:
        rows = read_jsonl(judgments_path)
    except FileNotFoundError:
        return {}
    out = {}
    for i, j in enumerate(rows, 1):
        if not isinstance(j.get("relevant"), bool) or not j.get("page") or not j.get("question"):
            sys.exit(f"pool.py: {judgments_path}:{i}: needs question, page and relevant (true or false)")
        k = (key(j["question"]), j["page"])
        if k in out and out[k] != j["relevant"]:
            sys.exit(f"pool.py: {judgments_path}:{i}: {j['page']} judged both ways for: {j['question']}")
        out[k] = j["relevant"]
    return out


def pending(args):
    questions = {key(q["question"]): q for path in args.qa for q in read_jsonl(path)}
    done = judged(args.judgments)
    seen = set()
    for run_path in args.runs:
        run = json.load(open(run_path, encoding="utf-8"))
        for row in run["questions"]:
            q = questions.get(key(row["question"]))
            if q is None:
                continue
            for result in row["results"][: args.depth]:
                page = page_of(result["url"])
                k = (key(q["question"]), page)
                if page in q["pages"] or k in done or k in seen:
                    continue
                seen.add(k)
                print(json.dumps({"question": q["question"], "page": page}, ensure_ascii=False))


def merge(args):
    done = judged(args.judgments)
    for q in read_jsonl(args.qa[0]):
        extra = sorted(p for (k, p), relevant in done.items() if relevant and k == key(q["question"]) and p not in q["pages"])
        print(json.dumps({**q, "pages": q["pages"] + extra}, ensure_ascii=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["pending", "merge"])
    parser.add_argument("--qa", action="append", required=True)
    parser.add_argument("--judgments", required=True)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("runs", nargs="*")
    args = parser.parse_intermixed_args()
    if args.action == "merge" and (len(args.qa) != 1 or args.runs):
        parser.error("merge takes one --qa and no runs")
    pending(args) if args.action == "pending" else merge(args)


if __name__ == "__main__":
    main()
