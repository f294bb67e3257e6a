"""Digest or alert -> one email message (text/plain and text/html alternatives), ready for the outbox.

Composes, never sends; no I/O besides loading the templates. Both parts come from the same data: plain part is plain text (``plain``: no Markdown escapes, links written out), the HTML part a Jinja2 template fed plain strings
with autoescaping on, so a feed's title can never become markup (nothing here is marked safe). Only http(s)
URLs become links (``markdown.link_target``). No remote images, no scripts, no style sheets: inline styles
only, which is what Gmail, Outlook and Apple Mail all keep.

Headers carry no feed text except through ``markdown.clean``, which drops control characters, so a title with
``\\r\\nBcc:`` cannot add a header. Parts are 7-bit (quoted-printable or base64, whichever is shorter) so
servers without 8BITMIME take them as they are.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from pathlib import Path

import jinja2

from monitor.core.digest import Digest, Item
from monitor.render.markdown import (
    clean,
    digest_needs_zone,
    link_target,
    needs_zone,
    since_stamp,
    stamp,
)
from monitor.render.plain import render_alert, render_digest

# Lines end in CRLF as on the wire; bodies are encoded to 7 bits (see the module docstring).
POLICY = policy.SMTP.clone(cte_type="7bit")
# C0 and C1 controls (CR, LF, NUL, ESC, NEL...), line and paragraph separators, bidi overrides and isolates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
TEMPLATES = Path(__file__).with_name("templates")
_KANA = re.compile("[\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\uff66-\uff9f]")
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass(frozen=True, slots=True)
class _Entry:
    """An item as the template shows it: plain strings, escaped by the template."""

    title: str
    href: str | None
    sources: str
    when: str
    terms: str = ""
    also: tuple[tuple[str, str | None], ...] = ()  # the story's other reports: (outlet, http(s) link or None)
    lang: str | None = None  # "ja" for a title with kana: mail clients then draw its kanji as Japanese


def compose_digest(
    digest: Digest, *, sender: str, recipients: Sequence[str], list_id: str, now: datetime,
    message_id_domain: str, resend: bool = False,
) -> EmailMessage:
    """The day's digest as one multipart/alternative message; ``resend`` (--force) gives it a
    Message-ID of its own, else a receiver that drops IDs it has seen hides the resend asked for."""
    day = digest.window.day.isoformat()
    zone = digest_needs_zone(digest)
    counts = ", ".join(f"{len(s.items)} {s.heading}" for s in digest.sections)
    html = _environment().get_template("digest.html.j2").render(
        subject=f"monitor digest {day}",
        day=day,
        entries=digest.entries,
        window=f"{stamp(digest.window.start, zone=True)} to {stamp(digest.window.end, zone=True)}",
        sections=[(clean(s.heading), [_entry(i, zone) for i in s.items]) for s in digest.sections],
        failures=[(clean(f.source), clean(f.error), since_stamp(digest, f.since, zone) if f.since else None)
                  for f in digest.failures],
    )
    plain = render_digest(digest)
    msg = _message(plain, html)
    # Deterministic: composing the same date's digest again (a crash before the outbox stored it, a
    # retry) gives the same Message-ID, and receiving systems fold identical IDs into one message.
    # Its text is part of the key: a forced resend with other content is another message, which
    # a receiver that drops a Message-ID it has seen would otherwise throw away.
    key = ["digest", day, list_id, *sorted(recipients), plain, *([now.astimezone(UTC).isoformat()] if resend else [])]
    _headers(msg, f"monitor digest {day}: {counts or 'nothing new'}", sender, recipients, list_id, now,
             f"digest-{day}.{_digest(key)}@{_domain(message_id_domain)}")
    return msg


def compose_alert(
    topic_heading: str, items: Sequence[Item], *, sender: str, recipients: Sequence[str], list_id: str,
    now: datetime, message_id_domain: str,
) -> EmailMessage:
    """New matches of one topic, sent as soon as a poll finds them; same look as the digest."""
    heading = clean(topic_heading)
    zone = needs_zone(i.published for i in items)
    entries = [_entry(i, zone) for i in items]
    html = _environment().get_template("alert.html.j2").render(
        subject=f"monitor alert: {heading}", heading=heading, entries=entries)
    msg = _message(render_alert(heading, items), html)
    # Deterministic per batch, like the digest's: the same alert composed twice is one message.
    key = ["alert", heading, list_id, now.astimezone(UTC).isoformat(), *sorted(recipients),
           *(f"{i.url}\t{i.title}" for i in items)]
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    _headers(msg, f"monitor alert: {heading}: {len(items)} new", sender, recipients, list_id, now,
             f"alert-{stamp}.{_digest(key)}@{_domain(message_id_domain)}")
    return msg


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template here is HTML; never turned off per value
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # a template is read once: see load_templates
    )


def load_templates() -> None:
    """Read every mail template now (``monitor run`` does at its start). A service runs for
    months; an upgrade of the code under it used to have the old process read the new
    templates at its first alert, which asked its objects for fields they did not have, and
    every alert failed until a restart."""
    env = _environment()
    for name in env.list_templates():
        env.get_template(name)


def _message(text: str, html: str) -> EmailMessage:
    msg = EmailMessage(policy=POLICY)
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def _headers(
    msg: EmailMessage, subject: str, sender: str, recipients: Sequence[str], list_id: str, now: datetime,
    message_id: str,
) -> None:
    if now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if not recipients:
        raise ValueError("an email needs at least one recipient")
    for address in (sender, *recipients):
        if _CONTROL.search(address):
            raise ValueError(f"control character in address {address!r}")
    msg["Subject"] = clean(subject)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{message_id}>"
    msg["List-Id"] = clean(list_id)  # RFC 2919
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a robot
    msg["X-Auto-Response-Suppress"] = "All"  # the same request, in the dialect Exchange understands


def _domain(domain: str) -> str:
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain name for Message-ID: {domain!r}")
    return domain


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _entry(item: Item, zone: bool) -> _Entry:
    title = clean(item.title) or "(untitled)"
    return _Entry(title, link_target(item.url), clean(", ".join(item.sources)), stamp(item.published, zone=zone),
                  clean(", ".join(item.terms)), tuple((clean(o), link_target(u)) for o, u in item.also),
                  "ja" if _KANA.search(title) else None)

