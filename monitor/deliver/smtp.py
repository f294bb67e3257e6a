"""Send one composed message through an SMTP server, and say whether a failure is worth retrying.

The adapter edge for smtplib: every way it fails becomes one ``DeliveryError`` whose ``temporary`` tells the
outbox what to do (retry later, or give up and tell a human). Synchronous; the service calls it in a thread.
Not responsible for retrying, queueing or composing.

Secrets: the password goes to ``SMTP.login`` and nowhere else. Error messages are built from the host, the
reply code and the server's text, and that text is scrubbed of the password in every form we send it
(plain, and base64 as in AUTH PLAIN/LOGIN) in case a server echoes it. Logging is off in smtplib
(``debuglevel`` 0), which would otherwise print the AUTH exchange.
"""

from __future__ import annotations

import base64
import logging
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Literal

from monitor.errors import DeliveryError

log = logging.getLogger("monitor.deliver")

Security = Literal["starttls", "ssl", "none"]
LOGIN_RETRY = timedelta(hours=1)  # a refused login is tried again this long after, not sooner
LOGIN_REFUSED = "refused the login of"  # in the error of a refused login (what the outbox holds mail by)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0  # seconds for the connection and for each reply

    def __post_init__(self) -> None:
        # Anything but these would silently mean plaintext below.
        if self.security not in ("starttls", "ssl", "none"):
            raise ValueError(f"smtp security must be starttls, ssl or none, not {self.security!r}")

    def __repr__(self) -> str:
        # The dataclass repr would print the password into any log line or traceback that shows settings.
        password = "'***'" if self.password is not None else "None"
        return (
            f"SmtpSettings(host={self.host!r}, port={self.port!r}, security={self.security!r}, "
            f"username={self.username!r}, password={password}, timeout={self.timeout!r})"
        )


Refused = dict[str, tuple[int, bytes]]  # recipient -> the server's reply refusing it


def send(message: EmailMessage, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None,
         recipients: Sequence[str] | None = None) -> Refused:
    """Deliver ``message`` to ``recipients`` (default: those of its To/Cc/Bcc headers), or raise
    DeliveryError.

    ``ssl_context`` defaults to the system's trust store with host-name checking; tests pass one that trusts
    their own CA. Recipients the server refused while it accepted others are logged and returned
    (``refusal_note`` says them in one line), not raised: the message is delivered and a retry would
    send it twice to those who have it (the caller may try again for those refused for now, 4xx).
    """
    where = f"smtp {settings.host}:{settings.port}"
    context = ssl_context or ssl.create_default_context()
    try:
        client = _connect(settings, context)
    except OSError as exc:  # smtplib.SMTPException, ssl.SSLError and socket errors are all OSErrors
        raise _classify(exc, where, settings, server=True) from exc
    try:
        _open(client, settings, context, where)
        refused = client.send_message(message, to_addrs=list(recipients) if recipients else None)
    except OSError as exc:
        client.close()
        raise _classify(exc, where, settings, server=not _refuses_this_message(exc)) from exc
    except BaseException:
        client.close()
        raise
    # Not `with client:`: its exit raises when QUIT is not answered 221, which would turn a delivered
    # message into a retry and so a duplicate. Once DATA got its 250, nothing is an error.
    try:
        client.quit()
    except OSError:
        client.close()
    log.info("event=smtp_sent host=%s message_id=%s", settings.host, message.get("Message-ID", ""))
    if refused:
        log.warning("event=smtp_refused host=%s recipients=%s", settings.host,
                    ",".join(f"{rcpt}:{code}" for rcpt, (code, _) in sorted(refused.items())))
    return refused


def refusal_note(refused: Refused) -> str | None:
    """One line naming the recipients the server refused and why, or None."""
    if not refused:
        return None
    return "refused by the server: " + ", ".join(
        f"{rcpt} ({code} {reply.decode('utf-8', 'replace').strip()})" for rcpt, (code, reply) in sorted(refused.items()))


def _open(client: smtplib.SMTP, settings: SmtpSettings, context: ssl.SSLContext, where: str) -> None:
    """Greet, start TLS and log in: what every message needs before its envelope."""
    if settings.security == "starttls":
        client.ehlo()
        if not client.has_extn("starttls"):
            # RFC 3207 §4: a client that wants TLS must not carry on in plaintext (a stripping attack looks
            # exactly like this).
            raise DeliveryError(f"{where}: the server does not offer STARTTLS; set security to ssl, or to "
                                "none if plaintext is intended", temporary=True, server=True)  # kept, retried
        client.starttls(context=context)
        client.ehlo()
    if settings.username is not None:
        client.login(settings.username, settings.password or "")


