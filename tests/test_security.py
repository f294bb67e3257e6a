"""What the threat model (README "Threat model") promises, tested end to end with real parts.

- The SMTP password comes from the environment only and never shows in logs, the database,
  error messages or CLI output, whether the server takes it or refuses it.
- Search queries never reach SQL as SQL: metacharacters are a clean QuerySyntaxError or a search,
  and the database is unchanged; the code builds SQL text only on a reviewed allow-list.
- Feed text with Markdown, HTML and terminal escapes comes out inert in the Markdown digest, the
  mail (text and HTML) and the terminal tables, after a real poll from the local HTTP server.
- Files the monitor creates are 0600 unless `file_mode` says otherwise; existing files keep theirs.
"""

from __future__ import annotations

import ast
import base64
import logging
import os
import re
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli
from tests.support.httpserver import TestServer
from tests.support.smtpserver import SmtpServer
from tests.support.workspace import Workspace
from tests.test_poll import rss

ROOT = Path(__file__).resolve().parents[1]
CANARY = "Canary-Pw-7f3e9b!"  # a password that appears nowhere else
PASSWORD_ENV = "MONITOR_TEST_CANARY_PASSWORD"


def invoke(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(ws.config_path), *args])


def day_being_gathered_in_tokyo() -> str:
    """The date whose digest window is open now (08:00 to 08:00 JST), holding what a poll just
    stored: today's from midnight to 08:00 JST (15:00 to 23:00 UTC), else tomorrow's."""
    from monitor.core.digest import day_being_gathered

    return day_being_gathered(datetime.now(UTC), time(8, 0), ZoneInfo("Asia/Tokyo")).isoformat()


def seen_a_day_ago(path: Path) -> None:
    """Move what a poll just stored 24 hours back: into the window of the last complete digest
    (the one `digest --send` sends by default; a window still open cannot be sent)."""
    with sqlite3.connect(path) as conn:
        for table in ("entries", "entry_sources"):
            conn.execute(f"UPDATE {table} SET first_seen = strftime('%Y-%m-%d %H:%M:%f000', first_seen, '-1 day')")
        conn.execute("UPDATE matches SET matched_at = strftime('%Y-%m-%d %H:%M:%f000', matched_at, '-1 day')")


def text_in_database(path: Path) -> str:
    """Every text value of every table, one per line."""
    out = []
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")]
        for table in tables:
            for row in conn.execute(f'select * from "{table}"'):  # names from sqlite_master
                out += [v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                        for v in row if isinstance(v, str | bytes)]
    return "\n".join(out)


def secret_forms(user: str, password: str) -> list[str]:
    """The password as typed and as AUTH PLAIN / LOGIN carry it (base64)."""
    return [password, *(base64.b64encode(s.encode()).decode() for s in (password, f"\0{user}\0{password}"))]


