"""Several processes on one SQLite file, and a poll that fails half-way, lose and duplicate nothing."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.corpus import corpus_path
from tests.support.httpserver import TestServer
from tests.support.workspace import Workspace
from tests.test_poll import Clock, poll, rss

MOD_FEED = corpus_path("real/www.mod.go.jp/j__rss__news.xml")  # 126 items
MOF_FEED = corpus_path("real/www.mof.go.jp/news.rss")  # 100 items


def monitor_process(ws: Workspace, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(ws.config_path), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_polls_at_once_store_each_entry_once(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route_file("/mod", MOD_FEED)
    http_server.route_file("/mof", MOF_FEED)
    workspace.write(sources=[{"name": "mod", "url": http_server.url("/mod")},
                             {"name": "mof", "url": http_server.url("/mof")}],
                    topics=[{"name": "t", "query": "防衛 OR 財務"}])
    CliRunner().invoke(cli, ["--config", str(workspace.config_path), "db", "upgrade"])
    procs = [monitor_process(workspace, "poll") for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "error" not in out and "locked" not in err, (out, err)
    with sqlite3.connect(workspace.db_path) as conn:
        keys = conn.execute("select count(*), count(distinct key) from entries").fetchone()
        carried = conn.execute("select count(*) from entry_sources").fetchone()[0]
        fts = conn.execute("select count(*) from entry_fts").fetchone()[0]
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert keys[0] == keys[1] == carried == fts
    assert keys[0] >= 200
    new_total = sum(int(line.split(": ")[1].split()[0]) for out, _ in results for line in out.splitlines())
    assert new_total == keys[0]  # every entry counted as new by exactly one process


@pytest.mark.parametrize("command", ["poll", "run"])
def test_search_never_fails_while_a_poll_writes(http_server: TestServer, workspace: Workspace, command: str) -> None:
    """`monitor search` in a loop while `monitor poll` (or the service, `monitor run`) stores 6,000 entries."""
    items = "".join(f"<item><title>Stargate site {i} 合弁 {i}</title><link>https://example.com/{i}</link>"
                    f"<description>{'OpenAI data center ' * 20}</description></item>" for i in range(6000))
    http_server.route("/big", f"<rss version='2.0'><channel><title>big</title>{items}</channel></rss>")
    workspace.write(sources=[{"name": "big", "url": http_server.url("/big")}],
                    topics=[{"name": "stargate", "query": "Stargate OpenAI"}], fetch={"timeout": 60,
                                                                                    "max_bytes": 50_000_000})
    CliRunner().invoke(cli, ["--config", str(workspace.config_path), "db", "upgrade"])
    writer = monitor_process(workspace, command)
    searches = 0
    deadline = time.monotonic() + 120
    while writer.poll() is None and time.monotonic() < deadline and _stored(workspace) < 6000:
        done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "search",
                               "合弁", "--format", "json", "--limit", "5"], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        searches += 1
    if command == "run":
        writer.send_signal(signal.SIGTERM)
    out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0 and "locked" not in err, (out, err)
    assert _stored(workspace) == 6000 and searches >= 1
    if command == "poll":
        assert out.strip() == "big: 6000 new, 6000 matched", (out, err)


def _stored(ws: Workspace) -> int:
    with sqlite3.connect(ws.db_path, timeout=30) as conn:
        return int(conn.execute("select count(*) from entries").fetchone()[0])


def test_a_poll_that_fails_half_way_stores_nothing_and_the_next_stores_all(
        http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1"), ("Stargate two", "https://example.com/2")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "t", "query": "Stargate"}])
    CliRunner().invoke(cli, ["--config", str(workspace.config_path), "db", "upgrade"])
    with sqlite3.connect(workspace.db_path) as conn:  # the last write of a poll fails, as a full disk would
        conn.execute("create trigger boom before insert on matches begin select raise(abort, 'disk full'); end")
    clock = Clock()
    failed = poll(workspace, clock)["s"]
    assert failed.status == "error" and "disk full" in (failed.error or "")
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from entries").fetchone()[0] == 0
        assert conn.execute("select count(*) from entry_fts").fetchone()[0] == 0
        assert conn.execute("select last_status from sources").fetchone()[0] == "error"
        conn.execute("drop trigger boom")
    clock.advance(minutes=30)
    again = poll(workspace, clock)["s"]
    assert (again.status, again.new, again.matched) == ("ok", 2, 2)
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from entries").fetchone()[0] == 2
