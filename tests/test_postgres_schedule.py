"""Several workers on one PostgreSQL database: a due source is leased by one worker only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from monitor.store.db import ensure_current, open_engine
from monitor.store.schedule import Schedule
from tests.support.postgres import Cluster, pg_url, postgres  # noqa: F401 (fixtures)
from tests.support.workspace import Workspace

NOW = datetime(2025, 2, 3, tzinfo=UTC)


def test_concurrent_claims_never_share_a_source(pg_url: str, workspace: Workspace) -> None:  # noqa: F811
    workspace.write(sources=[{"name": f"s{i}", "url": f"https://example.com/{i}"} for i in range(12)],
                    database=pg_url)
    app = workspace.app()
    app.source_ids  # noqa: B018 - the rows
    app.close()
    engine = open_engine(pg_url)
    ensure_current(engine)
    names = [f"s{i}" for i in range(12)]
    claimed: dict[str, list[str]] = {}
    barrier = threading.Barrier(3)

    def claim(owner: str) -> None:
        barrier.wait()
        claimed[owner] = [c.name for c in Schedule(engine).claim_due(owner, names, NOW, limit=5,
                                                                      lease=timedelta(seconds=30))]

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    every = [n for got in claimed.values() for n in got]
    assert len(every) == len(set(every)) == 12  # 5 + 5 + 2: nothing twice, nothing left
    assert Schedule(engine).claim_due("late", names, NOW, limit=5, lease=timedelta(seconds=30)) == []
    later = Schedule(engine).claim_due("late", names, NOW + timedelta(seconds=31), limit=20,
                                       lease=timedelta(seconds=30))
    assert len(later) == 12  # expired leases are free again
    engine.dispose()
