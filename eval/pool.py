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
    pool.py text --docs DIR PAGE.html
        prints the page as the judges read it: its text, tags dropped, one block per line
    pool.py check --judgments J.jsonl --docs DIR
        checks that every relevant judgment's `why` quotes its page (ignoring case, white space
        and the table rules `|` of `text`); lists the ones that do not and exits 1

RUN.json is the output of `kb eval --json`. J.jsonl holds one judgment per line:
{"question": ..., "page": "<file>.html", "relevant": true|false, "why": "..."}; for a relevant
page, `why` is a passage of the page that answers the question (see eval/postgresql-15/JUDGING.md).
"""

import argparse
import json
import os
import re
import sys
from html.parser import HTMLParser
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


class _Text(HTMLParser):
    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd", "table",
              "ul", "ol", "section", "blockquote", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.hidden, self.pre = [], 0, 0

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("script", "style")
        self.pre += tag == "pre"
        if tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style")
        self.pre -= tag == "pre"
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def page_text(html):
    """The text of an HTML page, as the judges read it: tags dropped, blocks on lines of their own,
    table cells separated by `|`, preformatted text kept as it is."""
    parser = _Text()
    parser.feed(html)
    text = re.sub(r"[ \t]+\n", "\n", "".join(parser.parts))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def comparable(text):
    return re.sub(r"[\s|]+", " ", text).strip().lower()


def read_page(docs, page):
    with open(os.path.join(docs, page), encoding="utf-8", errors="replace") as f:
        return page_text(f.read())


def text(args):
    sys.stdout.write(read_page(args.docs, args.page))


def check(args):
    judged(args.judgments)  # refuses contradicting or incomplete lines first
    pages, bad, relevant = {}, 0, 0
    for i, j in enumerate(read_jsonl(args.judgments), 1):
        if not j["relevant"]:
            continue
        relevant += 1
        if j["page"] not in pages:
            try:
                pages[j["page"]] = comparable(read_page(args.docs, j["page"]))
            except FileNotFoundError:
                pages[j["page"]] = None
        quote = comparable(j.get("why") or "")
        if pages[j["page"]] is None:
            print(f"{args.judgments}:{i}: no page {j['page']} in {args.docs}")
            bad += 1
        elif len(quote) < 10 or quote not in pages[j["page"]]:
            print(f"{args.judgments}:{i}: {j['page']} does not contain the quoted answer: {j.get('why', '')[:80]!r}")
            bad += 1
    print(f"{relevant} relevant judgments, {bad} without their quote in the page", file=sys.stderr)
    sys.exit(1 if bad else 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["pending", "merge", "text", "check"])
    parser.add_argument("--qa", action="append", default=[])
    parser.add_argument("--judgments")
    parser.add_argument("--docs", help="the directory of the site's HTML pages (text, check)")
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("runs", nargs="*", help="kb eval --json outputs (pending); the page (text)")
    args = parser.parse_intermixed_args()
    if args.action in ("pending", "merge") and (not args.qa or not args.judgments):
        parser.error(f"{args.action} needs --qa and --judgments")
    if args.action == "merge" and (len(args.qa) != 1 or args.runs):
        parser.error("merge takes one --qa and no runs")
    if args.action in ("text", "check") and not args.docs:
        parser.error(f"{args.action} needs --docs")
    if args.action == "text":
        if len(args.runs) != 1:
            parser.error("text takes one page")
        args.page = args.runs[0]
    if args.action == "check" and not args.judgments:
        parser.error("check needs --judgments")
    {"pending": pending, "merge": merge, "text": text, "check": check}[args.action](args)


if __name__ == "__main__":
    main()
