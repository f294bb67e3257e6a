"""One exception tree for the whole project.

Every error a user can see derives from MonitorError and reads as one line that says what
went wrong and, where it can, what to do next. Adapters map library exceptions to the most
specific class here and keep the original as ``__cause__``.

    MonitorError
    ├── ConfigError            config file unreadable, unknown key, bad value (names file + key path)
    ├── QuerySyntaxError       a query that does not parse (says where: ``position``)
    ├── FetchError             one HTTP fetch failed; the source is marked failed, others go on
    │   ├── FetchTimeout       the whole-request deadline passed (connect to last byte)
    │   ├── FetchConnectError  DNS, refused, reset, TLS
    │   ├── HTTPStatusError    a status we do not accept (``status``, ``retry_after``)
    │   ├── RedirectError      too many redirects, a loop, or a non-http(s) target
    │   ├── BodyTooLarge       the body passed ``fetch.max_bytes`` while streaming
    │   └── RobotsDisallowed   robots.txt keeps us out (monitor.net.robots)
    │       └── RobotsUnreachable  robots.txt answered 5xx or not at all: no pages for now
    ├── ParseError             the body is not a feed / page we can read
    ├── StoreError             the database refused a write (disk full, locked too long)
    │   └── SchemaChanged      upgraded under a running process, which stops
    └── DeliveryError          the SMTP server refused a message (``temporary`` or not)
"""

from __future__ import annotations

from datetime import timedelta


class MonitorError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(MonitorError):
    """The configuration is wrong; the message names the file and the key path."""


class QuerySyntaxError(MonitorError):
    """A query failed to parse; ``position`` is the 0-based character offset of the problem."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.query = query
        self.position = position
        self.reason = message
        super().__init__(f"{message} at position {position + 1}{_excerpt(query, position)}")


_EXCERPT = 30  # characters shown either side of the problem in a long query


def _excerpt(query: str, position: int) -> str:
    """The query as written when short; a long one (a topic's query of 20 lines) as its line
    and the words around the problem, marked ⟨here⟩: not 1,600 characters of it."""
    if len(query) <= 2 * _EXCERPT and "\n" not in query:
        return f": {query!r}"
    line = query.count("\n", 0, position) + 1
    before = " ".join(query[max(0, position - _EXCERPT):position].split())
    after = " ".join(query[position:position + _EXCERPT].split())
    lead = "…" if position > _EXCERPT else ""
    tail = "…" if position + _EXCERPT < len(query) else ""
    return f" (line {line}): {lead}{before} ⟨here⟩ {after}{tail}".replace(":  ⟨", ": ⟨")


class FetchError(MonitorError):
    """A fetch failed; the message starts with what failed, for the source's error column."""


class FetchTimeout(FetchError):
    """The whole request (connect to last byte) took longer than ``fetch.timeout``."""


class FetchConnectError(FetchError):
    """The connection could not be made or broke (DNS, refused, reset, TLS)."""


class HTTPStatusError(FetchError):
    """The server answered with a status we treat as failure."""

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RedirectError(FetchError):
    """Too many redirects, a redirect loop, or a redirect to a scheme other than http(s)."""


class BodyTooLarge(FetchError):
    """The response body grew past ``fetch.max_bytes``; it was abandoned while streaming."""


class ParseError(MonitorError):
    """The document could not be read as the source's type (not a feed, no items...)."""


class StoreError(MonitorError):
    """The database refused a write; nothing of that batch was stored."""


class SchemaChanged(StoreError):
    """A running process found the database upgraded under it (another worker started with a
    newer monitor): it must not write with its older rules (the search index's tokens), so it
    stops, to be restarted with the new code."""


class DeliveryError(MonitorError):
    """The SMTP server did not take a message. ``temporary``: a retry may succeed (down, 4xx,
    dropped connection, a setup problem someone may fix), not sooner than ``retry_after`` when
    set (a refused login: retrying a wrong password often could lock the account); otherwise
    the message itself was refused for good (5xx). ``server``: the server or the login failed,
    not this message, so the next message would fail alike. ``code`` is the SMTP reply code
    when there was one."""

    def __init__(self, message: str, *, temporary: bool, code: int | None = None, server: bool = False,
                 retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code
        self.server = server
        self.retry_after = retry_after
