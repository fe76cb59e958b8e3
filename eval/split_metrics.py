#!/usr/bin/env python3
"""Metrics of a `kb eval --json` run per question set, and the tables of scripts/eval.sh
(standard library only).

    kb eval ... --json | split_metrics.py CONFIG KB_INGEST.json SETS [JUDGMENTS] >> results.jsonl
    split_metrics.py --table results.jsonl

SETS has one line per question of the evaluated file, naming the set the question comes
from. The first form prints one JSON line per set and one for all of them ("all"), with
recall@1/5/10 and MRR@10 computed from each question's rank as `kb eval` does; JUDGMENTS
names the answers the questions were scored against ("written", the default, or "pooled").
The second prints, for each kind of judgments, the union's table, then each set's recall@1
and MRR@10.
"""

import json
import sys


def metrics(ranks):
    n = max(len(ranks), 1)
    recall = lambda k: sum(1 for r in ranks if r is not None and r <= k) / n
    mrr = sum(1 / r for r in ranks if r is not None and r <= 10) / n
    return {
        "questions": len(ranks),
        "recall_at_1": recall(1),
        "recall_at_5": recall(5),
        "recall_at_10": recall(10),
        "mrr_at_10": mrr,
    }


def split(config, ingest_path, sets_path, judgments="written"):
    run = json.load(sys.stdin)
    ingest = json.load(open(ingest_path))
    sets = [line.strip() for line in open(sets_path) if line.strip()]
    rows = run["questions"]
    if len(rows) != len(sets):
        sys.exit(f"split_metrics.py: {len(rows)} questions evaluated but {len(sets)} lines in {sets_path}")
    names = list(dict.fromkeys(sets))
    groups = {name: [r["rank"] for r, s in zip(rows, sets) if s == name] for name in names}
    groups["all"] = [r["rank"] for r in rows]
    base = {
        "config": config,
        "judgments": judgments,
        "mode": run["mode"],
        "grouped": run["group_by_page"],
        "chunks": ingest["stats"]["chunks_created"],
        "pages": ingest["stats"]["pages_scraped"],
    }
    for name, ranks in groups.items():
        print(json.dumps({**base, "set": name, **metrics(ranks)}))


def table(results_path):
    rows = [json.loads(line) for line in open(results_path) if line.strip()]
    if not rows:
        sys.exit("split_metrics.py: no results")
    kinds = list(dict.fromkeys(r.get("judgments", "written") for r in rows))
    for i, kind in enumerate(kinds):
        if i:
            print()
        if len(kinds) > 1:
            print(f"Judgments: {kind}")
        tables([r for r in rows if r.get("judgments", "written") == kind])


def tables(rows):
    union = [r for r in rows if r["set"] == "all"]
    sets = list(dict.fromkeys(r["set"] for r in rows if r["set"] != "all"))
    counts = {s: next(r["questions"] for r in rows if r["set"] == s) for s in sets}
    described = ", ".join(f"{s} {n}" for s, n in counts.items())
    print(f"{union[0]['questions']} questions ({described}); pages indexed: {union[0]['pages']}")
    print("| configuration | mode | pages grouped | chunks | recall@1 | recall@5 | recall@10 | MRR@10 |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for r in union:
        grouped = "yes" if r["grouped"] else "no"
        print(
            f"| {r['config']} | {r['mode']} | {grouped} | {r['chunks']} | {r['recall_at_1']:.3f} "
            f"| {r['recall_at_5']:.3f} | {r['recall_at_10']:.3f} | {r['mrr_at_10']:.3f} |"
        )
    if len(sets) < 2:
        return
    print()
    print("| configuration | mode | pages grouped | " + " | ".join(f"{s}: recall@1 | {s}: MRR@10" for s in sets) + " |")
    print("|---|---|---|" + "---:|---:|" * len(sets))
    for r in union:
        cells = []
        for s in sets:
            m = next(x for x in rows if x["set"] == s and (x["config"], x["mode"], x["grouped"]) == (r["config"], r["mode"], r["grouped"]))
            cells.append(f"{m['recall_at_1']:.3f} | {m['mrr_at_10']:.3f}")
        grouped = "yes" if r["grouped"] else "no"
        print(f"| {r['config']} | {r['mode']} | {grouped} | " + " | ".join(cells) + " |")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        table(sys.argv[2])
    elif len(sys.argv) == 4 or (len(sys.argv) == 5 and sys.argv[4] in ("written", "pooled")):
        split(*sys.argv[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
