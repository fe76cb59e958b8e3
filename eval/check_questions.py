#!/usr/bin/env python3
"""Validate a retrieval-evaluation question set (standard library only).

Usage:
    check_questions.py QUESTIONS.jsonl HTML_DIR GLOB [GLOB ...]
                       [--start PAGE ...] [--max-depth N] [--min-questions N]

Each line of QUESTIONS.jsonl must be a JSON object
    {"question": "<non-empty text>", "pages": ["<file>.html", ...]}
with 1 to 3 distinct page file names.  A page is accepted only if the file
exists directly in HTML_DIR and its name matches one of the GLOBs.

With --start, pages must also be reachable from the start pages by following
<a href> links between in-scope pages only, within --max-depth hops
(default 3; the start pages are depth 0).

Exits 0 if everything is fine; otherwise prints one message per problem
(naming the line number) to stderr and exits 1.  Also fails if there are
fewer than --min-questions questions (default 40) or if a question appears
twice (compared case- and whitespace-insensitively).

Example:
    python3 eval/check_questions.py eval/postgresql-15/questions.jsonl \\
        /usr/share/doc/postgresql-doc-15/html \\
        'sql-*.html' 'datatype*.html' 'functions*.html' \\
        --start sql-commands.html datatype.html functions.html
"""

import argparse
import fnmatch
import json
import os
import sys
from collections import deque
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlparse


class _LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            for key, value in attrs:
                if key == "href" and value:
                    self.hrefs.append(value)


def in_scope(name, globs):
    return any(fnmatch.fnmatchcase(name, g) for g in globs)


def page_links(html_dir, name, globs):
    """In-scope, existing pages linked from `name` (fragments/queries dropped)."""
    with open(os.path.join(html_dir, name), encoding="utf-8", errors="replace") as f:
        parser = _LinkParser()
        parser.feed(f.read())
    base = "http://site/" + name
    out = set()
    for href in parser.hrefs:
        url = urlparse(urljoin(base, href))
        if url.scheme != "http" or url.netloc != "site":
            continue
        target = unquote(url.path.lstrip("/"))
        if not target or "/" in target or not in_scope(target, globs):
            continue
        if os.path.isfile(os.path.join(html_dir, target)):
            out.add(target)
    return out


def reachable(html_dir, globs, starts, max_depth):
    depth = {s: 0 for s in starts}
    queue = deque(starts)
    while queue:
        name = queue.popleft()
        if depth[name] >= max_depth:
            continue
        for target in sorted(page_links(html_dir, name, globs)):
            if target not in depth:
                depth[target] = depth[name] + 1
                queue.append(target)
    return depth


def main(argv=None):
    ap = argparse.ArgumentParser(description="Validate a questions.jsonl file.")
    ap.add_argument("questions")
    ap.add_argument("html_dir")
    ap.add_argument("globs", nargs="+", help="file-name globs of in-scope pages")
    ap.add_argument("--start", nargs="+", default=[], help="start pages for the reachability check")
    ap.add_argument("--max-depth", type=int, default=3)
    ap.add_argument("--min-questions", type=int, default=40)
    args = ap.parse_args(argv)

    errors = []
    if not os.path.isdir(args.html_dir):
        print(f"error: html directory not found: {args.html_dir}", file=sys.stderr)
        return 1

    reach = None
    if args.start:
        for s in args.start:
            if not in_scope(s, args.globs) or not os.path.isfile(os.path.join(args.html_dir, s)):
                errors.append(f"start page {s!r} is missing or out of scope")
        if not errors:
            reach = reachable(args.html_dir, args.globs, args.start, args.max_depth)

    seen = {}
    count = 0
    try:
        with open(args.questions, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        print(f"error: cannot read {args.questions}: {e}", file=sys.stderr)
        return 1

    for lineno, line in enumerate(lines, 1):
        where = f"{args.questions}:{lineno}"
        if not line.strip():
            errors.append(f"{where}: empty line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: malformed JSON ({e})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"{where}: not a JSON object")
            continue
        q = obj.get("question")
        pages = obj.get("pages")
        if not isinstance(q, str) or not q.strip():
            errors.append(f"{where}: 'question' must be a non-empty string")
            continue
        if not isinstance(pages, list) or not 1 <= len(pages) <= 3 \
                or not all(isinstance(p, str) and p for p in pages):
            errors.append(f"{where}: 'pages' must be a list of 1 to 3 file names")
            continue
        count += 1
        key = " ".join(q.lower().split())
        if key in seen:
            errors.append(f"{where}: duplicate question (first on line {seen[key]}): {q!r}")
        else:
            seen[key] = lineno
        if len(set(pages)) != len(pages):
            errors.append(f"{where}: duplicate page in 'pages'")
        for p in pages:
            if "/" in p or "\\" in p or p in (".", ".."):
                errors.append(f"{where}: page {p!r} must be a bare file name")
            elif not in_scope(p, args.globs):
                errors.append(f"{where}: page {p!r} is out of scope (globs: {' '.join(args.globs)})")
            elif not os.path.isfile(os.path.join(args.html_dir, p)):
                errors.append(f"{where}: page {p!r} does not exist in {args.html_dir}")
            elif reach is not None and p not in reach:
                errors.append(f"{where}: page {p!r} is not reachable from the start pages "
                              f"within depth {args.max_depth}")

    if count < args.min_questions:
        errors.append(f"{args.questions}: only {count} valid questions (need at least {args.min_questions})")

    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        return 1
    msg = f"OK: {count} questions"
    if reach is not None:
        msg += f"; {len(reach)} in-scope pages reachable within depth {args.max_depth}"
    print(msg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
