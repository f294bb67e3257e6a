"""`monitor run`: the schedule in the database, back-off, leases, digests exactly once, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.app import App
from monitor.service import scheduler as run
from tests.support.httpserver import Response, TestServer, dribble
from tests.support.workspace import Clock, Workspace
from tests.test_poll import poll, rss


def serve_for(ws: Workspace, seconds: float, clock=None) -> None:  # type: ignore[no-untyped-def]
    app = ws.app(clock)

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await run.serve(app, stop)

    try:
        asyncio.run(main())
    finally:
        app.close()


def source_rows(ws: Workspace) -> dict[str, sqlite3.Row]:
    with sqlite3.connect(ws.db_path) as conn:
        conn.row_factory = sqlite3.Row
        return {r["name"]: r for r in conn.execute("select * from sources")}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_each_source_is_polled_at_its_own_interval(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/fast", rss(("Fast one", "https://example.com/f")))
    http_server.route("/slow", rss(("Slow one", "https://example.com/s")))
    workspace.write(sources=[{"name": "fast", "url": http_server.url("/fast"), "every": "1s"},
                             {"name": "slow", "url": http_server.url("/slow"), "every": "1h"}])
    serve_for(workspace, 4.5)
    paths = [r.path for r in http_server.requests]
    assert paths.count("/slow") == 1
    assert 2 <= paths.count("/fast") <= 4, paths
    rows = source_rows(workspace)
    assert rows["slow"]["lease_owner"] is None and rows["slow"]["last_status"] == "ok"
    next_slow = when(rows["slow"]["next_poll_at"]) - when(rows["slow"]["last_polled_at"])
    assert timedelta(hours=1) <= next_slow <= timedelta(hours=1, minutes=6)


def test_a_restart_resumes_the_schedule(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("One", "https://example.com/1")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "every": "1h"}])
    serve_for(workspace, 1.5)
    serve_for(workspace, 2.5)
    assert [r.path for r in http_server.requests].count("/feed") == 1  # not polled again on restart


def test_failures_back_off_and_retry_after_is_honoured(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/down", "busy", status=503, headers={"Retry-After": "7200"}, content_type="text/plain")
    http_server.route("/broken", "oops", status=500, content_type="text/plain")
    workspace.write(sources=[{"name": "busy", "url": http_server.url("/down"), "every": "10m"},
                             {"name": "broken", "url": http_server.url("/broken"), "every": "10m"}])
    serve_for(workspace, 1.5)
    rows = source_rows(workspace)
    busy = when(rows["busy"]["next_poll_at"]) - when(rows["busy"]["last_polled_at"])
    assert timedelta(hours=2) <= busy <= timedelta(hours=2, minutes=2)
    broken = when(rows["broken"]["next_poll_at"]) - when(rows["broken"]["last_polled_at"])
    assert timedelta(minutes=10) <= broken <= timedelta(minutes=12)  # first failure: one interval
    with sqlite3.connect(workspace.db_path) as conn:  # two more failures in a row...
        conn.execute("update sources set consecutive_failures = 2, next_poll_at = null where name = 'broken'")
    serve_for(workspace, 1.5)
    rows = source_rows(workspace)
    broken = when(rows["broken"]["next_poll_at"]) - when(rows["broken"]["last_polled_at"])
    assert timedelta(minutes=40) <= broken <= timedelta(minutes=42)  # third failure: 4x
    assert rows["broken"]["consecutive_failures"] == 3


def next_runs(app: App) -> dict[str, datetime | None]:
    """Each job of the service's scheduler and its next run time (None: added paused); closes app."""
    from monitor.net.fetcher import Fetcher

    async def jobs() -> dict[str, datetime | None]:
        async with Fetcher(app.fetch_settings()) as fetcher:
            scheduler = run.build_scheduler(app, app.worker(fetcher))
            scheduler.start(paused=True)
            try:
                return {job.id: job.next_run_time for job in scheduler.get_jobs()}
            finally:
                scheduler.shutdown(wait=False)

    try:
        return asyncio.run(jobs())
    finally:
        app.close()


def test_every_job_is_scheduled_none_is_added_paused(workspace: Workspace) -> None:
    """An ops test's find: the config watch was added with next_run_time=None, which APScheduler
    takes as paused, so event=config_changed was never logged by a running service."""
    workspace.write(sources=[], topics=[{"name": "t", "query": "x", "alert": "immediate"}],
                    digest={"at": "07:15", "dir": "digests", "lookback": "3d",
                            "email": {"to": ["a@example.org"], "from": "m@example.org",
                                      "smtp": {"host": "127.0.0.1", "port": 2525, "security": "none"}}})
    app = workspace.app()
    jobs = next_runs(app)
    assert set(jobs) >= {"poll-ticker", "digest", "outbox", "alerts", "config-watch", "maintenance"}
    assert all(jobs.values()), jobs
    watch = jobs["config-watch"]
    assert watch is not None and watch > app.clock()  # after a minute, not at start


