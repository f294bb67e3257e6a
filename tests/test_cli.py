"""The command line contract: names, flags, outputs and exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import cli as cli_module
from monitor.cli import cli
from tests.support.httpserver import TestServer
from tests.support.workspace import Workspace
from tests.test_poll import rss

FEED = rss(
    ("石破首相、OpenAIのアルトマン氏と会談 AI連携強化", "https://example.jp/a?utm_medium=x", "政府のAI政策について"),
    ("SoftBank and OpenAI launch SB OAI Japan", "https://example.com/jv", "Crystal intelligence for enterprises"),
    ("Stargate: The new series from Amazon MGM", "https://tv.example/sg", "SG-1 fans rejoice"),
    ("Dubai launches <b>smart city</b> plan", "https://example.ae/dubai", "said officials in Mumbai"),
)
TOPICS = [
    {"name": "jv", "title": "SoftBank–OpenAI JV", "query": '"SB OAI Japan" OR "Crystal intelligence"'},
    {"name": "policy", "title": "AI policy", "query": "(石破 OR 政府) (AI OR OpenAI)"},
    {"name": "stargate", "title": "Stargate", "query": 'Stargate -"SG-1"'},
]


def invoke(ws: Workspace, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--config", str(ws.config_path), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def polled(http_server: TestServer, workspace: Workspace) -> Workspace:
    http_server.route("/feed", FEED)
    workspace.write(sources=[{"name": "test-feed", "url": http_server.url("/feed")}], topics=TOPICS)
    code, out, err = invoke(workspace, "poll")
    assert code == 0, err
    assert out.strip() == "test-feed: 4 new, 2 matched"
    return workspace


def test_a_feed_moved_for_good_says_to_update_its_url(http_server: TestServer, workspace: Workspace) -> None:
    http_server.redirect("/old-feed", "/feed", status=301)
    http_server.route("/feed", FEED, etag='"v1"')
    workspace.write(sources=[{"name": "moved", "url": http_server.url("/old-feed")}])
    code, out, _ = invoke(workspace, "poll")
    assert code == 0
    warning = f"warning: moved permanently to {http_server.url('/feed')}: update the source's url"
    assert out.strip() == f"moved: 4 new, 0 matched; {warning}"
    # and still at the next poll, answered 304 by the new address (a review find: it was told once)
    assert invoke(workspace, "poll")[1].strip() == f"moved: not modified; {warning}"
    assert "moved permanently to" in invoke(workspace, "sources")[1]


def test_poll_exit_codes(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", FEED)
    workspace.write(sources=[{"name": "ok", "url": http_server.url("/feed")},
                             {"name": "gone", "url": http_server.url("/missing")}])
    code, out, _ = invoke(workspace, "poll")
    assert code == 0
    assert "ok: 4 new, 0 matched" in out and "gone: error: HTTP 404" in out
    code, out, _ = invoke(workspace, "poll", "--source", "gone")
    assert code == 1 and out.startswith("gone: error:")
    code, _, err = invoke(workspace, "poll", "--source", "nope")
    assert code == 2 and "no source named 'nope'" in err


def test_config_error_is_one_line_exit_2(workspace: Workspace) -> None:
    workspace.config_path.write_text("sources:\n  - name: x\n    url: https://x.org/feed\n    evry: 5m\n")
    for command in (["poll"], ["search"], ["sources"], ["digest"], ["db", "upgrade"]):
        code, _, err = invoke(workspace, *command)
        assert code == 2
        assert err.strip() == f"monitor: error: {workspace.config_path}: sources[0].evry: unknown key"


def test_bad_topic_query_names_the_topic(workspace: Workspace) -> None:
    workspace.write(sources=[], topics=[{"name": "broken", "query": "(Stargate OR"}])
    code, _, err = invoke(workspace, "search")
    assert code == 2 and "topic 'broken'" in err and "Traceback" not in err


def test_search_json_fields_and_filters(polled: Workspace) -> None:
    code, out, _ = invoke(polled, "search", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 4
    for row in rows:
        assert {"title", "url", "source", "published", "first_seen", "topics"} <= row.keys()
        assert row["source"] == "test-feed"
        assert row["first_seen"].endswith("+09:00")
    by_title = {r["title"]: r for r in rows}
    assert by_title["石破首相、OpenAIのアルトマン氏と会談 AI連携強化"]["url"] == "https://example.jp/a"
    assert by_title["SoftBank and OpenAI launch SB OAI Japan"]["topics"] == ["jv"]
    _, out, _ = invoke(polled, "search", "AI", "--format", "json")
    assert [r["title"] for r in json.loads(out)] == ["石破首相、OpenAIのアルトマン氏と会談 AI連携強化"]
    _, out, _ = invoke(polled, "search", "石破", "--format", "json")
    assert len(json.loads(out)) == 1
    _, out, _ = invoke(polled, "search", "--topic", "stargate", "--format", "json")
    assert json.loads(out) == []
    # repeated: any of them (the last one alone was taken, silently)
    _, out, _ = invoke(polled, "search", "--topic", "jv", "--topic", "stargate", "--format", "json")
    assert [r["title"] for r in json.loads(out)] == ["SoftBank and OpenAI launch SB OAI Japan"]
    _, out, _ = invoke(polled, "search", "--topic", "stargate", "--topic", "jv", "--format", "json")
    assert [r["title"] for r in json.loads(out)] == ["SoftBank and OpenAI launch SB OAI Japan"]
    code, _, err = invoke(polled, "search", "--topic", "jv", "--topic", "nosuch")
    assert code == 2 and "nosuch" in err
    _, out, _ = invoke(polled, "search", "title:smart", "--source", "test-feed", "--format", "json")
    assert len(json.loads(out)) == 1
    _, out, _ = invoke(polled, "search", "--since", "2000-01-01", "--until", "2000-01-02", "--format", "json")
    assert json.loads(out) == []
    _, out, _ = invoke(polled, "search", "--limit", "2", "--format", "json")
    assert len(json.loads(out)) == 2


def test_search_with_an_empty_query_lists_the_newest(polled: Workspace) -> None:
    """A script passing "$QUERY" unset: the same as no query, not an error."""
    code, out, err = invoke(polled, "search", "", "--format", "json")
    assert code == 0, err
    assert out == invoke(polled, "search", "--format", "json")[1]


def test_search_csv_has_the_same_columns(polled: Workspace) -> None:
    code, out, _ = invoke(polled, "search", "SoftBank", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1
    assert {"title", "url", "source", "published", "first_seen", "topics"} <= set(rows[0])
    assert rows[0]["topics"] == "jv"
    # the entry's id, as in JSON: a row joins back to the database and to --stories' story_id
    [entry] = json.loads(invoke(polled, "search", "SoftBank", "--format", "json")[1])
    assert rows[0]["id"] == str(entry["id"]) and isinstance(entry["id"], int) and entry["publisher"] is None
    assert rows[0]["publisher"] == ""


def test_search_csv_cells_are_not_spreadsheet_formulas(http_server: TestServer, workspace: Workspace) -> None:
    """A feed title =HYPERLINK(...) would run when the analyst opens the CSV in a spreadsheet."""
    http_server.route("/feed", rss(('=HYPERLINK("http://evil.example/","click") Stargate', "https://example.com/e"),
                                   ("-2% for SoftBank shares", "https://example.com/f"),
                                   ("Stargate plain", "https://example.com/g"),
                                   ("Stargate \u202eftp.evil\u202c see", "https://example.com/h")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    invoke(workspace, "poll")
    code, out, _ = invoke(workspace, "search", "--format", "csv")
    assert code == 0
    titles = sorted(row["title"] for row in csv.DictReader(io.StringIO(out)))
    assert titles == ["'-2% for SoftBank shares", "'=HYPERLINK(\"http://evil.example/\",\"click\") Stargate",
                      "Stargate ftp.evil see", "Stargate plain"]  # a bidi override would show it reversed
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in csv.reader(io.StringIO(out)) for cell in row)
    # quoted, every cell: a spreadsheet that splits on ";" (de, fr) keeps "a;=cmd()" one cell
    assert all(line.startswith('"') for line in out.splitlines())


def test_search_table_is_safe_for_terminals(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("Evil \x1b[31mred\x1b]0;title\x07 title", "https://example.com/e")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    invoke(workspace, "poll")
    code, out, _ = invoke(workspace, "search")
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "Evil" in out


def test_search_says_when_the_limit_cut_the_list(http_server: TestServer, workspace: Workspace) -> None:
    """A helper's find: `search --limit 2` printed two entries and no hint that more matched."""
    http_server.route("/feed", rss(*((f"Stargate site {n} opens", f"https://example.com/{n}") for n in range(3))))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    invoke(workspace, "poll")
    code, out, err = invoke(workspace, "search", "--limit", "2", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 2
    assert "showing the newest 2 entries; more match" in err
    code, out, err = invoke(workspace, "search", "--limit", "3", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 3 and "more match" not in err


def test_search_stories_says_when_more_entries_match_than_it_read(http_server: TestServer, workspace: Workspace,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A review's find: --stories reads at most max(2,000, 20 x --limit) entries, and said
    nothing when more matched than that, though their stories were left out."""
    monkeypatch.setattr(cli_module, "STORY_ROWS", 3)
    http_server.route("/feed", rss(*(("Stargate site opens in Abilene", f"https://example.com/{n}")
                                     for n in range(22))))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    invoke(workspace, "poll")
    code, out, err = invoke(workspace, "search", "--stories", "--limit", "1", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 1
    assert "stories worked out over the newest 20 matching entries; more match" in err


def test_search_table_keeps_long_titles_whole_when_piped(http_server: TestServer, workspace: Workspace) -> None:
    """Not a terminal (a pipe, a file, this runner): a title is not cut, so grep finds its last word."""
    title = "SoftBank and OpenAI formally launch their Tokyo joint venture to sell Crystal intelligence"
    http_server.route("/feed", rss((title, "https://example.com/long")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    invoke(workspace, "poll")
    code, out, _ = invoke(workspace, "search")
    assert code == 0 and out.splitlines()[0].endswith(title)


@pytest.mark.parametrize("query", ['"unterminated', "(a OR b", "a OR", "title:"],
                         ids=["quote", "paren", "dangling-or", "empty-field"])
def test_bad_search_query_says_where(polled: Workspace, query: str) -> None:
    code, out, err = invoke(polled, "search", query)
    assert code == 2 and out == ""
    assert err.startswith("monitor: error: search query:") and "position" in err


def test_digest_to_stdout_file_and_default_path(polled: Workspace) -> None:
    code, out, _ = invoke(polled, "digest", "--out", "-")
    assert code == 0
    assert out.startswith("# Digest ")
    assert "## SoftBank–OpenAI JV" in out and "## AI policy" in out and "## Stargate" not in out
    assert "[SoftBank and OpenAI launch SB OAI Japan](https://example.com/jv) — test-feed" in out
    code, out, _ = invoke(polled, "digest")
    path = Path(out.strip())
    assert code == 0 and path.parent == polled.root / "digests" and path.read_text().startswith("# Digest")
    target = polled.root / "elsewhere.md"
    code, out, _ = invoke(polled, "digest", "--date", "2020-01-01", "--out", str(target))
    assert code == 0 and out.strip() == str(target)
    assert "0 stories" in target.read_text().splitlines()[0]
    code, _, err = invoke(polled, "digest", "--date", "yesterday")
    assert code == 2 and "YYYY-MM-DD" in err


def test_search_by_a_source_removed_from_the_config(http_server: TestServer, workspace: Workspace) -> None:
    """Its entries stay in the archive and still say which source carried them: --source finds them."""
    http_server.route("/feed", rss(("Stargate Abilene", "https://example.com/a")))
    workspace.write(sources=[{"name": "spacedaily", "url": http_server.url("/feed")}])
    invoke(workspace, "poll")
    workspace.write(sources=[{"name": "other", "url": http_server.url("/feed")}])
    code, out, err = invoke(workspace, "search", "--source", "spacedaily", "--format", "json")
    assert code == 0, err
    assert [r["title"] for r in json.loads(out)] == ["Stargate Abilene"]
    code, _, err = invoke(workspace, "search", "--source", "nosuch")
    assert code == 2 and "no source named 'nosuch'" in err


def test_sources_lists_status_and_counts(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", FEED, etag='"v1"')
    workspace.write(sources=[{"name": "good", "url": http_server.url("/feed")},
                             {"name": "bad", "url": http_server.url("/missing")},
                             {"name": "fresh", "url": http_server.url("/never")}])
    invoke(workspace, "poll", "--source", "good", "--source", "bad")
    code, out, _ = invoke(workspace, "sources")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "ok" in lines["good"] and "4 entries" in lines["good"]
    assert "error" in lines["bad"] and "HTTP 404" in lines["bad"]
    assert "never" in lines["fresh"] and "0 entries" in lines["fresh"]
    invoke(workspace, "poll", "--source", "good")  # answered 304 now: the longest status
    _, out, _ = invoke(workspace, "sources")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert "not_modified" in lines["good"]
    assert len({line.index(" entries") for line in lines.values()}) == 1  # the columns stay aligned


def test_db_upgrade_reports_revision(workspace: Workspace) -> None:
    from monitor.store.db import head_revision

    head = head_revision()
    workspace.write(sources=[])
    code, out, _ = invoke(workspace, "db", "upgrade")
    assert code == 0 and f"database at revision {head} (was empty)" in out
    code, out, _ = invoke(workspace, "db", "upgrade")
    assert out.strip() == f"database at revision {head}"


def test_python_dash_m_and_env_config_with_no_traceback(workspace: Workspace, tmp_path: Path) -> None:
    workspace.write(sources=[], topics=[{"name": "t", "query": "a"}])
    env = {**os.environ, "MONITOR_CONFIG": str(workspace.config_path)}
    done = subprocess.run([sys.executable, "-m", "monitor", "search", "--format", "json"], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []
    done = subprocess.run([sys.executable, "-m", "monitor", "search", "(a"], env=env, capture_output=True,
                          text=True, cwd=tmp_path, timeout=60, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def run_main(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=60, check=False)


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["digest", "--date", "yesterday"], "Invalid value for --date: 'yesterday' is not a date"),
     (["search", "--since", "0001-01-01"], "out of range"),
     (["search", "--since", "20260810"], "'20260810' is not a date; write YYYY-MM-DD"),
     (["search", "--until", "2026-W33"], "'2026-W33' is not a date; write YYYY-MM-DD"),
     (["search", "--limit", "0"], "Invalid value for '--limit'"),
     (["search", "--bogus"], "no such option: --bogus"),
     (["search", "--since", "2025-02-04", "--until", "2025-02-03"], "--since 2025-02-04 is after --until 2025-02-03"),
     (["frobnicate"], "No such command 'frobnicate'"),
     (["poll", "-v"], "No such option '-v' after the command: global options go before it (monitor -v ... COMMAND)")],
    ids=["bad-date", "date-out-of-range", "basic-date", "week-date", "bad-limit", "unknown-option", "since-after-until",
         "unknown-command", "global-option-after-command"],
)
def test_usage_errors_are_one_line_exit_2(workspace: Workspace, args: list[str], expected: str) -> None:
    workspace.write(sources=[])
    done = run_main("--config", str(workspace.config_path), *args, cwd=workspace.root)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("monitor: error: "), done.stderr
    assert expected in done.stderr


def test_search_query_may_start_with_a_minus(polled: Workspace) -> None:
    code, out, err = invoke(polled, "search", '-"SG-1"', "Stargate", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == []
    code, out, _ = invoke(polled, "search", "-Dubai", "-Stargate", "-SoftBank", "--format", "json")
    assert [r["title"] for r in json.loads(out)] == ["石破首相、OpenAIのアルトマン氏と会談 AI連携強化"]


def test_json_published_has_the_zone_offset_and_url_null_without_http_link(
        http_server: TestServer, workspace: Workspace) -> None:
    body = rss(("Dated", "https://example.com/d"), extra="<pubDate>Mon, 03 Feb 2025 01:30:00 GMT</pubDate>")
    body = body.replace("</channel>", "<item><title>Only an id</title><guid isPermaLink='false'>x-1</guid>"
                                      "<link>ftp://example.com/file</link></item></channel>")
    http_server.route("/feed", body)
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    invoke(workspace, "poll")
    _, out, _ = invoke(workspace, "search", "--format", "json")
    rows = {r["title"]: r for r in json.loads(out)}
    assert rows["Dated"]["published"] == "2025-02-03T10:30:00+09:00"
    assert rows["Only an id"]["url"] is None and rows["Only an id"]["published"] is None


def test_since_and_until_are_local_days_on_publication_time(http_server: TestServer, workspace: Workspace) -> None:
    items = [("Late on the 2nd JST", "https://example.com/1", "", "Sun, 02 Feb 2025 14:59:00 GMT"),
             ("Early on the 3rd JST", "https://example.com/2", "", "Sun, 02 Feb 2025 15:00:00 GMT"),
             ("Late on the 3rd JST", "https://example.com/3", "", "Mon, 03 Feb 2025 14:59:59 GMT"),
             ("On the 4th JST", "https://example.com/4", "", "Mon, 03 Feb 2025 15:00:00 GMT")]
    rendered = "".join(f"<item><title>{t}</title><link>{u}</link><pubDate>{d}</pubDate></item>" for t, u, _, d in items)
    http_server.route("/feed", f"<rss version='2.0'><channel><title>x</title>{rendered}</channel></rss>")
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    invoke(workspace, "poll")
    _, out, _ = invoke(workspace, "search", "--since", "2025-02-03", "--until", "2025-02-03", "--format", "json")
    assert [r["title"] for r in json.loads(out)] == ["Late on the 3rd JST", "Early on the 3rd JST"]


def test_matched_terms_in_json_digest_and_highlighted_table(polled: Workspace) -> None:
    _, out, _ = invoke(polled, "search", "--topic", "jv", "--format", "json")
    [row] = json.loads(out)
    assert row["matched_terms"] == ["SB OAI Japan", "Crystal intelligence"]
    assert row["why"] == {"jv": [{"term": "SB OAI Japan", "in": ["title"]},
                                 {"term": "Crystal intelligence", "in": ["summary"]}]}
    _, digest, _ = invoke(polled, "digest", "--out", "-")
    assert "(matched: SB OAI Japan, Crystal intelligence)" in digest
    result = CliRunner().invoke(cli, ["--config", str(polled.config_path), "search", "--topic", "jv"], color=True)
    assert "\x1b[1mSB OAI Japan\x1b[0m" in result.stdout and "matched: SB OAI Japan" in result.stdout
    plain = CliRunner().invoke(cli, ["--config", str(polled.config_path), "search", "--topic", "jv"])
    assert "\x1b" not in plain.stdout
    # the search's own terms are bold too, not only the topics' (an exploratory test's find)
    asked = CliRunner().invoke(cli, ["--config", str(polled.config_path), "search", "smart OR 石破 -nothing"],
                               color=True)
    assert "\x1b[1msmart\x1b[0m city" in asked.stdout and "\x1b[1m石破\x1b[0m首相" in asked.stdout
    assert "nothing" not in asked.stdout


def test_library_loggers_follow_the_level_both_ways() -> None:
    """The CLI quiets APScheduler and httpx at its default level first; `run` with log_level:
    debug must bring them back (they once stayed at WARNING)."""
    import logging

    from monitor.cli import _quiet_libraries

    root = logging.getLogger()
    saved = root.level
    try:
        root.setLevel(logging.INFO)
        _quiet_libraries()
        assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.WARNING
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        scheduler_log = logging.getLogger("apscheduler.scheduler")
        # a skip twice a second while the database is locked is left out; a missed run is not
        skip = logging.makeLogRecord({"msg": 'Execution of job "%s" skipped: maximum number of running '
                                             "instances reached (%d)", "levelno": logging.WARNING})
        missed = logging.makeLogRecord({"msg": 'Run time of job "%s" was missed by %s', "levelno": logging.WARNING})
        assert not scheduler_log.filter(skip) and scheduler_log.filter(missed)
        root.setLevel(logging.DEBUG)
        _quiet_libraries()
        assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.DEBUG
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.DEBUG
    finally:
        root.setLevel(saved)
        _quiet_libraries()


def test_log_lines_carry_their_utc_offset(http_server: TestServer, workspace: Workspace) -> None:
    """A service's log read months later, across a DST change, must say when each line was."""
    http_server.route("/feed", rss(("Stargate news", "https://example.com/a")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}])
    env = {**os.environ, "TZ": "Asia/Tokyo"}
    done = subprocess.run([sys.executable, "-m", "monitor", "--config", str(workspace.config_path), "-v", "poll"],
                          env=env, capture_output=True, text=True, cwd=workspace.root, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stderr.splitlines() if " event=poll " in line]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+09:00 INFO monitor\.poll event=poll source=s ", line), line


def test_search_with_several_sources_finds_what_any_of_them_carried(http_server: TestServer,
                                                                    workspace: Workspace) -> None:
    for name in ("a", "b", "c"):
        http_server.route(f"/{name}", rss((f"Stargate news from {name}", f"https://example.com/{name}")))
    workspace.write(sources=[{"name": n, "url": http_server.url(f"/{n}")} for n in ("a", "b", "c")])
    invoke(workspace, "poll")
    code, out, _ = invoke(workspace, "search", "--source", "a", "--source", "c", "--format", "json")
    assert code == 0 and sorted(r["source"] for r in json.loads(out)) == ["a", "c"]


def test_a_poll_from_cron_leaves_a_server_that_asked_to_wait(http_server: TestServer, workspace: Workspace) -> None:
    """503 with Retry-After: 3600, then `monitor poll` every few minutes: it must not ask again
    within the hour, unless the user names the source."""
    http_server.route("/ok", rss(("Stargate news", "https://example.com/a")))
    http_server.route("/busy", "busy", status=503, content_type="text/plain", headers={"Retry-After": "3600"})
    workspace.write(sources=[{"name": "ok", "url": http_server.url("/ok")},
                             {"name": "busy", "url": http_server.url("/busy")}])
    code, out, _ = invoke(workspace, "poll")
    assert code == 0 and "busy: error: HTTP 503" in out
    code, out, _ = invoke(workspace, "poll")
    busy = [line for line in out.splitlines() if line.startswith("busy:")]
    assert code == 0 and busy[0].startswith("busy: skipped, waiting: its last poll failed; next try at ")
    assert "ok: " in out and len([r for r in http_server.requests if r.path == "/busy"]) == 1
    code, out, _ = invoke(workspace, "poll", "--source", "busy")  # named: asked now
    assert code == 1 and "busy: error: HTTP 503" in out
    assert len([r for r in http_server.requests if r.path == "/busy"]) == 2


def test_a_cron_poll_that_only_waits_on_a_retry_after_exits_0(http_server: TestServer, workspace: Workspace) -> None:
    """One source, 503 with Retry-After: 3600, `monitor poll` from cron every five minutes: the
    failure exits 1 once, not at every run of the hour the server asked for (cron mails each)."""
    http_server.route("/busy", "busy", status=503, content_type="text/plain", headers={"Retry-After": "3600"})
    workspace.write(sources=[{"name": "busy", "url": http_server.url("/busy")}])
    code, out, _ = invoke(workspace, "poll")
    assert code == 1 and "busy: error: HTTP 503" in out
    code, out, _ = invoke(workspace, "poll")
    assert code == 0 and out.startswith("busy: skipped, waiting: ")
    workspace.write(sources=[{"name": "busy", "url": http_server.url("/busy")},
                             {"name": "gone", "url": http_server.url("/nothing-here")}])
    code, out, _ = invoke(workspace, "poll")  # waiting, and a failure now: that one is news
    assert code == 1 and "gone: error: HTTP 404" in out


def test_run_without_sources_says_so(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty config (or every source commented out) started a service that polled nothing, silently."""
    from monitor.service import scheduler

    async def serve(app, stop=None):  # type: ignore[no-untyped-def]
        return None

    monkeypatch.setattr(scheduler, "serve", serve)
    workspace.write(sources=[], topics=[])
    code, _, err = invoke(workspace, "run")
    assert code == 0 and "no sources configured; only digests and mail will run" in err
    workspace.write(sources=[{"name": "s", "url": "https://example.com/feed"}], topics=[])
    code, _, err = invoke(workspace, "run")
    assert code == 0 and "no sources configured" not in err


@pytest.mark.parametrize("args", [[], ["db"], ["--config", "c.yaml"]], ids=["monitor", "monitor-db", "only-options"])
def test_a_group_without_a_command_shows_its_help_as_it_is(workspace: Workspace, args: list[str]) -> None:
    """It was squashed into one 'monitor: error: Usage: ... Commands: db ...' line (with options
    only, one line 'Missing command.')."""
    done = run_main(*args, cwd=workspace.root)
    group = "db " if args == ["db"] else ""
    assert done.returncode == 2 and "monitor: error" not in done.stderr
    assert done.stderr.startswith(f"Usage: monitor {group}[OPTIONS] COMMAND")
    assert "\nCommands:\n" in done.stderr


def test_ctrl_c_while_the_program_loads_exits_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C during the imports printed a traceback (they take a second or two)."""
    import builtins

    from monitor import entry

    real = builtins.__import__

    def interrupted(name: str, *args: object, **kwargs: object) -> object:
        if name == "monitor.cli":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 130


def test_search_before_any_poll_says_the_archive_is_empty(workspace: Workspace) -> None:
    """It said the archive was not matched against the topics as configured: noise, and no hint."""
    workspace.write(sources=[], topics=[{"name": "t", "query": "Stargate"}])
    code, out, err = invoke(workspace, "search", "Stargate")
    assert code == 0 and out.strip() == "no entries found"
    assert err == "note: the archive is empty; `monitor poll` (or `monitor run`) fills it\n"


def test_an_empty_digest_says_what_it_left_out_as_old_news(http_server: TestServer, workspace: Workspace) -> None:
    """A first poll brings a feed's back catalogue: `topics` counts matches, the digest shows none."""
    old = "<pubDate>Mon, 03 Feb 2025 10:00:00 +0900</pubDate>"
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1"), ("Stargate two", "https://example.com/2"),
                                   extra=old))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate"}])
    invoke(workspace, "poll")
    code, out, err = invoke(workspace, "digest", "--out", "-")
    assert code == 0 and "Nothing new matched" in out
    assert re.search(r"note: 2 matching entries first seen in this window were published before "
                     r"\d{4}-\d\d-\d\d \d\d:\d\d \(digest.lookback\) and left out as old news", err), err
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "other", "query": "Rapidus"}])  # the matches of a topic no longer shown
    code, out, err = invoke(workspace, "digest", "--out", "-")
    assert code == 0 and "left out" not in err, err
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate"}])
    http_server.route("/feed", rss(("Stargate three", "https://example.com/3")))  # undated: kept
    invoke(workspace, "poll")
    code, out, err = invoke(workspace, "digest", "--out", "-")
    assert code == 0 and "Stargate three" in out and "left out" not in err


def test_a_source_given_a_new_address_is_not_left_waiting(http_server: TestServer, workspace: Workspace) -> None:
    """The old address asked to wait an hour; the user fixed the url: the next poll fetches it."""
    http_server.route("/busy", "busy", status=503, content_type="text/plain", headers={"Retry-After": "3600"})
    http_server.route("/fixed", rss(("Stargate news", "https://example.com/a")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/busy")}])
    invoke(workspace, "poll")
    workspace.write(sources=[{"name": "s", "url": http_server.url("/fixed")}])
    code, out, _ = invoke(workspace, "poll")
    assert code == 0 and out.strip() == "s: 1 new, 0 matched"
