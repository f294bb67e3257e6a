"""Digest mail through the outbox, exactly once; immediate alerts; maintenance; secrets."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.core.digest import window_for
from monitor.errors import MonitorError
from monitor.service import maintenance
from tests.support.httpserver import TestServer
from tests.support.smtpserver import SmtpServer
from tests.support.workspace import Clock, Workspace
from tests.test_poll import RSS, poll, rss

SECRET = "s3cret-Passw0rd"


@pytest.fixture
def smtp() -> SmtpServer:  # type: ignore[misc]
    with SmtpServer(auth=("monitor", SECRET)) as server:
        yield server


def mail_config(smtp: SmtpServer, **extra: object) -> dict[str, object]:
    return {"at": "08:00", "dir": "digests", "lookback": "3d",
            "email": {"to": ["analyst@example.org"], "from": "monitor@example.org",
                      "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                               "username": "monitor", "password_env": "MONITOR_TEST_SMTP_PASSWORD"}},
            **extra}


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", SECRET)


def setup(ws: Workspace, server: TestServer, smtp: SmtpServer, **digest: object) -> None:
    server.route("/feed", rss(("Stargate Abilene expands", "https://example.com/1", "OpenAI data center")))
    ws.write(sources=[{"name": "s", "url": server.url("/feed")}],
             topics=[{"name": "stargate", "title": "Stargate", "query": "Stargate OpenAI"}],
             digest=mail_config(smtp, **digest))


def test_digest_mail_is_queued_once_and_survives_a_server_down_for_a_day(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer, caplog: pytest.LogCaptureFixture) -> None:
    setup(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))
    poll(workspace, clock)
    smtp.stop()
    clock.now = datetime(2025, 2, 3, 23, 0, 5, tzinfo=UTC)  # 08:00:05 JST, 4 Feb
    app = workspace.app(clock)
    try:
        caplog.set_level(logging.DEBUG)
        [made] = app.digest_service().run_due()
        assert made.email == "queued"
        mailer = app.mailer()
        [first] = mailer.deliver_due()
        assert not first.sent and first.retry_at == clock.now + timedelta(seconds=30)
        clock.advance(seconds=31)
        [second] = mailer.deliver_due()
        assert second.retry_at == clock.now + timedelta(seconds=60)
        assert mailer.deliver_due() == []  # not due yet
        for _ in range(100):  # a day of retries, doubling up to every 15 minutes
            clock.advance(minutes=15)
            mailer.deliver_due()
        assert app.outbox().rows()[0].attempts < 110
        smtp.start()
        clock.advance(minutes=15)
        [sent] = mailer.deliver_due()
        assert sent.sent
        clock.advance(hours=1)
        assert mailer.deliver_due() == []
        assert all(m.day.isoformat() != "2025-02-04" for m in app.digest_service().run_due())
    finally:
        app.close()
    assert len(smtp.received) == 1
    message = smtp.received[0].message()
    assert message["Subject"] == "monitor digest 2025-02-04: 1 Stargate"
    assert message["List-Id"] == "monitor digest <digest.example.org>" and message["Message-ID"] and message["Date"]
    assert {p.get_content_type() for p in message.iter_parts()} == {"text/plain", "text/html"}
    assert "Stargate Abilene expands" in message.get_body(("plain",)).get_content()
    assert SECRET not in caplog.text


def test_digest_send_once_unless_forced(http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    setup(workspace, http_server, smtp, send_empty=True)  # the last complete day: nothing polled in it
    runner = CliRunner()
    args = ["--config", str(workspace.config_path)]
    first = runner.invoke(cli, [*args, "digest", "--send"])
    assert first.exit_code == 0, first.stderr
    assert "sent the digest of " in first.stdout and " to analyst@example.org" in first.stdout
    second = runner.invoke(cli, [*args, "digest", "--send"])
    assert "already sent" in second.stdout and len(smtp.received) == 1
    forced = runner.invoke(cli, [*args, "digest", "--send", "--force"])
    assert forced.exit_code == 0 and len(smtp.received) == 2
    again = runner.invoke(cli, [*args, "digest", "--send", "--force"])
    assert again.exit_code == 0 and len(smtp.received) == 3
    # each resend asked for is a message of its own: a receiver that drops a Message-ID it has
    # seen would hide it (an exploratory test saw three resends of identical content share one)
    ids = [r.message()["Message-ID"] for r in smtp.received]
    assert len(set(ids)) == 3


def test_digest_send_says_when_it_is_retried_in_local_time(http_server: TestServer, workspace: Workspace,
                                                          smtp: SmtpServer) -> None:
    setup(workspace, http_server, smtp, send_empty=True)
    smtp.fail("451 4.3.0 try again later")
    before = datetime.now(UTC)
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "digest", "--send"])
    after = datetime.now(UTC)
    assert result.exit_code != 0
    tokyo = ZoneInfo("Asia/Tokyo")
    times = {f"{(t + timedelta(seconds=30)).astimezone(tokyo):%H:%M}" for t in (before, after)}
    assert any(f"monitor run retries it from {t}" in result.stderr for t in times), (times, result.stderr)


def test_a_recipient_the_server_refuses_is_said_and_recorded(http_server: TestServer, workspace: Workspace,
                                                             smtp: SmtpServer) -> None:
    """Accepted for the others: sent (a retry would send it twice), but not silently."""
    setup(workspace, http_server, smtp, send_empty=True)
    digest = mail_config(smtp, send_empty=True)
    digest["email"]["to"] = ["analyst@example.org", "chief@example.org"]  # type: ignore[index]
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}], digest=digest)
    smtp.refused["chief@example.org"] = "550 5.1.1 no such user"
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "digest", "--send"])
    assert result.exit_code == 0, result.output
    assert "warning: refused by the server: chief@example.org (550 5.1.1 no such user)" in result.stderr
    assert [r.rcpt_tos for r in smtp.received] == [("analyst@example.org",)]
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select state, last_error from outbox").fetchone() == (
            "sent", "refused by the server: chief@example.org (550 5.1.1 no such user)")


def test_digest_send_refuses_out(workspace: Workspace, http_server: TestServer, smtp: SmtpServer) -> None:
    setup(workspace, http_server, smtp)
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "digest", "--send", "--out", "-"])
    assert result.exit_code == 2 and "--out does not go with --send" in result.stderr
    assert smtp.received == []


@pytest.mark.parametrize("ahead", [0, 1, 7])  # the day being gathered (today before 08:00), then later ones
def test_a_digest_is_not_sent_before_its_window_closes(http_server: TestServer, workspace: Workspace,
                                                       smtp: SmtpServer, ahead: int) -> None:
    """Sending the digest of a day not over would record that day as done: what arrived later that
    day would never be mailed, and the daily digests would stop until that date."""
    setup(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 20, 0, tzinfo=UTC))  # 05:00 on the 4th in Tokyo, before 08:00
    app = workspace.app(clock)
    try:
        poll(workspace, clock)
        service = app.digest_service()
        early = date(2025, 2, 4) + timedelta(days=ahead)
        with pytest.raises(MonitorError, match=f"the digest of {early} covers entries until"):
            service.make(early)
        assert app.digest_log().get(early) is None and app.outbox().rows() == []
        clock.advance(hours=4)  # 09:00 in Tokyo: the 4th's window has closed
        assert [m.day for m in service.run_due()] == [date(2025, 2, 4)]
        assert [d.sent for d in app.mailer().deliver_due()] == [True]
    finally:
        app.close()
    assert "Stargate Abilene expands" in smtp.received[0].message().get_body(("plain",)).get_content()


def test_cli_refuses_to_send_a_digest_early(http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    setup(workspace, http_server, smtp)
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "digest", "--send", "--date", tomorrow])
    assert result.exit_code == 2 and f"the digest of {tomorrow} covers entries until" in result.stderr
    assert len(smtp.received) == 0


def test_empty_day_sends_nothing_unless_send_empty(http_server: TestServer, workspace: Workspace,
                                                   smtp: SmtpServer) -> None:
    setup(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 23, 0, 5, tzinfo=UTC))
    app = workspace.app(clock)
    try:
        [made] = app.digest_service().run_due()
        assert made.email == "skipped" and made.entries == 0
        assert app.mailer().deliver_due() == []
    finally:
        app.close()
    setup(workspace, http_server, smtp, send_empty=True)
    clock.advance(days=1)
    app = workspace.app(clock)
    try:
        [made] = app.digest_service().run_due()
        assert made.email == "queued"
        assert [d.sent for d in app.mailer().deliver_due()] == [True]
    finally:
        app.close()
    assert smtp.received[0].message()["Subject"].endswith("nothing new")


def test_a_day_with_nothing_new_but_a_failing_source_is_mailed(http_server: TestServer, workspace: Workspace,
                                                               smtp: SmtpServer) -> None:
    """send_empty off: every source broken must not look like a quiet day, the day it broke;
    it is not mailed again each day it goes on."""
    http_server.route("/feed", "oops", status=500, content_type="text/plain")
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "title": "Stargate", "query": "Stargate OpenAI"}],
                    digest=mail_config(smtp))
    clock = Clock()
    poll(workspace, clock)
    clock.now = datetime(2025, 2, 3, 23, 0, 5, tzinfo=UTC)
    app = workspace.app(clock)
    try:
        [made] = app.digest_service().run_due()
        assert (made.email, made.entries) == ("queued", 0)
        assert [d.sent for d in app.mailer().deliver_due()] == [True]
        clock.advance(days=1)  # still failing, nothing new: yesterday's mail said so already
        poll(workspace, clock)
        [made] = app.digest_service().run_due()
        assert made.email == "skipped"
    finally:
        app.close()
    assert "HTTP 500" in smtp.received[0].message().get_body(("plain",)).get_content()


def test_missing_password_variable_fails_at_start(http_server: TestServer, workspace: Workspace,
                                                  smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    setup(workspace, http_server, smtp)
    monkeypatch.delenv("MONITOR_TEST_SMTP_PASSWORD")
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "run"])
    assert result.exit_code == 2
    assert "MONITOR_TEST_SMTP_PASSWORD is not set" in result.stderr and str(workspace.config_path) in result.stderr


def test_immediate_alerts_batch_within_the_interval(http_server: TestServer, workspace: Workspace,
                                                    smtp: SmtpServer) -> None:
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1", "OpenAI")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "title": "Stargate", "query": "Stargate OpenAI",
                             "alert": "immediate", "alert_to": ["desk@example.org"], "alert_min_interval": "15m"},
                            {"name": "quiet", "query": "Stargate"}],
                    digest=mail_config(smtp))
    clock = Clock()
    app = workspace.app(clock)

    def poll_and_flush() -> None:
        import asyncio

        asyncio.run(app.poll(list(app.config.sources)))  # queues the alerting topic's new matches
        app.alerts().flush()
        app.mailer().deliver_due()

    try:
        poll_and_flush()
        assert len(smtp.received) == 1
        clock.advance(minutes=5)
        http_server.route("/feed", rss(("Stargate two", "https://example.com/2", "OpenAI"),
                                       ("Stargate three", "https://example.com/3", "OpenAI")))
        poll_and_flush()
        assert len(smtp.received) == 1  # within 15 minutes: held back
        clock.advance(minutes=11)
        app.alerts().flush()
        app.mailer().deliver_due()
    finally:
        app.close()
    assert len(smtp.received) == 2
    first, second = (r.message() for r in smtp.received)
    assert first["To"] == "desk@example.org" and "Stargate" in first["Subject"]
    assert first["List-Id"] == "monitor alerts <alerts.example.org>"  # not the digest's: filters tell them apart
    body = second.get_body(("plain",)).get_content()
    assert "Stargate two" in body and "Stargate three" in body and "Stargate one" not in body


def test_maintenance_forgets_old_unmatched_entries_only(http_server: TestServer, workspace: Workspace) -> None:
    http_server.route("/feed", rss(("Stargate OpenAI news", "https://example.com/m"), ("Weather", "https://example.com/w")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate"}], retention="30d")
    clock = Clock()
    poll(workspace, clock)
    app = workspace.app(clock)
    try:
        assert maintenance.run(app.engine, retention=app.config.retention, now=clock.now + timedelta(days=29)).deleted == 0
        report = maintenance.run(app.engine, retention=app.config.retention, now=clock.now + timedelta(days=31))
    finally:
        app.close()
    assert report.deleted == 1
    with sqlite3.connect(workspace.db_path) as conn:
        assert [r[0] for r in conn.execute("select title from entries")] == ["Stargate OpenAI news"]
        assert conn.execute("select count(*) from entry_fts").fetchone()[0] == 1
        assert conn.execute("select count(*) from entry_sources").fetchone()[0] == 1


def test_db_maintain_runs_the_maintenance_from_the_command_line(http_server: TestServer,
                                                                workspace: Workspace) -> None:
    """Polls from cron and no `monitor run`: retention still applies, by `monitor db maintain`."""
    http_server.route("/feed", rss(("Stargate OpenAI news", "https://example.com/m"), ("Weather", "https://example.com/w")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate"}], retention="30d")
    poll(workspace, Clock())  # February 2025: far past 30 days ago
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "db", "maintain"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("deleted 1 unmatched entry older than the retention; forgot 0 sent mails; "
                                     "gave up 0 article pages; optimised the search index")
    with sqlite3.connect(workspace.db_path) as conn:
        assert [r[0] for r in conn.execute("select title from entries")] == ["Stargate OpenAI news"]


def test_db_maintain_keeps_what_a_topic_added_since_the_last_poll_matches(http_server: TestServer,
                                                                          workspace: Workspace) -> None:
    http_server.route("/feed", rss(("Stargate OpenAI news", "https://example.com/m"), ("Weather", "https://example.com/w")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate"}], retention="30d")
    poll(workspace, Clock())
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate"}, {"name": "weather", "query": "Weather"}],
                    retention="30d")
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "db", "maintain"])
    assert result.exit_code == 0 and result.stdout.startswith("deleted 0 unmatched entries"), result.output
    with sqlite3.connect(workspace.db_path) as conn:
        assert sorted(r[0] for r in conn.execute("select title from entries")) == ["Stargate OpenAI news", "Weather"]


def test_alerts_are_queued_in_the_transaction_that_stores_the_entries(http_server: TestServer,
                                                                     workspace: Workspace) -> None:
    """No window between storing an entry and queueing its alert: both carry the poll's time (one
    transaction), and only the alerting topic's matches are queued."""
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1", "OpenAI"),
                                   ("Plain news", "https://example.com/2", "nothing")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate OpenAI", "alert": "immediate",
                             "alert_to": ["desk@example.org"]},
                            {"name": "quiet", "query": "Stargate OR Plain"}],
                    digest={"at": "08:00", "dir": "digests", "lookback": "3d",  # nothing is sent: no server
                            "email": {"to": ["analyst@example.org"], "from": "monitor@example.org",
                                      "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"}}})
    app = workspace.app(Clock())
    try:
        import asyncio

        asyncio.run(app.poll(list(app.config.sources)))
    finally:
        app.close()
    with sqlite3.connect(workspace.db_path) as conn:
        queued = conn.execute("select topic, e.title, queued_at = e.first_seen from alert_queue "
                              "join entries e on e.id = entry_id").fetchall()
    assert queued == [("stargate", "Stargate one", 1)]


