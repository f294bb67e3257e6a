"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the tests: it records what it accepts and fails on demand.

Why real and not a fake smtplib: STARTTLS, implicit TLS, AUTH and the reply codes are where delivery goes
wrong, and the sender should meet the bytes a real server sends. Offline by construction: it binds 127.0.0.x
only, and its certificates come from a throwaway trustme CA made in memory.

    with SmtpServer(security="starttls", auth=("monitor", "s3cret")) as server:
        send(msg, SmtpSettings("127.0.0.1", server.port, ...), ssl_context=server.client_context())
        server.received[0].message()["Subject"]              # what arrived, parsed
        server.fail("451 4.3.0 try again later", at="rcpt")  # the next transactions fail there
        server.stop(); ...; server.start()                     # "server down", then back on the same port

Not a mail store: nothing is relayed or written to disk.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Final, Literal, Self

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Security = Literal["none", "starttls", "ssl"]
Stage = Literal["mail", "rcpt", "data"]
DROP: Final = "DROP"
"""A "reply" for ``fail``: close the connection instead of answering (a server dying mid-transaction)."""


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool  # the transaction ran inside TLS (implicit or after STARTTLS)
    login: str | None  # the user name that authenticated, if any

    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (also the way to get a "connection refused" address)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    """aiosmtpd in a thread. ``security``: what the server speaks; ``auth``: the one (user, password) it
    accepts (AUTH LOGIN and PLAIN; ``mechanisms`` narrows what it offers). Plaintext AUTH is allowed when
    ``security="none"`` so AUTH can be tested without TLS too."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        security: Security = "none",
        auth: tuple[str, str] | None = None,
        mechanisms: tuple[str, ...] = ("LOGIN", "PLAIN"),
    ) -> None:
        self.host = host
        self.port = free_port(host)
        self.security = security
        self.auth = auth
        self.mechanisms = mechanisms
        self.received: list[Received] = []
        self.logins: list[tuple[str, str]] = []  # (mechanism, user) of every AUTH attempt, good or bad
        self._failure: tuple[str, Stage] | None = None
        self.refused: dict[str, str] = {}  # recipient -> the reply refusing it at RCPT (others accepted)
        self.on_accept: Callable[[], None] | None = None  # called once a message is stored, before its 250
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._ca = trustme.CA()
        self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(host, "localhost").configure_cert(self._server_context)

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's throwaway CA (and checks the host name)."""
        context = ssl.create_default_context()
        self._ca.configure_trust(context)
        return context

    def fail(self, reply: str | None, at: Stage = "data") -> None:
        """Answer ``reply`` (e.g. "550 5.1.1 no such user", or DROP) at that stage from now on; None heals."""
        self._failure = (reply, at) if reply else None

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.logins.clear()
        self._failure = None

    def start(self) -> None:
        """Listen (again) on the same port: a fresh controller, since aiosmtpd closes its loop on stop."""
        kwargs: dict[str, Any] = {
            "hostname": self.host,
            "port": self.port,
            "server_hostname": "mx.test",  # else aiosmtpd asks the resolver for our FQDN
            "ready_timeout": 10.0,
        }
        if self.security == "ssl":
            kwargs["ssl_context"] = self._server_context
        elif self.security == "starttls":
            kwargs.update(tls_context=self._server_context, require_starttls=True)
        if self.auth:
            excluded = [m for m in ("LOGIN", "PLAIN") if m not in self.mechanisms]
            kwargs.update(
                authenticator=self._authenticate,
                auth_require_tls=self.security != "none",
                auth_exclude_mechanism=excluded,
            )
        self._controller = Controller(_Handler(self), **kwargs)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: clients now get "connection refused" on this port."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword) and self.auth
        user, password = data.login.decode(), data.password.decode()
        with self._lock:
            self.logins.append((mechanism, user))
        # handled=False on failure: aiosmtpd then answers 535 itself (handled=True: the client would wait).
        ok = (user, password) == self.auth
        return AuthResult(success=ok, handled=ok, auth_data=user)

    def _failure_at(self, stage: Stage) -> str | None:
        failure = self._failure
        return failure[0] if failure and failure[1] == stage else None

    def _record(self, smtp: SMTP, session: Session, envelope: Envelope) -> None:
        data = envelope.original_content or b""
        login = session.auth_data if session.authenticated else None
        # session.ssl is set by STARTTLS only; implicit TLS shows on the transport.
        tls = session.ssl is not None or (smtp.transport is not None
                                          and smtp.transport.get_extra_info("ssl_object") is not None)
        item = Received(envelope.mail_from or "", tuple(envelope.rcpt_tos), data, tls, login)
        with self._lock:
            self.received.append(item)


class _Handler:
    """aiosmtpd hooks: a hook that is defined must do the default work itself (set mail_from, add rcpt)."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return self._answer(smtp, "mail")

    async def handle_RCPT(
        self, smtp: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.server.refused:
            return self.server.refused[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return self._answer(smtp, "rcpt")

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        reply = self._answer(smtp, "data")
        if reply.startswith("250"):
            self.server._record(smtp, session, envelope)
            if self.server.on_accept is not None:
                self.server.on_accept()
        return reply

    def _answer(self, smtp: SMTP, stage: Stage) -> str:
        reply = self.server._failure_at(stage)
        if reply == DROP:
            assert smtp.transport is not None
            smtp.transport.close()
            return "421 4.3.0 closing"  # never reaches the client: the socket is gone
        return reply or "250 OK"
