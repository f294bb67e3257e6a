"""SMTP delivery against a real aiosmtpd server on 127.0.0.1: security modes, AUTH, and how failures classify.

The server is tests/support/smtpserver.py; its certificates come from a throwaway trustme CA. Nothing leaves
127.0.0.1. ``temporary`` is what the outbox acts on: retry later, or stop and tell a human.
"""

from __future__ import annotations

import base64
import logging
import socket
import time as clock
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from monitor.core.digest import Digest, Item, Section, window_for
from monitor.deliver.smtp import DeliveryError, SmtpSettings, send
from monitor.render.email import compose_digest
from tests.support.smtpserver import DROP, Security, SmtpServer, free_port

USER, PASSWORD = "monitor", "hunter2-Pa55w0rd-do-not-log"
TOKYO = ZoneInfo("Asia/Tokyo")


def message(to: tuple[str, ...] = ("analyst@example.org",)) -> EmailMessage:
    window = window_for(date(2025, 2, 4), time(8), TOKYO)
    item = Item('<script>x</script> SB OAI Japan 設立', "https://example.jp/a", ("japan-times",),
                datetime(2025, 2, 3, 21, 0, tzinfo=TOKYO), datetime(2025, 2, 3, 21, 5, tzinfo=TOKYO), ("jv",))
    digest = Digest(window, (Section("jv", "SoftBank–OpenAI JV", (item,)),), (), 1)
    return compose_digest(digest, sender="monitor@example.org", recipients=to,
                          list_id="monitor digest <digest.monitor.example.org>",
                          now=datetime(2025, 2, 4, 8, 0, tzinfo=TOKYO),
                          message_id_domain="monitor.example.org")


def settings(server: SmtpServer, security: Security | None = None, *, username: str | None = None,
             password: str | None = None) -> SmtpSettings:
    security = security or server.security
    return SmtpSettings(server.host, server.port, security, username, password, timeout=5.0)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[SmtpServer]:
    """A server per test (``indirect`` parameters are SmtpServer keyword arguments); one costs ~20 ms."""
    with SmtpServer(**getattr(request, "param", {})) as s:
        yield s


@pytest.mark.parametrize(
    "server", [{"security": "none"}, {"security": "starttls"}, {"security": "ssl"}],
    ids=["plain", "starttls", "implicit-tls"], indirect=True,
)
def test_delivers_one_message_in_each_security_mode(server: SmtpServer) -> None:
    send(message(("analyst@example.org", "desk@example.org")), settings(server),
         ssl_context=server.client_context())
    [got] = server.received
    assert got.mail_from == "monitor@example.org"
    assert got.rcpt_tos == ("analyst@example.org", "desk@example.org")
    assert got.tls is (server.security != "none")
    received = got.message()
    assert received["Subject"] == "monitor digest 2025-02-04: 1 SoftBank–OpenAI JV"
    assert received["Message-ID"].startswith("<digest-2025-02-04.")
    assert [p.get_content_type() for p in received.iter_parts()] == ["text/plain", "text/html"]
    html = received.get_body(("html",))
    assert html is not None
    assert "&lt;script&gt;x&lt;/script&gt; SB OAI Japan 設立" in html.get_content()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_login_with_each_mechanism_over_starttls(mechanism: str) -> None:
    with SmtpServer(security="starttls", auth=(USER, PASSWORD), mechanisms=(mechanism,)) as server:
        config = settings(server, username=USER, password=PASSWORD)
        send(message(), config, ssl_context=server.client_context())
        assert server.logins == [(mechanism, USER)]
        assert [r.login for r in server.received] == [USER]


def test_login_over_plaintext_when_security_is_none() -> None:
    with SmtpServer(security="none", auth=(USER, PASSWORD)) as server:
        send(message(), settings(server, username=USER, password=PASSWORD))
        assert [r.login for r in server.received] == [USER]


