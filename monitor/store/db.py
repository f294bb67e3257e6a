"""Opening the database: engine, SQLite pragmas, and bringing the schema to Alembic's head.

Two back ends: SQLite and PostgreSQL (psycopg 3: `pip install 'monitor[postgres]'`).

SQLite runs in WAL mode with a busy timeout, so `monitor search` reads while a poll writes
and two writers wait for each other instead of failing with "database is locked"; a writer
takes the write lock when it begins (see `writer`).

PostgreSQL needs no settings: readers never wait for writers, and concurrent polls (several
workers) are made safe where they write (monitor.store.archive: INSERT ... ON CONFLICT),
not by serialising them. Migrations are serialised by an advisory lock (see `upgrade`).
"""

from __future__ import annotations

import functools
import os
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError as AlembicCommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from monitor.errors import SchemaChanged, StoreError

BUSY_TIMEOUT_MS = 30_000
SQLITE_FULL = 13  # https://www.sqlite.org/rescode.html#full: the disk, or PRAGMA max_page_count
PG_DISK_FULL = "53100"  # SQLSTATE disk_full


# Any constant: the key of the advisory lock that one migrating process holds on PostgreSQL.
MIGRATION_LOCK = 0x6D6F6E69746F72  # "monitor"
POLL_FENCE = 0x706F6C6C66656E  # "pollfen": polls hold it shared while they write, a digest waits for it


def enter_poll_write(conn: Connection) -> None:
    """What a poll's write transaction (storing entries, or an article) does first: on
    PostgreSQL it holds the poll fence, so a digest being made waits until it commits; then
    SchemaChanged unless the schema is still the one this code knows (an upgrade takes the
    fence, or SQLite's write lock, so no poll straddles it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": POLL_FENCE})
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if found != _head():
        raise SchemaChanged(f"the database was upgraded to schema revision {found} while this process runs "
                            f"revision {_head()}'s code: restart it with the monitor that upgraded it")


@functools.cache
def _head() -> str | None:
    return head_revision()


def wait_for_polls(engine: Engine) -> None:
    """Return once every poll that was writing has committed (PostgreSQL; on SQLite the write
    lock a digest's claim takes does this already): a digest then sees all that was first seen
    before it began, and a poll that writes later stamps its entries after it."""
    if engine.dialect.name == "postgresql":
        try:
            with engine.begin() as conn:
                # Bounded: a digest would rather fail (the catch-up retries within a minute) than
                # outlive its 5-minute claim waiting behind a poll stuck on a lock.
                conn.execute(text("SET LOCAL lock_timeout = '60s'"))
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POLL_FENCE})
        except SQLAlchemyError as exc:
            raise database_error(exc, "waiting for polls still writing before a digest") from exc
BACKENDS = ("sqlite", "postgresql")


def open_engine(url: str, *, file_mode: int = 0o600) -> Engine:
    """An engine for `url`; SQLite files get their folder made and the pragmas set on connect.

    A new SQLite file is created with `file_mode` (see `create_file`). A bare `postgresql://`
    URL means the psycopg (3) driver, the one `monitor[postgres]` installs (SQLAlchemy would
    otherwise pick psycopg2). A missing driver raises ImportError.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise StoreError(f"database: {backend} is not supported; use a sqlite:/// or "
                         f"postgresql+psycopg:// URL (search needs SQLite FTS5 or PostgreSQL)")
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        make_folders(Path(parsed.database).parent, file_mode)
        if not parsed.database.startswith("file:") and "uri" not in parsed.query:
            create_file(Path(parsed.database), file_mode)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def database_error(exc: SQLAlchemyError, doing: str) -> StoreError:
    """A StoreError for a failed database call; a full disk says so plainly, whatever the back end.

    SQLite says "database or disk is full" both for a full file system and for a file at its
    size limit, which reads like a bug to a user; the message says what to do instead.
    """
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if (code is not None and code & 0xFF == SQLITE_FULL) or getattr(orig, "sqlstate", None) == PG_DISK_FULL:
        return StoreError(f"database is full (disk or max size): {doing} failed and nothing of it was stored; "
                          f"free disk space and it is done again on the next run ({orig})")
    return StoreError(f"database error while {doing}: {orig}")


def make_folders(folder: Path, file_mode: int) -> None:
    """Create ``folder`` and its missing parents with ``file_mode`` plus search where it reads
    (0600 -> 0700, 0640 -> 0750), not the umask's 0777: a folder any local user may write
    lets them replace or delete the digests in it. Existing folders are kept as they are."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    for path in missing:
        try:
            path.mkdir(mode=0o700)  # closed from the start (the umask only narrows it), then opened as asked
        except FileExistsError:  # another process made it meanwhile: theirs
            continue
        os.chmod(path, file_mode | (file_mode & 0o444) >> 2)


def create_file(path: Path, mode: int) -> None:
    """Create an empty database file with exactly `mode` before SQLite opens it; keep an existing one as it is.

    SQLite would create it 0644 less the umask, readable by every local user, and it gives its
    -wal, -shm and -journal files the main file's mode, so setting it here covers them all. No
    umask change: that is process-wide, and the service runs threads. A user's existing file is
    never chmod-ed behind their back.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, mode)  # the umask may have dropped bits the config asked for
    finally:
        os.close(fd)