def _refuses_this_message(exc: OSError) -> bool:
    """A refusal of this message's envelope or content (its recipients, its size), which the next
    message may not meet; not a refusal of the session (421 closing, the login, TLS), nor trouble
    on the line."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code != 421


def _connect(settings: SmtpSettings, context: ssl.SSLContext) -> smtplib.SMTP:
    if settings.security == "ssl":
        return smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    return smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)


def _classify(exc: OSError, where: str, settings: SmtpSettings, *, server: bool) -> DeliveryError:
    """smtplib/socket/ssl exception -> DeliveryError; ``server``: it concerns the session, not the message."""
    error = _classified(exc, where, settings)
    error.server = server
    return error


def _classified(exc: OSError, where: str, settings: SmtpSettings) -> DeliveryError:
    """4xx, network trouble, timeouts and setup problems are temporary; a refused login too, at
    most hourly (LOGIN_RETRY): the mail waits for the password to be fixed rather than be lost,
    and an hour apart the failures do not lock the account."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):  # every recipient refused; keep the first reason
        code, reply = next(iter(exc.recipients.values()), (0, b""))
        return _reply_error(where, "refused the recipients", code, reply, settings)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        error = _reply_error(where, f"{LOGIN_REFUSED} {settings.username!r}; check the user name and the "
                             "password variable", exc.smtp_code, exc.smtp_error, settings)
        if not error.temporary:
            error.temporary, error.retry_after = True, LOGIN_RETRY
        return error
    if isinstance(exc, smtplib.SMTPResponseException):  # sender refused, data refused, connect refused (421)
        return _reply_error(where, "refused the message", exc.smtp_code, exc.smtp_error, settings)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib turns a read timeout or a reset into "disconnected"; the socket error is the context.
        if isinstance(exc.__context__, OSError) and not isinstance(exc.__context__, smtplib.SMTPException):
            return _classified(exc.__context__, where, settings)
        return DeliveryError(f"{where}: the server closed the connection", temporary=True)
    # What follows is a setup problem (no AUTH or STARTTLS offered, an untrusted certificate, the
    # wrong port), not a refusal of this message: it is kept and tried again (at most every 15
    # minutes, each time saying why), so an alert is not lost while someone fixes the config.
    if isinstance(exc, smtplib.SMTPException):  # no AUTH offered, no common AUTH mechanism, no SMTPUTF8
        return DeliveryError(f"{where}: {_scrub(str(exc), settings)}", temporary=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"{where}: the server's certificate is not trusted ({exc.verify_message}); "
                             "check the host name and the server's certificate", temporary=True)
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError):
        return DeliveryError(f"{where}: TLS failed ({exc.reason}); check the port and security "
                             "(465 is usually ssl, 587 starttls)", temporary=True)
    if isinstance(exc, TimeoutError):
        return DeliveryError(f"{where}: no answer within {settings.timeout:g} s", temporary=True)
    # Refused, reset, unreachable, DNS, a TLS handshake cut short.
    reason = exc.strerror or type(exc).__name__
    return DeliveryError(f"{where}: connection failed ({reason})", temporary=True)


def _reply_error(
    where: str, what: str, code: int, reply: bytes | str, settings: SmtpSettings
) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    # RFC 5321 §4.2.1: 4yz is a transient negative completion, 5yz a permanent one.
    text = " ".join(_scrub(text, settings).split())  # a multi-line reply, on one line
    return DeliveryError(f"{where}: {what}: {code} {text}", temporary=400 <= code < 500, code=code)


def _scrub(text: str, settings: SmtpSettings) -> str:
    """The text with the password, and the base64 forms it travels in, replaced by ***: where
    they stand alone, not inside a longer word (a password "on" made "extensi*** not supported"
    of an error, and told what the password was)."""
    secret = settings.password
    if not secret:
        return text
    user = settings.username or ""
    forms = [secret, _b64(secret), _b64(f"\0{user}\0{secret}"), _b64(f"{user}\0{user}\0{secret}")]
    for form in sorted(forms, key=len, reverse=True):
        text = re.sub(f"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])", "***", text)
    return text


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")