def run_with_a_poll_in_flight(http_server: TestServer, workspace: Workspace) -> subprocess.Popen[str]:
    """`monitor run` in a subprocess, once its one source's poll (a feed that never ends) is under way."""
    http_server.handler("/slow", lambda _r: Response(200, {"Content-Type": "application/xml"},
                                                     dribble(b"<rss>", every=1.0, forever=True)))
    workspace.write(sources=[{"name": "slow", "url": http_server.url("/slow"), "every": "1h"}],
                    fetch={"timeout": 60, "max_bytes": 1_000_000, "user_agent": "t/1"})
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(r.path == "/slow" for r in http_server.requests):
        time.sleep(0.1)
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["sigterm", "sighup"])
def test_sigterm_ends_an_in_flight_poll_within_the_grace_and_exits_0(http_server: TestServer,
                                                                     workspace: Workspace, sig: int) -> None:
    """SIGHUP too (an ops test's find: a foreground `run` whose terminal closed died at once,
    exit 129, leases held and no event=stopped)."""
    proc = run_with_a_poll_in_flight(http_server, workspace)
    time.sleep(0.5)
    started = time.monotonic()
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - started < 14
    assert "event=abandoned polls=1" in err and "Traceback" not in err
    assert source_rows(workspace)["slow"]["lease_owner"] is None
    # at the default level, info: the service's events, not APScheduler's line per job run
    assert "event=" in err and " apscheduler" not in err and "Running job" not in err


