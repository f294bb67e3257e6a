"""The SQLite archive under stress: a full disk, and a poll killed (SIGKILL) in the middle of its write.

What must hold after either: `PRAGMA integrity_check` is ok, nothing of the failed poll is in the
archive (one poll is one transaction), other sources' rows are untouched, and the next poll stores
exactly what was missed, each entry once. A full disk is made with SQLite's own size limit,
`PRAGMA max_page_count`, set on every new connection while the test needs it: SQLite answers
SQLITE_FULL ("database or disk is full") exactly as for a full file system. Two polls at once and
search during a poll are in tests/test_concurrency.py.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import event
from sqlalchemy.pool import Pool

from monitor.cli import cli
from tests.support.httpserver import RequestInfo, Response, TestServer
from tests.support.workspace import Clock, Workspace
from tests.test_poll import poll, rss


def big_feed(count: int, words: int = 20) -> str:
    """`count` items with distinct links and summaries long enough to fill pages (and the index)."""
    items = "".join(f"<item><title>Stargate site {i} 合弁 {i}</title><link>https://example.com/{i}</link>"
                    f"<description>{'OpenAI data center ' * words} {i}</description></item>" for i in range(count))
    return f"<rss version='2.0'><channel><title>big</title>{items}</channel></rss>"


@contextmanager
def size_limit(pages: int) -> Iterator[None]:
    """Every SQLite connection opened meanwhile may grow its file to `pages` pages, no more."""
    def limit(dbapi_connection: object, _record: object) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute(f"PRAGMA max_page_count={pages:d}")

    event.listen(Pool, "connect", limit)
    try:
        yield
    finally:
        event.remove(Pool, "connect", limit)


def snapshot(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        return {table: conn.execute(f"select * from {table} order by 1, 2").fetchall()  # fixed names
                for table in ("entries", "entry_sources", "matches")}


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("pragma integrity_check").fetchone()[0])


def page_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        conn.execute("pragma wal_checkpoint(truncate)")  # the file's size is then its whole size
        return int(conn.execute("pragma page_count").fetchone()[0])


def keys_of(path: Path, source: str) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        return conn.execute("select count(*), count(distinct key) from entries join sources "
                            "on sources.id = entries.source_id where sources.name = ?", (source,)).fetchone()


def test_a_full_disk_fails_the_poll_cleanly_and_the_next_poll_stores_what_it_missed(
        http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/small", rss(("Stargate one", "https://example.org/1"), ("Stargate two", "https://example.org/2")))
    http_server.route("/big", big_feed(3000))
    workspace.write(sources=[{"name": "small", "url": http_server.url("/small")},
                             {"name": "big", "url": http_server.url("/big")}],
                    topics=[{"name": "stargate", "query": "Stargate"}])
    clock = Clock()
    assert poll(workspace, clock, "small")["small"].new == 2
    before = snapshot(workspace.db_path)

    clock.advance(minutes=30)
    with size_limit(page_count(workspace.db_path) + 40):  # 160 KiB more: far less than 3000 entries need
        failed = poll(workspace, clock, "big")["big"]
    assert failed.status == "error"
    assert (failed.error or "").startswith("database is full (disk or max size): storing a poll failed"), failed.error
    assert "free disk space" in (failed.error or "")
    assert integrity(workspace.db_path) == "ok"
    assert snapshot(workspace.db_path) == before  # nothing half-written, the other source untouched
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from entry_fts").fetchone()[0] == 2

    clock.advance(minutes=30)
    again = poll(workspace, clock, "big")["big"]  # space freed: no limit any more
    assert (again.status, again.new, again.matched) == ("ok", 3000, 3000)
    assert keys_of(workspace.db_path, "big") == (3000, 3000)
    assert snapshot(workspace.db_path)["entries"][:2] == before["entries"]
    assert integrity(workspace.db_path) == "ok"


def test_monitor_poll_on_a_full_disk_says_so_in_one_line_and_exits_non_zero(
        http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/big", big_feed(2000))
    workspace.write(sources=[{"name": "big", "url": http_server.url("/big")}])
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(workspace.config_path), "db", "upgrade"]).exit_code == 0
    with size_limit(page_count(workspace.db_path) + 20):
        result = runner.invoke(cli, ["--config", str(workspace.config_path), "poll"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("big: error: database is full (disk or max size): "), lines
    assert "Traceback" not in result.output
    assert keys_of(workspace.db_path, "big") == (0, 0)


def test_a_poll_killed_while_writing_leaves_a_sound_archive_and_the_next_poll_stores_each_entry_once(
        http_server: TestServer, workspace: Workspace) -> None:
    count = 8000
    served: list[float] = []
    http_server.route("/big", rss(("warm-up", "https://example.com/warm-up")))
    workspace.write(sources=[{"name": "big", "url": http_server.url("/big")}],
                    topics=[{"name": "stargate", "query": "Stargate OpenAI"}],
                    fetch={"timeout": 60, "max_bytes": 50_000_000})
    # A first poll makes the schema, the source row and the topic state, so the killed poll's only
    # write transaction after its fetch is the one that stores the entries.
    assert run_monitor(workspace, "poll").returncode == 0
    body = big_feed(count).encode()

    def serve(request: RequestInfo) -> Response:
        served.append(time.monotonic())
        return Response(200, {"Content-Type": "application/rss+xml"}, body)

    http_server.handler("/big", serve)
    wal = Path(f"{workspace.db_path}-wal")
    page_count(workspace.db_path)  # checkpointed: the WAL is empty before the poll
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "poll"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_open_write(proc, served, wal, workspace.db_path)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (out, err)
    assert wal.stat().st_size > 0  # the kill left uncommitted frames behind; opening must ignore them
    assert integrity(workspace.db_path) == "ok"
    assert keys_of(workspace.db_path, "big") == (1, 1)  # only the warm-up entry: the poll was all or nothing

    again = run_monitor(workspace, "poll")
    assert again.returncode == 0 and again.stdout.strip() == f"big: {count} new, {count} matched", again
    assert keys_of(workspace.db_path, "big") == (count + 1, count + 1)
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from entry_fts").fetchone()[0] == count + 1
        assert conn.execute("select count(*) from entry_sources").fetchone()[0] == count + 1
    assert integrity(workspace.db_path) == "ok"


def run_monitor(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(ws.config_path), *args],
                          capture_output=True, text=True, timeout=180, check=False)


def wait_for_open_write(proc: subprocess.Popen[str], served: list[float], wal: Path, db_path: Path) -> None:
    """Return once the feed was served and the poll's write transaction has spilled pages to the WAL
    while nothing of it is committed (another connection still sees only the warm-up entry)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the poll ended before it could be killed: {proc.communicate()}"
        if served and wal.exists() and wal.stat().st_size > 1_000_000 and keys_of(db_path, "big") == (1, 1):
            return
        time.sleep(0.005)
    raise AssertionError("the poll never started writing")


