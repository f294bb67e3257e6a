"""A throwaway monitor set-up: a config file, a SQLite file and a digest folder in tmp_path.

Tests describe sources and topics as plain dicts; this writes them as YAML, the way a user
would, so the config loader is exercised too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from monitor.app import App
from monitor.config import load


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2025, 2, 3, 1, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Workspace:
    root: Path
    config_path: Path

    def write(self, *, sources: Sequence[dict[str, Any]], topics: Sequence[dict[str, Any]] = (),
              **extra: Any) -> Path:
        data: dict[str, Any] = {
            "database": "sqlite:///monitor.db",
            "timezone": "Asia/Tokyo",
            "fetch": {"timeout": 5, "max_bytes": 2_000_000, "user_agent": "monitor-test/1"},
            "sources": list(sources),
            "topics": list(topics),
            "digest": {"at": "08:00", "dir": "digests", "lookback": "3d"},
        }
        data.update(extra)
        self.config_path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return self.config_path

    def app(self, clock: Callable[[], datetime] | None = None) -> App:
        config = load(self.config_path)
        return App(config, clock=clock) if clock else App(config)

    @property
    def db_path(self) -> Path:
        return self.root / "monitor.db"
