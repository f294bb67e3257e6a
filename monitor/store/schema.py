"""SQLAlchemy 2.0 models: the shape of the archive.

Alembic (migrations/) alone creates these tables; the models are for queries. Datetimes are
aware in Python and stored as UTC text (`YYYY-MM-DD HH:MM:SS.ffffff`), readable by any
SQLite tool. The full-text table `entry_fts` is not a model: it is an FTS5 virtual table
holding the token stream of each entry (see monitor/store/fts.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import cast

from sqlalchemy import (
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the store; the core must make it aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Source(Base):
    """One configured source and what its last polls said."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(20))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_error: Mapped[str | None] = mapped_column(Text)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # The schedule (revision 0002): when the source is due, and which worker holds it.
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Health: when it last brought something new, how many items its last page held.
    last_new_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_items: Mapped[int | None] = mapped_column(Integer)
    layout_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Revision 0004: a 410 Gone disables the source until its config entry (fingerprint) changes.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_config: Mapped[str | None] = mapped_column(String(64))
    # Revision 0009: the selectors the validators were earned with (SourceConfig.reading).
    reading: Mapped[str | None] = mapped_column(String(64))


class Entry(Base):
    """One article, whatever number of sources carry it; `key` is its identity."""

    __tablename__ = "entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text, unique=True)  # at most 1024 bytes (0005: intake.bounded_key)
    url: Mapped[str | None] = mapped_column(Text)
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    # Revision 0003: article text, and the outlet an aggregator named.
    text: Mapped[str] = mapped_column(Text, default="")
    publisher: Mapped[str | None] = mapped_column(Text)
    # Revision 0006: when its article text first made the entry match a topic (it matched none
    # before); the digest counts the entry then rather than at first_seen.
    late_match_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_entries_first_seen", "first_seen"),
        Index("ix_entries_published_at", "published_at"),
        Index("ix_entries_late_match_at", "late_match_at"),
    )


class EntrySource(Base):
    """Every source that carried an entry, and when it first did."""

    __tablename__ = "entry_sources"

    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_entry_sources_source", "source_id"),)


class Match(Base):
    """An entry that matches a topic's query (by topic name, as configured)."""

    __tablename__ = "matches"

    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(100), primary_key=True)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    terms: Mapped[str | None] = mapped_column(Text)  # JSON: [{"term": ..., "in": ["title", ...]}]

    __table_args__ = (Index("ix_matches_topic", "topic"),)


class TopicRecord(Base):
    """A topic's query as the archive was last matched against it (a change re-matches)."""

    __tablename__ = "topics"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GoogleLink(Base):
    """A Google News redirect link and the publisher URL it led to (None: unresolvable)."""

    __tablename__ = "google_links"

    google_url: Mapped[str] = mapped_column(Text, primary_key=True)
    publisher_url: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DigestRecord(Base):
    """A digest made (or being made) for one date: made once, even across restarts."""

    __tablename__ = "digests"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    path: Mapped[str | None] = mapped_column(Text)
    entries: Mapped[int | None] = mapped_column(Integer)
    email_state: Mapped[str | None] = mapped_column(String(20))
    made_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """An email stored before it is sent, marked sent when the server accepts it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    recipients: Mapped[str] = mapped_column(Text)
    message: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)


class AlertQueue(Base):
    """Matches waiting for a topic's next immediate alert."""

    __tablename__ = "alert_queue"

    topic: Mapped[str] = mapped_column(String(100), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ArticleQueue(Base):
    """New entries whose article page is wanted and not fetched yet (revision 0007): stored with
    the poll, so a page that a shutdown, a crash or a passing error kept from coming is fetched
    at a later poll of the source rather than never."""

    __tablename__ = "article_queue"

    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime)
    matched: Mapped[str] = mapped_column(Text)  # JSON: the topics the entry matched when stored

    __table_args__ = (Index("ix_article_queue_source", "source_id", "next_try_at"),)


class AlertSent(Base):
    __tablename__ = "alerts_sent"

    topic: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


entries = cast(Table, Entry.__table__)
sources = cast(Table, Source.__table__)
entry_sources = cast(Table, EntrySource.__table__)
matches = cast(Table, Match.__table__)
digests = cast(Table, DigestRecord.__table__)
outbox = cast(Table, OutboxMessage.__table__)
alert_queue = cast(Table, AlertQueue.__table__)
article_queue = cast(Table, ArticleQueue.__table__)
alerts_sent = cast(Table, AlertSent.__table__)
topics_table = cast(Table, TopicRecord.__table__)
google_links = cast(Table, GoogleLink.__table__)