def test_nohup_run_outlives_a_sighup(http_server: TestServer, workspace: Workspace) -> None:
    """A review's find: the SIGHUP handler replaced the ignore that `nohup` sets, so `nohup
    monitor run` stopped when its terminal closed."""
    http_server.route("/feed", rss(("Stargate news", "https://example.com/a")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "every": "1h"}])
    nohup = shutil.which("nohup")
    if nohup is None:
        pytest.skip("no nohup here")
    proc = subprocess.Popen([nohup, sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            env=os.environ.copy())
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not http_server.requests:
            time.sleep(0.1)
        proc.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        assert proc.poll() is None  # still running
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "event=stopped" in err


def test_sigterm_while_a_mail_waits_on_a_silent_server_exits_within_the_grace(
        http_server: TestServer, workspace: Workspace) -> None:
    """An ops test's find: SIGTERM while an alert mail waited on an SMTP server that accepts
    connections and never answers logged a CancelledError traceback, and the process went on
    for 25 s after event=stopped, until smtplib's 30 s timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel accepts the connection; nobody ever says 220
    try:
        http_server.route("/feed", rss(("Stargate Abilene expands", "https://example.com/1")))
        workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "every": "1h"}],
                        topics=[{"name": "stargate", "query": "Stargate", "alert": "immediate"}],
                        digest={"at": "08:00", "dir": "digests", "lookback": "3d",
                                "email": {"to": ["analyst@example.org"], "from": "monitor@example.org",
                                          "smtp": {"host": "127.0.0.1", "port": silent.getsockname()[1],
                                                   "security": "none"}}})
        proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "-v",
                                 "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=os.environ.copy())
        try:
            outbox = workspace.db_path
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the alert is being sent: its claim is in the outbox
                time.sleep(0.2)
                with contextlib.suppress(sqlite3.Error), sqlite3.connect(outbox) as conn:
                    if conn.execute("select count(*) from outbox where lease_until is not null").fetchone()[0]:
                        break
            time.sleep(1.0)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=40)
        finally:
            if proc.poll() is None:
                proc.kill()
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert proc.returncode == 0, err
    assert elapsed < 14, f"{elapsed:.1f} s\n{err[-2000:]}"
    assert "event=abandoned jobs=1" in err and "Traceback" not in err and "raised an exception" not in err


def test_sigterm_while_another_process_holds_the_write_lock_still_exits_0(http_server: TestServer,
                                                                         workspace: Workspace) -> None:
    """An ops test's find: with a sqlite3 shell holding the write lock, giving back the leases
    waited out the 30 s busy timeout and the service exited 1 with a traceback. Now it waits
    what is left of the grace, says it kept them (they expire by themselves) and exits 0."""
    proc = run_with_a_poll_in_flight(http_server, workspace)
    shell = sqlite3.connect(workspace.db_path, isolation_level=None)
    try:
        shell.execute("BEGIN IMMEDIATE")  # what `sqlite3 monitor.db` does for a write
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
        elapsed = time.monotonic() - started
    finally:
        shell.rollback()
        shell.close()
    assert proc.returncode == 0, err
    assert elapsed < 20, elapsed
    assert "event=leases_kept" in err and "database is locked" in err and "Traceback" not in err
    assert source_rows(workspace)["slow"]["lease_owner"] is not None  # kept: it expires by itself


def test_after_sigkill_the_source_in_flight_is_polled_again_within_30s(http_server: TestServer,
                                                                       workspace: Workspace) -> None:
    calls = []

    def slow_then_fine(request):  # type: ignore[no-untyped-def]
        calls.append(time.monotonic())
        if len(calls) == 1:
            return Response(200, {"Content-Type": "application/xml"}, dribble(b"<rss>", every=1.0, forever=True))
        return Response(200, {"Content-Type": "application/xml"}, rss(("Back", "https://example.com/b")).encode())

    http_server.handler("/feed", slow_then_fine)
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "every": "1h"}],
                    fetch={"timeout": 15, "max_bytes": 1_000_000, "user_agent": "t/1"})
    args = [sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "run"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not calls:
        time.sleep(0.1)
    time.sleep(0.5)
    first.kill()
    first.communicate(timeout=10)
    killed = time.monotonic()
    second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while time.monotonic() - killed < 35 and len(calls) < 2:
            time.sleep(0.2)
        assert len(calls) >= 2, "the source was not polled again after the crash"
        assert calls[1] - killed < 30
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and source_rows(workspace)["s"]["last_status"] != "ok":
            time.sleep(0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=30)
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*), count(distinct key) from entries").fetchone() == (1, 1)


def test_digest_is_made_once_per_date_even_by_two_services(workspace: Workspace) -> None:
    workspace.write(sources=[], topics=[{"name": "t", "query": "x"}])
    clock = Clock(datetime(2025, 2, 3, 23, 0, 30, tzinfo=UTC))  # 08:00:30 on 4 Feb in Tokyo
    apps = [workspace.app(clock) for _ in range(4)]
    made: list[object] = []
    threads = [threading.Thread(target=lambda a=a: made.extend(a.digest_service().run_due())) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a in apps:
        a.close()
    assert len(made) == 1
    assert sorted(p.name for p in (workspace.root / "digests").iterdir()) == ["2025-02-04.md"]
    again = workspace.app(clock)
    try:
        assert again.digest_service().run_due() == []  # a restart at 08:00 makes nothing twice
    finally:
        again.close()


def test_missed_digests_are_made_when_the_service_comes_back(workspace: Workspace) -> None:
    workspace.write(sources=[], topics=[{"name": "t", "query": "x"}])
    clock = Clock(datetime(2025, 2, 3, 23, 5, tzinfo=UTC))  # 4 Feb 08:05 JST
    app = workspace.app(clock)
    try:
        assert [m.day for m in app.digest_service().run_due()] == [date(2025, 2, 4)]
        clock.now += timedelta(days=2, hours=3)  # down from 4 Feb until 6 Feb 11:05
        assert [m.day for m in app.digest_service().run_due()] == [date(2025, 2, 5), date(2025, 2, 6)]
    finally:
        app.close()


def test_the_digest_job_fires_at_digest_time_in_the_zone(workspace: Workspace) -> None:
    workspace.write(sources=[], digest={"at": "07:15", "dir": "digests", "lookback": "3d"})
    moment = next_runs(workspace.app())["digest"]
    assert moment is not None
    assert (moment.hour, moment.minute) == (7, 15) and moment.utcoffset() == timedelta(hours=9)


def test_robots_txt_disallowing_a_page_is_a_clear_source_error(http_server: TestServer,
                                                                workspace: Workspace) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    page = "<ul><li><a href='/a'>Stargate</a></li></ul>"
    http_server.route("/private/list", page, content_type="text/html")
    http_server.route("/public/list", page, content_type="text/html")
    workspace.write(sources=[{"name": "private", "type": "html", "url": http_server.url("/private/list"), "item": "li"},
                             {"name": "public", "type": "html", "url": http_server.url("/public/list"), "item": "li"}])

    out = poll(workspace, Clock())
    assert out["private"].status == "error" and "robots.txt" in (out["private"].error or "")
    assert "disallows /private/list" in (out["private"].error or "")
    assert out["public"].status == "ok" and out["public"].new == 1
    assert [r.path for r in http_server.requests].count("/robots.txt") == 1
    assert "/private/list" not in [r.path for r in http_server.requests]


def test_layout_change_and_repeated_failures_are_flagged(http_server: TestServer, workspace: Workspace) -> None:
    from click.testing import CliRunner

    from monitor.cli import cli

    http_server.route("/list", "<ul class=news><li><a href='/a'>One</a></li></ul>", content_type="text/html")
    http_server.route("/broken", "no", status=500, content_type="text/plain")
    workspace.write(sources=[{"name": "page", "type": "html", "url": http_server.url("/list"), "item": "ul.news li",
                              "every": "1s"},
                             {"name": "broken", "url": http_server.url("/broken"), "every": "1s"}],
                    topics=[{"name": "t", "query": "One"}])
    serve_for(workspace, 1.5)
    http_server.route("/list", "<div class=redesigned><a href='/a'>One</a></div>", content_type="text/html")
    with sqlite3.connect(workspace.db_path) as conn:
        conn.execute("update sources set next_poll_at = null, consecutive_failures = 2")
    serve_for(workspace, 1.5)
    out = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "sources"]).stdout
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "layout" in lines["page"] and "failing" in lines["broken"], out
    digest = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "digest", "--out", "-"]).stdout
    assert "page: layout: the page's selectors match nothing" in digest
    assert "broken: failing: 3 failed polls in a row: HTTP 500" in digest


def test_a_freed_slot_is_filled_without_waiting_for_the_next_tick(http_server: TestServer,
                                                                   workspace: Workspace) -> None:
    """One tick with 3 slots and 12 due sources: as each poll ends its slot takes the next due
    source, so all 12 are polled before a second tick (which used to be the cap: 3 per tick)."""
    for i in range(12):
        http_server.route(f"/f{i}", rss((f"Item {i}", f"https://example.com/{i}")))
    workspace.write(sources=[{"name": f"s{i}", "url": http_server.url(f"/f{i}")} for i in range(12)],
                    fetch={"concurrency": 3, "per_host": 3, "timeout": 10})
    app = workspace.app()

    async def one_tick() -> int:
        from monitor.net.fetcher import Fetcher

        async with Fetcher(app.fetch_settings()) as fetcher:
            worker = app.worker(fetcher)
            started = await worker.tick()
            deadline = time.monotonic() + 10
            while (worker.inflight or len(http_server.requests) < 12) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await worker.drain()
            return started

    try:
        assert asyncio.run(one_tick()) == 3
    finally:
        app.close()
    assert sorted(r.path for r in http_server.requests) == sorted(f"/f{i}" for i in range(12))
    assert all(r["last_status"] == "ok" and r["lease_owner"] is None for r in source_rows(workspace).values())


@pytest.mark.parametrize("cancelled", [False, True], ids=["drained", "tick-cancelled"])
def test_a_claim_under_way_when_draining_leaves_no_lease_behind(http_server: TestServer, workspace: Workspace,
                                                                 cancelled: bool) -> None:
    """SIGTERM while the ticker's claim is in the database: drain waits for it, so its release
    gives those leases back instead of running first and leaving them held by a dead worker;
    also when the scheduler's shutdown cancels the ticker while its claim's thread still commits."""
    http_server.route("/f", rss(("Item", "https://example.com/1")))
    workspace.write(sources=[{"name": f"s{i}", "url": http_server.url("/f")} for i in range(3)])
    app = workspace.app()

    async def tick_then_drain() -> None:
        from monitor.net.fetcher import Fetcher

        async with Fetcher(app.fetch_settings()) as fetcher:
            worker = app.worker(fetcher)
            claim_due = worker.schedule.claim_due

            def slow_claim(*args, **kwargs):  # type: ignore[no-untyped-def]
                time.sleep(0.5)  # the claim is still in flight when drain starts
                return claim_due(*args, **kwargs)

            worker.schedule.claim_due = slow_claim  # type: ignore[method-assign]
            ticking = asyncio.create_task(worker.tick())
            await asyncio.sleep(0.1)
            if cancelled:
                ticking.cancel()  # what scheduler.shutdown does to a running job
            await worker.drain(grace=5)
            if cancelled:
                with contextlib.suppress(asyncio.CancelledError):
                    await ticking
            else:
                assert await ticking == 0

    try:
        asyncio.run(tick_then_drain())
    finally:
        app.close()
    assert all(r["lease_owner"] is None for r in source_rows(workspace).values())
    if not cancelled:
        assert http_server.requests == []


def test_a_past_digest_lists_only_the_problems_begun_by_its_end(http_server: TestServer,
                                                                 workspace: Workspace) -> None:
    """Source problems are what the sources are now: the digest of a past day must not blame one
    for a failure that began after that day's window closed."""
    from monitor.service.digests import make_digest

    http_server.route("/broken", "no", status=500, content_type="text/plain")
    workspace.write(sources=[{"name": "broken", "url": http_server.url("/broken")}], topics=[{"name": "t", "query": "x"}])
    clock = Clock(datetime(2025, 2, 10, 3, tzinfo=UTC))  # 12:00 on the 10th in Tokyo
    poll(workspace, clock)
    app = workspace.app(clock)
    try:
        old = make_digest(app.reader, app.config, date(2025, 2, 5), clock())
        today = make_digest(app.reader, app.config, date(2025, 2, 11), clock())
    finally:
        app.close()
    assert old.failures == ()
    assert [f.source for f in today.failures] == ["broken"]


def test_a_past_digest_shows_a_silent_source_as_it_stood_when_the_window_closed(
        http_server: TestServer, workspace: Workspace) -> None:
    """A source new every hour, then silent: made days later, the digest of its last day does
    not call it stale (it became so a day after its last entry, past that window)."""
    from monitor.service.digests import make_digest

    workspace.write(sources=[{"name": "hourly", "url": http_server.url("/feed")}], topics=[{"name": "t", "query": "x"}])
    clock = Clock(datetime(2025, 2, 4, 19, tzinfo=UTC))  # 04:00 on the 5th in Tokyo
    for n in range(4):
        http_server.route("/feed", rss(*[(f"Item {i}", f"https://example.com/{i}") for i in range(n + 1)]))
        poll(workspace, clock)
        clock.advance(hours=1)
    clock.advance(days=5)
    app = workspace.app(clock)
    try:
        then = make_digest(app.reader, app.config, date(2025, 2, 5), clock())
        now = make_digest(app.reader, app.config, app.current_day(), clock())
    finally:
        app.close()
    assert then.failures == ()
    assert [f.error.split(":")[0] for f in now.failures] == ["stale"]


def test_a_retry_after_no_clock_can_hold_backs_off_seven_days(http_server: TestServer, workspace: Workspace) -> None:
    """Retry-After: 99999999999999999999 once overflowed timedelta(): the poll task died, its lease
    stayed held and its neighbours' results were never reported. Now it is the 7-day cap."""
    http_server.route("/busy", "slow down", status=429, headers={"Retry-After": "99999999999999999999"})
    http_server.route("/fine", rss(("Item", "https://example.com/1")))
    workspace.write(sources=[{"name": "busy", "url": http_server.url("/busy")},
                             {"name": "fine", "url": http_server.url("/fine")}])
    clock = Clock(datetime(2025, 2, 3, tzinfo=UTC))
    app = workspace.app(clock)

    async def one_tick() -> None:
        from monitor.net.fetcher import Fetcher

        async with Fetcher(app.fetch_settings()) as fetcher:
            worker = app.worker(fetcher)
            assert await worker.tick() == 2
            await asyncio.wait_for(asyncio.gather(*worker.inflight), 10)

    try:
        asyncio.run(one_tick())
        outcomes = {o.source: o for o in asyncio.run(app.poll(list(app.config.sources)))}  # the one-shot too
    finally:
        app.close()
    assert outcomes["busy"].status == "error" and outcomes["fine"].status in ("ok", "not_modified")
    assert (outcomes["busy"].error or "").endswith(", retry after more than a week")  # not "infs"
    rows = source_rows(workspace)
    assert rows["busy"]["lease_owner"] is None and rows["fine"]["lease_owner"] is None
    wait = datetime.fromisoformat(rows["busy"]["next_poll_at"]) - datetime(2025, 2, 3)
    assert timedelta(days=7) <= wait < timedelta(days=7, hours=1)


def test_a_poll_that_crashes_backs_off_and_gives_its_lease_back(http_server: TestServer, workspace: Workspace,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A bug of ours inside one poll: the source is due again after a back-off, its lease is
    released, and the error is logged with its traceback; the worker goes on."""
    http_server.route("/f", rss(("Item", "https://example.com/1")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/f"), "every": "10m"}])
    clock = Clock(datetime(2025, 2, 3, tzinfo=UTC))
    app = workspace.app(clock)

    async def one_tick() -> None:
        from monitor.net.fetcher import Fetcher

        async with Fetcher(app.fetch_settings()) as fetcher:
            worker = app.worker(fetcher)

            async def crash(source):  # type: ignore[no-untyped-def]
                raise RuntimeError("a bug")

            worker.poller.poll_one = crash  # type: ignore[method-assign]
            assert await worker.tick() == 1
            await asyncio.wait_for(asyncio.gather(*worker.inflight), 10)

    try:
        asyncio.run(one_tick())
    finally:
        app.close()
    row = source_rows(workspace)["s"]
    assert row["lease_owner"] is None
    assert datetime.fromisoformat(row["next_poll_at"]) > datetime(2025, 2, 3, 0, 10)  # backed off past `every`
    assert "event=poll_crashed source=s" in caplog.text and "RuntimeError: a bug" in caplog.text


def test_a_one_shot_poll_sets_the_next_poll_of_a_source_a_dead_worker_leased(http_server: TestServer,
                                                                              workspace: Workspace) -> None:
    http_server.route("/f", rss(("Item", "https://example.com/1")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/f"), "every": "1h"}])
    clock = Clock(datetime(2025, 2, 3, tzinfo=UTC))
    poll(workspace, clock)
    with sqlite3.connect(workspace.db_path) as conn:  # a worker that died an hour ago
        conn.execute("update sources set lease_owner = 'host:99999', lease_until = '2025-02-02 23:00:00.000000'")
    clock.advance(hours=2)
    poll(workspace, clock)
    row = source_rows(workspace)["s"]
    assert row["lease_owner"] is None and when(row["next_poll_at"]) > datetime(2025, 2, 3, 2, 30, tzinfo=UTC)


def test_a_shortened_interval_or_a_new_address_takes_effect_at_once(http_server: TestServer,
                                                                     workspace: Workspace) -> None:
    """every: 6h -> 10s must not wait out the 6 hours; a failing source given a new url is polled
    at once, its back-off forgotten."""
    http_server.route("/f", rss(("Item", "https://example.com/1")))
    http_server.route("/broken", "no", status=500, content_type="text/plain")
    clock = Clock(datetime(2025, 2, 3, tzinfo=UTC))
    workspace.write(sources=[{"name": "slow", "url": http_server.url("/f"), "every": "6h"},
                             {"name": "moved", "url": http_server.url("/broken"), "every": "1h"}])
    poll(workspace, clock)
    assert when(source_rows(workspace)["slow"]["next_poll_at"]) >= datetime(2025, 2, 3, 6, tzinfo=UTC)
    workspace.write(sources=[{"name": "slow", "url": http_server.url("/f"), "every": "10s"},
                             {"name": "moved", "url": http_server.url("/f"), "every": "1h"}])
    clock.advance(minutes=1)
    app = workspace.app(clock)
    try:
        app.source_ids  # noqa: B018 (the config is synced into the sources table here)
    finally:
        app.close()
    rows = source_rows(workspace)
    assert when(rows["slow"]["next_poll_at"]) <= datetime(2025, 2, 3, 0, 1, 12, tzinfo=UTC)
    assert rows["moved"]["next_poll_at"] is None and rows["moved"]["consecutive_failures"] == 0
    assert rows["moved"]["failing_since"] is None  # a failure at the new address starts its own count


def test_a_worker_says_when_it_no_longer_runs_the_config_in_force(http_server: TestServer, workspace: Workspace,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """An operator edited a topic and ran a one-shot command, which re-matched the archive: the
    running worker still matches new entries by the old query until it is restarted, so it says so."""
    from monitor.service.scheduler import ConfigWatch

    sources = [{"name": "s", "url": http_server.url("/f")}]
    workspace.write(sources=sources, topics=[{"name": "t", "query": "Stargate"}])
    running = workspace.app()
    try:
        running.topic_service().sync()
        watch = ConfigWatch(running)
        assert watch.check() == (False, ())
        workspace.write(sources=sources, topics=[{"name": "t", "query": "Stargate OR weather"}])
        assert watch.check() == (True, ())
        one_shot = workspace.app()
        try:
            one_shot.topic_service().sync()  # what `monitor poll` does first
        finally:
            one_shot.close()
        assert watch.check() == (True, ("t",))
        assert watch.check() == (True, ("t",))  # said once per change
    finally:
        running.close()
    warnings = [r.getMessage() for r in caplog.records if "event=config_changed" in r.getMessage()]
    assert len(warnings) == 2 and "topics_matched_elsewhere=t" in warnings[1]


def _an_old_worker_polls_after_a_config_change(http_server: TestServer, workspace: Workspace,
                                               topics: list[dict[str, str]]) -> None:
    """A worker runs with one topic t (Stargate); the config changes to ``topics`` and another
    process re-matches the archive for it (a one-shot command, or the first worker restarted);
    then the old worker polls a feed of one weather item, as `run`'s worker does (no topic sync
    before it), and stops."""
    http_server.route("/f", rss(("Weather warning for Tokyo", "https://example.com/w")))
    sources = [{"name": "s", "url": http_server.url("/f")}]
    workspace.write(sources=sources, topics=[{"name": "t", "query": "Stargate"}])
    running = workspace.app()
    try:
        running.topic_service().sync()
        workspace.write(sources=sources, topics=topics)
        other = workspace.app()
        try:
            other.topic_service().sync()
        finally:
            other.close()

        async def worker_poll() -> None:
            from monitor.net.fetcher import Fetcher

            async with Fetcher(running.fetch_settings()) as fetcher:
                await running.poller(fetcher).poll_one(running.config.source("s"))

        asyncio.run(worker_poll())  # matched by the old rules: nothing
    finally:
        running.close()
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from matches").fetchone() == (0,)


def test_what_a_worker_matched_by_an_old_query_is_matched_again_at_the_next_start(
        http_server: TestServer, workspace: Workspace) -> None:
    """The operator edits a topic and runs a one-shot command (the archive is matched against the
    new query) while `run` still matches by the old one. What the old worker stores then must not
    stay matched by the old rules once it is restarted with the new config."""
    _an_old_worker_polls_after_a_config_change(http_server, workspace, [{"name": "t", "query": "Stargate OR weather"}])
    restarted = workspace.app()
    try:
        restarted.topic_service().sync()  # what `run` does at start
    finally:
        restarted.close()
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select topic from matches").fetchall() == [("t",)]


def test_a_poll_that_outlasts_its_lease_keeps_it(http_server: TestServer, workspace: Workspace) -> None:
    """A poll longer than the lease (article pages are paced) renews it as it goes: while it
    runs, another worker finds the source leased and does not poll it too."""
    from monitor.net.fetcher import Fetcher
    from monitor.store.schedule import Schedule

    clock = Clock()
    others: list[list[str]] = []

    def slow_feed(request: object) -> Response:
        clock.advance(minutes=5)  # far past the lease (timeout 5 s + 10 s)
        time.sleep(0.6)  # a few renewals come meanwhile
        claims = Schedule(app.engine).claim_due("other", ["s"], clock(), limit=1, lease=timedelta(seconds=15))
        others.append([c.name for c in claims])
        return Response(body=rss(("Item", "https://example.com/1")), headers={"Content-Type": "application/rss+xml"})

    http_server.handler("/f", slow_feed)
    workspace.write(sources=[{"name": "s", "url": http_server.url("/f")}])
    app = workspace.app(clock)

    async def one_poll() -> None:
        async with Fetcher(app.fetch_settings()) as fetcher:
            worker = app.worker(fetcher)
            worker.renew_every = 0.1
            assert await worker.tick() == 1
            while worker.inflight:
                await asyncio.sleep(0.05)
            await worker.drain()

    try:
        asyncio.run(one_poll())
    finally:
        app.close()
    assert others == [[]]
    row = source_rows(workspace)["s"]
    assert row["last_status"] == "ok" and row["lease_owner"] is None


def test_a_database_error_in_a_job_is_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """An ops test's find: with another process holding SQLite's write lock, the outbox and alert
    jobs logged a 60-line traceback each run. A database error is expected in a service's life:
    one line, and the job runs again at its next time."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from monitor.service.scheduler import _guarded

    async def locked() -> None:
        raise OperationalError("UPDATE outbox ...", {}, Exception("database is locked"))

    with caplog.at_level(logging.ERROR, logger="monitor.run"):
        asyncio.run(_guarded(locked, "outbox")())
    assert [r.getMessage() for r in caplog.records] == [
        "event=job_failed job=outbox error='database: database is locked'"]
    assert all(r.exc_info is None for r in caplog.records)

    async def buggy() -> None:  # a bug is not the weather: it keeps its traceback
        raise ProgrammingError("SELECT nope FROM outbox", {}, Exception("no such column: nope"))

    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="monitor.run"):
        asyncio.run(_guarded(buggy, "outbox")())
    assert [r.getMessage() for r in caplog.records] == ["event=job_crashed job=outbox"]
    assert caplog.records[0].exc_info is not None


