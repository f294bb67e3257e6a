"""The `monitor` command: each subcommand parses arguments, makes one call, prints.

Errors are one line on standard error and exit status 2 (usage, configuration, query);
`poll` exits 1 when every source failed. No traceback reaches the user unless -v is given.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
import shutil
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from monitor import config as config_module
from monitor.app import App
from monitor.core.query import parse, terms
from monitor.errors import MonitorError, QuerySyntaxError
from monitor.render import results
from monitor.render.markdown import render
from monitor.service.digests import write_atomically
from monitor.service.health import source_flags
from monitor.service.poll import Outcome
from monitor.service.stories import stories as story_ids
from monitor.store.schedule import Schedule

F = TypeVar("F", bound=Callable[..., Any])
_USERINFO = re.compile(r"(://[^/@:\s]*:)[^@\s]*@")  # the password of scheme://user:password@host


class Context:
    def __init__(self, config_path: str | None, verbosity: int) -> None:
        self.config_path = config_module.resolve_path(config_path)
        self.verbosity = verbosity
        self._app: App | None = None

    def app(self) -> App:
        if self._app is None:
            self._app = App(config_module.load(self.config_path))
        return self._app


# --stories works stories out over this many of the newest matching entries (or 20 per story
# asked for, if more): a set that does not shrink with --limit, so --limit 1 shows the same
# first story, with the same reports, as --limit 3.
STORY_ROWS = 2000


class ZonedFormatter(logging.Formatter):
    """Log times as ISO 8601 with the UTC offset (2026-03-29T01:59:59.120+00:00): a service's log
    read months later, across a DST change or from another zone, says when each line was."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


def _terminal_width() -> int | None:
    """The terminal's width for tables; None when the output goes to a pipe or a file, where a
    cut title would only hide words from grep."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"monitor: error: {results.printable(message)}", err=True)
    sys.exit(code)


def handles_errors(fn: F) -> F:
    """Turn our errors into one line and exit 2; anything else into one line and exit 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context().find_object(Context)
        try:
            return fn(*args, **kwargs)
        except MonitorError as exc:
            _fail(str(exc))
        except (click.ClickException, click.exceptions.Exit):
            raise
        except (KeyboardInterrupt, BrokenPipeError):
            sys.exit(130)
        except Exception as exc:
            if ctx and ctx.verbosity > 0:
                raise
            message = _USERINFO.sub(r"\1***@", f"{exc.__class__.__name__}: {exc}")  # never a password
            _fail(f"internal error: {message} (run with -v for the traceback)", 1)

    return wrapper  # type: ignore[return-value]


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _local_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:  # fromisoformat alone also takes 20260810 and 2026-W33, which the help does not promise
        day = date.fromisoformat(value) if _ISO_DAY.fullmatch(value) else None
    except ValueError:
        day = None
    if day is None:
        raise click.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD", param_hint=option) from None
    if not 1900 <= day.year <= 2999:
        raise click.BadParameter(f"{value!r} is out of range (years 1900 to 2999)", param_hint=option)
    return day


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH",
              help="Config file (default: $MONITOR_CONFIG, else ./config.yaml).")
@click.option("-v", "--verbose", count=True, help="More log output (repeat for debug).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.version_option(package_name="monitor")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int, quiet: int) -> None:
    """Follow news sources, match topics, keep a searchable archive, write daily digests."""
    level = logging.WARNING - 10 * verbose + 10 * quiet
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ZonedFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=max(logging.DEBUG, min(level, logging.CRITICAL)), handlers=[handler])
    _quiet_libraries()
    ctx.obj = Context(config_path, verbose - quiet)
    ctx.call_on_close(lambda: ctx.obj._app and ctx.obj._app.close())


@cli.command()
@click.option("--source", "names", multiple=True, metavar="NAME", help="Poll only this source (repeatable).")
@click.pass_obj
@handles_errors
def poll(obj: Context, names: tuple[str, ...]) -> None:
    """Poll every source (or those named) once and store what is new.

    A failing source whose back-off, or its server's Retry-After, has not run out is left out
    unless named: a poll from cron must not ask again every few minutes.
    """
    app = obj.app()
    chosen = [app.config.source(n) for n in dict.fromkeys(names)] if names else list(app.config.sources)
    if not chosen:
        _fail(f"{app.config.path}: sources: no sources configured")
    outcomes = asyncio.run(app.poll(chosen, wait=not names))
    for outcome in outcomes:
        click.echo(results.printable(outcome.line()))
    _send_alerts(app)
    if _nothing_worked(outcomes):
        sys.exit(1)