def test_old_news_from_a_new_source_is_no_alert(http_server: TestServer, workspace: Workspace) -> None:
    """A source added today brings its months-old items as new entries: those published more
    than digest.lookback ago are stored and matched but not alerted (nor in the digest)."""
    item = "<item><title>{0}</title><link>https://example.com/{1}</link><pubDate>{2}</pubDate></item>"
    http_server.route("/feed", RSS.format(items=item.format("Stargate OpenAI old", 1, "Mon, 02 Sep 2024 10:00:00 +0900")
                                          + item.format("Stargate OpenAI today", 2, "Mon, 03 Feb 2025 09:00:00 +0900")
                                          + item.format("Stargate OpenAI undated", 3, "")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate OpenAI", "alert": "immediate"}],
                    digest={"at": "08:00", "dir": "digests", "lookback": "3d",  # nothing is sent: no server
                            "email": {"to": ["analyst@example.org"], "from": "monitor@example.org",
                                      "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"}}})
    poll(workspace, Clock())  # 2025-02-03 10:00 in Tokyo
    with sqlite3.connect(workspace.db_path) as conn:
        queued = [r[0] for r in conn.execute("select e.title from alert_queue join entries e on e.id = entry_id "
                                             "order by e.id")]
        assert conn.execute("select count(*) from matches").fetchone() == (3,)
    assert queued == ["Stargate OpenAI today", "Stargate OpenAI undated"]


