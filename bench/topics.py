"""Precision and recall of the shipped topics on the labelled headlines, as a table.

Run by hand: `python bench/topics.py`. Reads tests/data/topic_headlines.tsv (the same file
tests/test_shipped_topics.py checks) and the topics of config.yaml.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config import load
from monitor.core.topics import TopicSet


def main() -> None:
    config = load(ROOT / "config.yaml")
    topics = TopicSet([(t.name, t.tree) for t in config.topics])
    rows = [line.split("\t") for line in (ROOT / "tests/data/topic_headlines.tsv").read_text(encoding="utf-8")
            .splitlines() if line.strip() and not line.startswith(("#", "topic\t"))]
    print(f"{'topic':<18}{'rows':>6}{'pos':>6}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}")
    for topic in (t.name for t in config.topics):
        tp = fp = fn = n = pos = 0
        for row in rows:
            names = [x.strip() for x in row[0].split(",")]
            if topic not in names:
                continue
            n += 1
            expected = row[1].strip() == "match"
            pos += expected
            got = topic in topics.analyse(row[2], row[3] if len(row) > 3 else "").topics
            tp += expected and got
            fp += got and not expected
            fn += expected and not got
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{topic:<18}{n:>6}{pos:>6}{tp:>5}{fp:>5}{fn:>5}{precision:>11.3f}{recall:>8.3f}")


if __name__ == "__main__":
    main()
