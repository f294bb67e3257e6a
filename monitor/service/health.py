"""Source health for `monitor sources` and the digest: the store's facts, the core's judgement."""

from __future__ import annotations

from datetime import datetime

from monitor.config import Config
from monitor.core.health import Flag, SourceState, flags, rhythm
from monitor.store.reading import Reader, SourceRow
from monitor.store.schedule import Schedule


def source_flags(config: Config, reader: Reader, schedule: Schedule, now: datetime,
                 rows: list[SourceRow] | None = None) -> dict[str, list[Flag]]:
    """Configured source name -> its health flags (disabled, failing, layout changed, stale)."""
    found: dict[str, list[Flag]] = {}
    by_name = {r.name: r for r in (rows if rows is not None else reader.sources())}
    for source in config.sources:
        row = by_name.get(source.name)
        if row is None:
            continue
        state = SourceState(source.name, source.every, row.consecutive_failures, row.failing_since,
                            row.last_error, row.layout_changed_at, row.last_new_at, row.disabled_at,
                            row.disabled_reason)
        usual = rhythm(schedule.new_entry_times(row.id)) if row.last_new_at else None
        found[source.name] = flags(state, now, usual)
    return found
