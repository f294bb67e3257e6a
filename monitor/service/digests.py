"""Making a day's digest from the archive and writing it to disk.

The selection rules are monitor.core.digest's; this module reads the rows, hands them over
and writes the file atomically (a temporary file in the same folder, then a rename), so a
reader never sees half a digest.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.config import Config
from monitor.core.digest import Candidate, Digest, Failure, build, published_floor, window_for
from monitor.errors import MonitorError
from monitor.store.reading import Reader


def make_digest(reader: Reader, config: Config, day: date) -> Digest:
    tz: ZoneInfo = config.tz
    window = window_for(day, config.digest.at, tz)
    rows = reader.matched_first_seen_between(window.start, window.end,
                                             published_floor(window, config.digest.lookback))
    candidates = [Candidate(r.title, r.url, r.sources, r.published, r.first_seen, r.topics) for r in rows]
    configured = {s.name for s in config.sources}
    failures = [Failure(s.name, s.last_error or "unknown error",
                        s.failing_since.astimezone(tz) if s.failing_since else None)
                for s in reader.sources() if s.name in configured and s.last_status == "error"]
    topics = [(t.name, t.heading) for t in config.topics]
    return build(window, candidates, topics, failures, tz)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so a reader sees the old file or the new one, never half."""
    try:
        _write(path, text)
    except OSError as exc:
        raise MonitorError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
