"""The migrations and the models describe one schema: what `db upgrade` builds is what the code reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from monitor.store.db import _alembic_config, head_revision, open_engine, upgrade, writer
from monitor.store.schema import Base
from tests.support.httpserver import TestServer
from tests.support.postgres import pg_url, postgres  # noqa: F401 (fixtures)
from tests.support.workspace import Clock, Workspace
from tests.test_poll import poll, rss


def _differences(url: str) -> list[object]:
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    # the search index (entry_fts: SQLite FTS5 and its shadow tables, PostgreSQL tsvector
    # columns and their GIN indexes) is made by raw SQL in the migrations, not by the models
    return [d for d in diffs if not _search_index(d)]


def _search_index(diff: tuple) -> bool:  # type: ignore[type-arg]
    if diff[0] == "remove_table":
        return bool(diff[1].name.startswith("entry_fts"))
    if diff[0] == "remove_index":
        return bool(diff[1].table.name == "entry_fts")
    return False


def _upgraded(url: str) -> str | None:
    """Upgrade the database at `url`; the revision it ends at."""
    engine = open_engine(url)
    try:
        return upgrade(engine)[1]
    finally:
        engine.dispose()


def test_a_database_upgraded_to_head_matches_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    assert _upgraded(url) == head_revision()
    assert _differences(url) == []


def test_the_newest_migration_goes_down_and_up_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = open_engine(url)
    try:
        upgrade(engine)
        cfg = _alembic_config()
        with writer(engine).begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "-1")
        assert upgrade(engine)[1] == head_revision()
    finally:
        engine.dispose()
    assert _differences(url) == []


def test_on_postgresql_too(pg_url: str) -> None:  # noqa: F811
    assert _upgraded(pg_url) == head_revision()
    assert _differences(pg_url) == []


def test_going_down_to_the_first_revision_keeps_the_archive(http_server: TestServer, workspace: Workspace) -> None:
    """Downgrades drop columns in place: rebuilding a table (Alembic's batch mode on SQLite)
    would drop the old one, and ON DELETE CASCADE would empty every table that refers to it."""
    http_server.route("/feed", rss(("Crystal intelligence begins", "https://example.com/a"),
                                   ("Weather", "https://example.com/b")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "jv", "query": '"Crystal intelligence"'}])
    poll(workspace, Clock())
    counts = "select (select count(*) from entries), (select count(*) from matches), (select count(*) from entry_sources)"
    with sqlite3.connect(workspace.db_path) as conn:
        before = conn.execute(counts).fetchone()
    assert before == (2, 1, 2)
    engine = open_engine(f"sqlite:///{workspace.db_path}")
    try:
        cfg = _alembic_config()
        with writer(engine).begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0001")
        with sqlite3.connect(workspace.db_path) as raw:
            assert raw.execute(counts).fetchone() == before
        upgrade(engine)
    finally:
        engine.dispose()
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute(counts).fetchone() == before


def upgraded_from(workspace: Workspace, revision: str,
                  edit: Callable[[sqlite3.Connection], None]) -> tuple[str | None, str | None]:
    """Take the workspace's database down to ``revision``, let ``edit`` make its rows as that
    revision's code wrote them, and upgrade it again: (revision before, revision after)."""
    engine = open_engine(f"sqlite:///{workspace.db_path}")
    try:
        cfg = _alembic_config()
        with writer(engine).begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
        with sqlite3.connect(workspace.db_path) as raw:
            edit(raw)
        return upgrade(engine)
    finally:
        engine.dispose()


def test_kanji_variants_reindex_what_was_indexed_before(http_server: TestServer, workspace: Workspace) -> None:
    """0010: an archive indexed when 髙 was its own token is indexed again, so the search 高島屋
    (as a user types it) finds 髙島屋, and a topic on 山崎 is matched again and finds 山﨑."""
    http_server.route("/feed", rss(("髙島屋、新宿店を改装", "https://example.com/a"),
                                   ("山﨑社長が会見", "https://example.com/b")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "yamazaki", "query": "山崎"}])
    poll(workspace, Clock())

    def as_0009_indexed(raw: sqlite3.Connection) -> None:  # what 0009's tokenizer had written
        raw.execute("UPDATE entry_fts SET title = '髙島 島屋 屋 新宿 宿店 店を を改 改装 装' WHERE rowid = 1")
        raw.execute("DELETE FROM matches")

    assert upgraded_from(workspace, "0009", as_0009_indexed) == ("0009", head_revision())
    with sqlite3.connect(workspace.db_path) as raw:
        found = raw.execute("SELECT e.title FROM entry_fts JOIN entries e ON e.id = entry_fts.rowid "
                            "WHERE entry_fts MATCH '\"高島 島屋\"'").fetchall()
        assert found == [("髙島屋、新宿店を改装",)]
        assert raw.execute("SELECT count(*) FROM topics").fetchone() == (0,)
    poll(workspace, Clock())  # the next start matches every topic again
    with sqlite3.connect(workspace.db_path) as raw:
        assert raw.execute("SELECT e.title FROM matches m JOIN entries e ON e.id = m.entry_id").fetchall() == [
            ("山﨑社長が会見",)]


def test_unit_tokens_reindex_what_was_indexed_before(http_server: TestServer, workspace: Workspace) -> None:
    """0008: an archive indexed when 1.5GW was the tokens `1 5gw` is indexed again (found by
    GW), and every topic is matched again at the next start."""
    http_server.route("/feed", rss(("Stargate adds a 1.5GW campus", "https://example.com/a"),
                                   ("Weather", "https://example.com/b")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "dc", "query": "campus"}])
    poll(workspace, Clock())

    def as_0007_indexed(raw: sqlite3.Connection) -> None:  # what 0007's tokenizer had written
        raw.execute("UPDATE entry_fts SET title = 'stargate adds a 1 5gw campus' WHERE title LIKE '%gw%'")
        assert raw.execute("SELECT count(*) FROM entry_fts WHERE entry_fts MATCH 'gw'").fetchone() == (0,)
        assert raw.execute("SELECT name FROM topics").fetchall() == [("dc",)]

    assert upgraded_from(workspace, "0007", as_0007_indexed) == ("0007", head_revision())
    with sqlite3.connect(workspace.db_path) as raw:
        found = raw.execute("SELECT e.title FROM entry_fts JOIN entries e ON e.id = entry_fts.rowid "
                            "WHERE entry_fts MATCH '\"1\u066b5 gw\"'").fetchall()
        assert found == [("Stargate adds a 1.5GW campus",)]
        assert raw.execute("SELECT count(*) FROM entry_fts").fetchone() == (2,)
        assert raw.execute("SELECT count(*) FROM topics").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM matches").fetchone() == (1,)  # kept until matched again