def writer(engine: Engine) -> Engine:
    """The same engine, but on SQLite its transactions take the write lock when they begin.

    A poll reads what the archive knows and then writes; taking the lock first (BEGIN
    IMMEDIATE) means two processes polling at once queue behind each other instead of both
    deciding an article is new and one failing on the unique key. On PostgreSQL the writes
    themselves resolve that race (INSERT ... ON CONFLICT in monitor.store.archive), so
    writers run side by side.
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


def _alembic_config() -> AlembicConfig:
    """Where the migrations are. No URL: ``upgrade`` hands Alembic its open connection, so a
    password never goes into the config, whose ``%`` interpolation a percent-encoded password
    (p%40ss) broke; the path is escaped for the same reason."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", os.fspath(Path(str(files("monitor.migrations")))).replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            _require_utf8(conn)
        return MigrationContext.configure(conn).get_current_revision()


def _require_utf8(conn) -> None:  # type: ignore[no-untyped-def]
    # Titles are English and Japanese: another server encoding would refuse or mangle them.
    encoding = conn.execute(text("SHOW server_encoding")).scalar()
    if encoding != "UTF8":
        raise StoreError(f"the PostgreSQL database {conn.engine.url.database!r} is encoded {encoding}, "
                         f"not UTF8: create it with CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0")


def _known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(_alembic_config()).get_revision(revision) is not None
    except AlembicCommandError:
        return False


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Apply every pending migration; returns (revision before, revision after)."""
    cfg = _alembic_config()
    try:
        before = current_revision(engine)
        _refuse_unknown(engine, before)
        # One migrating process at a time (several workers may start on a new database): the
        # write lock on SQLite, an advisory lock held to the end of the transaction on
        # PostgreSQL, whose DDL is transactional. Alembic reads the revision after the lock,
        # so the one that waited finds the schema at head and does nothing.
        with writer(engine).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                # ... and no poll of an older worker writes across the change (enter_poll_write)
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POLL_FENCE})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return before, current_revision(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"database upgrade failed: {exc.__class__.__name__}: {exc.orig if hasattr(exc, 'orig') else exc}") from exc


def ensure_current(engine: Engine) -> None:
    """Bring a new or older database to head; cheap when it is already there."""
    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the database {engine.url.render_as_string()}: "
                         f"{getattr(exc, 'orig', None) or exc}{_read_only_hint(engine)}") from exc
    if current != head_revision():
        upgrade(engine)


def ensure_writable(engine: Engine) -> None:
    """StoreError unless this process can write the database (SQLite: a file made read-only or
    immutable opens and reads fine, and only the first write fails). ``monitor run`` checks at
    its start rather than fail every poll for as long as it runs. Rewrites the header's
    user_version, which monitor does not use, with its own value: nothing changes."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with writer(engine).begin() as conn:
            version = conn.exec_driver_sql("PRAGMA user_version").scalar()
            conn.exec_driver_sql(f"PRAGMA user_version = {int(version or 0)}")
    except SQLAlchemyError as exc:
        raise StoreError(f"the database {engine.url.render_as_string()} cannot be written "
                         f"({getattr(exc, 'orig', None) or exc}): monitor run stores what it polls; "
                         "make the file writable (or search it with monitor search, which only reads)") from exc


_ROOM_TO_OPEN = 1 << 20  # less free space than this beside a database that will not open: the disk is full


def _read_only_hint(engine: Engine) -> str:
    """Why SQLite could not open a file that is there: its folder cannot be written, or its disk
    is full. SQLite keeps its -wal and -shm files beside the database and needs them even to
    read (a backup on read-only media, a read-only mount, a restart on a full disk), and says
    only "unable to open database file" or "disk I/O error"."""
    name = engine.url.database if engine.dialect.name == "sqlite" else None
    if not name or name.startswith("file:") or not Path(name).exists():
        return ""
    folder = Path(name).resolve().parent
    try:
        stat = os.statvfs(folder)
        read_only = bool(stat.f_flag & os.ST_RDONLY) or not os.access(folder, os.W_OK)
    except OSError:
        return ""
    if not read_only:
        free = stat.f_bavail * stat.f_frsize
        if free >= _ROOM_TO_OPEN:
            return ""
        return (f" (the disk holding {folder} is full: {free:,} bytes free, and SQLite writes its -wal and "
                "-shm files beside the database even to read it: free some space; nothing is lost)")
    return (f" (its folder {folder} is read-only, and SQLite writes its -wal and -shm files beside "
            "the database even to read it: copy the database to a writable folder)")


def _refuse_unknown(engine: Engine, current: str | None) -> None:
    """A revision this monitor has no migration for: the database was made by a newer one."""
    if current is not None and not _known_revision(current):
        raise StoreError(f"the database {engine.url.render_as_string()} has schema revision {current!r}, which this "
                         f"monitor does not know (it knows up to {head_revision()}): it was made or upgraded by a "
                         "newer monitor; run that version, or a backup made before the upgrade")
