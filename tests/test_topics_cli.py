"""Topics a user can tune: counts, trying a query first, re-matching after a change."""

from __future__ import annotations

import json
import sqlite3

from click.testing import CliRunner

from monitor.cli import cli
from tests.support.httpserver import TestServer
from tests.support.workspace import Workspace
from tests.test_cli import FEED, TOPICS


def run(ws: Workspace, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(ws.config_path), *args])
    return result.exit_code, result.stdout, result.stderr


def test_topics_lists_counts_and_test_shows_terms(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", FEED)
    workspace.write(sources=[{"name": "f", "url": http_server.url("/feed")}], topics=TOPICS)
    run(workspace, "poll")
    code, out, _ = run(workspace, "topics")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0 and " 1 match " in lines["jv"] and " 0 matches " in lines["stargate"]
    code, out, err = run(workspace, "topics", "test", "jv")
    assert code == 0 and "matched: SB OAI Japan (title), Crystal intelligence (summary)" in out
    assert out.strip().endswith("1 entry matches")
    assert "note: running the topic jv's query; to try the word itself, write it in quotes" in err
    code, out, err = run(workspace, "topics", "test", '"jv"')  # the word: no note, no topic
    assert code == 0 and err == "" and out.strip() == "0 entries match"
    code, out, err = run(workspace, "topics", "test", "-Dubai", "--limit", "1")  # a query that only excludes
    assert code == 0 and "matched: no term (the query only leaves words out)" in out and err == ""
    code, out, _ = run(workspace, "topics", "test", "Dubai", "OR", "石破")
    assert code == 0 and out.strip().endswith("2 entries match")
    code, _, err = run(workspace, "topics", "test", "(broken")
    assert code == 2 and "query:" in err and "position" in err


def test_a_changed_query_rematches_the_archive_keeping_first_seen(http_server: TestServer,
                                                                  workspace: Workspace) -> None:
    http_server.route("/feed", FEED)
    workspace.write(sources=[{"name": "f", "url": http_server.url("/feed")}], topics=TOPICS)
    run(workspace, "poll")
    with sqlite3.connect(workspace.db_path) as conn:
        seen_before = conn.execute("select id, first_seen from entries order by id").fetchall()
    changed = [dict(t) for t in TOPICS]
    changed[2]["query"] = "Stargate"  # the franchise exclusion dropped: the TV story now matches
    changed[0]["query"] = '"SB OAI Japan"'
    workspace.write(sources=[{"name": "f", "url": http_server.url("/feed")}], topics=changed)
    code, out, _ = run(workspace, "poll")
    assert code == 0
    _, out, _ = run(workspace, "search", "--topic", "stargate", "--format", "json")
    assert [r["title"] for r in json.loads(out)] == ["Stargate: The new series from Amazon MGM"]
    _, out, _ = run(workspace, "search", "--topic", "jv", "--format", "json")
    assert json.loads(out)[0]["matched_terms"] == ["SB OAI Japan"]
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select id, first_seen from entries order by id").fetchall() == seen_before
        stored = dict(conn.execute("select name, query from topics").fetchall())
    assert stored["stargate"] == "Stargate"
    code, out, _ = run(workspace, "topics", "rematch", "stargate")
    assert code == 0 and out.strip() == "stargate: 1 match (0 new, 0 removed)"


def test_a_renamed_topic_leaves_nothing_under_its_old_name(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", FEED)
    sources = [{"name": "f", "url": http_server.url("/feed")}]
    workspace.write(sources=sources, topics=TOPICS)
    run(workspace, "poll")
    renamed = [dict(t) for t in TOPICS]
    renamed[0]["name"] = "joint-venture"
    workspace.write(sources=sources, topics=renamed)
    code, out, err = run(workspace, "topics")  # read-only: says the matches are stale, changes nothing
    assert code == 0 and "0 matches" in out.splitlines()[0]
    assert "joint-venture" in err and "jv (no longer configured)" in err and "topics rematch" in err
    code, out, _ = run(workspace, "topics", "rematch")
    assert code == 0 and "joint-venture: 1 match (1 new, 0 removed)" in out and "jv: 0 matches (0 new, 1 removed)" in out
    _, out, err = run(workspace, "search", "--format", "json")
    assert all("jv" not in r["topics"] for r in json.loads(out)) and err == ""
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from matches where topic = 'jv'").fetchone()[0] == 0
        assert "jv" not in {r[0] for r in conn.execute("select name from topics")}


def test_a_topic_added_after_the_last_poll_is_in_the_digest(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", FEED)
    sources = [{"name": "f", "url": http_server.url("/feed")}]
    workspace.write(sources=sources, topics=TOPICS[:1])
    run(workspace, "poll")
    workspace.write(sources=sources, topics=TOPICS)  # policy and stargate added, no poll since
    _, out, err = run(workspace, "search", "--topic", "policy")
    assert "policy" in err and "no entries found" in out  # stale, and says so
    code, digest, _ = run(workspace, "digest", "--out", "-")
    assert code == 0 and "## AI policy" in digest and "石破首相" in digest
    _, out, err = run(workspace, "search", "--topic", "policy", "--format", "json")
    assert err == "" and [r["title"] for r in json.loads(out)] == ["石破首相、OpenAIのアルトマン氏と会談 AI連携強化"]


def test_a_mistyped_topic_name_is_named_before_it_runs_as_a_query(http_server: TestServer,
                                                                   workspace: Workspace) -> None:
    http_server.route("/feed", FEED)
    workspace.write(sources=[{"name": "f", "url": http_server.url("/feed")}], topics=TOPICS)
    run(workspace, "poll")
    code, out, err = run(workspace, "topics", "test", "stargat")
    assert code == 0 and "did you mean stargate?" in err and out.strip().endswith("0 entries match")
    _, _, err = run(workspace, "topics", "test", "Dubai")
    assert err == ""


def test_a_draft_query_may_start_with_a_minus_as_in_search(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", FEED)
    workspace.write(sources=[{"name": "f", "url": http_server.url("/feed")}], topics=TOPICS)
    run(workspace, "poll")
    code, out, _ = run(workspace, "topics", "test", "Stargate", '-"SG-1"')
    assert code == 0 and out.strip().endswith("0 entries match")
    code, out, _ = run(workspace, "topics", "test", "-Dubai", "SoftBank")
    assert code == 0 and out.strip().endswith("1 entry matches")
    code, _, err = run(workspace, "topics", "test", "Stargate", "--bogus")
    assert code == 2 and "no such option: --bogus" in err


def test_a_digest_on_a_database_it_may_not_write_shows_matches_as_they_are(
        http_server: TestServer, workspace: Workspace, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A read-only role or a standby: the re-match fails, the digest is still written, and says so."""
    from monitor.errors import StoreError
    from monitor.service.topics import TopicService

    http_server.route("/feed", FEED)
    sources = [{"name": "f", "url": http_server.url("/feed")}]
    workspace.write(sources=sources, topics=TOPICS[:1])
    run(workspace, "poll")
    workspace.write(sources=sources, topics=TOPICS)

    def refuse(self, *, forget: bool = True):  # type: ignore[no-untyped-def]
        raise StoreError("database error while matching the archive against changed topics: "
                         "attempt to write a readonly database")

    monkeypatch.setattr(TopicService, "sync", refuse)
    code, digest, err = run(workspace, "digest", "--out", "-")
    assert code == 0 and "SB OAI Japan" in digest and "## AI policy" not in digest
    assert "changed topics were not matched again" in err and "readonly" in err


def test_matching_changed_topics_writes_nothing_when_nothing_changed(http_server: TestServer,
                                                                    workspace: Workspace) -> None:
    """Every poll and digest first matches changed topics; with none changed it only reads, so a
    writer holding the database (a backup, another process) does not make it wait and fail with
    'database error while matching the archive against changed topics'."""
    import time

    from tests.support.workspace import Clock

    http_server.route("/feed", FEED)
    workspace.write(sources=[{"name": "test-feed", "url": http_server.url("/feed")}], topics=TOPICS)
    run(workspace, "poll")
    app = workspace.app(Clock())
    holder = sqlite3.connect(workspace.db_path, timeout=1)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
        started = time.monotonic()
        assert app.topic_service().sync() == []
        assert time.monotonic() - started < 5
    finally:
        holder.rollback()
        holder.close()
        app.close()