def test_a_database_from_a_newer_monitor_is_named_not_an_internal_error(workspace: Workspace) -> None:
    workspace.write(sources=[])
    assert CliRunner().invoke(cli, ["--config", str(workspace.config_path), "sources"]).exit_code == 0
    with sqlite3.connect(workspace.db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
    for command in (["sources"], ["db", "upgrade"]):
        result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), *command])
        assert result.exit_code == 2, command
        assert "schema revision '9999_future'" in result.stderr and "newer monitor" in result.stderr
        assert "internal error" not in result.stderr


def test_a_sqlite_path_with_a_percent_sign_opens(http_server: TestServer, tmp_path: Path) -> None:
    folder = tmp_path / "100%"
    folder.mkdir()
    ws = Workspace(folder, folder / "config.yaml")
    http_server.route("/feed", rss(("Stargate Abilene", "https://example.com/1")))
    ws.write(sources=[{"name": "s", "url": http_server.url("/feed")}], database=f"sqlite:///{folder / 'a%b.db'}")
    assert poll(ws, Clock())["s"].new == 1


def test_a_database_on_a_read_only_mount_says_why_it_cannot_be_opened(workspace: Workspace, tmp_path: Path) -> None:
    """An ops test's find: on read-only media every command said only "unable to open database
    file". SQLite writes its -wal and -shm files beside the database even to read; the error
    now says so. A real read-only mount (tmpfs): root only, so skipped elsewhere."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a read-only file system needs root")
    workspace.write(sources=[])
    assert CliRunner().invoke(cli, ["--config", str(workspace.config_path), "sources"]).exit_code == 0
    media = tmp_path / "media"
    media.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(media)], check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        shutil.copy(workspace.db_path, media / "monitor.db")
        subprocess.run(["mount", "-o", "remount,ro", str(media)], check=True)
        config = tmp_path / "ro.yaml"
        config.write_text(f"database: sqlite:///{media / 'monitor.db'}\nsources: []\n", encoding="utf-8")
        result = CliRunner().invoke(cli, ["--config", str(config), "search", "stargate"])
    finally:
        subprocess.run(["umount", str(media)], check=True)
    assert result.exit_code == 2
    assert "unable to open database file" in result.stderr
    assert f"its folder {media} is read-only" in result.stderr and "-wal and -shm" in result.stderr


def test_run_refuses_at_its_start_a_database_it_cannot_write(workspace: Workspace) -> None:
    """An ops test's find: on a database file made immutable, run started as if healthy (reads
    work) and then failed every poll and digest for as long as it ran. It now says so at its
    start and exits 2; search, which only reads, still works. chattr needs root."""
    workspace.write(sources=[])
    assert CliRunner().invoke(cli, ["--config", str(workspace.config_path), "sources"]).exit_code == 0
    if os.geteuid() != 0 or subprocess.run(["chattr", "+i", str(workspace.db_path)], check=False,
                                           capture_output=True).returncode != 0:
        pytest.skip("making a file immutable needs root and a file system with chattr")
    try:
        result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "run"])
        search = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "search", "stargate"])
    finally:
        subprocess.run(["chattr", "-i", str(workspace.db_path)], check=True)
    assert result.exit_code == 2, result.output
    assert "cannot be written" in result.stderr and "readonly database" in result.stderr
    assert search.exit_code == 0, search.stderr


def test_a_poll_whose_304_cannot_be_recorded_fails(http_server: TestServer, workspace: Workspace) -> None:
    """An ops test's find: on a database made immutable, a feed answering 304 printed "not
    modified" and exited 0 while nothing, not even the next poll time, was recorded; cron saw
    success. Now it is that source's error, and with every source failing, exit 1."""
    http_server.route("/feed", rss(("Stargate news", "https://example.com/a")), etag='"v1"')
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    first = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "poll"])
    assert first.exit_code == 0 and "1 new" in first.stdout, first.output
    if os.geteuid() != 0 or subprocess.run(["chattr", "+i", str(workspace.db_path)], check=False,
                                           capture_output=True).returncode != 0:
        pytest.skip("making a file immutable needs root and a file system with chattr")
    try:
        second = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "poll"])
    finally:
        subprocess.run(["chattr", "-i", str(workspace.db_path)], check=True)
    assert http_server.requests[-1].headers.get("if-none-match") == '"v1"'  # the 304 came
    assert second.exit_code == 1, second.output
    assert second.stdout.startswith("s: error: ") and "not modified" not in second.stdout


def test_a_database_on_a_full_disk_says_the_disk_is_full(workspace: Workspace, tmp_path: Path) -> None:
    """An ops test's find: restarted on a full disk, every command (search too) said only
    "cannot open the database ...: disk I/O error": a clean stop had removed -wal and -shm, and
    SQLite cannot make them again. The error now says the disk is full. Root only (a tmpfs)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        config = tmp_path / "full.yaml"
        config.write_text(f"database: sqlite:///{disk / 'monitor.db'}\nsources: []\n", encoding="utf-8")
        assert CliRunner().invoke(cli, ["--config", str(config), "sources"]).exit_code == 0
        with open(disk / "filler", "wb") as filler:  # the rest of the disk
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        result = CliRunner().invoke(cli, ["--config", str(config), "search", "stargate"])
    finally:
        subprocess.run(["umount", str(disk)], check=True)
    assert result.exit_code == 2, result.output
    assert f"the disk holding {disk} is full" in result.stderr and "nothing is lost" in result.stderr