def test_failed_login_is_kept_for_an_hour_later_and_never_shows_the_password(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with SmtpServer(security="starttls", auth=(USER, "the-right-one")) as server:
        config = settings(server, username=USER, password=PASSWORD)
        with pytest.raises(DeliveryError) as caught:
            send(message(), config, ssl_context=server.client_context())
        assert server.received == []
    error = caught.value
    # kept, not lost, while someone fixes the password; tried hourly, which locks no account
    assert error.temporary is True and error.code == 535 and error.server is True
    assert error.retry_after == timedelta(hours=1)
    assert "refused the login of 'monitor'" in str(error)
    seen = [str(error), repr(error), str(error.__cause__), repr(config), str(config), caplog.text,
            *capsys.readouterr()]
    forms = [PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
             base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()]
    assert not [(form, text) for form in forms for text in seen if form in text]
    assert "password='***'" in repr(config)


def test_starttls_refused_when_the_server_does_not_offer_it(server: SmtpServer) -> None:
    """RFC 3207: asked for TLS, never fall back to plaintext (the server here speaks plaintext only)."""
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as caught:
        send(message(), settings(server, "starttls", username=USER, password=PASSWORD))
    assert caught.value.temporary is True  # a setup problem: kept and retried, not the message refused
    assert server.received == [] and server.logins == []


@pytest.mark.parametrize("server", [{"security": "starttls"}, {"security": "ssl"}], ids=["starttls", "ssl"],
                         indirect=True)
def test_an_untrusted_certificate_is_refused_and_the_message_kept(server: SmtpServer) -> None:
    """The default context trusts the system's CAs, not the test CA: as a man in the middle would look.
    Nothing is sent; the message waits for the setup to be fixed (retried, not dropped)."""
    with pytest.raises(DeliveryError, match="certificate is not trusted") as caught:
        send(message(), settings(server))
    assert caught.value.temporary is True
    assert server.received == []


@pytest.mark.parametrize(
    ("reply", "stage", "temporary", "code"),
    [("451 4.3.0 Try again later", "data", True, 451),
     ("421 4.3.2 Service shutting down", "mail", True, 421),
     ("450 4.2.1 Mailbox busy", "rcpt", True, 450),
     ("550 5.1.1 Mailbox unavailable", "rcpt", False, 550),
     ("554 5.7.1 Message rejected as spam", "data", False, 554),
     ("553 5.7.1 Sender not allowed", "mail", False, 553),
     (DROP, "data", True, None)],
    ids=["451-data", "421-mail", "450-rcpt", "550-rcpt", "554-data", "553-mail", "disconnect-data"],
)
def test_server_refusals_are_classified(
    server: SmtpServer, reply: str, stage: str, temporary: bool, code: int | None
) -> None:
    server.fail(reply, at=stage)  # type: ignore[arg-type]
    with pytest.raises(DeliveryError) as caught:
        send(message(), settings(server))
    assert (caught.value.temporary, caught.value.code) == (temporary, code)
    if code:
        assert str(caught.value).startswith(f"smtp 127.0.0.1:{server.port}: ")
        assert reply in str(caught.value)
    assert server.received == []


def test_temporary_refusal_then_success(server: SmtpServer) -> None:
    server.fail("451 4.7.1 Greylisted, try again later", at="rcpt")
    with pytest.raises(DeliveryError):
        send(message(), settings(server))
    server.fail(None)
    send(message(), settings(server))
    assert len(server.received) == 1


def test_server_down_is_temporary_and_a_later_send_arrives_once(server: SmtpServer) -> None:
    server.stop()
    with pytest.raises(DeliveryError, match=r"connection failed \(Connection refused\)") as caught:
        send(message(), settings(server))
    assert caught.value.temporary is True and caught.value.code is None
    server.start()  # back on the same port
    send(message(), settings(server))
    assert len(server.received) == 1


def test_nothing_listening_is_temporary() -> None:
    with pytest.raises(DeliveryError) as caught:
        send(message(), SmtpSettings("127.0.0.1", free_port(), "none", timeout=5.0))
    assert caught.value.temporary is True


def test_a_server_that_never_answers_times_out_as_temporary() -> None:
    """A socket that accepts (the kernel's backlog does) and never greets."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = clock.monotonic()
        with pytest.raises(DeliveryError, match=r"no answer within 0\.5 s") as caught:
            send(message(), SmtpSettings("127.0.0.1", silent.getsockname()[1], "none", timeout=0.5))
        assert clock.monotonic() - started < 3
    assert caught.value.temporary is True


def test_settings_repr_hides_the_password() -> None:
    assert "s3cret" not in repr(SmtpSettings("smtp.example.org", username="u", password="s3cret"))
    assert "password=None" in repr(SmtpSettings("smtp.example.org"))


def test_an_unknown_security_mode_is_refused_rather_than_sent_in_plaintext() -> None:
    with pytest.raises(ValueError, match="starttls, ssl or none"):
        SmtpSettings("smtp.example.org", security="tls")  # type: ignore[arg-type]


def test_a_message_stored_as_bytes_and_parsed_back_arrives_unchanged(server: SmtpServer) -> None:
    """The outbox keeps ``bytes(msg)`` and sends what it parses back: the recipient must read the same."""
    original = message()
    stored = message_from_bytes(bytes(original), policy=policy.SMTP)
    assert isinstance(stored, EmailMessage)
    send(stored, settings(server))
    [got] = server.received
    received = got.message()
    for name in ("Subject", "Message-ID", "Date", "List-Id", "From", "To"):
        assert received[name] == original[name]
    def texts(msg: EmailMessage) -> list[str]:  # CRLF is the canonical line break of text/* (RFC 2046 §4.1.1)
        return [str(p.get_content()).replace("\r\n", "\n") for p in msg.iter_parts()]

    assert texts(received) == texts(original)


def test_a_login_to_a_server_without_auth_is_a_setup_problem_kept_for_later(server: SmtpServer) -> None:
    """A first-run exploratory test's find: `username` set, the server offering no AUTH; the
    alert was marked a permanent refusal and never went out after the config was fixed. It is
    a setup problem, not this message refused: temporary, so the outbox keeps and retries it."""
    with pytest.raises(DeliveryError, match="AUTH") as caught:
        send(message(), settings(server, "none", username=USER, password=PASSWORD))
    assert caught.value.temporary is True and caught.value.code is None
    assert server.received == []


def test_a_short_password_is_scrubbed_where_it_stands_alone_not_inside_words() -> None:
    """A first-run exploratory test with the password "on" saw "extensi*** not supported": the
    garbled word also told what the password was."""
    from monitor.deliver.smtp import _scrub

    short = SmtpSettings("h", 25, "none", "u", "on", timeout=1.0)
    assert _scrub("SMTP AUTH extension not supported", short) == "SMTP AUTH extension not supported"
    assert _scrub("535 bad password 'on' for u", short) == "535 bad password '***' for u"
