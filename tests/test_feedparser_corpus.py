"""feedparser's own test documents (2,000+: every odd corner of RSS, Atom, RDF, encodings and entities)
through our whole ingest path: parse, normalise, identify, match the shipped topics, store in SQLite.

A document may be refused with a ParseError (many are deliberately broken or are not feeds); nothing
else may escape, what is stored must be intact, and the count of documents that yield entries is
reported (and held to a floor, so a regression that silently drops feeds fails here).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import load
from monitor.core.topics import TopicSet
from monitor.errors import ParseError
from monitor.ingest.feed import parse_feed
from monitor.service.pipeline import Pipeline
from monitor.store.archive import Archive, PollRecord
from monitor.store.db import open_engine, upgrade
from tests.corpus import corpus_root

SHIPPED = Path(__file__).resolve().parents[1] / "config.yaml"
# Measured 2026-11-27 (see the printed figures). Most test documents hold one bare <entry> with no
# link and no id: feedparser reads it, we skip it (nothing to identify it by) and count it.
WITH_ITEMS_FLOOR = 1194
YIELDING_FLOOR = 95


def _documents() -> list[Path]:
    root = corpus_root() / "feedparser-tests" / "tests"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf", ".json", ".txt"))


def test_every_feedparser_test_document_goes_through_ingest(tmp_path: Path) -> None:
    documents = _documents()
    assert len(documents) > 2000
    engine = open_engine(f"sqlite:///{tmp_path / 'sweep.db'}")
    upgrade(engine)
    archive = Archive(engine)
    config = load(SHIPPED)
    pipeline = Pipeline(archive, TopicSet([(t.name, t.tree) for t in config.topics]))
    ids = archive.sync_sources((f"d{i}", f"http://example.com/{i}", "feed", "", "") for i in range(len(documents)))
    with_items = yielding = refused = stored = skipped = 0
    now = datetime(2026, 11, 27, tzinfo=UTC)
    for i, path in enumerate(documents):
        try:
            parsed = parse_feed(path.read_bytes(), url=f"http://example.com/{path.name}", content_type=None, tz=UTC)
        except ParseError:
            refused += 1
            continue
        done = pipeline.ingest(ids[f"d{i}"], f"d{i}", parsed.drafts, now=now, record=PollRecord("ok"))
        with_items += bool(parsed.drafts) or parsed.skipped > 0
        yielding += bool(parsed.drafts)
        stored += done.new
        skipped += parsed.skipped + done.skipped
    engine.dispose()
    with sqlite3.connect(tmp_path / "sweep.db") as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
        assert conn.execute("select count(*), count(distinct key) from entries").fetchone() == (stored, stored)
        assert conn.execute("select count(*) from entry_fts").fetchone() == (stored,)
    report = (f"feedparser-tests: {len(documents)} documents, {with_items} with items, {yielding} yield "
              f"storable entries ({skipped} items skipped: no link and no id), {refused} refused (not a feed, "
              f"empty, entity bomb), {stored} distinct entries stored")
    print(f"\n{report}")
    assert (with_items, yielding) >= (WITH_ITEMS_FLOOR, YIELDING_FLOOR), report
