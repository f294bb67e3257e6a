"""`monitor run`: sources polled at their interval, the digest written at digest.at."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from monitor.service import scheduler as run
from tests.support.httpserver import TestServer
from tests.support.workspace import Clock, Workspace
from tests.test_poll import rss


def test_service_polls_each_source_at_its_interval(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/fast", rss(("Fast one", "https://example.com/f")))
    http_server.route("/slow", rss(("Slow one", "https://example.com/s")))
    workspace.write(sources=[{"name": "fast", "url": http_server.url("/fast"), "every": "1s"},
                             {"name": "slow", "url": http_server.url("/slow"), "every": "1h"}])
    app = workspace.app()

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(3.4, stop.set)
        await run.serve(app, stop)

    try:
        asyncio.run(main())
    finally:
        app.close()
    paths = [r.path for r in http_server.requests]
    assert paths.count("/slow") == 1
    assert 3 <= paths.count("/fast") <= 5, paths
    rows = {r.name: r for r in app.reader.sources()}
    assert rows["fast"].last_status in ("ok", "not_modified") and rows["slow"].last_status == "ok"


def test_digest_job_is_scheduled_at_digest_time_in_the_zone(workspace: Workspace) -> None:
    workspace.write(sources=[], digest={"at": "07:15", "dir": "digests", "lookback": "3d"})
    app = workspace.app()

    async def next_digest() -> datetime:
        scheduler = run.build_scheduler(app, poller=None)  # type: ignore[arg-type]
        scheduler.start(paused=True)
        try:
            return scheduler.get_job("digest").next_run_time
        finally:
            scheduler.shutdown(wait=False)

    try:
        when = asyncio.run(next_digest())
    finally:
        app.close()
    assert (when.hour, when.minute) == (7, 15) and when.utcoffset().total_seconds() == 9 * 3600


def test_digest_job_writes_the_day_whose_window_just_closed(workspace: Workspace) -> None:
    workspace.write(sources=[], topics=[{"name": "t", "query": "x"}])
    clock = Clock(datetime(2025, 2, 3, 23, 0, 30, tzinfo=UTC))  # 08:00:30 on 4 Feb in Tokyo
    app = workspace.app(clock)
    try:
        asyncio.run(run._digest(app))
        clock.now = datetime(2025, 2, 4, 15, 10, tzinfo=UTC)  # 00:10 on 5 Feb: a late job, still 4 Feb's
        asyncio.run(run._digest(app))
    finally:
        app.close()
    assert sorted(p.name for p in (workspace.root / "digests").iterdir()) == ["2025-02-04.md"]


def test_run_stops_cleanly_on_sigterm(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("One", "https://example.com/1")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed"), "every": "1h"}])
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(r.path == "/feed" for r in http_server.requests):
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "event=poll source=s status=ok new=1" in err
    assert "Traceback" not in err
