"""Tests of split_metrics.py: metrics per question set from `kb eval --json` ranks."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "split_metrics.py")


def run(args, stdin=""):
    return subprocess.run([sys.executable, SCRIPT, *args], input=stdin, capture_output=True, text=True)


class SplitMetrics(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.ingest = os.path.join(d, "ingest.json")
        self.sets = os.path.join(d, "sets")
        with open(self.ingest, "w") as f:
            json.dump({"kb_id": "x", "stats": {"chunks_created": 12, "pages_scraped": 3}}, f)
        with open(self.sets, "w") as f:
            f.write("dev\ndev\ndev\nheld\nheld\n")

    def tearDown(self):
        self.dir.cleanup()

    def eval_json(self, ranks):
        return json.dumps({"mode": "dense", "group_by_page": True, "questions": [{"rank": r} for r in ranks]})

    def test_each_set_and_all(self):
        out = run(["cfg", self.ingest, self.sets], self.eval_json([1, None, 2, 5, 10]))
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = {r["set"]: r for r in map(json.loads, out.stdout.splitlines())}
        self.assertEqual(list(rows), ["dev", "held", "all"])
        dev, held, both = rows["dev"], rows["held"], rows["all"]
        self.assertEqual((dev["questions"], held["questions"], both["questions"]), (3, 2, 5))
        self.assertAlmostEqual(dev["recall_at_1"], 1 / 3)
        self.assertAlmostEqual(dev["recall_at_5"], 2 / 3)
        self.assertAlmostEqual(dev["mrr_at_10"], (1 + 0.5) / 3)
        self.assertAlmostEqual(held["recall_at_1"], 0)
        self.assertAlmostEqual(held["recall_at_5"], 0.5)
        self.assertAlmostEqual(held["recall_at_10"], 1)
        self.assertAlmostEqual(held["mrr_at_10"], (0.2 + 0.1) / 2)
        self.assertAlmostEqual(both["mrr_at_10"], (1 + 0.5 + 0.2 + 0.1) / 5)
        self.assertEqual((both["config"], both["chunks"], both["pages"], both["grouped"]), ("cfg", 12, 3, True))

    def test_a_question_count_that_does_not_match_the_sets_is_refused(self):
        out = run(["cfg", self.ingest, self.sets], self.eval_json([1, 2]))
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("2 questions evaluated but 5 lines", out.stderr)

    def test_tables(self):
        lines = run(["cfg", self.ingest, self.sets], self.eval_json([1, None, 2, 5, 10])).stdout
        results = os.path.join(self.dir.name, "results.jsonl")
        with open(results, "w") as f:
            f.write(lines)
        out = run(["--table", results])
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("5 questions (dev 3, held 2); pages indexed: 3", out.stdout)
        self.assertIn("| cfg | dense | yes | 12 | 0.200 | 0.600 | 0.800 | 0.360 |", out.stdout)
        self.assertIn("| cfg | dense | yes | 0.333 | 0.500 | 0.000 | 0.150 |", out.stdout)

    def test_written_and_pooled_judgments_get_a_table_each(self):
        written = run(["cfg", self.ingest, self.sets], self.eval_json([1, None, 2, 5, 10])).stdout
        pooled = run(["cfg", self.ingest, self.sets, "pooled"], self.eval_json([1, 1, 2, 5, 10])).stdout
        self.assertEqual({json.loads(line)["judgments"] for line in written.splitlines()}, {"written"})
        results = os.path.join(self.dir.name, "results.jsonl")
        with open(results, "w") as f:
            f.write(written + pooled)
        out = run(["--table", results])
        self.assertEqual(out.returncode, 0, out.stderr)
        first, second = out.stdout.split("Judgments: pooled")
        self.assertIn("Judgments: written", first)
        self.assertIn("| cfg | dense | yes | 12 | 0.200 | 0.600 | 0.800 | 0.360 |", first)
        self.assertIn("| cfg | dense | yes | 12 | 0.400 | 0.800 | 1.000 | 0.560 |", second)
        self.assertIn("| cfg | dense | yes | 0.667 | 0.833 | 0.000 | 0.150 |", second)

    def test_an_unknown_kind_of_judgments_is_refused(self):
        out = run(["cfg", self.ingest, self.sets, "guessed"], self.eval_json([1, None, 2, 5, 10]))
        self.assertNotEqual(out.returncode, 0)


if __name__ == "__main__":
    unittest.main()