def _nothing_worked(outcomes: list[Outcome]) -> bool:
    """Exit 1: no source gave news and one failed now or is disabled. Sources only waiting out
    their back-off or Retry-After failed at the poll that said so: a poll from cron every five
    minutes must not mail the same failure twelve times in the hour the server asked for."""
    statuses = {o.status for o in outcomes}
    return statuses <= {"error", "disabled", "waiting"} and bool(statuses & {"error", "disabled"})


def _send_alerts(app: App) -> None:
    """`alert: immediate` without `monitor run` (polls from cron): the poll mails what it queued.
    Polling worked whatever happens here: a failure (an SMTP refusal, an unset password variable)
    is one line on stderr, the exit status stays the poll's, and the mail stays in the outbox."""
    try:
        deliveries = app.send_alerts()
    except MonitorError as exc:
        click.echo(results.printable(f"alerts not sent: {exc}"), err=True)
        return
    for delivery in deliveries:
        if delivery.sent and delivery.error:  # accepted for some recipients only
            click.echo(results.printable(f"alert mail {delivery.key}: {delivery.error}"), err=True)
        elif not delivery.sent:
            when = (f"; retried from {delivery.retry_at.astimezone(app.config.tz):%H:%M}" if delivery.retry_at
                    else "; not retried (a permanent refusal)")
            click.echo(results.printable(f"alert mail {delivery.key} not sent: {delivery.error}{when}"), err=True)


@cli.command()
@click.option("--date", "day", metavar="YYYY-MM-DD", help="Digest of this date (default: the one being gathered).")
@click.option("--out", metavar="PATH|-", help="Write here instead of <digest.dir>/<date>.md; - for stdout.")
@click.option("--send", is_flag=True, help="Make the digest and email it now (default date: the last complete one).")
@click.option("--force", is_flag=True, help="With --send: send again even if that date was already sent.")
@click.pass_obj
@handles_errors
def digest(obj: Context, day: str | None, out: str | None, send: bool, force: bool) -> None:
    """Write the digest of a date as Markdown (or, with --send, make it and email it)."""
    if force and not send:
        raise click.UsageError("--force only makes sense with --send")
    if out is not None and send:
        raise click.UsageError("--out does not go with --send: the sent digest is written to digest.dir")
    given = _local_date(day, "--date")
    app = obj.app()
    _match_changed_topics(app)
    if send:
        _send_digest(app, given, force)
        return
    chosen = given or app.current_day()
    path = Path(out) if out and out != "-" else app.config.digest_dir / f"{chosen.isoformat()}.md"
    if out is None and _made_file(app, chosen, path):
        click.echo(str(path))
        click.echo(f"note: the digest of {chosen} was already made (and mailed, if mail is set up); its file is "
                   "kept as it was: --out PATH or --out - writes it as it would be now", err=True)
        return
    made = app.digest(chosen)
    text = render(made)
    if out == "-":
        click.echo(text, nl=False)
    else:
        write_atomically(path, text, mode=app.config.file_mode)
        click.echo(str(path))
    if not made.entries:
        _note_left_out(app, chosen)


def _note_left_out(app: App, day: date) -> None:
    """An empty digest after a first poll puzzles: the feeds' back catalogue matched, but is old news."""
    old, floor = app.left_out_as_old(day)
    if old:
        click.echo(f"note: {results.counted(old, 'matching entry', 'matching entries')} first seen in this "
                   f"window {'was' if old == 1 else 'were'} published before {floor.astimezone(app.config.tz):%Y-%m-%d %H:%M} "
                   "(digest.lookback) and left out as old news", err=True)