def test_what_a_worker_stored_without_a_topic_added_meanwhile_is_matched_at_the_next_start(
        http_server: TestServer, workspace: Workspace) -> None:
    """An exploratory test's find (a rolling restart on PostgreSQL): a topic added while an old
    worker ran was never matched against what that worker stored, since it only checked the
    topics it knew. Its polls now mark a topic it does not know as not matched as configured."""
    _an_old_worker_polls_after_a_config_change(
        http_server, workspace, [{"name": "t", "query": "Stargate"}, {"name": "weather", "query": "weather"}])
    restarted = workspace.app()
    try:
        assert restarted.topic_service().stale()[0] == ["weather"]
        restarted.topic_service().sync()
    finally:
        restarted.close()
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select topic from matches").fetchall() == [("weather",)]


def test_a_worker_stops_when_the_database_is_upgraded_under_it(http_server: TestServer, workspace: Workspace,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """A PostgreSQL rolling-upgrade test's find: workers of the old code went on writing after a
    newer one upgraded the schema (0008 rebuilt the search index with new tokens), so what they
    stored then was indexed with the old tokens for good. A poll now checks the revision under
    the poll fence (which an upgrade takes), stores nothing, and the service stops with an error
    for its supervisor to restart it with the new code."""
    from monitor.errors import SchemaChanged

    http_server.route("/f", rss(("Stargate adds a 1.5GW campus", "https://example.com/1")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/f"), "every": "1s"}])
    app = workspace.app()
    upgraded: list[float] = []

    def newer_schema(request: object) -> Response:
        if not upgraded:  # the second poll's fetch: another monitor upgrades meanwhile
            with sqlite3.connect(workspace.db_path) as conn:
                conn.execute("update alembic_version set version_num = '9999'")
            upgraded.append(time.monotonic())
        return Response(body=rss(("Stargate adds a 200MW site", "https://example.com/2")),
                        headers={"Content-Type": "application/rss+xml"})

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(20, stop.set)  # a safety net: it must stop long before
        await run.serve(app, stop)

    try:
        assert poll(workspace, Clock())["s"].new == 1
        http_server.handler("/f", newer_schema)
        started = time.monotonic()
        with pytest.raises(SchemaChanged, match="upgraded to schema revision 9999 .* restart it"):
            asyncio.run(main())
        assert upgraded and time.monotonic() - started < 15
    finally:
        app.close()
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select title from entries").fetchall() == [("Stargate adds a 1.5GW campus",)]
        assert conn.execute("select last_error from sources").fetchone() == (None,)  # no failure of the source's
    assert any("event=schema_changed" in r.getMessage() for r in caplog.records)


def test_claims_that_keep_failing_are_one_line_a_minute(http_server: TestServer, workspace: Workspace,
                                                       caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """An ops test's find: on a full disk the ticker logged event=claim_failed every 2 s (43,000
    lines a day). Now: one line, then one per CLAIM_ERROR_EVERY with how many it stands for,
    and one when claims work again. A database made immutable fails them for real (root)."""
    from monitor.service import worker as worker_module

    monkeypatch.setattr(worker_module, "CLAIM_ERROR_EVERY", 0.3)
    http_server.route("/feed", rss(("Stargate news", "https://example.com/a")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    poll(workspace, Clock(datetime(2025, 2, 3, tzinfo=UTC)))  # the source's row, due again a day later
    if os.geteuid() != 0 or subprocess.run(["chattr", "+i", str(workspace.db_path)], check=False,
                                           capture_output=True).returncode != 0:
        pytest.skip("making a file immutable needs root and a file system with chattr")
    app = workspace.app(Clock(datetime(2025, 2, 4, tzinfo=UTC)))

    async def ticks() -> None:
        from monitor.net.fetcher import Fetcher

        async with Fetcher(app.fetch_settings()) as fetcher:
            worker = app.worker(fetcher)
            for _ in range(5):
                assert await worker.tick() == 0
            await asyncio.sleep(0.35)
            assert await worker.tick() == 0
            await asyncio.to_thread(subprocess.run, ["chattr", "-i", str(workspace.db_path)], check=True)
            app.engine.dispose()  # SQLite opened the immutable file read-only: new connections
            assert await worker.tick() == 1
            await asyncio.wait_for(asyncio.gather(*worker.inflight), 10)

    caplog.set_level(logging.INFO, logger="monitor")
    try:
        asyncio.run(ticks())
    finally:
        subprocess.run(["chattr", "-i", str(workspace.db_path)], check=False)
        app.close()
    lines = [r.getMessage() for r in caplog.records if "event=claim_" in r.getMessage()]
    assert len(lines) == 3, lines
    assert lines[0].startswith("event=claim_failed error=") and "repeated" not in lines[0]
    assert lines[1].endswith("repeated=5") and lines[2].startswith("event=claim_recovered failed_for=")


def test_two_claim_errors_that_alternate_keep_their_own_pause(workspace: Workspace, caplog: pytest.LogCaptureFixture,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A review's find: the pause reset whenever the message changed, so two errors that
    alternated (database full / disk I/O error) logged at every tick, and failed_for counted
    from the last change only."""
    from monitor.service.worker import Worker

    now = [0.0]
    monkeypatch.setattr(Worker, "_loop_time", staticmethod(lambda: now[0]))
    workspace.write(sources=[])
    app = workspace.app(Clock(datetime(2025, 2, 3, tzinfo=UTC)))
    caplog.set_level(logging.INFO, logger="monitor")

    async def ticks() -> None:
        from monitor.net.fetcher import Fetcher

        async with Fetcher(app.fetch_settings()) as fetcher:
            worker = app.worker(fetcher)
            for tick in range(61):  # two minutes of 2 s ticks
                now[0] = 2.0 * tick
                worker._claim_failed("database is full" if tick % 2 else "disk I/O error")
            assert await worker.tick() == 0  # claims work again (no sources)

    try:
        asyncio.run(ticks())
    finally:
        app.close()
    lines = [r.getMessage() for r in caplog.records if "event=claim_" in r.getMessage()]
    # disk I/O at 0, 60 and 120 s; database full at 2 and 62 s (its next would be at 122 s); recovered
    assert len(lines) == 3 + 2 + 1, lines
    assert lines[-1] == "event=claim_recovered failed_for=120s"
