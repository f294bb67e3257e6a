"""The shipped topic queries (config.yaml) against real and realistic headlines.

tests/data/topic_headlines.tsv lists, per topic, headlines the topic must match and
headlines it must not: the "should match" / "should NOT match" examples, timeline entries
and false-positive traps of shared/research/domain-topics.md, and real titles from the
captured feeds in shared/corpus/real/. Each row is a test of its own; a summary test then
holds every topic to a precision and recall floor over the whole file, so a query change
that trades many rows away shows up as one clear failure.

A row whose origin starts with ``xfail:`` is a known miss (the origin says why); it is
expected to fail, and counted as it really is in the precision/recall summary.
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from monitor.config import load
from monitor.core.matcher import document, matches
from monitor.core.text import tokenize
from monitor.core.topics import TopicSet
from monitor.store.fts import CREATE_TABLE, index_text, where_clause

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data" / "topic_headlines.tsv"
MIN_PRECISION = 0.95
MIN_RECALL = 0.90


@dataclass(frozen=True)
class Row:
    line: int
    topic: str
    expect: bool  # True: the topic must match; False: it must not
    title: str
    summary: str
    origin: str

    @property
    def xfail(self) -> bool:
        return self.origin.startswith("xfail:")

    @property
    def id(self) -> str:
        """``L<line>-<topic>-<match|no>-<words>``: the title when it is ASCII, else the origin
        (pytest would print a Japanese title as \\u escapes)."""
        words = self.title if self.title.isascii() else self.origin.replace("§", "s")
        words = " ".join("".join(c for c in words if c.isascii() and c.isprintable()).split())
        return f"L{self.line}-{self.topic}-{'match' if self.expect else 'no'}-{words[:50].strip()}"


def read_rows() -> list[Row]:
    rows: list[Row] = []
    with DATA.open(encoding="utf-8", newline="") as f:
        lines = [(n, text) for n, text in enumerate(f, start=1) if text.strip() and not text.startswith("#")]
    header, *body = lines
    assert header[1].rstrip("\n").split("\t") == ["topic", "expect", "title", "summary", "origin"]
    for number, text in body:
        cells = next(csv.reader([text.rstrip("\n")], delimiter="\t", quoting=csv.QUOTE_NONE))
        assert len(cells) == 5, f"{DATA.name}:{number}: expected 5 tab-separated cells, got {len(cells)}"
        topics, expect, title, summary, origin = cells
        assert expect in ("match", "no"), f"{DATA.name}:{number}: expect is {expect!r}, not match or no"
        assert title.strip() and origin.strip(), f"{DATA.name}:{number}: title and origin are required"
        for topic in topics.split(","):
            rows.append(Row(number, topic.strip(), expect == "match", title, summary, origin))
    return rows


ROWS = read_rows()


@cache
def shipped_topics() -> TopicSet:
    config = load(ROOT / "config.yaml")
    return TopicSet([(topic.name, topic.tree) for topic in config.topics])


def matched(row: Row) -> bool:
    return row.topic in shipped_topics().analyse(row.title, row.summary).topics


def test_search_finds_what_the_topic_matches() -> None:
    """``monitor search '<the topic's query>'`` (the FTS5 back end) selects exactly the rows the
    topic matches, so an analyst can try a shipped query on the archive as written."""
    docs = sorted({(row.title, row.summary) for row in ROWS})
    db = sqlite3.connect(":memory:")
    try:
        db.execute("CREATE TABLE entries (id INTEGER PRIMARY KEY)")
        db.execute(CREATE_TABLE)
        for rowid, (title, summary) in enumerate(docs, start=1):
            db.execute("INSERT INTO entries (id) VALUES (?)", (rowid,))
            db.execute(
                "INSERT INTO entry_fts (rowid, title, summary) VALUES (?, ?, ?)",
                (rowid, index_text(tokenize(title)), index_text(tokenize(summary))),
            )
        for topic in load(ROOT / "config.yaml").topics:
            sql, params = where_clause(topic.tree)
            by_search = {row[0] for row in db.execute(f"SELECT id FROM entries WHERE {sql}", params)}
            by_topic = {i for i, (title, summary) in enumerate(docs, start=1) if matches(topic.tree, document(title, summary))}
            assert by_search == by_topic, f"{topic.name}: search and topic disagree on {sorted(by_search ^ by_topic)}"
            assert by_topic, f"{topic.name} matches none of the rows"
    finally:
        db.close()


def test_every_row_names_a_shipped_topic() -> None:
    names = set(shipped_topics().names)
    unknown = sorted({row.topic for row in ROWS} - names)
    assert not unknown, f"{DATA.name} names topics that config.yaml does not have: {unknown}"


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, id=row.id, marks=pytest.mark.xfail(reason=row.origin, strict=True)) if row.xfail
        else pytest.param(row, id=row.id)
        for row in ROWS
    ],
)
def test_topic_decides_the_row(row: Row) -> None:
    result = shipped_topics().analyse(row.title, row.summary)
    found = row.topic in result.topics
    why = f"matched on {[h.term for h in result.hits.get(row.topic, ())]}" if found else "no match"
    assert found == row.expect, f"{row.topic} should {'' if row.expect else 'not '}match: {row.title!r} ({row.origin}); {why}"


def scores() -> dict[str, tuple[int, int, int, int]]:
    """Per topic: true positives, false positives, false negatives, true negatives."""
    table: dict[str, list[int]] = {name: [0, 0, 0, 0] for name in shipped_topics().names}
    for row in ROWS:
        got = matched(row)
        cell = {(True, True): 0, (False, True): 1, (True, False): 2, (False, False): 3}[(row.expect, got)]
        table[row.topic][cell] += 1
    return {name: (tp, fp, fn, tn) for name, (tp, fp, fn, tn) in table.items()}


def test_precision_and_recall_per_topic() -> None:
    lines, failures = [], []
    for name, (tp, fp, fn, tn) in scores().items():
        assert tp + fn >= 30 and fp + tn >= 30, f"{name}: too few rows ({tp + fn} positive, {fp + tn} negative)"
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn)
        lines.append(f"{name:18} precision {precision:.3f}  recall {recall:.3f}  (tp {tp} fp {fp} fn {fn} tn {tn})")
        if precision < MIN_PRECISION or recall < MIN_RECALL:
            failures.append(name)
    print("\n" + "\n".join(lines))
    floor = f"below the floor (precision >= {MIN_PRECISION:.2f}, recall >= {MIN_RECALL:.2f}):"
    assert not failures, floor + "\n" + "\n".join(lines)