def _made_file(app: App, day: date, path: Path) -> bool:
    """Whether ``path`` is the file of a digest already made: the record of what was mailed,
    which a preview made later (other topics, later matches) must not overwrite."""
    record = app.digest_log().get(day)
    return record is not None and record.state == "made" and path.exists() and (
        record.path is None or Path(record.path).resolve() == path.resolve())


def _match_changed_topics(app: App) -> None:
    """A topic added or changed since the last poll is in the digest too. A database this command
    may not write (a read-only role, a standby) shows the matches as they are, and says so."""
    try:
        app.topic_service().sync(forget=False)
    except MonitorError as exc:
        if app.topic_service().stale()[0]:
            click.echo(results.printable(f"note: changed topics were not matched again ({exc}); "
                                         "the digest shows their matches as last made"), err=True)


def _send_digest(app: App, day: date | None, force: bool) -> None:
    from monitor.service.digests import digest_key

    mailer = app.mailer()  # checks the email settings and the password variable first
    service = app.digest_service()
    chosen = day or service.due_day()
    made = service.make(chosen, force=force)
    key = digest_key(chosen)
    if made is None:
        record = app.digest_log().get(chosen)
        state = app.outbox().state(key)
        if state == "sent":
            click.echo(f"the digest of {chosen} was already sent; --force sends it again")
            return
        if record is not None and record.email_state == "skipped":
            click.echo(f"the digest of {chosen} had nothing new and digest.send_empty is off; nothing sent")
            return
        if record is not None and record.state == "making":  # --force would send it twice
            click.echo(f"the digest of {chosen} is being made by another monitor process, which sends it")
            return
        if state in (None, "failed"):
            raise MonitorError(f"the digest of {chosen} was made but its mail was "
                               f"{'refused' if state else 'not queued'}; --send --force makes and sends it again")
    elif made.email == "skipped":
        click.echo(f"{made.path}\nnothing new on {chosen} and digest.send_empty is off; nothing sent")
        return
    deliveries = mailer.deliver_due(keys=[key], at_once=True)  # asked for now: not at its next retry
    if made is not None:
        click.echo(str(made.path))
    for r in deliveries:
        if not r.sent:
            retry = f"; monitor run retries it from {r.retry_at.astimezone(app.config.tz):%H:%M}" if r.retry_at else ""
            raise MonitorError(f"sending the digest of {chosen} failed: {r.error}{retry}")
    refused = {r for d in deliveries for r in d.refused}
    to = ", ".join(r for r in app.config.digest.email.to if r not in refused) if app.config.digest.email else ""
    if deliveries:
        click.echo(f"sent the digest of {chosen} to {to}")
    elif app.outbox().state(key) == "sent":  # another process sent it meanwhile
        click.echo(f"the digest of {chosen} was sent by another monitor process")
    else:
        click.echo(f"the digest of {chosen} is queued; monitor run sends it")
    for r in deliveries:
        if r.error:  # accepted for some recipients only
            click.echo(results.printable(f"warning: {r.error}"), err=True)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("query", nargs=-1)
@click.option("--topic", "topics", metavar="NAME", multiple=True,
              help="Only entries matching this topic (repeatable: any of them).")
@click.option("--source", "carried_by", metavar="NAME", multiple=True,
              help="Only entries carried by this source (repeatable: any of them).")
