"""Making a day's digest from the archive and writing it to disk.

The selection rules are monitor.core.digest's; this module reads the rows, hands them over
and writes the file atomically (a temporary file in the same folder, then a rename), so a
reader never sees half a digest.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.config import Config
from monitor.core.digest import Candidate, Digest, Failure, Window, build, published_floor, window_for
from monitor.errors import MonitorError
from monitor.render.email import compose_digest
from monitor.render.markdown import render
from monitor.service.health import source_flags
from monitor.service.stories import stories
from monitor.store.db import make_folders, wait_for_polls
from monitor.store.digest_log import DigestLog, Mail
from monitor.store.reading import Reader
from monitor.store.schedule import Schedule

logger = logging.getLogger("monitor.digest")
MAX_CATCH_UP = 7  # days of missed digests made when the service comes back


def make_digest(reader: Reader, config: Config, day: date, now: datetime | None = None,
                window: Window | None = None) -> Digest:
    tz: ZoneInfo = config.tz
    window = window or window_for(day, config.digest.at, tz)
    rows = reader.digest_rows(window.start, window.end, published_floor(window, config.digest.lookback))
    story = stories(rows)
    candidates = [Candidate(r.title, r.url, r.sources, r.published, r.first_seen, r.topics,
                            {t: tuple(str(h["term"]) for h in hits) for t, hits in r.why.items()},
                            story[r.id], r.publisher or ", ".join(r.sources)) for r in rows]
    topics = [(t.name, t.heading) for t in config.topics]
    ended = window.end.astimezone(UTC)  # in UTC: one tzinfo would compare wall clocks (a DST fold)
    # as they stood when the window closed (a past digest made today: "nothing new for 26 days" was
    # 1 day then), and only those that had begun by then
    at = min(now, window.end) if now is not None else window.end
    problems = [p for p in _problems(reader, config, at) if p.since is None or p.since.astimezone(UTC) < ended]
    return build(window, candidates, topics, problems, tz)


def _problems(reader: Reader, config: Config, now: datetime) -> list[Failure]:
    """Sources whose last poll failed, and sources flagged unhealthy (failing 3 times, a page
    whose layout changed, silent far past their rhythm), each with its error and since when.
    What the sources are now: a past digest shows only the problems that had begun by its end."""
    tz = config.tz
    rows = {r.name: r for r in reader.sources()}
    flagged = source_flags(config, reader, Schedule(reader.engine), now, list(rows.values()))
    out = []
    for source in config.sources:
        row = rows.get(source.name)
        if row is None:
            continue
        shown = flagged.get(source.name, [])
        for flag in shown:
            out.append(Failure(source.name, f"{flag.kind}: {flag.detail}",
                               flag.since.astimezone(tz) if flag.since else None))
        if row.last_status == "error" and not any(f.kind in ("disabled", "failing") for f in shown):
            out.append(Failure(source.name, row.last_error or "unknown error",
                               row.failing_since.astimezone(tz) if row.failing_since else None))
    return out


def write_atomically(path: Path, text: str, *, mode: int = 0o600) -> None:
    """Write `text` to `path` so a reader sees the old file or the new one, never half.

    A new file gets `mode` (config `file_mode`); a file that is replaced keeps the mode it had,
    so a digest the user made group-readable stays so.
    """
    try:
        _write(path, text, mode)
    except OSError as exc:
        raise MonitorError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _write(path: Path, text: str, mode: int) -> None:
    if path.exists() and not path.is_file():  # /dev/stdout, a FIFO: never rename over a device
        with path.open("w", encoding="utf-8") as fh:
            fh.write(text)
        return
    make_folders(path.parent, mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # made 0600
    try:
        os.fchmod(fd, path.stat().st_mode & 0o7777 if path.exists() else mode)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class Made:
    day: date
    path: Path
    entries: int
    email: str  # queued | skipped (nothing new, no new source trouble, send_empty off) | none (no email configured)


class DigestService:
    """The daily digest, exactly once per date: claimed, written atomically, recorded, mailed."""

    def __init__(self, *, config: Config, reader: Reader, log: DigestLog, clock: Callable[[], datetime],
                 list_id: str, domain: str) -> None:
        self.config = config
        self.reader = reader
        self.log = log
        self.clock = clock
        self.list_id = list_id
        self.domain = domain

    def due_day(self) -> date:
        """The newest date whose window has closed (by the window's own end, which a DST gap moves:
        an `at` of 02:30 on a spring-forward day ends the window at 03:30)."""
        now = self.clock()
        today = now.astimezone(self.config.tz).date()
        closed = window_for(today, self.config.digest.at, self.config.tz).end <= now
        return today if closed else today - timedelta(days=1)

    def run_due(self) -> list[Made]:
        """Make the due digest and any not made in the week before it, since the first one made:
        a day missed while the service was down, one whose maker died mid-way (its claim expires),
        one skipped because a later day was sent by hand."""
        due = self.due_day()
        week = due - timedelta(days=MAX_CATCH_UP - 1)
        earliest, made = self.log.made_since(week)
        first = due if earliest is None else max(week, earliest)
        out = []
        day = first
        while day <= due:
            try:
                done = self.make(day) if day not in made else None
            except MonitorError as exc:  # one day that fails must not hold back the others
                logger.error("event=digest_failed date=%s error=%r", day.isoformat(), str(exc))
                done = None
            if done is not None:
                out.append(done)
            day += timedelta(days=1)
        return out

    def make(self, day: date, *, force: bool = False) -> Made | None:
        """Make the digest of `day` unless it was made already (None then, unless `force`).

        Only once its window has closed: a digest recorded early would stand for the whole date,
        so what arrives later that day would never be mailed.
        """
        window = self.window(day)
        now = self.clock()
        if window.end > now:
            raise MonitorError(
                f"the digest of {day} covers entries until {window.end:%Y-%m-%d %H:%M} and cannot be sent "
                f"before then; `monitor digest --date {day}` writes it as it stands without sending it"
            )
        if not self.log.claim(day, window.start, window.end, now, force=force):
            return None
        try:
            return self._make_claimed(day, window, now, force)
        except Exception:
            with contextlib.suppress(MonitorError):  # the claim then expires by itself
                self.log.release(day, now, self.clock())
            raise

    def _make_claimed(self, day: date, window: Window, now: datetime, force: bool) -> Made:
        wait_for_polls(self.reader.engine)  # a poll first seen before the window closed is in it
        digest = make_digest(self.reader, self.config, day, now, window)
        path = self.config.digest_dir / f"{day.isoformat()}.md"
        write_atomically(path, render(digest), mode=self.config.file_mode)
        mail, state = self._mail(digest, now, resend=force)
        self.log.complete(day, path=str(path), entries=digest.entries, now=self.clock(), mail=mail,
                          email_state=state, replace_mail=force)
        logger.info("event=digest date=%s entries=%d path=%s email=%s", day.isoformat(), digest.entries, path, state)
        return Made(day, path, digest.entries, state)

    def window(self, day: date) -> Window:
        """The window of `day`'s digest: the one recorded when it was made (a forced resend and a
        preview show what was mailed), else the configured one, after the previous day's and
        before the next day's when those were made."""
        recorded = self.log.window(day)
        if recorded is not None:
            tz = self.config.tz
            return Window(day, recorded[0].astimezone(tz), recorded[1].astimezone(tz))
        return self._before_next(self._after_previous(window_for(day, self.config.digest.at, self.config.tz)))

    def _after_previous(self, window: Window) -> Window:
        """The window starts where the previous day's digest ended, when that is within a day of
        where it would start: a `digest.at` (or time zone) changed between two digests would
        otherwise leave a gap no digest covers, or send again what the last one sent."""
        recorded = self.log.window(window.day - timedelta(days=1))
        previous = recorded[1] if recorded else None
        if previous is not None and previous >= window.end:
            # The previous day's digest ended after this one would (the time zone moved east past
            # the day line, London 12:20 to Kiritimati 02:15): it sent all of this window already.
            end = previous.astimezone(self.config.tz)
            return Window(window.day, end, end)
        if previous is None or abs(previous - window.start) >= timedelta(days=1):
            return window
        return Window(window.day, previous.astimezone(self.config.tz), window.end)

    def _before_next(self, window: Window) -> Window:
        """The window ends where the next day's digest began, when that one was made first (sent
        by hand, or before a catch-up) and its start is within a day of this end: with
        `digest.at` changed between them, this day would otherwise send again what the next one
        sent (08:00 to 21:00), or leave a gap before it."""
        recorded = self.log.window(window.day + timedelta(days=1))
        following = recorded[0] if recorded else None
        if following is None or following <= window.start or abs(following - window.end) >= timedelta(days=1):
            return window
        return Window(window.day, window.start, following.astimezone(self.config.tz))

    def _mail(self, digest: Digest, now: datetime, *, resend: bool = False) -> tuple[Mail | None, str]:
        email = self.config.digest.email
        if email is None:
            return None, "none"
        if digest.entries == 0 and not _new_trouble(digest) and not self.config.digest.send_empty:
            return None, "skipped"
        message = compose_digest(digest, sender=email.sender, recipients=list(email.to), list_id=self.list_id,
                                 now=now, message_id_domain=self.domain, resend=resend)
        return Mail(digest_key(digest.window.day), tuple(email.to), bytes(message)), "queued"


def _new_trouble(digest: Digest) -> bool:
    """A source problem that began in the digest's window is news even on a day with nothing
    else (every source failing must not look like a quiet day); one that goes on is not mailed
    again each day (a source disabled by a 410 would otherwise send an empty digest daily)."""
    start = digest.window.start.astimezone(UTC)
    return any(f.since is not None and f.since.astimezone(UTC) >= start for f in digest.failures)


def digest_key(day: date) -> str:
    return f"digest:{day.isoformat()}"
