"""A throwaway PostgreSQL server for the tests: one cluster per session, one database per test.

The cluster is made by the PostgreSQL binaries on this machine (``initdb``, ``pg_ctl``: from
``$MONITOR_PG_BINDIR``, ``pg_config --bindir``, ``/usr/lib/postgresql/<version>/bin`` or the
PATH) in a temporary folder, listens on 127.0.0.1 on a free port (and on a socket in that
folder, never in /var/run), trusts local connections, and is stopped and deleted at the end
of the session. Durability is off (fsync, synchronous_commit): nothing here must survive.

initdb refuses to run as root; as root the cluster belongs to the ``postgres`` system user
that the Debian/Ubuntu package creates, and the server runs as that user (``runuser``).

Missing binaries FAIL the tests that need them, with the remedy (run .ci/run, or install
postgresql): CI installs them, so a silent skip would hide a broken set-up.

    def test_x(pg_url):          # a fresh, empty database: "postgresql+psycopg://...:PORT/t_3"
    def test_y(postgres):        # the Cluster: .url(name), .create_database(), .psql(sql)
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REMEDY = ("run .ci/run (it installs PostgreSQL), or install it: apt-get install -y postgresql "
          "(or set MONITOR_PG_BINDIR to the folder holding initdb and pg_ctl)")


def find_bindir(candidates: list[str] | None = None) -> Path | None:
    """The folder holding initdb and pg_ctl, newest version first; None when there is none."""
    if candidates is None:
        candidates = []
        if os.environ.get("MONITOR_PG_BINDIR"):
            candidates.append(os.environ["MONITOR_PG_BINDIR"])
        pg_config = shutil.which("pg_config")
        if pg_config:
            try:
                candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                                                 check=True).stdout.strip())
            except (OSError, subprocess.CalledProcessError):
                pass
        versions = glob.glob("/usr/lib/postgresql/*/bin")
        candidates += sorted(versions, key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                             else 0, reverse=True)
        if shutil.which("initdb"):
            candidates.append(str(Path(shutil.which("initdb") or "").parent))
    for folder in candidates:
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


def require_bindir(candidates: list[str] | None = None) -> Path:
    bindir = find_bindir(candidates)
    if bindir is None:
        pytest.fail(f"PostgreSQL binaries (initdb, pg_ctl) not found: {REMEDY}", pytrace=False)
    return bindir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A running PostgreSQL server on 127.0.0.1:port, superuser ``postgres``, no password."""

    bindir: Path
    root: Path
    port: int = 0
    run_as: str | None = None  # the system user the server runs as (when we are root)
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*(["runuser", "-u", self.run_as, "--"] if self.run_as else []), *args]
        return subprocess.run(command, check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              cwd=self.root)

    def init(self) -> None:
        done = self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                         "-E", "UTF8", "--locale=C", "--no-sync")
        if done.returncode:
            pytest.fail(f"initdb failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}",
                        pytrace=False)

    def start(self) -> None:
        for _ in range(5):  # a free port can be taken between our probe and the server's bind
            self.port = _free_port()
            options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
            done = self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                             "-o", options, "-w", "-t", "60", "start")
            if done.returncode == 0:
                return
        log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        pytest.fail(f"PostgreSQL did not start: {done.stderr.strip()}\n{log}", pytrace=False)

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        """Run one statement outside a transaction (CREATE DATABASE...) and return its rows."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database,
                             autocommit=True) as conn:
            cursor = conn.execute(sql.encode())
            return cursor.fetchall() if cursor.description else []

    def create_database(self) -> str:
        """A new empty database (UTF8, like every database the monitor can use); returns its name."""
        name = f"t_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING UTF8')
        return name


def _check_dev_null() -> None:
    # initdb runs its helpers with output to /dev/null, as the server user.
    mode = os.stat("/dev/null").st_mode
    if not stat.S_ISCHR(mode):
        pytest.fail("/dev/null is not the null device (a plain file replaced it), so initdb cannot run: "
                    "restore it with: rm /dev/null && mknod -m 666 /dev/null c 1 3", pytrace=False)


def start_cluster() -> Cluster:
    """initdb + start a cluster in a new temporary folder; pytest.fail with the remedy when impossible."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: pip install -e '.[test]' (it includes psycopg[binary])",
                    pytrace=False)
    bindir = require_bindir()
    _check_dev_null()
    root = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
    run_as = None
    if os.geteuid() == 0:
        try:
            import pwd

            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            pytest.fail("running as root, and initdb refuses root: there is no 'postgres' system user to run "
                        f"the test server as ({REMEDY}; the package creates the user)", pytrace=False)
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = "postgres"
    cluster = Cluster(bindir=bindir, root=root, run_as=run_as)
    try:
        cluster.init()
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A PostgreSQL server for the session (started on first use, stopped and deleted at the end)."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture
def pg_url(postgres: Cluster) -> str:
    """The SQLAlchemy URL of a new, empty database on the session's server."""
    return postgres.url(postgres.create_database())