@click.option("--since", metavar="DATE", help="Published on or after this local date (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Published on or before this local date (YYYY-MM-DD).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000), help="At most N entries.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--stories", is_flag=True, help="One line per story (its newest report), not per entry.")
@click.pass_obj
@handles_errors
def search(obj: Context, query: tuple[str, ...], topics: tuple[str, ...], carried_by: tuple[str, ...],
           since: str | None, until: str | None, limit: int, fmt: str, stories: bool) -> None:
    """Search the archive, newest first (no QUERY: the newest entries).

    QUERY may start with a minus (`monitor search -"SG-1" stargate`); its words are joined.
    """
    _refuse_unknown_options(query)
    since_day, until_day = _local_date(since, "--since"), _local_date(until, "--until")
    if since_day and until_day and since_day > until_day:
        raise click.UsageError(f"--since {since_day} is after --until {until_day}: nothing can match")
    try:
        tree = parse(" ".join(query)) if " ".join(query).strip() else None  # '' as no query: the newest
    except QuerySyntaxError as exc:
        _fail(f"search query: {exc}")
        return
    app = obj.app()
    for topic in topics:
        app.config.topic(topic)
    # a source removed from the config (or renamed) still carried entries: they stay findable
    known = {s.name for s in app.config.sources} | {r.name for r in app.reader.sources()} if carried_by else set()
    for source in carried_by:
        if source not in known:
            app.config.source(source)  # the error: no such source, configured or stored
    _note_stale_topics(app)
    tz = app.config.tz
    read = max(STORY_ROWS, limit * 20) if stories else limit
    rows = app.reader.search(
        tree, topics=topics, carried_by=carried_by,
        since=datetime.combine(since_day, datetime.min.time(), tzinfo=tz) if since_day else None,
        until=datetime.combine(until_day + timedelta(days=1), datetime.min.time(), tzinfo=tz) if until_day else None,
        limit=read + 1)  # one more: whether the list was cut
    story: dict[int, int] | None = None
    sizes: dict[int, int] | None = None
    cut, rows = len(rows) > read, rows[:read]
    if stories:
        story = story_ids(rows)
        _note_cut(limit, read, cut, stories=len(set(story.values())))
        rows, sizes = results.by_story(rows, story, limit)
    else:
        _note_cut(limit, read, cut)
    if fmt == "json":
        click.echo(results.as_json(rows, tz, story, sizes))
    elif fmt == "csv":
        click.echo(results.as_csv(rows, tz, story, sizes), nl=False)
    else:
        asked = [t.label for t, positive in terms(tree) if positive] if tree else []
        click.echo(results.as_table(rows, tz, width=_terminal_width(), asked=asked))


def _note_cut(limit: int, read: int, cut: bool, stories: int | None = None) -> None:
    """Say on stderr when the list shown is not all that matches: ``--limit`` cut it, or (with
    ``stories``, how many the entries read made) more entries match than were read."""
    if stories is None:
        if cut:
            click.echo(f"note: showing the newest {limit} entries; more match (raise --limit)", err=True)
    elif stories > limit:
        click.echo(f"note: showing the newest {limit} stories; more match (raise --limit)", err=True)
    elif cut:
        click.echo(f"note: stories worked out over the newest {read} matching entries; more match", err=True)


@cli.group(invoke_without_command=True)
@click.pass_context
def sources(ctx: click.Context) -> None:
    """One line per configured source: last poll, status, entries stored, last error (subcommand: enable)."""
    if ctx.invoked_subcommand is None:
        _list_sources(ctx.obj)


@sources.command("enable")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.pass_obj
@handles_errors
def sources_enable(obj: Context, names: tuple[str, ...]) -> None:
    """Poll a source again that a 410 Gone disabled."""
    app = obj.app()
    for name in names:
        app.config.source(name)  # an unknown name is a clear error, not a silent no-op
    app.source_ids  # noqa: B018 - rows for newly configured sources; an edited entry is enabled here
    for name in names:
        reason = app.archive.enable(name)
        line = f"{name}: enabled (was disabled: {reason})" if reason else f"{name}: was not disabled"
        click.echo(results.printable(line))


@handles_errors
def _list_sources(obj: Context) -> None:
    app = obj.app()
    app.source_ids  # noqa: B018 - make rows for newly configured sources
    configured = {s.name for s in app.config.sources}
    rows = [s for s in app.reader.sources() if s.name in configured]
    flags = source_flags(app.config, app.reader, Schedule(app.engine), app.clock(), rows)
    click.echo(results.sources_table(rows, app.config.tz, flags))


@cli.group(invoke_without_command=True)
@click.pass_context
def topics(ctx: click.Context) -> None:
    """List topics with their match counts (subcommands: test, rematch)."""
    if ctx.invoked_subcommand is None:
        _list_topics(ctx.obj)


@handles_errors
def _list_topics(obj: Context) -> None:
    app = obj.app()
    _note_stale_topics(app)
    counts = app.topic_service().counts()
    width = max((len(t.name) for t in app.config.topics), default=0)
    for t in app.config.topics:
        alert = "  alert: immediate" if t.alert == "immediate" else ""
        n = counts.get(t.name, 0)
        click.echo(f"{t.name:<{width}}  {n:>6} {'match  ' if n == 1 else 'matches'}  {results.printable(t.heading)}{alert}")
    if not app.config.topics:
        click.echo("no topics configured")


def _note_stale_topics(app: App) -> None:
    """A read-only command shows the matches as last made: say so when the config has moved on.
    An empty archive has no matches to be stale: it says that instead."""
    if app.reader.is_empty():
        click.echo("note: the archive is empty; `monitor poll` (or `monitor run`) fills it", err=True)
        return
    changed, gone = app.topic_service().stale()
    if changed or gone:
        names = ", ".join([*changed, *(f"{g} (no longer configured)" for g in gone)])
        click.echo(results.printable(f"note: the archive was not matched against these topics as configured: "
                                     f"{names}; `monitor topics rematch` (or the next poll) matches it now"),
                   err=True)


def _refuse_unknown_options(words: tuple[str, ...]) -> None:
    """Query words may start with - (-"SG-1" excludes): click passes unknown options through, so
    a mistyped --option is caught here."""
    unknown = [w for w in words if w.startswith("--")]
    if unknown:
        raise click.UsageError(f"no such option: {unknown[0]} (a word of the query cannot start with --; "
                               "options go before a `--`, and every word after it is the query)")


@topics.command("test", context_settings={"ignore_unknown_options": True})
@click.argument("topic_or_query", nargs=-1, required=True)
@click.option("--since", metavar="DATE", help="Only entries published on or after this local date.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000), help="Show at most N.")
@click.pass_obj
@handles_errors
def topics_test(obj: Context, topic_or_query: tuple[str, ...], since: str | None, limit: int) -> None:
    """Run a topic (by name) or a draft query over the archive and show what it would match."""
    _refuse_unknown_options(topic_or_query)
    text_ = " ".join(topic_or_query)
    app = obj.app()
    configured = {t.name: t for t in app.config.topics}
    query = configured[text_].query if text_ in configured else text_
    name_like = text_ not in configured and not any(c in text_ for c in '"()「“ ')  # not a query written as one
    near = difflib.get_close_matches(text_, list(configured), n=1, cutoff=0.8) if name_like else []
    if near:  # a mistyped topic name would otherwise run quietly as a query
        click.echo(results.printable(f"note: no topic named {text_!r} (did you mean {near[0]}?); "
                                     "running it as a query"), err=True)
    elif text_ in configured:  # a one-word draft that is also a topic's name would run the topic quietly
        click.echo(results.printable(f"note: running the topic {text_}'s query; to try the word itself, "
                                     f"write it in quotes: '\"{text_}\"'"), err=True)
    try:
        tree = parse(query)
    except QuerySyntaxError as exc:
        _fail(f"query: {exc}")
        return
    since_day = _local_date(since, "--since")
    start = datetime.combine(since_day, datetime.min.time(), tzinfo=app.config.tz) if since_day else None
    total, found = app.topic_service().test(tree, since=start, limit=limit)
    column = results.times([row for row, _ in found], app.config.tz)
    pad = max((len(c) for c in column), default=16)
    for (row, hits), when in zip(found, column, strict=True):
        said = ", ".join(f"{h.term} ({'/'.join(h.fields)})" for h in hits) or "no term (the query only leaves words out)"
        click.echo(f"{when:<{pad}}  {results.highlight(results.printable(row.title), [h.term for h in hits])}")
        click.echo(f"{'':{pad}}  matched: {results.printable(said)}  [{row.source}]")
    if any(row.published is None for row, _ in found):
        click.echo(results.UNDATED_NOTE)
    matching = results.counted(total, "entry matches", "entries match")
    click.echo(matching + (f" (showing {len(found)})" if total > len(found) else ""))


@topics.command("rematch")
@click.argument("names", nargs=-1)
@click.pass_obj
@handles_errors
def topics_rematch(obj: Context, names: tuple[str, ...]) -> None:
    """Match the archive again against the topics' queries (all, or those named)."""
    app = obj.app()
    for name in names:
        app.config.topic(name)
    for done in app.topic_service().rematch(list(names) or None):
        click.echo(f"{done.topic}: {results.counted(done.matched, 'match', 'matches')} "
                   f"({done.added} new, {done.removed} removed)")


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command()
@click.pass_obj
@handles_errors
def upgrade(obj: Context) -> None:
    """Apply Alembic migrations up to the newest revision."""
    from monitor.store.db import open_engine
    from monitor.store.db import upgrade as do_upgrade

    config = config_module.load(obj.config_path)
    engine = open_engine(config.database_url, file_mode=config.file_mode)
    try:
        before, after = do_upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"database at revision {after}" + (f" (was {before or 'empty'})" if before != after else ""))


@db.command()
@click.pass_obj
@handles_errors
def maintain(obj: Context) -> None:
    """Run the daily maintenance now (what `monitor run` does at 04:17): for polls from cron."""
    from monitor.service import maintenance

    app = obj.app()
    # a topic added or changed since the last poll first: retention keeps what it matches
    app.topic_service().sync()
    report = maintenance.run(app.engine, retention=app.config.retention, now=app.clock())
    click.echo(f"deleted {results.counted(report.deleted, 'unmatched entry', 'unmatched entries')} older than "
               f"the retention; forgot {results.counted(report.mail_pruned, 'sent mail', 'sent mails')}; "
               f"gave up {results.counted(report.pages_given_up, 'article page', 'article pages')}; "
               "optimised the search index")


@cli.command()
@click.pass_obj
@handles_errors
def run(obj: Context) -> None:
    """Run the service: poll each source at its interval, write the digest at digest.at."""
    from monitor.service.malloc import cap_arenas
    from monitor.service.scheduler import serve

    cap_arenas()  # before any thread: months of thread churn otherwise grow memory
    app = obj.app()
    if not app.config.sources:  # a digest-only node is possible, an empty config more likely
        click.echo(f"note: {app.config.path}: no sources configured; only digests and mail will run", err=True)
    if app.config.digest.email is not None:
        app.smtp_settings()  # a missing password variable fails now, not at digest time
    if obj.verbosity == 0:  # no -v/-q: the config's level
        logging.getLogger().setLevel(app.config.log_level.upper())
        _quiet_libraries()
    asyncio.run(serve(app))


def _quiet_libraries() -> None:
    """Below debug, APScheduler's and httpx's own info lines (a job run every 2 seconds, each
    request) are left out: the service's key=value events say what happened, and a log of
    months stays readable. Their warnings still show, but for APScheduler's "skipped: maximum
    number of running instances" (a job still running at its next time), two a second while
    the database is locked, which the job's own line reports."""
    quiet = logging.getLogger().getEffectiveLevel() > logging.DEBUG
    for name in ("apscheduler", "httpx"):  # at debug (-vv, or log_level: debug) they follow the root again
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if quiet and _not_a_skip not in scheduler_log.filters:
        scheduler_log.addFilter(_not_a_skip)
    elif not quiet:
        scheduler_log.removeFilter(_not_a_skip)


def _not_a_skip(record: logging.LogRecord) -> bool:
    return "maximum number of running instances" not in str(record.msg)


_GLOBAL_OPTIONS = frozenset(("--config", "-v", "--verbose", "-q", "--quiet"))


def main() -> None:
    """Entry point: click's usage errors become one line too, still with exit status 2; a
    command or group given nothing to do shows its help, as it is."""
    try:
        cli.main(prog_name="monitor", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        if exc.message != "Missing command." or exc.ctx is None:  # `monitor --config c.yaml`: the help, too
            _usage_error(exc)
        click.echo(exc.ctx.get_help(), err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        _usage_error(exc)


def _usage_error(exc: click.ClickException) -> NoReturn:
    message = exc.format_message()
    if isinstance(exc, click.NoSuchOption) and exc.option_name in _GLOBAL_OPTIONS:
        message = (f"{message.rstrip('.')} after the command: global options go before it "
                   f"(monitor {exc.option_name} ... COMMAND)")
    click.echo(f"monitor: error: {results.printable(message)}", err=True)
    sys.exit(exc.exit_code)
