"""PostgreSQL: the same archive, search and digest as SQLite, on a real server.

A throwaway cluster (tests/support/postgres.py) serves a new database per test. Search must
mean what the Python matcher means: the agreement table and the hypothesis queries of
tests/test_fts_agreement.py run here against ``monitor.store.pg_search``, plus documents that
overflow what a tsvector can hold. End to end, the same feeds polled into SQLite and into
PostgreSQL give the same search results and the same digest; two workers polling at once
store each entry once; ``monitor db upgrade`` builds an empty database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select, text

from monitor.app import App
from monitor.cli import cli
from monitor.core.matcher import document, matches
from monitor.core.query import Node, parse, term
from monitor.core.text import tokenize
from monitor.errors import StoreError
from monitor.store import pg_search
from monitor.store.archive import Archive
from monitor.store.db import ensure_current, head_revision, open_engine
from monitor.store.fts import where_clause_for
from monitor.store.schema import entries, entry_sources, sources
from monitor.store.schema import matches as matches_table
from tests.support.httpserver import Response, TestServer
from tests.support.postgres import Cluster, pg_url, postgres, require_bindir  # noqa: F401 (fixtures)
from tests.support.workspace import Clock, Workspace
from tests.test_fts_agreement import DOCS, GENERATED_TERMS, QUERIES
from tests.test_poll import JT_FEED, poll, rss
from tests.test_query import trees

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2025, 2, 3, tzinfo=UTC)

# Fields that a tsvector cannot hold, so they are searched in entry_fts_spill: a lexeme with
# more than 256 positions, a token over 2046 bytes, more than 16383 tokens, a Japanese bigram
# repeated past 256.
OVERFLOW: list[tuple[str, str]] = [
    ("ai " * 300 + "OpenAI Japan", "SB OpenAI Japan"),
    ("x" * 3000 + " Stargate", ""),
    ("", " ".join(f"w{i}" for i in range(17000)) + " SB OpenAI Japan"),
    ("あ" * 600 + "い", "合弁" * 300),
]
PG_DOCS = DOCS + OVERFLOW
PG_QUERIES = [
    *QUERIES,
    ("overflow-phrase-after-256", '"ai openai"'),
    ("overflow-long-token-prefix", "xxxxxxxxxx*"),
    ("overflow-long-token", "x" * 3000),
    ("overflow-long-token-phrase", f'"{"x" * 3000} stargate"'),
    ("overflow-many-tokens", '"w16999 sb openai"'),
    ("overflow-many-tokens-not-title", '-title:"w16999 sb"'),
    ("overflow-cjk", "あい OR title:合弁"),
    ("overflow-cjk-summary", "summary:弁合弁"),
    ("overflow-negated", "-あい -w5"),
]


# --- the literals, without a server ---------------------------------------------------------------

def test_tsvector_literal_quotes_and_positions() -> None:
    assert pg_search.tsvector_literal(["sb", "openai", "sb"]) == "'sb':1 'openai':2 'sb':3"
    assert pg_search.tsvector_literal([]) == ""
    assert pg_search.quote("it's\\") == "'it''s\\\\'"
    assert pg_search.tsvector_literal(["a" * 2046]) is not None
    assert pg_search.tsvector_literal(["a" * 2047]) is None  # too long a lexeme
    assert pg_search.tsvector_literal(["a"] * 256) is not None
    assert pg_search.tsvector_literal(["a"] * 257) is None  # PostgreSQL would drop positions
    assert pg_search.tsvector_literal([f"t{i}" for i in range(16384)]) is None  # would clamp


def _reference_literal(tokens: list[str]) -> str | None:
    """tsvector_literal written the obvious way, limits checked one by one."""
    if len(tokens) > 16383 or any(len(t.encode()) > 2046 for t in tokens):
        return None
    if any(tokens.count(t) > 256 for t in set(tokens)):
        return None
    if sum(len(t.encode()) + 8 for t in set(tokens)) + 2 * len(tokens) > pg_search.MAX_VECTOR_BYTES:
        return None
    return " ".join(f"{pg_search.quote(t)}:{i}" for i, t in enumerate(tokens, start=1))


@given(st.lists(st.sampled_from(["a", "b", "japan", "it's", "back\\slash", "é" * 600, "漢" * 600, "x" * 2100]),
                max_size=700))
def test_tsvector_literal_is_the_obvious_one(tokens: list[str]) -> None:
    assert pg_search.tsvector_literal(tokens) == _reference_literal(tokens)


def test_leaf_tsquery_and_like_forms() -> None:
    assert pg_search.leaf_tsquery(term("SB OpenAI Japan")) == "'sb' <-> 'openai' <-> 'japan'"
    assert pg_search.leaf_tsquery(term("invest", star=True, field="title")) == "'invest':*"
    assert pg_search.leaf_tsquery(term("米")) == "'米':*"
    assert pg_search.leaf_tsquery(term("x" * 3000)) is None
    assert pg_search.like_pattern(term("SB OpenAI Jap", star=True)) == "% sb openai jap%"
    assert pg_search.like_pattern(term("AI")) == "% ai %"


def test_where_clause_binds_every_value() -> None:
    sql, params = pg_search.where_clause(parse('ai -"ai"'), id_column="e.id")
    assert params == {"q0": "'ai'", "q1": "% ai %"}
    assert "ai" not in sql.replace("entry_fts", "").replace("entry_id", "")
    leaf = ("e.id IN (SELECT entry_id FROM entry_fts WHERE title @@ CAST(:q0 AS tsquery) OR summary @@ "
            "CAST(:q0 AS tsquery) OR text @@ CAST(:q0 AS tsquery) UNION ALL SELECT entry_id FROM entry_fts_spill "
            "WHERE title LIKE :q1 OR summary LIKE :q1 OR text LIKE :q1)")
    assert sql == f"({leaf} AND NOT ({leaf}))"
    assert where_clause_for("postgresql") is pg_search.where_clause
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        where_clause_for("mysql")


def test_missing_binaries_fail_with_the_remedy(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"run \.ci/run .*apt-get install -y postgresql"):
        require_bindir([str(tmp_path)])


# --- search agrees with the matcher ---------------------------------------------------------------

@pytest.fixture(scope="module")
def search_db(postgres: Cluster) -> Iterator[Engine]:  # noqa: F811
    """The agreement documents, stored and indexed the way the archive does it."""
    engine = open_engine(postgres.url(postgres.create_database()))
    ensure_current(engine)
    with engine.begin() as conn:
        conn.execute(insert(sources).values(id=1, name="s", url="https://example.com/", type="feed",
                                            consecutive_failures=0))
        conn.execute(insert(entries), [
            {"id": i, "key": f"k{i}", "title": title, "summary": summary, "first_seen": NOW, "updated_at": NOW,
             "source_id": 1} for i, (title, summary) in enumerate(PG_DOCS, start=1)])
        pg_search.write_index(conn, [(i, (" ".join(tokenize(title)), " ".join(tokenize(summary)), ""))
                                     for i, (title, summary) in enumerate(PG_DOCS, start=1)])
    yield engine
    engine.dispose()


def by_pg(engine: Engine, tree: Node) -> set[int]:
    sql, params = pg_search.where_clause(tree)
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text(f"SELECT id FROM entries WHERE {sql}"), params)}


def by_matcher(tree: Node) -> set[int]:
    return {i for i, (title, summary) in enumerate(PG_DOCS, start=1) if matches(tree, document(title, summary))}


def test_overflowing_fields_are_spilled(search_db: Engine) -> None:
    with search_db.connect() as conn:
        spilled = conn.execute(text("SELECT entry_id, title IS NOT NULL, summary IS NOT NULL "
                                    "FROM entry_fts_spill ORDER BY entry_id")).all()
        indexed = conn.execute(text("SELECT count(*) FROM entry_fts")).scalar()
    first = len(DOCS) + 1
    assert spilled == [(first, True, False), (first + 1, True, False), (first + 2, False, True),
                       (first + 3, True, True)]
    assert indexed == len(PG_DOCS)


@pytest.mark.parametrize("query", [q for _, q in PG_QUERIES], ids=[name for name, _ in PG_QUERIES])
def test_pg_search_agrees_with_matcher(search_db: Engine, query: str) -> None:
    tree = parse(query)
    found = by_matcher(tree)
    assert by_pg(search_db, tree) == found
    assert found or query.startswith("-")  # every query of the table selects something


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(trees(GENERATED_TERMS))  # type: ignore[arg-type]
def test_pg_search_agrees_on_generated_queries(search_db: Engine, tree: Node) -> None:
    assert by_pg(search_db, tree) == by_matcher(tree)


# --- end to end through the App -------------------------------------------------------------------

AGREEMENT_FEED = rss(*[(title, f"https://example.com/d{i}", summary) for i, (title, summary) in enumerate(DOCS)])
TOPICS = [
    {"name": "jv", "title": "SoftBank–OpenAI JV", "query": '"SB OpenAI Japan" OR "SB OAI Japan" OR 合弁'},
    {"name": "ai", "title": "AI", "query": '"generative AI" OR 生成AI OR (AI -dubai)'},
    {"name": "stargate", "title": "Stargate", "query": '(Stargate OR スターゲート) -"SG-1"'},
]


def _workspace(root: Path, database: str, server: TestServer) -> Workspace:
    root.mkdir()
    ws = Workspace(root, root / "config.yaml")
    ws.write(sources=[{"name": "japan-times", "url": server.url("/feed/")},
                      {"name": "agreement", "url": server.url("/agreement")}],
             topics=TOPICS, database=database)
    return ws


def test_poll_search_and_digest_are_the_same_as_on_sqlite(http_server: TestServer, tmp_path: Path,
                                                          pg_url: str) -> None:  # noqa: F811
    http_server.route_file("/feed/", JT_FEED)
    http_server.route("/agreement", AGREEMENT_FEED)
    spaces = {"sqlite": _workspace(tmp_path / "sqlite", "sqlite:///monitor.db", http_server),
              "postgresql": _workspace(tmp_path / "pg", pg_url, http_server)}
    clock = Clock()
    # One source at a time, so both archives number the entries alike (concurrent polls of
    # two sources store in the order the fetches finish).
    polled = {kind: poll(ws, clock, "japan-times") | poll(ws, clock, "agreement") for kind, ws in spaces.items()}
    summary = {kind: {s: (o.status, o.new, o.matched) for s, o in out.items()} for kind, out in polled.items()}
    assert summary["postgresql"] == summary["sqlite"]
    assert polled["postgresql"]["japan-times"].new > 20
    assert polled["postgresql"]["agreement"].matched >= 5
    clock.advance(minutes=30)
    for ws in spaces.values():  # a second poll adds nothing
        assert all(o.new == 0 for o in poll(ws, clock).values())

    apps = {kind: ws.app(clock) for kind, ws in spaces.items()}
    try:
        assert apps["postgresql"].engine.dialect.name == "postgresql"
        everything = apps["postgresql"].reader.search(None, limit=10_000)
        queries = [q for _, q in QUERIES] + ["japan", "title:tokyo -japan", "trump*", "政府", '"prime minister"']
        for query in queries:
            tree = parse(query)
            found = {kind: app.reader.search(tree, limit=10_000) for kind, app in apps.items()}
            assert found["postgresql"] == found["sqlite"], query
            # ... and is what the matcher says of every stored entry
            assert {r.id for r in found["postgresql"]} == {
                r.id for r in everything if matches(tree, document(r.title, r.summary))}, query
        assert apps["postgresql"].reader.search(parse("japan"), topics=["ai"], carried_by=["japan-times"], limit=5) == \
            apps["sqlite"].reader.search(parse("japan"), topics=["ai"], carried_by=["japan-times"], limit=5)
        day = apps["postgresql"].current_day()
        digests = {kind: app.digest(day) for kind, app in apps.items()}
        assert digests["postgresql"] == digests["sqlite"]
        assert digests["postgresql"].entries >= 5
        assert apps["postgresql"].digest(date(2025, 2, 3)) == apps["sqlite"].digest(date(2025, 2, 3))
        assert apps["postgresql"].reader.sources() == apps["sqlite"].reader.sources()
    finally:
        for app in apps.values():
            app.close()


def test_a_revised_title_is_indexed_again(http_server: TestServer, workspace: Workspace,
                                          pg_url: str) -> None:  # noqa: F811
    http_server.route("/feed", rss(("Plans announced", "https://example.com/jv")))
    workspace.write(sources=[{"name": "origin", "url": http_server.url("/feed")}],
                    topics=[{"name": "jv", "query": '"SB OAI Japan"'}], database=pg_url)
    clock = Clock()
    poll(workspace, clock)
    http_server.route("/feed", rss(("SB OAI Japan launches Crystal intelligence", "https://example.com/jv",
                                    "x" * 3000)))  # the summary spills now
    clock.advance(hours=1)
    out = poll(workspace, clock)["origin"]
    assert (out.new, out.matched) == (0, 1)
    app = workspace.app(clock)
    try:
        assert [r.topics for r in app.reader.search(parse('"sb oai japan" crystal'))] == [("jv",)]
        assert app.reader.search(parse("announced")) == []
        assert len(app.reader.search(parse("xxx*"))) == 1
        with app.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM entry_fts")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM entry_fts_spill")).scalar() == 1
    finally:
        app.close()


def test_reindex_rebuilds_tsvectors_and_spills(http_server: TestServer, workspace: Workspace,
                                              pg_url: str) -> None:  # noqa: F811
    """monitor.store.reindex (migration 0008) on PostgreSQL: every entry indexed again, a spilled
    field spilled again, and the topics to be matched again."""
    from monitor.store import reindex

    http_server.route("/feed", rss(("Stargate adds a 1.5GW campus", "https://example.com/a", "y" * 3000),
                                   ("Weather", "https://example.com/b")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "dc", "query": "campus"}], database=pg_url)
    poll(workspace, Clock())
    app = workspace.app(Clock())
    try:
        with app.engine.begin() as conn:
            conn.execute(text("UPDATE entry_fts SET title = CAST('stale' AS tsvector)"))
            assert reindex.rebuild(conn) == 2
        assert [r.title for r in app.reader.search(parse('"1.5 GW"'))] == ["Stargate adds a 1.5GW campus"]
        assert app.reader.search(parse("stale")) == []
        assert len(app.reader.search(parse("yyy*"))) == 1
        with app.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM entry_fts")).scalar() == 2
            assert conn.execute(text("SELECT count(*) FROM entry_fts_spill")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM topics")).scalar() == 0
    finally:
        app.close()


# --- two workers at once --------------------------------------------------------------------------

def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (conn.execute(select(func.count()).select_from(entries)).scalar_one(),
                conn.execute(select(func.count()).select_from(entry_sources)).scalar_one(),
                conn.execute(text("SELECT count(*) FROM entry_fts")).scalar_one())


@pytest.mark.parametrize("shape", ["same-source", "two-sources"])
def test_two_workers_that_both_find_the_entries_new_store_each_once(
        http_server: TestServer, workspace: Workspace, pg_url: str, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
        shape: str) -> None:
    """Both workers read the archive before either writes (a barrier after the read forces it),
    so both plan the same entries as new; the second's insert meets the first's rows."""
    items = [(f"Stargate site {i}", f"https://example.com/s/{i}", "OpenAI data center") for i in range(30)]
    http_server.route("/feed", rss(*items))
    names = ["a", "b"] if shape == "two-sources" else ["a"]
    workspace.write(sources=[{"name": n, "url": http_server.url("/feed")} for n in names],
                    topics=[{"name": "stargate", "query": "stargate openai"}], database=pg_url)
    workspace.app().close()  # the schema and the sources rows exist before the race

    barrier = threading.Barrier(2, timeout=30)
    calls: list[int] = []
    lock = threading.Lock()
    original = Archive._known

    def known_then_wait(conn, source_id, keys):  # type: ignore[no-untyped-def]
        found = original(conn, source_id, keys)
        with lock:
            calls.append(len(found))
            first_two = len(calls) <= 2
        if first_two:
            barrier.wait()
        return found

    monkeypatch.setattr(Archive, "_known", staticmethod(known_then_wait))
    results: dict[int, dict] = {}
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            results[index] = poll(workspace, Clock(), names[index % len(names)])
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    outcomes = [o for r in results.values() for o in r.values()]
    assert [o.status for o in outcomes] == ["ok", "ok"], outcomes
    assert sorted(o.new for o in outcomes) == [0, 30]
    assert calls[:2] == [0, 0] and calls[2] == 30  # the loser planned again, knowing the rows
    app = workspace.app()
    try:
        assert _counts(app.engine) == (30, 30 * len(names), 30)
        assert len(app.reader.search(parse('"stargate site"'), limit=100)) == 30
        assert {r.sources for r in app.reader.search(None, limit=100)} == {tuple(names)}
        with app.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(matches_table)).scalar_one() == 30
    finally:
        app.close()


def test_two_processes_polling_one_feed_on_a_new_database(http_server: TestServer, workspace: Workspace,
                                                          pg_url: str) -> None:  # noqa: F811
    """`monitor poll` twice at once on an empty database: both migrate, register the source and
    store the feed; the server answers only when both requests are in, so the polls overlap."""
    body = rss(*[(f"Stargate site {i}", f"https://example.com/s/{i}") for i in range(40)]).encode()
    both_in = threading.Barrier(2, timeout=60)

    def together(_request) -> Response:  # type: ignore[no-untyped-def]
        both_in.wait()
        return Response(200, {"Content-Type": "application/rss+xml"}, body)

    http_server.handler("/feed", together)
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "stargate"}], database=pg_url,
                    fetch={"timeout": 30, "user_agent": "monitor-test/1"})  # one may start late
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "poll"]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    lines = sorted(out.strip() for out, _ in outputs)
    assert lines == ["s: 0 new, 0 matched", "s: 40 new, 40 matched"], outputs
    engine = open_engine(pg_url)
    try:
        assert _counts(engine) == (40, 40, 40)
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(sources)).scalar_one() == 1
    finally:
        engine.dispose()


# --- the schema -----------------------------------------------------------------------------------

def test_db_upgrade_builds_an_empty_database(postgres: Cluster, pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {pg_url}\ntimezone: Asia/Tokyo\n", encoding="utf-8")
    run = CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"])
    assert run.exit_code == 0, run.output
    engine = open_engine(pg_url)
    head = head_revision()
    assert run.stdout.strip() == f"database at revision {head} (was empty)"
    again = CliRunner().invoke(cli, ["--config", str(config), "db", "upgrade"])
    assert (again.exit_code, again.stdout.strip()) == (0, f"database at revision {head}")
    database = pg_url.rsplit("/", 1)[1]
    tables = {r[0] for r in postgres.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database)}
    assert {"alembic_version", "sources", "entries", "entry_sources", "matches", "entry_fts",
            "entry_fts_spill"} <= tables
    indexes = {r[0] for r in postgres.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'entry_fts'", database)}
    assert {"CREATE INDEX ix_entry_fts_title ON public.entry_fts USING gin (title)",
            "CREATE INDEX ix_entry_fts_summary ON public.entry_fts USING gin (summary)"} <= indexes
    # and down again, and up again
    from alembic import command

    from monitor.store.db import _alembic_config

    with engine.begin() as conn:
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert {r[0] for r in postgres.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database)} == {"alembic_version"}
    ensure_current(engine)
    engine.dispose()
    search = CliRunner().invoke(cli, ["--config", str(config), "search", "stargate", "--format", "json"])
    assert (search.exit_code, json.loads(search.stdout)) == (0, [])


def test_urls_and_encodings(postgres: Cluster) -> None:  # noqa: F811
    bare = open_engine(f"postgresql://postgres@127.0.0.1:{postgres.port}/postgres")
    assert (bare.dialect.name, bare.dialect.driver) == ("postgresql", "psycopg")  # what monitor[postgres] installs
    bare.dispose()
    with pytest.raises(StoreError, match="mysql is not supported"):
        open_engine("mysql://localhost/monitor")
    postgres.execute('CREATE DATABASE "latin1" TEMPLATE template0 ENCODING LATIN1')
    latin1 = open_engine(postgres.url("latin1"))
    with pytest.raises(StoreError, match="encoded LATIN1, not UTF8"):
        ensure_current(latin1)
    latin1.dispose()


def test_two_workers_flushing_alerts_at_once_mail_each_match_once(http_server: TestServer, tmp_path: Path,
                                                                   pg_url: str) -> None:  # noqa: F811
    """Every worker runs the alert job: without a lock per topic, two flushes that read the queue
    together each mailed the same matches."""
    ws = Workspace(tmp_path, tmp_path / "config.yaml")
    ws.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
             topics=[{"name": "stargate", "query": "Stargate", "alert": "immediate", "alert_min_interval": "1m"}],
             database=pg_url,
             digest={"email": {"to": ["desk@example.org"], "from": "monitor@example.org",
                               "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"}}})
    clock = Clock()
    apps = [ws.app(clock) for _ in range(2)]
    try:
        for round_ in range(8):
            http_server.route("/feed", rss(*[(f"Stargate {round_} {i}", f"https://example.com/{round_}/{i}")
                                             for i in range(3)]))
            poll(ws, clock)
            clock.advance(minutes=2)
            barrier = threading.Barrier(2, timeout=30)
            queued: list[list[str]] = [[], []]
            threads = [threading.Thread(target=_flush_together, args=(apps[n], barrier, queued, n)) for n in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(len(q) for q in queued) == [0, 1], (round_, queued)
        with apps[0].engine.connect() as conn:
            assert conn.execute(text("select count(*) from outbox where kind = 'alert'")).scalar() == 8
            assert conn.execute(text("select count(*) from alert_queue")).scalar() == 0
    finally:
        for app in apps:
            app.close()


def _flush_together(app: App, barrier: threading.Barrier, queued: list[list[str]], n: int) -> None:
    alerts = app.alerts()
    barrier.wait()
    queued[n] = alerts.flush()


def test_a_percent_encoded_password_in_the_url_works_and_is_never_shown(
        http_server: TestServer, workspace: Workspace, pg_url: str) -> None:  # noqa: F811
    """p%40ss%25w is how p@ss%w goes in a URL; Alembic's config used to read its % as interpolation,
    so no command could start, and the error printed the password."""
    url = pg_url.replace("postgres@", "postgres:p%40ss%25w@")  # the test server trusts: any password works
    http_server.route("/feed", rss(("Stargate Abilene", "https://example.com/1")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}], database=url)
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "poll"])
    assert result.exit_code == 0 and "s: 1 new" in result.stdout, result.output
    assert "p%40ss" not in result.output and "p@ss" not in result.output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_poll_still_writing_when_the_digest_is_made_is_in_that_digest(
        request: pytest.FixtureRequest, tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A poll first seen at 07:59:59 that commits after the 08:00 digest began: on PostgreSQL the
    digest read only committed rows and the entries fell between two windows, in no digest ever.
    The digest now waits for polls that are writing (the poll fence); SQLite's write lock did."""
    import time

    from monitor.core.entry import EntryDraft
    from monitor.service.pipeline import Pipeline
    from monitor.store.archive import PollRecord

    url = request.getfixturevalue("pg_url") if backend == "postgresql" else f"sqlite:///{tmp_path / 'm.db'}"
    ws = Workspace(tmp_path, tmp_path / "config.yaml")
    ws.write(sources=[{"name": "s", "url": "https://example.com/feed"}],
             topics=[{"name": "t", "query": "Stargate"}], database=url)
    clock = Clock(datetime(2025, 2, 3, 22, 59, 59, tzinfo=UTC))  # 07:59:59 in Tokyo; digest.at 08:00
    app = ws.app(clock)
    writing = threading.Event()
    plan = Pipeline._plan

    def slow_plan(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        writing.set()  # inside the poll's write transaction
        time.sleep(1.0)
        return plan(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "_plan", slow_plan)
    try:
        drafts = [EntryDraft("Stargate site in Abilene", link="https://example.com/1")]
        poll = threading.Thread(target=app.pipeline().ingest, args=(app.source_ids["s"], "s", drafts),
                                kwargs={"now": clock(), "record": PollRecord("ok")})
        poll.start()
        assert writing.wait(10)
        clock.now = datetime(2025, 2, 3, 23, 0, 1, tzinfo=UTC)  # 08:00:01: the digest of the 4th is due
        made = app.digest_service().make(date(2025, 2, 4))
        poll.join(10)
    finally:
        app.close()
    assert made is not None and made.entries == 1


@pytest.mark.parametrize("busy", [False, True], ids=["all-accepted", "one-refused-for-now"])
def test_a_mail_the_server_took_while_the_database_was_away_is_recorded_once_it_is_back(
        postgres: Cluster, pg_url: str, workspace: Workspace, busy: bool) -> None:  # noqa: F811
    """A PostgreSQL test's find: the database restarted while the SMTP server took an alert, the
    'sent' mark failed, and the alert went out again when its lease expired. The mark is now
    retried for up to 90 s (under the lease) and nothing is sent twice."""
    import threading

    from monitor.store.outbox import Outbox
    from tests.support.smtpserver import SmtpServer

    name = pg_url.rsplit("/", 1)[1]
    with SmtpServer() as smtp:
        to = ["a@example.org", "busy@example.org"] if busy else ["a@example.org"]
        if busy:  # the copy for them is queued in the same transaction as the 'sent' mark
            smtp.refused["busy@example.org"] = "450 4.2.1 mailbox busy"
        workspace.write(sources=[], database=pg_url,
                        digest={"at": "08:00", "dir": "digests", "lookback": "3d",
                                "email": {"to": to, "from": "m@example.org",
                                          "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"}}})
        app = workspace.app()
        try:
            message = (b"From: m@example.org\r\nTo: " + ", ".join(to).encode() + b"\r\nSubject: alert\r\n"
                       b"Message-ID: <x@example.org>\r\n\r\nStargate\r\n")
            assert Outbox(app.engine).put(key="alert:t:1", kind="alert", recipients=to,
                                          message=message, now=datetime.now(UTC))

            def database_away() -> None:  # as the server says 250: the database goes for 3 s
                postgres.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                postgres.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
                threading.Timer(3, postgres.execute, (f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true',)).start()

            smtp.on_accept = database_away
            [delivery] = app.mailer().deliver_due()
            smtp.on_accept = None
            assert delivery.sent
            rows = [(r.key.split(":again:")[0] + (":again" if ":again:" in r.key else ""), r.state)
                    for r in app.outbox().rows()]
            assert rows == [("alert:t:1", "sent")] + ([("alert:t:1:again", "pending")] if busy else [])
            assert app.mailer().deliver_due() == []  # nothing is due again: the copy waits its 30 s
        finally:
            app.close()
        assert len(smtp.received) == 1