def test_an_entry_old_enough_for_no_alert_is_old_enough_for_no_digest(http_server: TestServer,
                                                                       workspace: Workspace) -> None:
    """An exploratory test's find: alerts left out what was published more than lookback before
    now, the digest what was published more than lookback before its window opened, so an item
    in between was in the digest and never alerted. Both use the digest's floor now."""
    item = "<item><title>{0}</title><link>https://example.com/{1}</link><pubDate>{2}</pubDate></item>"
    http_server.route("/feed", RSS.format(items=item.format("Stargate OpenAI in between", 1, "Fri, 31 Jan 2025 09:00:00 +0900")
                                          + item.format("Stargate OpenAI too old", 2, "Fri, 31 Jan 2025 07:00:00 +0900")))
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}],
                    topics=[{"name": "stargate", "query": "Stargate OpenAI", "alert": "immediate"}],
                    digest={"at": "08:00", "dir": "digests", "lookback": "3d",  # nothing is sent: no server
                            "email": {"to": ["analyst@example.org"], "from": "monitor@example.org",
                                      "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"}}})
    clock = Clock()  # 2025-02-03 10:00 in Tokyo: the window opened at 08:00, its floor is 31 Jan 08:00
    poll(workspace, clock)
    with sqlite3.connect(workspace.db_path) as conn:
        queued = [r[0] for r in conn.execute("select e.title from alert_queue join entries e on e.id = entry_id")]
    assert queued == ["Stargate OpenAI in between"]
    app = workspace.app(clock)
    try:
        assert [e.title for s in app.digest(date(2025, 2, 4)).sections for e in s.items] == queued
    finally:
        app.close()


