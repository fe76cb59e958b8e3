"""Tests of pool.py: which pooled pages still need a judgment, and merging the judgments."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "pool.py")


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)


class Pool(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.qa = os.path.join(d, "q.jsonl")
        self.judgments = os.path.join(d, "judgments.jsonl")
        self.run_a = os.path.join(d, "a.json")
        self.run_b = os.path.join(d, "b.json")
        self.write_lines(self.qa, [
            {"question": "How do I lock a table?", "pages": ["sql-lock.html"]},
            {"question": "What does COMMENT do?", "pages": ["sql-comment.html"]},
        ])
        base = "http://127.0.0.1:8000/"
        self.write(self.run_a, {"questions": [
            {"question": "How do I lock a table?",
             "results": [{"url": base + p} for p in ["sql-lock.html", "sql-begin.html#x", "explicit.html", "sql-set.html"]]},
            {"question": "what does  comment do?",
             "results": [{"url": base + p} for p in ["sql-begin.html", "sql-comment.html"]]},
        ]})
        self.write(self.run_b, {"questions": [
            {"question": "How do I lock a table?", "results": [{"url": base + "sql-begin.html"}, {"url": base + "sql-copy.html"}]},
        ]})

    def tearDown(self):
        self.dir.cleanup()

    def write(self, path, obj):
        with open(path, "w") as f:
            json.dump(obj, f)

    def write_lines(self, path, rows):
        with open(path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)

    def pending(self, depth="3"):
        out = run("pending", "--depth", depth, "--qa", self.qa, "--judgments", self.judgments, self.run_a, self.run_b)
        self.assertEqual(out.returncode, 0, out.stderr)
        return [(r["question"], r["page"]) for r in map(json.loads, out.stdout.splitlines())]

    def test_pending_lists_each_unjudged_page_of_the_pool_once(self):
        lock, comment = "How do I lock a table?", "What does COMMENT do?"
        # the answer itself is not pending; a fragment is dropped; a page in two runs is listed once;
        # results past the depth are not in the pool
        self.assertEqual(self.pending(), [
            (lock, "sql-begin.html"), (lock, "explicit.html"), (comment, "sql-begin.html"), (lock, "sql-copy.html"),
        ])
        self.assertEqual(self.pending("1"), [(comment, "sql-begin.html"), (lock, "sql-begin.html")])

    def test_judged_pages_are_no_longer_pending_and_relevant_ones_are_merged(self):
        self.write_lines(self.judgments, [
            {"question": "How do I lock a table?", "page": "explicit.html", "relevant": True, "why": "..."},
            {"question": "how do I lock a table?", "page": "sql-begin.html", "relevant": False, "why": "..."},
        ])
        self.assertEqual(self.pending(), [("What does COMMENT do?", "sql-begin.html"), ("How do I lock a table?", "sql-copy.html")])
        out = run("merge", "--qa", self.qa, "--judgments", self.judgments)
        self.assertEqual(out.returncode, 0, out.stderr)
        merged = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual(merged[0]["pages"], ["sql-lock.html", "explicit.html"])
        self.assertEqual(merged[1]["pages"], ["sql-comment.html"])

    def test_contradicting_or_incomplete_judgments_are_refused(self):
        self.write_lines(self.judgments, [
            {"question": "How do I lock a table?", "page": "explicit.html", "relevant": True},
            {"question": "How do I lock a table?", "page": "explicit.html", "relevant": False},
        ])
        out = run("merge", "--qa", self.qa, "--judgments", self.judgments)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(":2: explicit.html judged both ways", out.stderr)
        self.write_lines(self.judgments, [{"question": "How do I lock a table?", "page": "explicit.html", "relevant": "yes"}])
        out = run("merge", "--qa", self.qa, "--judgments", self.judgments)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn(":1: needs question, page and relevant", out.stderr)


class PageText(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.docs = self.dir.name
        with open(os.path.join(self.docs, "sql-lock.html"), "w") as f:
            f.write("<html><head><title>LOCK</title><style>p { color: red }</style></head><body>"
                    "<p>LOCK TABLE obtains a\n   table-level lock, waiting if necessary.</p>"
                    "<table><tr><td>ACCESS SHARE</td><td>conflicts with ACCESS EXCLUSIVE only</td></tr></table>"
                    "<pre>LOCK TABLE films\n    IN SHARE MODE;</pre><p>Caf&eacute; &amp; more</p></body></html>")
        self.judgments = os.path.join(self.docs, "judgments.jsonl")

    def tearDown(self):
        self.dir.cleanup()

    def judge(self, *rows):
        with open(self.judgments, "w") as f:
            f.writelines(json.dumps({"question": "How do I lock a table?", "page": "sql-lock.html", **r}) + "\n" for r in rows)
        return run("check", "--judgments", self.judgments, "--docs", self.docs)

    def test_text_keeps_blocks_cells_and_preformatted_lines(self):
        out = run("text", "--docs", self.docs, "sql-lock.html")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, "LOCK\n\nLOCK TABLE obtains a table-level lock, waiting if necessary.\n\n"
                                     " | ACCESS SHARE | conflicts with ACCESS EXCLUSIVE only\n\n"
                                     "LOCK TABLE films\n    IN SHARE MODE;\n\nCafé & more\n")

    def test_check_accepts_quotes_of_the_page_and_names_the_others(self):
        ok = self.judge({"relevant": True, "why": "lock TABLE obtains a table-level LOCK"},
                        {"relevant": True, "why": "ACCESS SHARE  conflicts with ACCESS EXCLUSIVE only"},
                        {"page": "sql-begin.html", "relevant": False, "why": "not quoted: a reason"})
        self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
        self.assertIn("2 relevant judgments, 0 without their quote", ok.stderr)
        bad = self.judge({"relevant": True, "why": "LOCK TABLE obtains a row-level lock"},
                         {"page": "sql-lock.html", "question": "Which lock modes are there?", "relevant": True, "why": "LOCK ... MODE"},
                         {"question": "What does COMMENT do?", "page": "sql-comment.html", "relevant": True, "why": "COMMENT stores a comment"})
        self.assertEqual(bad.returncode, 1)
        self.assertIn(":1: sql-lock.html does not contain the quoted answer", bad.stdout)
        self.assertIn(":2: sql-lock.html does not contain the quoted answer", bad.stdout)
        self.assertIn(":3: no page sql-comment.html", bad.stdout)


if __name__ == "__main__":
    unittest.main()
