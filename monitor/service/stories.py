"""Story clusters where they are read: the digest and `monitor search --stories`.

The entries of a digest window (and of a search result) are few, so their stories are
worked out when they are shown, all at once (monitor.core.clusters.group: average link over
those entries, so a later report can show two earlier ones to be one story). Keeping this out
of ingest keeps every poll as fast as without clusters (bench/pipeline.py) and lets a better
clustering rule apply to the whole archive at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from monitor.core.clusters import DocFreq, fingerprint, group, outlet_of


class Clusterable(Protocol):
    """What clustering reads of an entry (read-only, so frozen rows such as EntryRow fit)."""

    @property
    def id(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def published(self) -> datetime | None: ...
    @property
    def first_seen(self) -> datetime: ...
    @property
    def url(self) -> str | None: ...
    @property
    def publisher(self) -> str | None: ...


def stories(rows: Sequence[Clusterable]) -> dict[int, int]:
    """Entry id -> story id (the id of the story's earliest entry among `rows`).

    All the rows are at hand, so words are weighted by how many of them hold each (DocFreq) from
    the first entry on, not only by those seen so far: a template word is discounted at once.
    """
    ordered = sorted(rows, key=lambda r: (r.published or r.first_seen, r.id))
    prints = [fingerprint(r.title, r.summary, r.published or r.first_seen, outlet_of(r.publisher, r.url))
              for r in ordered]
    window = DocFreq()
    for fp in prints:
        window.add(fp)
    first = group(prints, window)
    return {row.id: ordered[first[n]].id for n, row in enumerate(ordered)}