def alerting(ws: Workspace, server: TestServer, smtp: SmtpServer) -> None:
    ws.write(sources=[{"name": "s", "url": server.url("/feed")}],
             topics=[{"name": "stargate", "title": "Stargate", "query": "Stargate OpenAI", "alert": "immediate",
                      "alert_min_interval": "15m"}],
             digest=mail_config(smtp))


def test_a_one_shot_poll_mails_its_alerts(http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    """Polls from cron, no `monitor run`: the poll sends the alerts it queued, keeping the interval."""
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1", "OpenAI")))
    alerting(workspace, http_server, smtp)
    run = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "poll"])
    assert run.exit_code == 0 and run.stdout == "s: 1 new, 1 matched\n", run.output
    body = smtp.received[0].message().get_body(("plain",)).get_content()
    assert len(smtp.received) == 1 and "Stargate one" in body
    assert "(matched: Stargate, OpenAI)" in body, body  # why, as in the digest
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1", "OpenAI"),
                                   ("Stargate two", "https://example.com/2", "OpenAI")))
    again = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "poll"])
    assert again.exit_code == 0 and len(smtp.received) == 1  # within alert_min_interval: held back
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from alert_queue").fetchone()[0] == 1


def test_a_one_shot_poll_says_when_an_alert_mail_fails(http_server: TestServer, workspace: Workspace,
                                                       smtp: SmtpServer) -> None:
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1", "OpenAI")))
    alerting(workspace, http_server, smtp)
    smtp.stop()
    run = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "poll"])
    assert run.exit_code == 0 and run.stdout == "s: 1 new, 1 matched\n"
    assert "alert mail alert:stargate:" in run.stderr and "not sent" in run.stderr
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select kind, state from outbox").fetchall() == [("alert", "pending")]