# --- secrets -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("server_password", [CANARY, "another-password"], ids=["accepted", "refused"])
def test_the_smtp_password_never_leaves_the_environment(
        http_server: TestServer, workspace: Workspace, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, server_password: str) -> None:
    monkeypatch.setenv(PASSWORD_ENV, CANARY)
    http_server.route("/feed", rss(("Stargate Abilene expands", "https://example.com/1")))
    with SmtpServer(auth=("monitor", server_password)) as smtp:
        workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                        topics=[{"name": "stargate", "query": "Stargate"}],
                        digest={"email": {"to": ["analyst@example.org"], "from": "monitor@example.org",
                                          "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                                                   "username": "monitor", "password_env": PASSWORD_ENV}}})
        caplog.set_level(logging.DEBUG)
        results = [invoke(workspace, "-vv", "poll")]
        seen_a_day_ago(workspace.db_path)
        results += [invoke(workspace, "-vv", "digest", "--send"), invoke(workspace, "sources")]
    sent = results[1]
    if server_password == CANARY:
        assert sent.exit_code == 0 and len(smtp.received) == 1, sent.output
    else:
        assert sent.exit_code == 2 and "refused the login of 'monitor'" in sent.stderr, sent.output
        assert smtp.logins and not smtp.received  # the server did see a (wrong) login attempt
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail."))  # not aiosmtpd's
    everything = [ours, text_in_database(workspace.db_path), *(r.output for r in results),
                  *(r.stderr for r in results)]
    for form in secret_forms("monitor", CANARY):
        for place in everything:
            assert form not in place


@pytest.mark.parametrize(("smtp", "expected"), [
    ({"host": "mail.example.org", "password": CANARY},
     ("digest.email.smtp.password: unknown key; a password never goes in this file: export it in an environment "
      "variable and name that variable in password_env")),
    ({"host": "mail.example.org", "password_env": CANARY},
     "digest.email.smtp.password_env: is not an environment variable name"),
], ids=["password-key", "password-as-variable-name"])
def test_a_password_written_in_the_config_is_refused_without_echoing_it(
        workspace: Workspace, smtp: dict[str, str], expected: str) -> None:
    workspace.write(sources=[], digest={"email": {"to": "a@example.org", "from": "m@example.org", "smtp": smtp}})
    for command in (["sources"], ["-vv", "poll"], ["digest", "--send"]):
        result = invoke(workspace, *command)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"monitor: error: {workspace.config_path}: {expected}"), result.stderr
        assert CANARY not in result.output and CANARY not in result.stderr


# --- parameterised queries --------------------------------------------------------------------------

HOSTILE_QUERIES = [
    "'; DROP TABLE entries; --", "x'); DELETE FROM entries; --", '"; DROP TABLE entries; --"', '"quotes"',
    'say "hello', "NEAR(stargate openai)", "stargate NEAR openai", "NEAR/2", "*", "open*", "^stargate",
    "title:", "title:stargate", "rowid:1", "entry_fts:x", "{title summary}:x", "- stargate", "AND OR NOT",
    ")(", "stargate)", "\\", "%", "_", "\x00", "a\x00'b", "summary:\"x\" OR text:*", "+ stargate",
    "stargate OR 1=1", "1; ATTACH DATABASE '/tmp/x.db' AS x; --", "(", "NOT", "-",
]


def test_search_queries_with_sql_and_fts_metacharacters_are_data(http_server: TestServer,
                                                                 workspace: Workspace) -> None:
    http_server.route("/feed", rss(("Stargate OpenAI 'quoted' \"NEAR\" title:x", "https://example.com/1"),
                                   ("Other; DROP TABLE entries; --", "https://example.com/2")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    assert invoke(workspace, "poll").exit_code == 0
    with sqlite3.connect(workspace.db_path) as conn:
        before = list(conn.iterdump())
    for query in HOSTILE_QUERIES:
        for fmt in ("json", "table"):
            result = invoke(workspace, "search", "--format", fmt, "--", query) if query.startswith("-") \
                else invoke(workspace, "search", "--format", fmt, query)
            if result.exit_code == 2:  # a clean syntax error, where in the query it is
                assert re.match(r"monitor: error: search query: .+ at position \d+", result.stderr), (query, result)
            else:
                assert result.exit_code == 0, (query, result.output, result.exception)
    with sqlite3.connect(workspace.db_path) as conn:
        assert list(conn.iterdump()) == before
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"


# Calls that send SQL text: sqlalchemy text(), exec_driver_sql(), and DB-API execute*(). Their SQL must be
# a literal; where it is built, the place is listed here with why that is safe. A new entry needs a reason.
SQL_CALLS = {"text", "exec_driver_sql", "execute", "executemany", "executescript"}
BUILT_SQL = {
    ("store/db.py", 'f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"'): "a module constant (int)",
    ("store/archive.py", "f\"DELETE FROM entry_fts WHERE rowid IN ({','.join('?' * len(ids))})\""):
        "only ? placeholders; the ids are bound",
    ("store/pg_search.py", ("f\"INSERT INTO {TABLE} (entry_id, {', '.join(COLUMNS)}) VALUES (:id, {', '.join("
                            "(f'CAST(:{c} AS tsvector)' for c in COLUMNS))})\"")): "module constants; values bound",
    ("store/pg_search.py", ("f\"INSERT INTO {SPILL_TABLE} (entry_id, {', '.join(COLUMNS)}) VALUES (:id, "
                            "{', '.join((':' + c for c in COLUMNS))})\"")): "module constants; values bound",
    ("store/pg_search.py", 'f"DELETE FROM {TABLE} WHERE entry_id IN :ids"'): "a module constant; ids bound",
    ("store/pg_search.py", 'f"DELETE FROM {SPILL_TABLE} WHERE entry_id IN :ids"'): "a module constant; ids bound",
    ("store/reading.py", "clause"): "fts/pg_search.where_clause: every query value is a bind parameter "
                                    "(tests/test_fts_agreement.py::test_where_clause_binds_every_value)",
    ("service/topics.py", "clause"): "the same where_clause",
    ("store/schedule.py", 'f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}"'): "a module constant (int)",
    ("store/schedule.py", 'f"PRAGMA busy_timeout={int(wait * 1000)}"'): "int() of a float from our code",
    ("store/schedule.py", "f\"SET LOCAL lock_timeout = '{max(1, int(wait * 1000))}ms'\""):
        "int() of a float from our code (SET takes no bind parameters)",
    ("store/db.py", 'f"PRAGMA user_version = {int(version or 0)}"'):
        "int() of the value SQLite itself returned (PRAGMA takes no bind parameters)",
}


def built_sql_calls() -> set[tuple[str, str]]:
    """(file under monitor/, source of the SQL argument) for every SQL call whose SQL is not a literal."""
    found = set()
    for path in sorted((ROOT / "monitor").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "text" and isinstance(func, ast.Attribute):
                continue  # selectolax's node.text(), not SQL
            sql = node.args[0]
            literal = isinstance(sql, ast.Constant) and isinstance(sql.value, str)
            formatted = isinstance(sql, ast.JoinedStr | ast.BinOp) or (
                isinstance(sql, ast.Call) and isinstance(sql.func, ast.Attribute) and sql.func.attr == "format")
            if name in SQL_CALLS and not literal and (formatted or name == "text"):
                found.add((path.relative_to(ROOT / "monitor").as_posix(), _unquoted(ast.unparse(sql))))
    return found


def _unquoted(source: str) -> str:
    """Source without quotes and spaces: how ast.unparse quotes a string is not what is reviewed."""
    return re.sub(r"[\s'\"]", "", source)


def test_sql_text_is_literal_or_on_the_reviewed_list() -> None:
    found = built_sql_calls()
    listed = {(path, _unquoted(source)) for path, source in BUILT_SQL}
    assert found - listed == set(), "SQL built from strings: bind the values, or review and list it"
    assert listed - found == set(), "listed but gone: remove it from BUILT_SQL"


# --- escaping, end to end ----------------------------------------------------------------------------

EVIL = ("Stargate \x1b[31mred\x1b[0m \x1b]8;;https://evil.example/\x07click\x1b]8;;\x07 \x1b]0;owned\x07 bell\x07 "
        "over\rwrite <script>alert(1)</script> <img src=x onerror=alert(1)> **bold** [link](https://evil.example/l)")
TERMINAL_CONTROLS = ("\x1b", "\x07", "\r", "\x9b")  # ESC, BEL, CR (overwrites the line), CSI


def feed_with_hostile_text() -> str:
    item = (f"<item><title>{EVIL.replace('<', '&lt;')}</title><link>https://example.com/evil</link>"
            f"<description>{EVIL.replace('<', '&lt;')}</description>"
            f"<source url='https://example.com/'>Pub \x1b[2J&lt;b&gt;lisher&lt;/b&gt;</source></item>")
    return f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>{item}</channel></rss>"


@pytest.fixture
def hostile(http_server: TestServer, workspace: Workspace) -> Iterator[tuple[Workspace, SmtpServer]]:
    """A poll of a feed whose item is all escapes, and of a page whose error message carries some."""
    http_server.route("/feed", feed_with_hostile_text())
    http_server.route("/page", "<html><head><link rel='alternate' type='application/rss+xml' "
                               "href='/x\x1b]0;owned\x07<script>y</script>'></head><body>no feed</body></html>",
                      content_type="text/html")
    with SmtpServer() as smtp:
        workspace.write(sources=[{"name": "evil", "url": http_server.url("/feed")},
                                 {"name": "broken", "url": http_server.url("/page")}],
                        topics=[{"name": "stargate", "title": "Stargate <b>\x1b[31m", "query": "Stargate"}],
                        digest={"email": {"to": ["analyst@example.org"], "from": "monitor@example.org",
                                          "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"}}})
        poll = invoke(workspace, "poll")
        assert poll.exit_code == 0 and "evil: 1 new, 1 matched" in poll.stdout, poll.output
        assert "broken: error: not a feed" in poll.stdout
        yield workspace, smtp


def assert_inert_for_terminals(text: str) -> None:
    text = text.replace("\r\n", "\n")  # a mail's own line ends
    for control in TERMINAL_CONTROLS:
        assert control not in text, (control, text)


def test_the_markdown_digest_of_hostile_feed_text_is_inert(hostile: tuple[Workspace, SmtpServer]) -> None:
    import cmarkgfm  # in the test extra

    ws, _ = hostile
    result = invoke(ws, "digest", "--date", day_being_gathered_in_tokyo(), "--out", "-")
    assert result.exit_code == 0 and "Stargate" in result.stdout and "## Sources with errors" in result.stdout
    assert_inert_for_terminals(result.stdout)  # `cat digest.md` must not drive the terminal
    html = cmarkgfm.github_flavored_markdown_to_html(result.stdout)
    assert "<script" not in html and "<img" not in html and "<strong" not in html and "<b>" not in html
    assert re.findall(r'<a href="([^"]*)"', html) == ["https://example.com/evil"]


def test_the_digest_mail_of_hostile_feed_text_is_inert(hostile: tuple[Workspace, SmtpServer]) -> None:
    ws, smtp = hostile
    seen_a_day_ago(ws.db_path)
    sent = invoke(ws, "digest", "--send")
    assert sent.exit_code == 0, sent.output
    message = smtp.received[0].message()
    plain_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    assert plain_part is not None and html_part is not None
    plain, html = plain_part.get_content(), html_part.get_content()
    assert "Stargate" in plain and "Stargate" in html
    for text in (plain, html, str(message["Subject"])):
        assert_inert_for_terminals(text)
    assert "<script" not in html and "<img" not in html and "<b>" not in html and "<strong>" not in html
    assert set(re.findall(r'href="([^"]*)"', html)) == {"https://example.com/evil"}


def test_terminal_tables_of_hostile_feed_text_are_inert(hostile: tuple[Workspace, SmtpServer]) -> None:
    ws, _ = hostile
    search = invoke(ws, "search")
    sources = invoke(ws, "sources")
    assert search.exit_code == sources.exit_code == 0
    assert "Stargate" in search.stdout and "not a feed" in sources.stdout
    for text in (search.stdout, sources.stdout, search.stderr, sources.stderr):
        assert_inert_for_terminals(text)


# --- file modes -------------------------------------------------------------------------------------

@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sidecars(db: Path) -> list[Path]:
    return [p for p in (Path(f"{db}{s}") for s in ("-wal", "-shm", "-journal")) if p.exists()]


@pytest.mark.parametrize(("file_mode", "mask", "expected"), [(None, 0o022, 0o600), ("0640", 0o077, 0o640),
                                                            ("660", 0o022, 0o660), ("0640", 0o000, 0o640)],
                         ids=["default-under-umask-022", "0640-under-umask-077", "660-without-leading-zero",
                              "0640-under-umask-000"])
def test_new_database_and_digest_files_get_the_configured_mode(
        http_server: TestServer, workspace: Workspace, file_mode: str | None, mask: int, expected: int) -> None:
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1")))
    extra = {"file_mode": file_mode} if file_mode else {}
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "t", "query": "Stargate"}], **extra)
    with umask(mask):
        assert invoke(workspace, "poll").exit_code == 0
        app = workspace.app()  # an open connection keeps -wal and -shm in place to be looked at
        try:
            with app.engine.connect():
                files = [workspace.db_path, *sidecars(workspace.db_path)]
                assert len(files) >= 3, files
                assert {f.name: mode(f) for f in files} == {f.name: expected for f in files}
        finally:
            app.close()
        made = invoke(workspace, "digest")
        out = invoke(workspace, "digest", "--out", str(workspace.root / "elsewhere.md"))
        nested = invoke(workspace, "digest", "--out", str(workspace.root / "new" / "deeper" / "d.md"))
    assert made.exit_code == out.exit_code == nested.exit_code == 0
    assert mode(Path(made.stdout.strip())) == expected
    assert mode(workspace.root / "elsewhere.md") == expected
    # folders it creates: the mode plus search where it reads, not the umask's (an ops test's find:
    # under umask 000, digests/ was rwxrwxrwx, so any local user could replace a digest)
    folder = expected | (expected & 0o444) >> 2
    assert mode(Path(made.stdout.strip()).parent) == folder
    assert mode(workspace.root / "new") == mode(workspace.root / "new" / "deeper") == folder


def test_existing_database_and_digest_files_keep_their_mode(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    sqlite3.connect(workspace.db_path).close()  # the user's own (empty) database file
    workspace.db_path.chmod(0o644)
    digest = workspace.root / "digest.md"
    digest.write_text("old")
    digest.chmod(0o664)
    assert invoke(workspace, "poll").exit_code == 0
    assert invoke(workspace, "digest", "--out", str(digest)).exit_code == 0
    assert mode(workspace.db_path) == 0o644 and mode(digest) == 0o664
    assert digest.read_text().startswith("# Digest ")


@pytest.mark.parametrize(("value", "message"), [
    (0o640, "416 is not a file mode; write it as an octal string in quotes"),
    ("rw-r-----", "is not a file mode"),
    ("0700", "nobody to execute"),
    ("0440", "the owner must be able to read and write"),
], ids=["yaml-integer", "symbolic", "executable", "owner-read-only"])
def test_file_mode_must_be_a_sensible_quoted_octal_string(workspace: Workspace, value: object, message: str) -> None:
    workspace.write(sources=[], file_mode=value)
    result = invoke(workspace, "sources")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"monitor: error: {workspace.config_path}: file_mode: ") and message in result.stderr
