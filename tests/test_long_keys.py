"""Entry keys are bounded: a very long URL is keyed by its SHA-256, on SQLite and PostgreSQL.

PostgreSQL's unique index refuses an index row over about 2.7 KB, so one such link used to fail
every poll of its source there. Migration 0005 re-keys the long keys stored before, so the
next poll finds those entries instead of storing them twice.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import insert, select

from monitor.core.entry import EntryDraft
from monitor.core.intake import MAX_KEY_BYTES, bounded_key, entry_key
from monitor.store import db
from monitor.store.schema import entries, sources
from tests.support.httpserver import TestServer
from tests.support.postgres import Cluster, pg_url, postgres, require_bindir  # noqa: F401 (fixtures)
from tests.support.workspace import Clock, Workspace
from tests.test_poll import poll, rss

# 6 KB of hex that does not compress below the index's limit (PostgreSQL compresses index rows)
LONG = "https://www.example.com/news/" + "".join(sha256(str(i).encode()).hexdigest() for i in range(96)) + ".html"


def test_a_long_key_becomes_its_digest_and_a_short_one_stays() -> None:
    key, url = entry_key(EntryDraft("t", link=LONG), "s") or ("", None)
    assert url == LONG and key.startswith("sha256:") and len(key) == 7 + 64
    assert entry_key(EntryDraft("t", link=LONG + "x"), "s") != (key, url)
    assert bounded_key("https://x.org/a") == "https://x.org/a"
    edge = "x" * MAX_KEY_BYTES
    assert bounded_key(edge) == edge and bounded_key(edge + "x").startswith("sha256:")
    assert bounded_key("あ" * 400).startswith("sha256:")  # bytes, not characters, are bounded
    guid_key, _ = entry_key(EntryDraft("t", guid="tag:" + "x" * 2000), "s") or ("", None)
    assert guid_key.startswith("sha256:")


def test_an_archive_from_before_keeps_its_long_keyed_entry(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("A long-linked story", LONG), ("A short one", "https://x.org/short")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    engine = db.open_engine(f"sqlite:///{workspace.db_path}")
    cfg = db._alembic_config()
    with db.writer(engine).begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    now = datetime(2025, 2, 1, tzinfo=UTC)
    with engine.begin() as conn:
        source_id = conn.execute(insert(sources).values(name="s", url=http_server.url("/feed"), type="rss")
                                 .returning(sources.c.id)).scalar_one()
        conn.execute(insert(entries).values(key=LONG, url=LONG, title="A long-linked story", summary="",
                                            first_seen=now, updated_at=now, source_id=source_id))
    engine.dispose()
    out = poll(workspace, Clock())["s"]
    assert out.status == "ok" and out.new == 1  # the short one
    with sqlite3.connect(workspace.db_path) as conn:
        rows = conn.execute("select key, url, first_seen from entries order by id").fetchall()
    assert len(rows) == 2
    assert rows[0][0].startswith("sha256:") and rows[0][1] == LONG and rows[0][2].startswith("2025-02-01")


def test_postgresql_stores_an_entry_with_a_very_long_link(http_server: TestServer, tmp_path: Path,
                                                          pg_url: str) -> None:  # noqa: F811
    http_server.route("/feed", rss(("A long-linked story", LONG), ("A short one", "https://x.org/short")))
    ws = Workspace(tmp_path, tmp_path / "config.yaml")
    ws.write(sources=[{"name": "s", "url": http_server.url("/feed")}], database=pg_url)
    clock = Clock()
    first = poll(ws, clock)["s"]
    assert first.status == "ok" and first.new == 2, first
    clock.advance(minutes=30)
    assert poll(ws, clock)["s"].new == 0
    app = ws.app(clock)
    try:
        assert sorted(r.url or "" for r in app.reader.search(None)) == sorted([LONG, "https://x.org/short"])
    finally:
        app.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_downgrading_gives_back_the_urls_an_older_archive_can_index(http_server: TestServer, tmp_path: Path,
                                                                     request: pytest.FixtureRequest,
                                                                     backend: str) -> None:
    medium = "https://www.example.com/a/" + "b" * 1500
    http_server.route("/feed", rss(("Medium", medium), ("Long", LONG), ("Short", "https://x.org/short")))
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'm.db'}"
    ws = Workspace(tmp_path, tmp_path / "config.yaml")
    ws.write(sources=[{"name": "s", "url": http_server.url("/feed")}], database=url)
    assert poll(ws, Clock())["s"].new == 3
    engine = db.open_engine(url)
    cfg = db._alembic_config()
    with db.writer(engine).begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")  # on PostgreSQL, restoring the 6 KB URL as a key would fail
    with engine.connect() as conn:
        keys = dict(conn.execute(select(entries.c.title, entries.c.key)).all())
    engine.dispose()
    assert keys["Medium"] == medium and keys["Short"] == "https://x.org/short"
    assert keys["Long"].startswith("sha256:")  # no older archive could index it: it keeps the digest