def test_a_one_shot_poll_polls_even_when_mail_cannot_be_sent(http_server: TestServer, workspace: Workspace,
                                                             smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cron often lacks the SMTP password variable: the poll still stores, says why no alert went
    and exits 0; the alert waits in the queue for a run that has the password."""
    http_server.route("/feed", rss(("Stargate one", "https://example.com/1", "OpenAI")))
    alerting(workspace, http_server, smtp)
    monkeypatch.delenv("MONITOR_TEST_SMTP_PASSWORD")
    run = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "poll"])
    assert run.exit_code == 0 and run.stdout == "s: 1 new, 1 matched\n"
    assert "alerts not sent:" in run.stderr and "MONITOR_TEST_SMTP_PASSWORD is not set" in run.stderr
    assert smtp.received == []
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", SECRET)
    later = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "poll"])
    assert later.exit_code == 0 and len(smtp.received) == 1


def test_the_due_digest_follows_the_window_through_a_dst_gap(workspace: Workspace) -> None:
    """New York, at 02:30 on the day clocks jump from 02:00 to 03:00: the window ends at 03:30 EDT.
    At 03:10 that day's digest is not due yet (its window is open); from 03:30 it is."""
    workspace.write(sources=[], timezone="America/New_York",
                    digest={"at": "02:30", "dir": "digests", "lookback": "3d"})
    clock = Clock(datetime(2026, 3, 8, 7, 10, tzinfo=UTC))  # 03:10 EDT
    app = workspace.app(clock)
    try:
        service = app.digest_service()
        assert service.due_day() == date(2026, 3, 7)
        assert [m.day for m in service.run_due()] == [date(2026, 3, 7)]
        clock.advance(minutes=21)  # 03:31 EDT
        assert service.due_day() == date(2026, 3, 8)
        assert [m.day for m in service.run_due()] == [date(2026, 3, 8)]
    finally:
        app.close()


@pytest.mark.parametrize("change", ["rename", "alert-off"])
def test_alerts_queued_for_a_topic_that_no_longer_alerts_are_dropped(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer, change: str) -> None:
    """Renamed, or set to alert: none: its waiting alerts would stay for ever, or go out stale the day
    it alerts again."""
    http_server.route("/feed", rss(("Stargate Abilene expands", "https://example.com/1", "OpenAI data center")))
    topic = {"name": "stargate", "query": "Stargate OpenAI", "alert": "immediate", "alert_min_interval": "1h"}
    sources = [{"name": "s", "url": http_server.url("/feed")}]
    workspace.write(sources=sources, topics=[topic], digest=mail_config(smtp))
    clock = Clock()
    poll(workspace, clock)
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from alert_queue").fetchone()[0] == 1
    changed = {**topic, "name": "stargate-ai"} if change == "rename" else {**topic, "alert": "none"}
    workspace.write(sources=sources, topics=[changed], digest=mail_config(smtp))
    clock.advance(minutes=1)
    poll(workspace, clock)
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from alert_queue").fetchone()[0] == 0


def test_the_catch_up_makes_every_missed_day_of_the_week(http_server: TestServer, workspace: Workspace,
                                                         smtp: SmtpServer) -> None:
    """Down from the 5th to the 8th, then the 8th sent by hand: the 5th-7th are still made (run_due
    once went on only after the newest digest made); and a digest whose maker died mid-way is made
    once its claim expires, by whichever worker looks next."""
    setup(workspace, http_server, smtp, send_empty=True)
    clock = Clock(datetime(2025, 2, 4, 0, tzinfo=UTC))  # 09:00 on the 4th in Tokyo
    app = workspace.app(clock)
    try:
        service = app.digest_service()
        assert [m.day for m in service.run_due()] == [date(2025, 2, 4)]
        clock.now = datetime(2025, 2, 8, 0, tzinfo=UTC)
        assert service.make(date(2025, 2, 8)) is not None  # `digest --send` by hand
        assert [m.day for m in service.run_due()] == [date(2025, 2, 5), date(2025, 2, 6), date(2025, 2, 7)]
        # the next day's maker dies after its claim
        clock.now = datetime(2025, 2, 9, 0, tzinfo=UTC)
        window = window_for(
            date(2025, 2, 9), app.config.digest.at, app.config.tz)
        assert app.digest_log().claim(date(2025, 2, 9), window.start, window.end, clock.now)
        assert service.run_due() == []  # claimed by someone: not yet
        clock.advance(minutes=6)
        assert [m.day for m in service.run_due()] == [date(2025, 2, 9)]
    finally:
        app.close()


@pytest.mark.parametrize(("new_at", "expected_start"), [("16:00", "15:08"), ("09:00", "15:08")])
def test_a_changed_digest_time_leaves_no_gap_and_no_overlap(workspace: Workspace, new_at: str,
                                                             expected_start: str) -> None:
    """digest.at moved from 15:08 to 16:00 left 15:08-16:00 in no digest; to 09:00, it sent
    09:00-15:08 a second time. The next window starts where the last one ended."""
    workspace.write(sources=[], digest={"at": "15:08", "dir": "digests", "lookback": "3d"})
    clock = Clock(datetime(2025, 2, 4, 6, 30, tzinfo=UTC))  # 15:30 on the 4th in Tokyo
    app = workspace.app(clock)
    try:
        assert [m.day for m in app.digest_service().run_due()] == [date(2025, 2, 4)]
    finally:
        app.close()
    workspace.write(sources=[], digest={"at": new_at, "dir": "digests", "lookback": "3d"})
    clock.now = datetime(2025, 2, 5, 8, tzinfo=UTC)  # 17:00 on the 5th
    app = workspace.app(clock)
    try:
        window = app.digest_service().window(date(2025, 2, 5))
        assert window.start.strftime("%m-%d %H:%M") == f"02-04 {expected_start}"
        assert window.end.strftime("%m-%d %H:%M") == f"02-05 {new_at}"
        [made] = app.digest_service().run_due()
        assert made.day == date(2025, 2, 5)
        text = made.path.read_text(encoding="utf-8")
        assert f"2025-02-04 {expected_start}" in text
    finally:
        app.close()


def test_a_forced_resend_keeps_the_window_it_was_made_with(workspace: Workspace) -> None:
    workspace.write(sources=[], digest={"at": "15:08", "dir": "digests", "lookback": "3d"})
    clock = Clock(datetime(2025, 2, 4, 6, 30, tzinfo=UTC))  # 15:30 on the 4th in Tokyo
    app = workspace.app(clock)
    try:
        app.digest_service().run_due()
    finally:
        app.close()
    workspace.write(sources=[], digest={"at": "16:00", "dir": "digests", "lookback": "3d"})
    clock.now = datetime(2025, 2, 5, 8, tzinfo=UTC)
    app = workspace.app(clock)
    try:
        service = app.digest_service()
        again = service.make(date(2025, 2, 4), force=True)
        assert again is not None and "2025-02-03 15:08" in again.path.read_text(encoding="utf-8")
        assert service.window(date(2025, 2, 5)).start.strftime("%m-%d %H:%M") == "02-04 15:08"
    finally:
        app.close()


def test_one_failing_day_does_not_hold_back_the_catch_up(workspace: Workspace, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from monitor.service.digests import DigestService

    workspace.write(sources=[])
    clock = Clock(datetime(2025, 2, 4, 0, tzinfo=UTC))
    app = workspace.app(clock)
    try:
        app.digest_service().run_due()
        clock.now = datetime(2025, 2, 7, 0, tzinfo=UTC)
        make = DigestService.make

        def flaky(self, day, **kwargs):  # type: ignore[no-untyped-def]
            if day == date(2025, 2, 5):
                raise MonitorError("cannot write digests/2025-02-05.md: disk full")
            return make(self, day, **kwargs)

        monkeypatch.setattr(DigestService, "make", flaky)
        assert [m.day for m in app.digest_service().run_due()] == [date(2025, 2, 6), date(2025, 2, 7)]
    finally:
        app.close()


def test_a_day_made_after_the_next_one_with_a_changed_digest_time_sends_nothing_twice(
        workspace: Workspace) -> None:
    """A first-run exploratory test's find: 11-27 was sent at 08:00; digest.at moved to 21:00;
    at 20:00 `digest --send` made 11-26 (never made) with the window 11-25 21:00 to 11-26 21:00,
    which overlaps 11-27's (from 11-26 08:00): the same entries were mailed twice. A day made
    after the next one ends where the next began. And the day now gathering is 11-28, not the
    11-27 already sent."""
    workspace.write(sources=[], digest={"at": "08:00", "dir": "digests", "lookback": "3d"})
    clock = Clock(datetime(2026, 11, 26, 23, 30, tzinfo=UTC))  # 08:30 on the 27th in Tokyo
    app = workspace.app(clock)
    try:
        assert app.digest_service().make(date(2026, 11, 27)) is not None
    finally:
        app.close()
    workspace.write(sources=[], digest={"at": "21:00", "dir": "digests", "lookback": "3d"})
    clock.now = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)  # 20:00 on the 27th
    app = workspace.app(clock)
    try:
        service = app.digest_service()
        earlier = service.window(date(2026, 11, 26))
        assert earlier.start.strftime("%m-%d %H:%M") == "11-25 21:00"
        assert earlier.end.strftime("%m-%d %H:%M") == "11-26 08:00"  # where 11-27's began
        assert app.current_day() == date(2026, 11, 28)
        gathering = service.window(date(2026, 11, 28))
        assert gathering.start.strftime("%m-%d %H:%M") == "11-27 08:00"
        assert gathering.end.strftime("%m-%d %H:%M") == "11-28 21:00"
    finally:
        app.close()


def _queue(app, clock: Clock, n: int) -> None:  # type: ignore[no-untyped-def]
    """``n`` alert messages in the outbox, due now."""
    for i in range(n):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "monitor@example.org", "analyst@example.org", f"alert {i}"
        msg.set_content(f"alert {i}")
        assert app.outbox().put(key=f"alert:t:{i}", kind="alert", recipients=["analyst@example.org"],
                                message=msg.as_bytes(), now=clock.now)


def _outbox(ws: Workspace) -> list[tuple[str, int]]:
    with sqlite3.connect(ws.db_path) as conn:
        return conn.execute("select state, attempts from outbox order by id").fetchall()


def test_a_server_that_fails_is_tried_once_per_round_not_once_per_message(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    """Ten alerts to a server that does not answer waited out ten timeouts in one round; now the
    first failure puts the rest back untried, due when it is."""
    setup(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))
    app = workspace.app(clock)
    try:
        _queue(app, clock, 3)
        smtp.stop()
        first, *rest = app.mailer().deliver_due()
        assert not first.sent and first.retry_at == clock.now + timedelta(seconds=30)
        assert [(d.sent, d.retry_at) for d in rest] == [(False, first.retry_at)] * 2
        assert all(d.error and d.error.startswith("not tried: smtp 127.0.0.1:") for d in rest)
        assert _outbox(workspace) == [("pending", 1), ("pending", 0), ("pending", 0)]
        smtp.start()
        clock.advance(seconds=31)
        assert [d.sent for d in app.mailer().deliver_due()] == [True] * 3
    finally:
        app.close()


def test_when_the_server_is_back_waiting_mail_goes_at_once(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    """An ops test's find: after an outage each waiting message kept its own back-off, so the
    desk got a newer alert minutes before an older one. Now the first message the server takes
    wakes the others that waited for the server: they go in the same round, in queue order."""
    setup(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))
    app = workspace.app(clock)
    try:
        smtp.stop()
        _queue(app, clock, 1)  # alert 0
        assert [d.sent for d in app.mailer().deliver_due()] == [False]  # waits 30 s
        clock.advance(seconds=31)
        assert [d.sent for d in app.mailer().deliver_due()] == [False]  # second failure: waits 2 min
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "monitor@example.org", "analyst@example.org", "alert new"
        msg.set_content("alert new")
        assert app.outbox().put(key="alert:t:new", kind="alert", recipients=["analyst@example.org"],
                                message=msg.as_bytes(), now=clock.now)  # due now; alert 0 is not
        smtp.start()
        assert [(d.key, d.sent) for d in app.mailer().deliver_due()] == [("alert:t:new", True), ("alert:t:0", True)]
        assert _outbox(workspace) == [("sent", 3), ("sent", 1)]
    finally:
        app.close()


def test_a_message_refused_for_now_for_itself_keeps_its_own_pace(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    """A review's find: the wake after a sent message also woke a message whose only recipient
    was greylisted (450), so it was retried at every other alert, six times in 25 s. Only what
    waited for the server is woken."""
    setup(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))
    app = workspace.app(clock)
    try:
        smtp.refused["grey@example.org"] = "450 4.7.1 greylisted, try again in 5 minutes"
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "monitor@example.org", "grey@example.org", "grey"
        msg.set_content("grey")
        assert app.outbox().put(key="alert:grey", kind="alert", recipients=["grey@example.org"],
                                message=msg.as_bytes(), now=clock.now)
        assert [(d.key, d.sent) for d in app.mailer().deliver_due()] == [("alert:grey", False)]  # 30 s on
        clock.advance(seconds=5)
        _queue(app, clock, 1)  # another analyst's alert: the server takes it
        assert [(d.key, d.sent) for d in app.mailer().deliver_due()] == [("alert:t:0", True)]
        assert _outbox(workspace)[0] == ("pending", 1)  # the greylisted one, not tried again
    finally:
        app.close()


def test_a_refused_recipient_does_not_hold_back_the_other_messages(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    setup(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))
    app = workspace.app(clock)
    try:
        _queue(app, clock, 2)
        smtp.fail("552 5.3.4 message too big", at="data")
        assert [d.sent for d in app.mailer().deliver_due()] == [False, False]  # each tried: about the message
        assert _outbox(workspace) == [("failed", 1), ("failed", 1)]
    finally:
        app.close()


def test_a_refused_login_keeps_the_mail_and_tries_again_hourly(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong password lost every alert and digest mail for good (535 was permanent). Now the mail
    waits: one login per round, an hour apart, so the account is not locked."""
    setup(workspace, http_server, smtp)
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", "wrong")
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))
    app = workspace.app(clock)
    try:
        _queue(app, clock, 3)
        first, *rest = app.mailer().deliver_due()
        assert "refused the login of 'monitor'" in (first.error or "")
        assert first.retry_at == clock.now + timedelta(hours=1) and len(rest) == 2
        assert {user for _, user in smtp.logins} == {"monitor"} and len(smtp.logins) <= 2  # one send: PLAIN, LOGIN
        assert _outbox(workspace) == [("pending", 1), ("pending", 0), ("pending", 0)]
        logins = len(smtp.logins)
        clock.advance(minutes=5)
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "monitor@example.org", "analyst@example.org", "alert new"
        msg.set_content("a new alert")
        app.outbox().put(key="alert:t:new", kind="alert", recipients=["analyst@example.org"],
                         message=msg.as_bytes(), now=clock.now)
        assert app.mailer().deliver_due() == []  # new mail waits for the hour too (a review's find)
        clock.advance(minutes=54)
        assert app.mailer().deliver_due() == []
        assert len(smtp.logins) == logins
    finally:
        app.close()
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", SECRET)  # fixed
    clock.advance(minutes=2)
    app = workspace.app(clock)
    try:
        assert [d.sent for d in app.mailer().deliver_due()] == [True] * 4
    finally:
        app.close()
    assert len(smtp.received) == 4


def test_digest_send_tries_a_waiting_digest_at_once(http_server: TestServer, workspace: Workspace,
                                                    smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """After fixing the password, `digest --send` sends now, not at the next hourly try."""
    setup(workspace, http_server, smtp, send_empty=True)
    args = ["--config", str(workspace.config_path), "digest", "--send"]
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", "wrong")
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code != 0 and "refused the login" in refused.stderr and "retries it from" in refused.stderr
    monkeypatch.setenv("MONITOR_TEST_SMTP_PASSWORD", SECRET)
    sent = CliRunner().invoke(cli, args)
    assert sent.exit_code == 0, sent.stderr
    assert "sent the digest of " in sent.stdout and len(smtp.received) == 1


def test_run_tries_waiting_mail_at_its_start(http_server: TestServer, workspace: Workspace,
                                             smtp: SmtpServer) -> None:
    """A restart is how a fixed password takes effect: what waited for its next try goes at once."""
    from tests.test_service import serve_for

    setup(workspace, http_server, smtp)
    app = workspace.app()
    try:
        _queue(app, Clock(datetime.now(UTC)), 1)
        with sqlite3.connect(workspace.db_path) as conn:
            conn.execute("update outbox set attempts = 1, next_attempt_at = ?",
                         ((datetime.now(UTC) + timedelta(minutes=50)).strftime("%Y-%m-%d %H:%M:%S.%f"),))
    finally:
        app.close()
    serve_for(workspace, 2.0)
    assert [r.message()["Subject"] for r in smtp.received] == ["alert 0"]
    assert _outbox(workspace) == [("sent", 2)]


def test_a_preview_keeps_the_file_of_a_digest_already_made(http_server: TestServer, workspace: Workspace,
                                                           smtp: SmtpServer) -> None:
    """`monitor digest --date D` rewrote digests/D.md, the record of what was mailed, with what D
    would hold now (other topics, later matches)."""
    setup(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))
    poll(workspace, clock)
    clock.now = datetime(2025, 2, 3, 23, 0, 5, tzinfo=UTC)  # 08:00:05 JST, 4 Feb: the 4th is made
    app = workspace.app(clock)
    try:
        [made] = app.digest_service().run_due()
    finally:
        app.close()
    mailed = made.path.read_text(encoding="utf-8")
    made.path.write_text(mailed + "<!-- as mailed -->\n", encoding="utf-8")
    args = ["--config", str(workspace.config_path), "digest", "--date", made.day.isoformat()]
    kept = CliRunner().invoke(cli, args)
    assert kept.exit_code == 0, kept.stderr
    assert kept.stdout == f"{made.path}\n" and "already made" in kept.stderr
    assert made.path.read_text(encoding="utf-8").endswith("<!-- as mailed -->\n")
    shown = CliRunner().invoke(cli, [*args, "--out", "-"])
    assert shown.exit_code == 0 and "Stargate Abilene expands" in shown.stdout and "as mailed" not in shown.stdout


def test_an_entry_that_matches_only_after_its_title_changed_is_alerted_and_in_the_next_digest(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    """An exploratory test's find: a feed item that matched nothing, retitled after its digest
    was made so that it matches, was never alerted and in no digest (its first_seen lay in the
    made window). Now it is counted when it started to match, as a late article match is."""
    http_server.route("/feed", rss(("Masayoshi Son speaks at Tokyo event", "https://example.com/son")))
    alerting(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))  # 10:00 on 3 February in Tokyo
    assert poll(workspace, clock)["s"].matched == 0
    clock.now = datetime(2025, 2, 3, 23, 1, tzinfo=UTC)  # 08:01 on the 4th: that window is made
    app = workspace.app(clock)
    try:
        assert [m.entries for m in app.digest_service().run_due()] == [0]
    finally:
        app.close()
    http_server.route("/feed", rss(("Masayoshi Son: Stargate Japan with OpenAI to break ground", "https://example.com/son")))
    clock.advance(minutes=30)
    out = poll(workspace, clock)["s"]
    assert (out.new, out.matched) == (0, 1)
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select topic from alert_queue").fetchall() == [("stargate",)]
    http_server.route("/feed", rss(("Masayoshi Son: Stargate Japan with OpenAI to break ground now",
                                    "https://example.com/son")))
    clock.advance(minutes=30)
    poll(workspace, clock)  # revised again, matching still: no second alert, counted once
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from alert_queue").fetchone() == (1,)
    clock.advance(days=1)
    app = workspace.app(clock)
    try:
        assert [e.title for s in app.digest(date(2025, 2, 5)).sections for e in s.items] == [
            "Masayoshi Son: Stargate Japan with OpenAI to break ground now"]
        assert app.digest(date(2025, 2, 4)).entries == 0
    finally:
        app.close()


def test_a_recipient_refused_for_now_gets_the_digest_later_alone(http_server: TestServer, workspace: Workspace,
                                                                   smtp: SmtpServer) -> None:
    """An exploratory test's find: a 450 for one recipient while the others were accepted marked
    the mail sent, and that recipient never got it. It is queued again for them alone."""
    setup(workspace, http_server, smtp, send_empty=True)
    digest = mail_config(smtp, send_empty=True)
    digest["email"]["to"] = ["analyst@example.org", "busy@example.org"]  # type: ignore[index]
    workspace.write(sources=[{"name": "s", "url": http_server.url("/feed")}], digest=digest)
    smtp.refused["busy@example.org"] = "450 4.2.1 mailbox busy, try later"
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "digest", "--send"])
    assert result.exit_code == 0, result.output
    assert " to analyst@example.org\n" in result.stdout  # not the one that did not get it
    assert "tried again for busy@example.org" in result.stderr
    assert [r.rcpt_tos for r in smtp.received] == [("analyst@example.org",)]
    del smtp.refused["busy@example.org"]
    clock = Clock(datetime.now(UTC) + timedelta(minutes=1))
    app = workspace.app(clock)
    try:
        [again] = app.mailer().deliver_due()
        assert again.sent and again.key.startswith("digest:") and ":again:" in again.key
        assert app.mailer().deliver_due() == []
    finally:
        app.close()
    assert [r.rcpt_tos for r in smtp.received] == [("analyst@example.org",), ("busy@example.org",)]
    assert smtp.received[1].message()["To"] == smtp.received[0].message()["To"]  # the same message


def test_a_time_zone_moved_past_the_day_line_sends_nothing_twice(workspace: Workspace) -> None:
    """An exploratory test's find: London at 12:20, then Pacific/Kiritimati (+14) at 02:15: the
    next day's window (12:15Z to 12:15Z) lay inside the last one sent, which was sent again in
    full. What the last digest covered is not covered again, and nothing is left out after it."""
    workspace.write(sources=[], timezone="Europe/London", digest={"at": "12:20", "dir": "digests", "lookback": "3d"})
    clock = Clock(datetime(2026, 11, 27, 12, 30, tzinfo=UTC))
    app = workspace.app(clock)
    try:
        assert [m.day for m in app.digest_service().run_due()] == [date(2026, 11, 27)]
        sent_end = app.digest_log().window(date(2026, 11, 27))[1]  # type: ignore[index]
    finally:
        app.close()
    workspace.write(sources=[], timezone="Pacific/Kiritimati", digest={"at": "02:15", "dir": "digests", "lookback": "3d"})
    app = workspace.app(clock)
    try:
        service = app.digest_service()
        covered = service.window(date(2026, 11, 28))  # 27 Nov 12:15Z to 12:15Z: all sent already
        assert covered.start == covered.end == sent_end
        assert [(m.day, m.entries) for m in service.run_due()] == [(date(2026, 11, 28), 0)]
        after = service.window(date(2026, 11, 29))
        assert after.start == sent_end and after.end == datetime(2026, 11, 28, 12, 15, tzinfo=UTC)
    finally:
        app.close()


def test_a_digest_that_failed_is_tried_again_at_the_next_catch_up_not_five_minutes_later(
        workspace: Workspace) -> None:
    """A PostgreSQL test's find: a digest that failed after its claim (there: polls still writing
    past the lock timeout) kept the claim for its five minutes, so the catch-up a minute later
    skipped it. A failure now gives the claim up."""
    workspace.write(sources=[], digest={"at": "08:00", "dir": "digests", "lookback": "3d"})
    (workspace.root / "digests").write_text("a file where the folder should be", encoding="utf-8")
    clock = Clock(datetime(2025, 2, 3, 23, 1, tzinfo=UTC))  # 08:01 on 4 February in Tokyo
    app = workspace.app(clock)
    try:
        assert app.digest_service().run_due() == []  # cannot write its file
        (workspace.root / "digests").unlink()
        clock.advance(minutes=1)
        assert [m.day for m in app.digest_service().run_due()] == [date(2025, 2, 4)]
    finally:
        app.close()


def test_digest_send_while_another_process_makes_it_says_so(http_server: TestServer, workspace: Workspace,
                                                            smtp: SmtpServer) -> None:
    """An exploratory test's find: a `digest --send` while another process made that digest said
    its mail was 'not queued' and advised --force, which then sent it twice."""
    setup(workspace, http_server, smtp, send_empty=True)
    app = workspace.app()
    try:
        day = app.digest_service().due_day()
        window = app.digest_service().window(day)
        assert app.digest_log().claim(day, window.start, window.end, datetime.now(UTC))  # the other process
    finally:
        app.close()
    result = CliRunner().invoke(cli, ["--config", str(workspace.config_path), "digest", "--send"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"the digest of {day} is being made by another monitor process, which sends it\n"
    assert smtp.received == []


def test_an_entry_retitled_back_and_forth_is_alerted_and_listed_once(
        http_server: TestServer, workspace: Workspace, smtp: SmtpServer) -> None:
    """A review's finds: an entry that matched (its alert still queued), was retitled to match
    nothing and back, failed the whole poll on a duplicate alert row; one already in a digest
    and alerted was alerted and listed a second time."""
    matching = rss(("Stargate OpenAI site chosen", "https://example.com/s"))
    http_server.route("/feed", matching)
    alerting(workspace, http_server, smtp)
    clock = Clock(datetime(2025, 2, 3, 1, 0, tzinfo=UTC))
    assert poll(workspace, clock)["s"].matched == 1
    for feed in (rss(("A site chosen", "https://example.com/s")), matching):  # before the alert went out
        http_server.route("/feed", feed)
        clock.advance(minutes=1)
        assert poll(workspace, clock)["s"].status == "ok"
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from alert_queue").fetchone() == (1,)
        conn.execute("delete from alert_queue")  # sent
    clock.now = datetime(2025, 2, 3, 23, 1, tzinfo=UTC)  # 08:01 on the 4th: its digest is made
    app = workspace.app(clock)
    try:
        assert [m.entries for m in app.digest_service().run_due()] == [1]
    finally:
        app.close()
    for feed in (rss(("A site chosen", "https://example.com/s")), matching):
        http_server.route("/feed", feed)
        clock.advance(minutes=30)
        assert poll(workspace, clock)["s"].status == "ok"
    with sqlite3.connect(workspace.db_path) as conn:
        assert conn.execute("select count(*) from alert_queue").fetchone() == (0,)
    clock.advance(days=1)
    app = workspace.app(clock)
    try:
        assert app.digest(date(2025, 2, 5)).entries == 0
        assert [e.title for s in app.digest(date(2025, 2, 4)).sections for e in s.items] == ["Stargate OpenAI site chosen"]
    finally:
        app.close()


def test_a_failed_maker_does_not_give_up_a_claim_that_is_another_process_s_now(workspace: Workspace) -> None:
    """A review's doubt: A's claim expires, B takes it over, then A fails and released B's."""
    workspace.write(sources=[], digest={"at": "08:00", "dir": "digests", "lookback": "3d"})
    app = workspace.app()
    try:
        log, day = app.digest_log(), date(2025, 2, 4)
        window = window_for(day, time(8, 0), ZoneInfo("Asia/Tokyo"))
        a = datetime(2025, 2, 3, 23, 1, tzinfo=UTC)
        assert log.claim(day, window.start, window.end, a)
        b = a + timedelta(minutes=6)  # A's claim expired: B takes it over
        assert log.claim(day, window.start, window.end, b)
        log.release(day, a, b + timedelta(seconds=1))  # A fails now
        assert not log.claim(day, window.start, window.end, b + timedelta(minutes=1))  # still B's
        log.release(day, b, b + timedelta(minutes=1))  # B fails: released
        assert log.claim(day, window.start, window.end, b + timedelta(minutes=1, seconds=1))
    finally:
        app.close()
