"""Opening the database: engine, SQLite pragmas, and bringing the schema to Alembic's head.

SQLite runs in WAL mode with a busy timeout, so `monitor search` reads while a poll writes
and two writers wait for each other instead of failing with "database is locked".
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import StoreError

BUSY_TIMEOUT_MS = 30_000


def open_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get their folder made and the pragmas set on connect."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine, but its transactions take SQLite's write lock when they begin.

    A poll reads what the archive knows and then writes; taking the lock first (BEGIN
    IMMEDIATE) means two processes polling at once queue behind each other instead of both
    deciding an article is new and one failing on the unique key.
    """
    return engine.execution_options(monitor_write=True)


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # pysqlite's own BEGIN is disabled (isolation_level None) so that we choose the kind.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("monitor_write") else "BEGIN")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", os.fspath(Path(str(files("monitor.migrations")))))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Apply every pending migration; returns (revision before, revision after)."""
    cfg = _alembic_config(engine)
    try:
        before = current_revision(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return before, current_revision(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"database upgrade failed: {exc.__class__.__name__}: {exc.orig if hasattr(exc, 'orig') else exc}") from exc


def ensure_current(engine: Engine) -> None:
    """Bring a new or older database to head; cheap when it is already there."""
    try:
        if current_revision(engine) == head_revision(engine):
            return
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the database {engine.url.render_as_string()}: {exc}") from exc
    upgrade(engine)
